"""Reading upstream data files into records (dicts), whatever their format.

JSONL (optionally gzipped), JSON, CSV need only the standard library. Parquet (the Hugging Face
hub's own format) and Arrow (what `datasets.save_to_disk` writes, found inside some wheels) need
pyarrow, imported only when such a file is read so the core install stays light.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from typing import Any

from benchlab.catalog.errors import SourceError
from benchlab.catalog.mapping import lookup

FORMATS = ("jsonl", "json", "csv", "parquet", "arrow")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".arrow": "arrow",
}


def infer_format(name: str) -> str | None:
    """The format a file name implies (`x.jsonl.gz` → jsonl), or None."""
    lowered = name.lower().removesuffix(".gz")
    for suffix, fmt in _SUFFIXES.items():
        if lowered.endswith(suffix):
            return fmt
    return None


def read_records(name: str, data: bytes, fmt: str | None = None, *, records: str | None = None) -> list[Any]:
    """Every record of one file, in file order. `name` is used in messages and to infer `fmt`."""
    fmt = fmt or infer_format(name)
    if fmt is None:
        raise SourceError(f"{name}: cannot tell the file format from its name; set `format` in the source.")
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise SourceError(f"{name}: damaged gzip data ({error}).") from error
    if fmt == "jsonl":
        return list(_jsonl(name, data))
    if fmt == "json":
        return _json(name, data, records)
    if fmt == "csv":
        text = _decode(name, data)
        return list(csv.DictReader(io.StringIO(text, newline="")))
    if fmt == "parquet":
        return _parquet(name, data)
    if fmt == "arrow":
        return _arrow(name, data)
    raise SourceError(f"{name}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceError(f"{name}: not UTF-8 text (byte {error.start}).") from error


def _jsonl(name: str, data: bytes) -> Iterator[Any]:
    # Split on newlines only: str.splitlines() also breaks at U+2028/U+2029, which JSON allows
    # unescaped inside strings (HealthBench's text has them). A trailing "\r" is JSON whitespace.
    for number, line in enumerate(_decode(name, data).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as error:
            raise SourceError(f"{name}:{number}: not valid JSON ({error.msg}).") from error


def _json(name: str, data: bytes, records: str | None) -> list[Any]:
    try:
        document = json.loads(_decode(name, data))
    except json.JSONDecodeError as error:
        raise SourceError(f"{name}: not valid JSON ({error.msg} at line {error.lineno}).") from error
    if records:
        document = lookup(document, records)
        if not isinstance(document, list):
            raise SourceError(f"{name}: `records = {records!r}` does not lead to a list of records.")
    if not isinstance(document, list):
        raise SourceError(
            f"{name}: the document is not a list; set `records` to the path of the list inside it."
        )
    return document


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.ipc
        import pyarrow.parquet
    except ImportError as error:
        raise SourceError(
            "reading parquet or arrow files needs pyarrow: "
            "pip install 'benchlab[data]' (or pip install pyarrow)."
        ) from error
    return pyarrow


def _parquet(name: str, data: bytes) -> list[Any]:
    pa = _pyarrow()
    try:
        table = pa.parquet.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as error:
        raise SourceError(f"{name}: not a readable parquet file ({error}).") from error
    return list(table.to_pylist())


def _arrow(name: str, data: bytes) -> list[Any]:
    pa = _pyarrow()
    # `datasets.save_to_disk` writes the streaming format; a plain Arrow file is the other kind.
    for open_reader in (pa.ipc.open_stream, pa.ipc.open_file):
        try:
            return list(open_reader(pa.BufferReader(data)).read_all().to_pylist())
        except (pa.ArrowException, OSError):
            continue
    raise SourceError(f"{name}: not a readable Arrow file (neither stream nor file format).")
