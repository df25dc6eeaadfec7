"""`benchlab run toolcall` end to end against the scripted server: a model that makes exactly the
expected calls scores 1 on every task, and the chosen prompt-quality variant is what is sent.
(Partial scores are asserted exactly in test_toolcall_scoring.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task
from benchlab.testing.scripted_server import Reply, ScriptedServer

ROWS = [
    json.loads(line)
    for line in (resources.files("benchlab.catalog") / "builtin" / "toolcall.jsonl").read_text().splitlines()
    if line.strip()
]


def _value(accepted: list[Any]) -> tuple[bool, Any]:
    """(give it?, value): a literal when there is one, else a value that satisfies the matcher."""
    for entry in accepted:
        if entry is not None and not isinstance(entry, dict):
            return True, entry
    for entry in accepted:
        if entry is None:
            return False, None
        if "contains" in entry:
            return True, " ".join(entry["contains"])
        if "evaluates_to" in entry:
            return True, repr(float(entry["evaluates_to"]))
    return True, "checked by hand"  # {"any": true}


def _perfect_reply(row: dict[str, Any]) -> Reply:
    if not row["expected"]:
        return Reply.text("No tool is needed for this.")
    calls = []
    for expected in row["expected"]:
        arguments = {}
        for name, accepted in expected["args"].items():
            give, value = _value(accepted)
            if give:
                arguments[name] = value
        calls.append({"name": expected["name"], "arguments": arguments})
    return Reply(tool_calls=calls)


PERFECT = {text: _perfect_reply(row) for row in ROWS for text in row["variants"].values()}


def benchlab(home: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "BENCHLAB_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "benchlab", *args], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_expected_calls_score_full_marks_through_the_wire(benchlab_home: Path) -> None:
    seen: list[str] = []

    def respond(body: dict[str, Any]) -> Reply:
        assert body["tools"], "tools go natively with the raw dialect"
        seen.append(body["messages"][-1]["content"])
        return PERFECT[seen[-1]]

    with ScriptedServer(respond) as server:
        run = benchlab(
            *(benchlab_home, "run", "toolcall", "-n", str(len(ROWS)), "-c", "8", "--server", server.base_url),
            *("--option", "quality=3", "--json"),
        )["run"]
    summary = run["summary"]
    assert summary["complete"] == len(ROWS) and summary["accuracy"]["k"] == len(ROWS)
    assert summary["score"]["rate"] == 1.0 and summary["schema_adherence"]["rate"] == 1.0
    assert summary["irrelevance"]["k"] == summary["irrelevance"]["n"] == 10
    assert set(summary["by_difficulty"]) == {"easy", "medium", "hard", "expert"}
    # quality=3 sends each task's most precise variant at or below 3: the vague one (level 1).
    assert sorted(seen) == sorted(row["variants"]["1"] for row in ROWS)
    assert run["task_options"]["quality"] == 3 and summary["quality"] == 3


def test_options_are_checked_before_any_request() -> None:
    with pytest.raises(TaskSettingsError, match="quality"):
        build_task("toolcall", TaskSettings(options={"quality": 11}))
    with pytest.raises(TaskSettingsError, match="max_turns"):
        build_task("agent", TaskSettings(options={"turns": 3}))
    with pytest.raises(TaskSettingsError, match="dialect"):
        build_task("agent", TaskSettings(dialect="xml"))
    assert build_task("agent", TaskSettings(options={"max_turns": 4})).options()["max_turns"] == 4
