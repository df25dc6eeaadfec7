"""The agent kind: exact scores of hand-made episodes, answer reading, and the loop end to end
through the CLI against the scripted server (exact scores, the trace, the turn limit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from benchlab.tasks.tools.agent import AgentTask
from benchlab.tasks.tools.answers import check_answer
from benchlab.testing.scripted_server import Reply, ScriptedServer
from benchlab.types import Completion, ErrorKind, Sample, Transcript

ROWS = {
    row["id"]: row
    for row in (
        json.loads(line)
        for line in (resources.files("benchlab.catalog") / "builtin" / "agent.jsonl").read_text().splitlines()
        if line.strip()
    )
}
WARMER = ROWS["ag-general-01"]  # Lisbon or Sydney? reference: both weather calls, then the answer
DIFFERENCE = ROWS["ag-general-02"]  # Tokyo minus Berlin in °C, 8.5; reference has 2 tool turns


def transcript(
    turns: list[list[tuple[str, dict[str, Any]]]], final: str | None, stop: str = "answered"
) -> Transcript:
    calls = [
        {"turn": turn, "name": name, "arguments": arguments, "problem": None}
        for turn, group in enumerate(turns, start=1)
        for name, arguments in group
    ]
    completions = [Completion(tool_calls=[{"function": {"name": n}}]) for n in turns]
    if final is not None:
        completions.append(Completion(content=final))
    state = {"stop": stop, "turns": len(completions), "calls": calls, "turn_limit": 8}
    return Transcript(messages=[], completions=completions, state=state)


def score(row: dict[str, Any], episode: Transcript) -> tuple[float, dict[str, Any]]:
    result = AgentTask().score(Sample(id=row["id"], data=row), episode)
    return result.value, result.details


BOTH = [("get_weather", {"city": "Lisbon"}), ("get_weather", {"city": "Sydney"})]


def test_reference_episode_earns_full_marks() -> None:
    value, details = score(WARMER, transcript([BOTH], "Lisbon is warmer.\nAnswer: Lisbon"))
    assert value == 1.0 and details["points"]["outcome"] == 50.0


def test_wrong_answer_loses_the_outcome() -> None:
    value, details = score(WARMER, transcript([BOTH], "Answer: Sydney"))
    # Only the required calls count: tidiness is credited in proportion to the outcome (here 0).
    assert value == pytest.approx(0.2) and details["checks"][0]["passed"] is False
    assert details["points"]["efficiency"] == details["points"]["no_loops"] == 0.0


def test_hallucinated_tool_and_missing_city() -> None:
    # One call names a tool this task does not expose; Sydney is never looked up.
    turns = [[("get_weather", {"city": "Lisbon"}), ("get_forecast", {"city": "Sydney"})]]
    value, details = score(WARMER, transcript(turns, "Answer: Lisbon"))
    # outcome 50 + required 10 (Lisbon only) + efficiency 10 + no-hallucination 5 (1 of 2 bad) + loops 10
    assert value == pytest.approx(0.85)
    assert details["hallucinated"] == ["get_forecast"]
    assert [entry["made"] for entry in details["required_calls"]] == [True, False]


def test_one_city_does_not_cover_the_other_and_repeats_count() -> None:
    turns = [[("get_weather", {"city": "Lisbon"})], [("get_weather", {"city": "Lisbon"})]]
    value, details = score(WARMER, transcript(turns, "Answer: Lisbon"))
    # outcome 50 + required 10 + efficiency 10 × 2/3 + no-hallucination 10 + loops 5 (one repeat)
    assert value == pytest.approx((50 + 10 + 20 / 3 + 10 + 5) / 100)
    assert details["repeats"] == 1 and not details["loop"]


def test_invented_arguments_are_hallucinations() -> None:
    turns = [
        [("get_weather", {"city": "Lisbon", "hemisphere": "north"}), ("get_weather", {"city": "Sydney"})]
    ]
    value, details = score(WARMER, transcript(turns, "Answer: Lisbon"))
    # Lisbon with an undeclared argument is refused by the schema, so Lisbon's key-argument call
    # still counts as made (name and city match) but is a hallucinated call: 50 + 20 + 10 + 5 + 10.
    assert value == pytest.approx(0.95) and details["hallucinated"] == ["get_weather"]


def test_turn_limit_and_loop() -> None:
    turns = [[("get_weather", {"city": "Lisbon"})]] * 3
    value, details = score(WARMER, transcript(turns, None, stop="turn_limit"))
    # outcome 0, required 10 (Lisbon), and no tidiness points without an outcome
    assert value == pytest.approx(0.1) and details["loop"] and details["stop"] == "turn_limit"


def test_state_checks_replay_the_calls() -> None:
    row = ROWS["ag-gateway-04"]  # halve the order-create rate limit: 120 → 60
    good = [
        [("list_endpoints", {"service": "orders"})],
        [("set_rate_limit", {"endpoint_id": "ep-orders-create", "requests_per_minute": 60})],
    ]
    assert score(row, transcript(good, "Done, it is 60 now."))[0] == 1.0
    wrong = [[("set_rate_limit", {"endpoint_id": "ep-orders-create", "requests_per_minute": 240})]]
    value, details = score(row, transcript(wrong, "Done."))
    assert details["checks"] == [{"check": "state:endpoints", "passed": False}]
    # outcome 0 + required 0 (wrong limit) + no tidiness points without an outcome
    assert value == 0.0


def test_parse_error_is_a_model_error() -> None:
    episode = Transcript(
        messages=[],
        completions=[Completion(content="<tool_call>{oops", tool_parse_error="unterminated JSON")],
        state={"stop": "parse_error", "turns": 1, "calls": [], "turn_limit": 8},
    )
    result = AgentTask().score(Sample(id="x", data=WARMER), episode)
    assert result.error_kind is ErrorKind.MODEL and result.details["schema_adherent"] is False
    assert result.value == 0.0  # no outcome, no required calls, so nothing else either


@pytest.mark.parametrize(
    ("reply", "expected", "correct"),
    [
        ("Answer: 8.5", {"type": "number", "value": 8.5}, True),
        ("The gap is 8.50 °C.\nAnswer: 8.50 °C", {"type": "number", "value": 8.5}, True),
        ("Tokyo is warmer by 8.5 degrees.", {"type": "number", "value": 8.5}, True),  # last number
        ("Answer: 15", {"type": "number", "value": 5}, False),  # never a substring match
        ("Answer: 5 (of 15)", {"type": "number", "value": 15}, False),  # first number on the line
        ("Answer: $28,092.39", {"type": "number", "value": 28092.39}, True),
        ("Answer: 27,900", {"type": "number", "value": 28092.39}, False),  # outside 0.5 %
        ("Answer: 28,000", {"type": "number", "value": 28092.39}, True),  # inside 0.5 %
        ("<think>Answer: 3</think>Answer: 4", {"type": "number", "value": 3}, False),
        ("Answer: **INC-043**", {"type": "text", "accept": ["INC-043"]}, True),
        ("Answer: INC-0431", {"type": "text", "accept": ["INC-043"]}, False),
        ("Answer: Lisbon is warmer", {"type": "text", "accept": ["Lisbon"]}, True),
        ("Answer: no answer", {"type": "number", "value": 1}, False),
    ],
)
def test_answers_are_read_by_rule(reply: str, expected: dict[str, Any], correct: bool) -> None:
    assert check_answer(reply, expected)[0] is correct


# --- the loop end to end, through the CLI, against the scripted server -----------------------------


def _scripted(body: dict[str, Any]) -> Reply:
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    done = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if prompt == WARMER["prompt"]:
        script = [
            Reply(tool_calls=[{"name": n, "arguments": a} for n, a in BOTH]),
            Reply.text("Answer: Lisbon"),
        ]
        return script[done]
    if prompt == DIFFERENCE["prompt"]:
        script = [
            Reply.tool("get_weather", {"city": "Tokyo"}),
            Reply.tool("get_weather", {"city": "Tokyo"}),
            Reply.text("Answer: 8.5"),
        ]
        return script[done]
    return Reply.tool("get_weather", {"city": "Lisbon"})  # every other task: loops until the limit


def benchlab(home: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "BENCHLAB_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "benchlab", *args], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_agent_loop_end_to_end_with_exact_scores(benchlab_home: Path) -> None:
    with ScriptedServer(_scripted) as server:
        run = benchlab(
            benchlab_home,
            "run",
            "agent",
            "-n",
            "41",
            "--server",
            server.base_url,
            "--option",
            "max_turns=3",
            "--json",
        )["run"]
    assert run["status"] == "finished" and run["summary"]["complete"] == 41
    assert run["task_options"]["max_turns"] == 3
    shown = benchlab(benchlab_home, "show", run["run_id"], "--json")
    samples = {s["sample_id"]: s for s in shown["samples"]}

    warmer = samples["ag-general-01"]
    assert warmer["score"]["value"] == 1.0 and warmer["score"]["correct"]
    messages = warmer["transcript"]["messages"]
    tool_results = [json.loads(m["content"]) for m in messages if m["role"] == "tool"]
    assert [r["city"] for r in tool_results] == ["Lisbon", "Sydney"]  # executed, fed back in order
    assert tool_results[0]["temp_c"] == 19.0
    calls = messages[2]["tool_calls"]
    assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == [c["id"] for c in calls]
    assert messages[-1] == {"role": "assistant", "content": "Answer: Lisbon"}

    env = {**os.environ, "BENCHLAB_HOME": str(benchlab_home), "COLUMNS": "200"}
    drill = subprocess.run(
        [sys.executable, "-m", "benchlab", "show", run["run_id"], "--sample", "ag-general-01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert drill.returncode == 0, drill.stderr
    assert 'get_weather({"city": "Sydney"})' in drill.stdout and '"temp_c": 17.5' in drill.stdout

    difference = samples["ag-general-02"]
    # outcome 50 (8.5 is right) + required 10 (Berlin never looked up) + efficiency 10 (3 turns,
    # as the reference) + no-hallucination 10 + loops 5 (one repeat)
    assert difference["score"]["value"] == pytest.approx(0.85)

    looping = [s for key, s in samples.items() if key not in ("ag-general-01", "ag-general-02")]
    for sample in looping:
        assert len(sample["transcript"]["completions"]) == 3, sample["sample_id"]  # the limit holds
        assert sample["score"]["details"]["stop"] == "turn_limit"
        assert sum(m["role"] == "tool" for m in sample["transcript"]["messages"]) == 3
    foreign = samples["ag-devops-02"]["transcript"]["messages"]
    assert "unknown tool 'get_weather'" in json.loads(foreign[3]["content"])["error"]
    assert run["summary"]["turn_limit_hit"]["k"] == 39 and run["summary"]["loops"]["k"] == 39
    assert run["summary"]["schema_adherence"]["rate"] == 1.0
