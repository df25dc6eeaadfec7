"""BFCL and a selection against the real llama.cpp server serving the smoke model (a null model:
it opens a tool call when given tools). Structure only — tools offered with tool-safe names and
valid schemas, calls read back and judged with a reason, the selection recorded — never scores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytest.importorskip("xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'")

from benchlab.cli import app
from benchlab.endpoints.managed import ServerProcess, free_port
from test_catalog_support import PINNED, use_wheels

pytestmark = pytest.mark.llamacpp


@pytest.fixture(scope="module")
def smoke_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    with ServerProcess(smoke=True, port=free_port(), parallel=2, env={"BENCHLAB_HOME": str(home)}) as server:
        yield server.base_url


def benchlab(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_bfcl_parallel_against_the_smoke_model(
    smoke_server: str, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(PINNED, "bfcl-eval", "2026.3.23")
    use_wheels(pytestconfig, monkeypatch, "bfcl-eval")
    run = benchlab(
        "run", "bfcl_parallel", "-n", "3", "--max-tokens", "64", "--server", smoke_server, "--json"
    )["run"]
    summary = run["summary"]
    assert run["status"] == "finished" and summary["complete"] == 3 and summary["infra_errors"]["k"] == 0
    assert summary["accuracy"]["n"] == 3  # a malformed call is the model's error, still scored (as wrong)
    assert summary["schema_adherence"]["n"] == 3 and summary["by_subject"]["parallel"]["n"] == 3
    shown = benchlab("show", run["run_id"], "--json")
    for sample in shown["samples"]:
        assert sample["score"]["details"]["reason"]  # every verdict says why
        assert sample["transcript"]["messages"][-1]["role"] == "user"
    calls = [c for s in shown["samples"] for c in s["transcript"]["completions"][0]["tool_calls"]]
    assert calls, "the smoke model opens a tool call when it is given tools"


def test_a_selection_runs_against_the_smoke_model(smoke_server: str, benchlab_home: Path) -> None:
    run = benchlab(
        *("run", "toolcall", "--task-id", "tc-general-01", "--quality", "1..5", "--max-tokens", "64"),
        *("--server", smoke_server, "--json"),
    )["run"]
    assert run["sample_ids"] == ["tc-general-01@q1", "tc-general-01@q5"]
    assert set(run["summary"]["by_quality"]) == {"1", "5"}
    assert run["task_options"]["selection"]["task_ids"] == ["tc-general-01"]
