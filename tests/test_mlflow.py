"""Logging a run to a real MLflow tracking server, read back through MLflow's own client."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchlab import api
from benchlab.cli import app
from benchlab.endpoints.managed import free_port
from benchlab.testing.scripted_server import ScriptedServer
from conftest import make_mcq_file
from scripted import answering

mlflow = pytest.importorskip("mlflow", reason="needs MLflow: pip install 'benchlab[mlflow]'")
runner = CliRunner()


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("mlflow")
    executable = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    port = free_port()
    store, artifacts = f"sqlite:///{folder / 'mlflow.db'}", str(folder / "art")
    process = subprocess.Popen(
        [executable, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", store, "--artifacts-destination", artifacts],
        stdout=subprocess.DEVNULL, stderr=(folder / "server.log").open("wb"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("mlflow server did not start:\n" + (folder / "server.log").read_text()[-2000:])
        time.sleep(0.3)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_run_is_logged_with_params_metrics_table_and_envelope(tracking_server: str, tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 10)
    with ScriptedServer(answering(lambda i: i < 7)) as server:
        result = runner.invoke(app, ["run", str(data), "--server", server.base_url, "--tag", "logged",
                                     "--mlflow", tracking_server])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "logged to MLflow" in result.stderr
    record = api.get_run("logged")

    client = mlflow.MlflowClient(tracking_uri=tracking_server)
    experiment = client.get_experiment_by_name("benchlab")
    (logged,) = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`benchlab.run_id` = '{record.run_id}'"
    )
    assert logged.info.status == "FINISHED" and logged.info.run_name == "logged"
    assert logged.data.metrics["accuracy"] == pytest.approx(0.7)
    assert logged.data.metrics["accuracy.ci_low"] < 0.7 < logged.data.metrics["accuracy.ci_high"]
    assert logged.data.params["dataset_sha256"] == record.provenance.dataset_sha256
    assert logged.data.params["params.temperature"] == "0.0"

    artifacts = {item.path for item in client.list_artifacts(logged.info.run_id)}
    assert {"envelope.json", "samples.json"} <= artifacts
    folder = Path(client.download_artifacts(logged.info.run_id, "", str(tmp_path / "down")))
    table = json.loads((folder / "samples.json").read_text())
    assert len(table["data"]) == 10 and "correct" in table["columns"]
    envelope = json.loads((folder / "envelope.json").read_text())
    assert envelope["run"]["run_id"] == record.run_id and len(envelope["samples"]) == 10

    again = runner.invoke(app, ["export", "logged", "--mlflow", tracking_server])
    assert again.exit_code == 1 and "already logged" in again.stderr


def test_an_unreachable_tracking_server_is_named(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 3)
    with ScriptedServer(answering(lambda i: True)) as server:
        api.run(str(data), server=server.base_url, tag="offline")
    result = runner.invoke(app, ["export", "offline", "--mlflow", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 1 and "no MLflow tracking server answers" in result.stderr
