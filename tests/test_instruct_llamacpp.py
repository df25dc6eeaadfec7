"""`benchlab run instruct_core` end to end against the real llama.cpp server serving the smoke model.

The smoke model is a random-weight null model: it must get no real credit at prompt level (every
built-in prompt holds an instruction only a real answer follows), so a score above that means a
verifier is wrong. Structure is asserted, never the model's text.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'")

from benchlab.endpoints.managed import ServerProcess, free_port

pytestmark = pytest.mark.llamacpp


@pytest.fixture(scope="module")
def smoke_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    with ServerProcess(smoke=True, port=free_port(), parallel=2, env={"BENCHLAB_HOME": str(home)}) as server:
        yield server.base_url


def benchlab(*args: str, home: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "benchlab", *args],
        env={**os.environ, "BENCHLAB_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_instruct_core_against_the_smoke_model(smoke_server: str, benchlab_home: Path) -> None:
    record = benchlab(
        "run", "instruct_core", "-n", "8", "--server", smoke_server, "--json", home=benchlab_home
    )["run"]
    summary = record["summary"]
    assert record["status"] == "finished" and record["task_kind"] == "instruct"
    assert record["endpoint"]["model"] == "benchlab-smoke"
    assert summary["infra_errors"]["k"] == 0 and summary["scored"] == 8

    levels = ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")
    for level in levels:
        entry = summary[level]
        assert 0 <= entry["ci_low"] <= entry["ci_high"] <= 1 and entry["k"] <= entry["n"]
    assert summary["prompt_strict"]["n"] == summary["prompt_loose"]["n"] == 8
    assert summary["accuracy"] == summary["prompt_strict"]
    assert summary["prompt_strict"]["k"] <= summary["prompt_loose"]["k"]
    assert summary["instruction_strict"]["k"] <= summary["instruction_loose"]["k"]
    # The null model: no prompt followed in full (a verifier giving it credit would be a bug).
    assert summary["prompt_loose"]["k"] == 0

    shown = benchlab("show", record["run_id"], "--json", home=benchlab_home)
    instructions = 0
    for sample in shown["samples"]:
        details = sample["score"]["details"]
        assert len(details["instructions"]) == len(details["strict"]) == len(details["loose"]) >= 1
        assert all(
            loose or not strict for strict, loose in zip(details["strict"], details["loose"], strict=True)
        )
        assert sample["transcript"]["messages"][0]["role"] == "user"
        instructions += len(details["instructions"])
    assert summary["instruction_strict"]["n"] == instructions
    per_instruction = summary["by_instruction"]
    assert sum(entry["strict"]["n"] for entry in per_instruction.values()) == instructions
