"""The results envelope (DESIGN §4.4): one versioned, schema-checked JSON document per run.

The headline figures (`results`) are flattened from the run's summary so other tools can read
them without knowing benchlab's summary shapes; `run` and `samples` carry the full record so an
envelope read back into a store loses nothing. Every envelope is validated against the shipped
JSON Schema when it is written and when it is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from benchlab.types import ErrorKind, RunRecord, SampleResult

SCHEMA_VERSION = 1
_UNITS = {"latency_s": "s", "ttft_s": "s", "ttfot_s": "s", "decode_tokens_per_s": "tokens/s"}


class EnvelopeError(ValueError):
    """An envelope that does not match the schema; the message lists each problem by its path."""


@cache
def schema() -> dict[str, Any]:
    text = resources.files("benchlab.exchange").joinpath("envelope.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(envelope: Any) -> None:
    """Raise `EnvelopeError` naming every place where `envelope` breaks schema v1."""
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())
    problems = sorted(validator.iter_errors(envelope), key=lambda error: list(error.absolute_path))
    if problems:
        lines = [f"  - {_where(error.absolute_path)}: {error.message}" for error in problems[:20]]
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise EnvelopeError(
            f"not a valid benchlab envelope (schema v{SCHEMA_VERSION}):\n" + "\n".join(lines) + more
        )


def _where(path: Sequence[Any]) -> str:
    return "/" + "/".join(str(part) for part in path) if path else "(top level)"


def build(
    record: RunRecord, samples: Sequence[SampleResult] | None, *, trigger: str = "cli"
) -> dict[str, Any]:
    """The envelope of a run (with its per-sample results when `samples` is given), validated."""
    provenance = record.provenance
    host = provenance.host
    envelope: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "timestamp": datetime.fromtimestamp(record.created_at, UTC).isoformat().replace("+00:00", "Z"),
        "benchlab": {"version": provenance.benchlab_version, "git_sha": provenance.git_sha},
        "trigger": trigger,
        "benchmark": {"key": record.benchmark, "task_kind": record.task_kind, "suite": None},
        "model": {"id": record.endpoint.model, "quantization": _quantization(record.endpoint.model)},
        "endpoint": {
            "kind": record.endpoint.server_kind.value,
            "version": record.endpoint.server_version,
            "base_url": record.endpoint.base_url,
        },
        "system": {
            "os": host.get("os"),
            "cpu": host.get("cpu"),
            "cpu_count": host.get("cpu_count"),
            "gpu": host.get("gpu"),
            "memory_gb": host.get("memory_gb"),
        },
        "params": record.params.model_dump(mode="json"),
        "dataset": {
            "sha256": provenance.dataset_sha256,
            "rows": provenance.dataset_rows,
            "path": provenance.dataset_path,
        },
        "results": list(flatten_results(record.benchmark, record.summary)),
        "errors": _errors(record, samples),
        "run": record.model_dump(mode="json"),
    }
    if samples is not None:
        envelope["samples"] = [result.model_dump(mode="json") for result in samples]
    validate(envelope)
    return envelope


def read(envelope: Any) -> tuple[RunRecord, list[SampleResult]]:
    """The run and its samples from an envelope, validated first."""
    validate(envelope)
    record = RunRecord.model_validate(envelope["run"])
    samples = [SampleResult.model_validate(item) for item in envelope.get("samples", [])]
    return record, samples


def flatten_results(name: str, summary: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every figure in a summary as `{name, metric, value, unit, ci_low, ci_high, n}`.

    Rates (`{k, n, rate, ci_low, ci_high}`) are fractions, bootstrap means (`{mean, ci_low,
    ci_high, n}`) are scores, timing quantiles become one result per quantile; per-subject rates
    are named `<benchmark>/<subject>`.
    """
    for metric, value in summary.items():
        if not isinstance(value, dict):
            continue
        if "rate" in value and "n" in value:
            yield _result(name, metric, value["rate"], "fraction", value)
        elif "mean" in value and "ci_low" in value:
            yield _result(name, metric, value["mean"], value.get("unit", "score"), value)
        elif metric in _UNITS:
            for quantile, figure in value.items():
                if isinstance(figure, int | float):
                    yield _result(name, f"{metric}.{quantile}", figure, _UNITS[metric], {})
        elif metric.startswith("by_"):
            for subject, rate in value.items():
                if isinstance(rate, dict) and "rate" in rate:
                    yield _result(f"{name}/{subject}", "accuracy", rate["rate"], "fraction", rate)


def _result(name: str, metric: str, value: Any, unit: str, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "metric": metric,
        "value": float(value) if isinstance(value, int | float) else None,
        "unit": unit,
        "ci_low": source.get("ci_low"),
        "ci_high": source.get("ci_high"),
        "n": source.get("n"),
    }


def _errors(record: RunRecord, samples: Sequence[SampleResult] | None) -> dict[str, Any]:
    counts = {kind: 0 for kind in ErrorKind}
    if samples is not None:
        for result in samples:
            counts[result.score.error_kind] += 1
    else:
        counts[ErrorKind.INFRA] = int((record.summary.get("infra_errors") or {}).get("k") or 0)
        counts[ErrorKind.MODEL] = int((record.summary.get("unparseable") or {}).get("k") or 0)
        counts[ErrorKind.REJECTED] = int(record.summary.get("rejected") or 0)
    return {
        "infra": counts[ErrorKind.INFRA],
        "model": counts[ErrorKind.MODEL],
        "rejected": counts[ErrorKind.REJECTED],
        "status": record.status.value,
        "reason": record.status_reason,
    }


_QUANT_MARKERS = (
    "IQ1",
    "IQ2",
    "IQ3",
    "IQ4",
    "Q2_K",
    "Q3_K",
    "Q4_K",
    "Q5_K",
    "Q6_K",
    "Q4_0",
    "Q4_1",
    "Q5_0",
    "Q5_1",
    "Q8_0",
    "F16",
    "BF16",
    "F32",
    "FP8",
    "AWQ",
    "GPTQ",
    "INT4",
    "INT8",
)


def _quantization(model: str | None) -> str | None:
    """The quantization named in a model id (`…-Q4_K_M.gguf`), when it names one."""
    if not model:
        return None
    upper = model.upper()
    for marker in _QUANT_MARKERS:
        position = upper.find(marker)
        if position >= 0 and (position == 0 or not upper[position - 1].isalnum()):
            end = position + len(marker)
            while end < len(upper) and (upper[end].isalnum() or upper[end] == "_") and upper[end] != ".":
                end += 1
            return model[position:end]
    return None
