"""Logging a finished run to an MLflow tracking server (extra `mlflow`).

One benchlab run becomes one MLflow run in an experiment (default `benchlab`): the settings as
params, every headline figure (and its interval bounds) as metrics, the per-sample table as a
JSON table artifact (`samples.json`, shown by MLflow's table viewer) and the envelope as an
artifact. The benchlab run id is stored as the tag `benchlab.run_id`, so logging the same run
twice is refused rather than duplicated.
"""

from __future__ import annotations

import json
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlab.exchange.envelope import build, flatten_results
from benchlab.exchange.export import CSV_COLUMNS, sample_row
from benchlab.types import RunRecord, RunStatus, SampleResult

_PARAM_LIMIT = 6000  # MLflow's longest param value
_STATUS = {RunStatus.FINISHED: "FINISHED", RunStatus.INTERRUPTED: "KILLED"}


class MlflowError(RuntimeError):
    """A run that cannot be logged; the message says why and what to do."""


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as error:
        raise MlflowError("logging to MLflow needs its client: pip install 'benchlab[mlflow]'.") from error
    return mlflow


def metric_name(name: str, benchmark: str, metric: str) -> str:
    """An MLflow metric key: the metric, prefixed by the subject for per-subject figures."""
    prefix = "" if name == benchmark else name.removeprefix(benchmark + "/") + "/"
    return re.sub(r"[^\w\-./ ]", "_", prefix + metric)


def params_of(record: RunRecord) -> dict[str, str]:
    params: dict[str, Any] = {
        "benchmark": record.benchmark,
        "task_kind": record.task_kind,
        "model": record.endpoint.model,
        "server_kind": record.endpoint.server_kind.value,
        "server_version": record.endpoint.server_version,
        "dataset_sha256": record.provenance.dataset_sha256,
        "dataset_rows": record.provenance.dataset_rows,
        "benchlab_version": record.provenance.benchlab_version,
        "samples_planned": len(record.sample_ids),
    }
    params.update({f"params.{k}": v for k, v in record.params.model_dump(mode="json").items()})
    params.update({f"task.{k}": v for k, v in record.task_options.items()})
    return {
        key: (value if isinstance(value, str) else json.dumps(value))[:_PARAM_LIMIT]
        for key, value in params.items()
        if value is not None
    }


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail at once on a tracking server that does not answer: MLflow's client would otherwise
    retry with growing back-off for minutes before giving up."""
    if not uri.startswith(("http://", "https://")):
        return  # a local file or database store
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # it answers; older servers or proxies may not serve /health
    except (OSError, ValueError) as error:
        raise MlflowError(
            f"no MLflow tracking server answers at {uri} ({getattr(error, 'reason', error)}); "
            "start one (`mlflow server`) or check --mlflow."
        ) from error


def log_run(
    record: RunRecord, samples: Sequence[SampleResult], uri: str, *, experiment: str = "benchlab"
) -> str:
    """Log `record` to the tracking server at `uri`; returns the MLflow run id."""
    mlflow = _mlflow()
    from mlflow.entities import Metric, Param

    check_reachable(uri)
    client = mlflow.MlflowClient(tracking_uri=uri)
    try:
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        existing = client.search_runs(
            [experiment_id], filter_string=f"tags.`benchlab.run_id` = '{record.run_id}'"
        )
        if existing:
            raise MlflowError(
                f"run {record.run_id} is already logged in experiment {experiment!r} "
                f"(MLflow run {existing[0].info.run_id})."
            )
        tags = {"benchlab.run_id": record.run_id, "benchlab.tag": record.tag, "mlflow.runName": record.tag}
        run = client.create_run(experiment_id, start_time=int(record.created_at * 1000), tags=tags)
        run_id = run.info.run_id
        stamp = int((record.finished_at or record.created_at) * 1000)
        metrics = []
        for result in flatten_results(record.benchmark, record.summary):
            if result["value"] is None:
                continue
            key = metric_name(result["name"], record.benchmark, result["metric"])
            metrics.append(Metric(key, result["value"], stamp, 0))
            for bound in ("ci_low", "ci_high"):
                if result[bound] is not None:
                    metrics.append(Metric(f"{key}.{bound}", result[bound], stamp, 0))
        params = [Param(key, value) for key, value in params_of(record).items()]
        client.set_tag(run_id, "benchlab.status", record.status.value)
        for start in range(0, max(len(metrics), len(params)), 100):  # MLflow's batch limits
            client.log_batch(run_id, metrics=metrics[start : start + 100], params=params[start : start + 100])
        rows = [sample_row(record.run_id, result) for result in samples]
        table = {column: [row[column] for row in rows] for column in CSV_COLUMNS}
        client.log_table(run_id, data=table, artifact_file="samples.json")
        with tempfile.TemporaryDirectory() as folder:
            envelope = Path(folder) / "envelope.json"
            envelope.write_text(json.dumps(build(record, samples), ensure_ascii=False), encoding="utf-8")
            client.log_artifact(run_id, str(envelope))
        client.set_terminated(run_id, status=_STATUS.get(record.status, "FAILED"), end_time=stamp)
    except MlflowError:
        raise
    except Exception as error:  # the client raises MlflowException, requests and OS errors alike
        raise MlflowError(f"logging run {record.run_id} to MLflow at {uri} failed: {error}") from error
    return str(run_id)
