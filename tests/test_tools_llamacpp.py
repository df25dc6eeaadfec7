"""Tool calling and agents against the real llama.cpp server serving the smoke model.

The smoke model is a null model: it opens a tool call when it is given tools and answers in text
once a tool result is in the history. Only structure is asserted — calls executed, results fed
back as `role: tool` messages, the trace stored, the turn limit held — never scores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'")

from benchlab.endpoints.managed import ServerProcess, free_port

pytestmark = pytest.mark.llamacpp


@pytest.fixture(scope="module")
def smoke_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    with ServerProcess(smoke=True, port=free_port(), parallel=2, env={"BENCHLAB_HOME": str(home)}) as server:
        yield server.base_url


def benchlab(home: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "BENCHLAB_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "benchlab", *args], env=env, capture_output=True, text=True, timeout=400
    )
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_toolcall_run_records_calls_and_adherence(smoke_server: str, benchlab_home: Path) -> None:
    run = benchlab(
        *(benchlab_home, "run", "toolcall", "-n", "2", "--max-tokens", "64"),
        *("--server", smoke_server, "--json"),
    )["run"]
    summary = run["summary"]
    assert run["status"] == "finished" and summary["complete"] == 2 and summary["infra_errors"]["k"] == 0
    assert summary["schema_adherence"]["n"] == 2  # one completion per task, every one counted
    assert 0.0 <= summary["score"]["ci_low"] <= summary["score"]["rate"] <= summary["score"]["ci_high"] <= 1.0
    shown = benchlab(benchlab_home, "show", run["run_id"], "--json")
    calls = [c for s in shown["samples"] for c in s["transcript"]["completions"][0]["tool_calls"]]
    assert calls, "the smoke model opens a tool call when it is given tools"
    for sample in shown["samples"]:
        assert sample["transcript"]["messages"][1]["role"] == "user"
        assert {"calls", "maximum", "achieved", "difficulty"} <= set(sample["score"]["details"])


def test_agent_loop_executes_calls_and_holds_the_turn_limit(smoke_server: str, benchlab_home: Path) -> None:
    run = benchlab(
        *(benchlab_home, "run", "agent", "-n", "1", "--max-tokens", "64", "--server", smoke_server),
        *("--option", "max_turns=2", "--json"),
    )["run"]
    assert run["status"] == "finished" and run["summary"]["complete"] == 1
    shown = benchlab(benchlab_home, "show", run["run_id"], "--json")
    fed_back = 0
    for sample in shown["samples"]:
        transcript = sample["transcript"]
        assert 1 <= len(transcript["completions"]) <= 2  # the limit holds
        assert transcript["state"]["stop"] in ("answered", "turn_limit", "parse_error")
        executed = transcript["state"]["calls"]
        tool_messages = [m for m in transcript["messages"] if m["role"] == "tool"]
        assert len(tool_messages) == len(executed)  # every executed call's result went back
        for message in tool_messages:
            json.loads(message["content"])  # a JSON result (or a JSON error) for the model
        fed_back += len(tool_messages)
        assert sample["score"]["details"]["turns"] == len(transcript["completions"])
    assert fed_back >= 1, "the smoke model calls a tool on its first turn"
    # A second turn, when there was one, was asked with the tool result in its history.
    for sample in shown["samples"]:
        roles = [m["role"] for m in sample["transcript"]["messages"]]
        if len(sample["transcript"]["completions"]) == 2:
            assert roles.index("tool") < len(roles) - 1
