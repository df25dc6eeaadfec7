"""Every shipped tool-calling and agent task is checked against the tools and the environments.

toolcall: each expected call names a tool the task exposes, lists every schema-required argument,
names only declared arguments, and each literal acceptable value is valid under its schema;
variants span vague to precise. agent: replaying the reference calls in a fresh environment
raises no problem, passes every state check, yields the expected answer among the results, and
makes every required call — so every task is solvable with the tools it exposes.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from benchlab.catalog.datasets import DatasetError
from benchlab.tasks.tools.agent import AgentTask
from benchlab.tasks.tools.agent_scoring import RecordedCall, replay, score_episode, state_check
from benchlab.tasks.tools.calls import arguments_match
from benchlab.tasks.tools.domains import DOMAINS, build_environment, domain_tools
from benchlab.tasks.tools.rubric import DIFFICULTY_WEIGHTS
from benchlab.tasks.tools.toolcall import ToolCallTask
from benchlab.types import GenerationParams, Sample


def _rows(name: str) -> list[dict[str, Any]]:
    text = (resources.files("benchlab.catalog") / "builtin" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


TOOLCALL = _rows("toolcall.jsonl")
AGENT = _rows("agent.jsonl")


def _literal_values(accepted: list[Any]) -> list[Any]:
    return [entry for entry in accepted if entry is not None and not isinstance(entry, dict)]


def test_toolcall_set_is_broad_enough() -> None:
    assert len(TOOLCALL) >= 80
    assert len({row["id"] for row in TOOLCALL}) == len(TOOLCALL)
    assert {row["domain"] for row in TOOLCALL} == set(DOMAINS)
    assert {row["difficulty"] for row in TOOLCALL} == set(DIFFICULTY_WEIGHTS)
    irrelevance = [row for row in TOOLCALL if not row["expected"]]
    assert len(irrelevance) >= 5 and {row["domain"] for row in irrelevance} == set(DOMAINS)


@pytest.mark.parametrize("row", TOOLCALL, ids=[row["id"] for row in TOOLCALL])
def test_toolcall_task_is_valid(row: dict[str, Any]) -> None:
    tools = domain_tools(row["domain"])
    assert set(row["tools"]) <= set(tools), "a task may expose only its domain's tools"
    levels = sorted(int(level) for level in row["variants"])
    assert levels[0] == 1 and levels[-1] == 10 and all(row["variants"][str(k)].strip() for k in levels)
    for expected in row["expected"]:
        assert expected["name"] in row["tools"], f"{expected['name']} is not exposed"
        schema = tools[expected["name"]].parameters
        properties = schema["properties"]
        assert set(schema["required"]) <= set(expected["args"]), "every required argument is expected"
        for name, accepted in expected["args"].items():
            assert name in properties, f"{expected['name']} declares no argument {name}"
            assert isinstance(accepted, list) and accepted, f"{name}: give a list of acceptable values"
            if name in schema["required"]:
                assert None not in accepted, f"{name} is required, so it cannot be left out"
            validator = Draft202012Validator(properties[name])
            for value in _literal_values(accepted):
                assert validator.is_valid(value), f"{expected['name']}.{name}={value!r} breaks its schema"
        # The precise variant's calls run cleanly in the environment.
        environment = build_environment(row["domain"], row["tools"])
        arguments = {
            name: next(iter(_literal_values(accepted)), None)
            for name, accepted in expected["args"].items()
            if _literal_values(accepted)
        }
        if set(schema["required"]) <= set(arguments):
            assert environment.execute(expected["name"], arguments).problem is None


def test_agent_set_is_broad_enough() -> None:
    assert len(AGENT) >= 40
    assert len({row["id"] for row in AGENT}) == len(AGENT)
    assert {row["domain"] for row in AGENT} == set(DOMAINS)
    assert {row["difficulty"] for row in AGENT} == set(DIFFICULTY_WEIGHTS)


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return []


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.casefold()]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _texts(item)]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    return []


@pytest.mark.parametrize("row", AGENT, ids=[row["id"] for row in AGENT])
def test_agent_task_is_solvable_by_its_reference(row: dict[str, Any]) -> None:
    assert row["reference"], "a reference run makes at least one call"
    assert "answer" in row or row.get("state_checks"), "a task checks an answer, the final state or both"
    calls = [
        RecordedCall(turn, call["name"], call["args"])
        for turn, group in enumerate(row["reference"], start=1)
        for call in group
    ]
    environment = replay(row["domain"], row["tools"], calls)
    problems = [(c.name, c.result) for c in environment.calls if c.problem]
    assert not problems, problems
    for check in row.get("state_checks", []):
        assert state_check(environment, check), check
    # Doing nothing must not pass: a state check that holds before any call (a task whose right move
    # is to change nothing) comes with an answer to give.
    untouched = build_environment(row["domain"], row["tools"])
    unchanged = [check for check in row.get("state_checks", []) if state_check(untouched, check)]
    assert not unchanged or "answer" in row, f"already true before any call: {unchanged}"
    for want in row.get("required_calls", []):
        assert want["name"] in row["tools"]
        assert any(c.name == want["name"] and arguments_match(c.arguments, want["args"]) for c in calls), want
    answer = row.get("answer")
    results = [c.result for c in environment.calls]
    if answer and answer["type"] == "number":
        target = float(answer["value"])
        assert any(abs(n - target) <= 1e-6 * max(1.0, abs(target)) for n in _numbers(results)), (
            f"the expected answer {target} is not among the reference results"
        )
    elif answer:
        assert any(phrase.casefold() in text for phrase in answer["accept"] for text in _texts(results))
    # The reference itself earns full marks, answered the way the prompt asks.
    final = (
        f"Answer: {answer['value'] if answer['type'] == 'number' else answer['accept'][0]}"
        if answer
        else "Done."
    )
    value, correct, details = score_episode(row, calls, final, len(row["reference"]) + 1, "answered")
    assert correct and value == pytest.approx(1.0), details


def test_environments_are_fresh_and_report_problems_as_results() -> None:
    first = build_environment("gateway")
    outcome = first.execute("revoke_api_key", {"key_id": "key-a1f3", "reason": "rotation"})
    assert outcome.problem is None and first.changes[0]["after"]["status"] == "revoked"
    second = build_environment("gateway")
    assert second.find("api_keys", "key-a1f3")["status"] == "active"  # nothing leaked
    again = first.execute("revoke_api_key", {"key_id": "key-a1f3"})
    assert again.problem == "refused" and "already revoked" in again.result["error"]
    invented = second.execute("revoke_api_key", {"key_id": "key-a1f3", "force": True})
    assert invented.problem == "invalid_arguments" and "force" in invented.result["error"]
    lots = {"endpoint_id": "ep-orders-list", "requests_per_minute": "lots"}
    wrong_type = second.execute("set_rate_limit", lots)
    assert wrong_type.problem == "invalid_arguments"
    narrow = build_environment("general", ["get_weather"])
    email = {"to": "a@b.co", "subject": "s", "body": "b"}
    assert narrow.execute("send_email", email).problem == "unknown_tool"
    assert narrow.state["outbox"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"domain": "finance"}, "domain 'finance' is not one of trading"),
        ({"tools": ["get_weather", "book_flight"]}, "has no tool book_flight"),
        ({"difficulty": "insane"}, "use one of easy, medium, hard, expert"),
        ({"expected": [{"name": "send_email", "args": {}}]}, "not one of the task's `tools`"),
        ({"variants": {"high": "x"}}, "`variants` must map quality levels"),
    ],
)
def test_malformed_toolcall_rows_are_refused_by_name(change: dict[str, Any], message: str) -> None:
    row = {key: value for key, value in TOOLCALL[0].items() if key not in ("id", "subject")}
    row = {**row, "domain": "general", "tools": ["get_weather"], "expected": []} | change
    with pytest.raises(DatasetError, match=message):
        asyncio.run(ToolCallTask().solve(Sample(id="mine-1", data=row), None, GenerationParams()))  # type: ignore[arg-type]


def test_malformed_agent_row_is_refused_by_name() -> None:
    row = {
        key: value
        for key, value in AGENT[0].items()
        if key not in ("id", "subject", "answer", "state_checks")
    }
    with pytest.raises(DatasetError, match="task mine-2: give an `answer`, `state_checks` or both"):
        asyncio.run(AgentTask().solve(Sample(id="mine-2", data=row), None, GenerationParams()))  # type: ignore[arg-type]
