"""Writing a run to a file: the envelope, per-sample JSON lines or CSV, or Parquet figures.

- `envelope`: the validated envelope with every sample (lossless; `benchlab import envelope` reads it back);
- `jsonl`: one sample result per line, exactly as the store keeps it (transcripts included);
- `csv`: one sample per row, the flat fields a spreadsheet wants (no transcripts);
- `parquet`: the envelope flattened one row per result (headline figure), with the run's
  identifying columns repeated on each row so many runs concatenate into one table.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlab.exchange.envelope import build
from benchlab.types import RunRecord, SampleResult

FORMATS = ("envelope", "jsonl", "csv", "parquet")
_SUFFIX = {"envelope": ".envelope.json", "jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet"}
CSV_COLUMNS = (
    "run_id", "sample_id", "subject", "correct", "value", "extracted", "gold", "error_kind", "error",
    "attempts", "latency_s", "ttft_s", "prompt_tokens", "completion_tokens", "finished_at",
)  # fmt: skip


class ExportError(RuntimeError):
    """An export that cannot be written; the message says why and what to do."""


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")


def default_path(record: RunRecord, fmt: str) -> Path:
    check_format(fmt)
    return Path(f"{record.run_id}{_SUFFIX[fmt]}")


def export_run(record: RunRecord, samples: Sequence[SampleResult], fmt: str, path: Path) -> Path:
    """Write `record` in `fmt` to `path` atomically (a reader never sees half a file)."""
    check_format(fmt)
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "envelope":
            partial.write_text(
                json.dumps(build(record, samples), indent=1, ensure_ascii=False) + "\n", "utf-8"
            )
        elif fmt == "jsonl":
            with partial.open("w", encoding="utf-8") as handle:
                for result in samples:
                    handle.write(result.model_dump_json() + "\n")
        elif fmt == "csv":
            _write_csv(record, samples, partial)
        else:
            _write_parquet(build(record, None), partial)
        os.replace(partial, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise ExportError(
            f"cannot write {path}: {error.strerror or error}. Pick another --output."
        ) from error
    return path


def sample_row(run_id: str, result: SampleResult) -> dict[str, Any]:
    """The flat CSV row of one sample (timings and tokens summed over its turns)."""
    score = result.score
    completions = result.transcript.completions if result.transcript else []
    e2e = [c.timings.e2e for c in completions if c.timings.e2e is not None]
    ttft = [c.timings.ttft for c in completions if c.timings.ttft is not None]
    return {
        "run_id": run_id,
        "sample_id": result.sample_id,
        "subject": result.subject,
        "correct": score.correct,
        "value": score.value,
        "extracted": score.extracted,
        "gold": score.gold,
        "error_kind": score.error_kind.value,
        "error": score.error,
        "attempts": result.attempts,
        "latency_s": sum(e2e) if e2e else None,
        "ttft_s": ttft[0] if ttft else None,
        "prompt_tokens": sum(c.usage.prompt_tokens or 0 for c in completions) if completions else None,
        "completion_tokens": sum(c.usage.completion_tokens or 0 for c in completions)
        if completions
        else None,
        "finished_at": result.finished_at,
    }


def _write_csv(record: RunRecord, samples: Sequence[SampleResult], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for result in samples:
            writer.writerow(sample_row(record.run_id, result))


def parquet_rows(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per result with the run's identifying columns."""
    run = envelope["run"]
    common = {
        "run_id": run["run_id"],
        "tag": run["tag"],
        "timestamp": envelope["timestamp"],
        "benchmark": envelope["benchmark"]["key"],
        "task_kind": envelope["benchmark"]["task_kind"],
        "model": envelope["model"]["id"],
        "quantization": envelope["model"]["quantization"],
        "endpoint_kind": envelope["endpoint"]["kind"],
        "dataset_sha256": envelope["dataset"]["sha256"],
        "benchlab_version": envelope["benchlab"]["version"],
        "status": envelope["errors"]["status"],
    }
    return [{**common, **result} for result in envelope["results"]]


def _write_parquet(envelope: dict[str, Any], path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ExportError("Parquet export needs pyarrow: pip install 'benchlab[data]'.") from error
    schema = pa.schema(
        [(name, pa.string()) for name in ("run_id", "tag", "timestamp", "benchmark", "task_kind", "model",
                                           "quantization", "endpoint_kind", "dataset_sha256",
                                           "benchlab_version", "status", "name", "metric")]
        + [("value", pa.float64()), ("unit", pa.string()), ("ci_low", pa.float64()),
           ("ci_high", pa.float64()), ("n", pa.int64())]
    )  # fmt: skip
    pq.write_table(pa.Table.from_pylist(parquet_rows(envelope), schema=schema), path)
