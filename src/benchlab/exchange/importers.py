"""Reading results made elsewhere into the store, so they list, compare and rank like any run.

- an envelope (`benchlab export --format envelope`, or a published one): read back losslessly;
- lm-evaluation-harness output: its `results_*.json`, and the `samples_<task>_*.jsonl` logs
  written beside it by `--log_samples` when present. Each task becomes one run. With sample
  logs, every document becomes a sample (its `doc.id` when the task's rows carry one, else
  `doc<doc_id>`), scored by the task's first metric, so `benchlab compare` can pair it with a
  benchlab run of the same questions; without them only the aggregate figures are kept.

An import never overwrites: a run id already in the store is refused with its id named.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlab.analysis.summary import rate
from benchlab.exchange.envelope import read as read_envelope
from benchlab.store.db import SampleWriter, Store
from benchlab.types import (
    Completion,
    Endpoint,
    ErrorKind,
    GenerationParams,
    Provenance,
    RunRecord,
    RunStatus,
    SampleResult,
    Score,
    Transcript,
)

_BINARY_METRICS = ("exact_match", "acc", "acc_norm", "pass@1", "f1", "mc1")


class ImportFailed(ValueError):
    """A file that cannot be imported; the message names the file, the problem and the fix."""


class AlreadyImported(ImportFailed):
    """The run is in the store already; nothing was changed."""


def store_run(store: Store, record: RunRecord, samples: Sequence[SampleResult]) -> RunRecord:
    if store.run(record.run_id) is not None:
        raise AlreadyImported(
            f"run {record.run_id} is already in the store (imported before?); "
            f"`benchlab show {record.run_id}` shows it."
        )
    store.save_run(record)
    writer = SampleWriter(store, record.run_id)
    for result in samples:
        writer.put(result)
    writer.close()
    writer.check()
    return record


def import_envelope(store: Store, path: Path) -> RunRecord:
    envelope = _read_json(path)
    try:
        record, samples = read_envelope(envelope)
    except ValueError as error:
        raise ImportFailed(f"{path}: {error}") from None
    return store_run(store, record, samples)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ImportFailed(f"{path}: cannot read ({error.strerror}).") from None
    except json.JSONDecodeError as error:
        raise ImportFailed(f"{path}: not JSON ({error.msg} at line {error.lineno}).") from None


# ---- lm-evaluation-harness ---------------------------------------------------------------------


def lm_eval_results_files(path: Path) -> list[Path]:
    """`path` itself when it is a results file, else every `results_*.json` under it (newest last)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(path.rglob("results_*.json"))
        if found:
            return found
    raise ImportFailed(
        f"{path}: no lm-eval results here. Give a results_*.json file or the --output_path folder "
        "lm-eval wrote to."
    )


def import_lm_eval(store: Store, path: Path, *, tag: str | None = None) -> list[RunRecord]:
    records = []
    for results_file in lm_eval_results_files(path):
        for record, samples in read_lm_eval(results_file, tag=tag):
            records.append(store_run(store, record, samples))
    return records


def read_lm_eval(results_file: Path, *, tag: str | None = None) -> list[tuple[RunRecord, list[SampleResult]]]:
    data = _read_json(results_file)
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ImportFailed(f"{results_file}: not an lm-eval results file (no `results` object).")
    stamp = results_file.stem.removeprefix("results_")
    runs = []
    for task, figures in data["results"].items():
        if task in (data.get("group_subtasks") or {}) and (data["group_subtasks"].get(task) or []):
            continue  # a group's aggregate: its subtasks are imported one by one
        logs = results_file.with_name(f"samples_{task}_{stamp}.jsonl")
        samples = _lm_eval_samples(logs, task, data) if logs.exists() else None
        runs.append(_lm_eval_run(results_file, data, task, figures, samples, stamp, tag))
    if not runs:
        raise ImportFailed(f"{results_file}: the results file lists no tasks.")
    return runs


def _primary_metric(data: dict[str, Any], task: str, figures: dict[str, Any]) -> str | None:
    names = [key.split(",")[0] for key in figures if "," in key and not key.split(",")[0].endswith("_stderr")]
    preferred = [name for name in _BINARY_METRICS if name in names]
    declared = list((data.get("higher_is_better") or {}).get(task) or {})
    for name in preferred + declared + names:
        return name
    return None


def _lm_eval_samples(logs: Path, task: str, data: dict[str, Any]) -> list[SampleResult]:
    figures = data["results"][task]
    metric = _primary_metric(data, task, figures)
    results: list[SampleResult] = []
    finished = float(data.get("date") or 0.0)
    with logs.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ImportFailed(f"{logs}:{number}: not JSON ({error.msg}).") from None
            results.append(_lm_eval_sample(row, metric, finished))
    return results


def _lm_eval_sample(row: dict[str, Any], metric: str | None, finished: float) -> SampleResult:
    doc: dict[str, Any] = row["doc"] if isinstance(row.get("doc"), dict) else {}
    sample_id = str(doc.get("id")) if doc.get("id") is not None else f"doc{row.get('doc_id')}"
    value = row.get(metric) if metric else None
    filtered = row.get("filtered_resps") or []
    answer = filtered[0] if filtered and isinstance(filtered[0], str) else None
    binary = isinstance(value, int | float) and value in (0, 1)
    score = Score(
        value=float(value) if isinstance(value, int | float) else 0.0,
        correct=bool(value) if binary else None,
        extracted=answer,
        gold=str(row.get("target")) if row.get("target") is not None else None,
        error_kind=ErrorKind.NONE,
        details={"metric": metric, "doc_hash": row.get("doc_hash"), "prompt_hash": row.get("prompt_hash")},
    )
    replies = [
        reply for group in row.get("resps") or [] for reply in (group if isinstance(group, list) else [group])
    ]
    transcript = Transcript(
        messages=_lm_eval_messages(row),
        completions=[Completion(content=reply) for reply in replies if isinstance(reply, str)],
    )
    return SampleResult(sample_id=sample_id, score=score, transcript=transcript, finished_at=finished)


def _lm_eval_messages(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The prompt lm-eval sent: a chat transcript serialised as JSON, or plain text."""
    arguments = row.get("arguments") or {}
    first: Any = next(iter(arguments.values()), {}) if isinstance(arguments, dict) else {}
    prompt = first.get("arg_0") if isinstance(first, dict) else None
    if isinstance(prompt, list) and prompt:
        prompt = prompt[0]
    if isinstance(prompt, str):
        try:
            messages = json.loads(prompt)
        except json.JSONDecodeError:
            return [{"role": "user", "content": prompt}]
        if isinstance(messages, list) and all(isinstance(m, dict) and "role" in m for m in messages):
            return messages
        return [{"role": "user", "content": prompt}]
    return []


def _lm_eval_run(
    results_file: Path,
    data: dict[str, Any],
    task: str,
    figures: dict[str, Any],
    samples: list[SampleResult] | None,
    stamp: str,
    tag: str | None,
) -> tuple[RunRecord, list[SampleResult]]:
    config = data.get("config") or {}
    model_args = config.get("model_args") or {}
    if isinstance(model_args, str):  # older versions keep `key=value,…`
        model_args = dict(part.split("=", 1) for part in model_args.split(",") if "=" in part)
    model = data.get("model_name") or model_args.get("model") or model_args.get("pretrained") or "unknown"
    digest_source = "\n".join(
        [str(s.score.details.get("doc_hash") or s.sample_id) for s in samples] if samples else [task, stamp]
    )
    dataset_sha = hashlib.sha256(digest_source.encode()).hexdigest()
    run_id = "lmeval-" + hashlib.sha256(f"{results_file.name}|{task}|{model}".encode()).hexdigest()[:12]
    counts = (data.get("n-samples") or {}).get(task) or {}
    rows = int(counts.get("effective") or (len(samples) if samples else 0))
    gen = config.get("gen_kwargs") or {}
    created = float(data.get("date") or results_file.stat().st_mtime)
    record = RunRecord(
        run_id=run_id,
        tag=tag or f"lm-eval:{task}:{model}",
        benchmark=task,
        task_kind="lm-eval",
        created_at=created,
        finished_at=created + float(data.get("total_evaluation_time_seconds") or 0.0),
        status=RunStatus.FINISHED,
        endpoint=Endpoint(
            base_url=str(model_args.get("base_url") or f"lm-eval:{config.get('model', '?')}"),
            model=str(model),
        ),
        params=GenerationParams(
            temperature=float(gen.get("temperature", 0.0) or 0.0),
            seed=config.get("random_seed"),
            max_tokens=gen.get("max_gen_toks"),
        ),
        task_options={
            "imported_from": "lm-eval",
            "lm_eval_config": config,
            "task_config": (data.get("configs") or {}).get(task),
        },
        provenance=Provenance(
            benchlab_version=f"lm-eval {data.get('lm_eval_version', '?')}",
            git_sha=data.get("git_hash")
            if isinstance(data.get("git_hash"), str) and len(data["git_hash"]) == 40
            else None,
            host={},
            python="?",
            dataset_path=str(results_file),
            dataset_sha256=dataset_sha,
            dataset_rows=rows,
            command=f"imported from {results_file}",
        ),
        sample_ids=[s.sample_id for s in samples] if samples else [],
        summary=_lm_eval_summary(data, task, figures, samples),
    )
    return record, samples or []


def _lm_eval_summary(
    data: dict[str, Any], task: str, figures: dict[str, Any], samples: list[SampleResult] | None
) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for key, value in figures.items():
        name, _, filter_name = key.partition(",")
        if not filter_name or name.endswith("_stderr"):
            continue
        stderr = figures.get(f"{name}_stderr,{filter_name}")
        metrics[f"{name},{filter_name}"] = {
            "value": value,
            "stderr": stderr if isinstance(stderr, int | float) else None,
        }
    summary: dict[str, Any] = {"imported_from": "lm-eval", "lm_eval_metrics": metrics}
    primary = _primary_metric(data, task, figures)
    summary["metric"] = primary
    if samples:
        summary["recorded"] = summary["scored"] = len(samples)
        binary = [s for s in samples if s.score.correct is not None]
        if binary and len(binary) == len(samples):
            correct = sum(1 for s in samples if s.score.correct)
            summary["accuracy"] = rate(correct, len(samples))
            summary["correct"] = correct
        summary["infra_errors"] = rate(0, len(samples))
    return summary
