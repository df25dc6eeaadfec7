"""BFCL from the pinned bfcl-eval wheel, offline: the row counts of every single-turn category, the
rows' shape, and `benchlab run bfcl_…` against the scripted server with exact scores.

The wheel (1.9 MB) is fetched once into the catalog tests' wheelhouse (see test_catalog_support)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from benchlab.catalog import fetch
from benchlab.catalog.lockfile import package_lock_path
from benchlab.cli import app
from benchlab.tasks.tools.bfcl_match import Verdict, match_calls
from benchlab.tasks.tools.calls import ModelCall
from benchlab.testing.scripted_server import Reply, ScriptedServer
from test_catalog_support import PINNED, use_wheels

COUNTS = {"simple": 400, "multiple": 200, "parallel": 200, "parallel_multiple": 200, "irrelevance": 240}
CATEGORY = {"simple": "simple_python"}


@pytest.fixture
def bfcl_wheel(pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # never the hub
    monkeypatch.setitem(PINNED, "bfcl-eval", "2026.3.23")
    return use_wheels(pytestconfig, monkeypatch, "bfcl-eval")


def test_every_category_loads_from_the_wheel_with_its_row_count(bfcl_wheel: Path) -> None:
    locked = json.loads(package_lock_path().read_text())
    for name, count in COUNTS.items():
        dataset = fetch.load(f"bfcl_{name}")
        assert dataset.kind == "bfcl" and len(dataset) == count, name
        assert dataset.sha256 == locked["benchmarks"][f"bfcl_{name}"]["sha256"]
        category = CATEGORY.get(name, name)
        assert {sample.subject for sample in dataset.samples} == {category}
        Draft202012Validator.check_schema(dataset.samples[0].data["tools"][0]["function"]["parameters"])
        for sample in dataset.samples:
            data = sample.data
            assert {tool["function"]["name"] for tool in data["tools"]} == set(data["names"])
            # every row's first possible answers, made into calls, are right; spoiled ones are not
            assert _verdict(data, right=True).correct, sample.id
            if data["expected"]:
                assert not _verdict(data, right=False).correct, sample.id
            calls = len(data["expected"])
            if name == "irrelevance":
                assert calls == 0
            elif name in ("simple", "multiple"):
                assert calls == 1
            else:
                assert calls >= 1  # a few parallel rows ask for a single call
        if name in ("parallel", "parallel_multiple"):
            assert sum(len(s.data["expected"]) > 1 for s in dataset.samples) > count * 0.9
        if name in ("multiple", "parallel_multiple"):
            assert all(len(s.data["tools"]) >= 2 for s in dataset.samples)


def _plain(answer: Any) -> Any:
    """One concrete value from a possible answer: nested objects list acceptable values per key."""
    if isinstance(answer, dict):
        return {key: _plain(options[0]) for key, options in answer.items() if options[0] != ""}
    if isinstance(answer, list):
        return [_plain(item) for item in answer]
    return answer


def _calls(data: dict[str, Any], *, right: bool) -> list[dict[str, Any]]:
    """The expected calls made with the first possible answer of each declared parameter; when not
    `right`, the first call loses a required argument."""
    offered = {original: offered for offered, original in data["names"].items()}
    schemas = {data["names"][t["function"]["name"]]: t["function"]["parameters"] for t in data["tools"]}
    calls = []
    for index, expected in enumerate(data["expected"]):
        schema = schemas[expected["name"]]
        arguments = {
            name: _plain(next(value for value in accepted if value != ""))
            for name, accepted in expected["args"].items()
            if name in schema["properties"] and any(value != "" for value in accepted)
        }
        if not right and index == 0:
            arguments.pop(schema["required"][0])
        calls.append({"name": offered[expected["name"]], "arguments": arguments})
    return calls


def _verdict(data: dict[str, Any], *, right: bool) -> Verdict:
    made = [ModelCall(call["name"], call["arguments"]) for call in _calls(data, right=right)]
    schemas = {data["names"][t["function"]["name"]]: t["function"]["parameters"] for t in data["tools"]}
    return match_calls(made, data["expected"], schemas, data["names"])


def benchlab(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_cli_run_of_bfcl_parallel_multiple_scores_exactly(bfcl_wheel: Path) -> None:
    rows = {sample.id: sample.data for sample in fetch.load("bfcl_parallel_multiple").samples}
    by_prompt = {data["messages"][-1]["content"]: (row_id, data) for row_id, data in rows.items()}

    def respond(body: dict[str, Any]) -> Reply:
        row_id, data = by_prompt[body["messages"][-1]["content"]]
        number = int(row_id.rsplit("_", 1)[1])
        assert {tool["function"]["name"] for tool in body["tools"]} == set(data["names"])
        if number % 3 == 2:
            return Reply.text("I would rather not call anything.")
        return Reply(tool_calls=_calls(data, right=number % 3 == 0))

    with ScriptedServer(respond) as server:
        run = benchlab(
            "run", "bfcl_parallel_multiple", "-n", "30", "-c", "4", "--server", server.base_url, "--json"
        )["run"]
    numbers = [int(sample_id.rsplit("_", 1)[1]) for sample_id in run["sample_ids"]]
    summary = run["summary"]
    right = sum(1 for number in numbers if number % 3 == 0)
    silent = sum(1 for number in numbers if number % 3 == 2)
    assert summary["complete"] == 30 and summary["accuracy"]["k"] == right and summary["accuracy"]["n"] == 30
    assert summary["failures"] == {
        key: value
        for key, value in {"missing_required": 30 - right - silent, "wrong_count": silent}.items()
        if value
    }
    assert summary["by_subject"]["parallel_multiple"]["k"] == right
    assert summary["schema_adherence"]["rate"] == 1.0 and summary["dialect"] == "raw"
