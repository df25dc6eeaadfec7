"""Scoring an agent episode (DESIGN §5 agent), pure: the environment is rebuilt by replaying the
calls recorded in the transcript, so a stored run can be re-scored without the model.

100 points per task:

- outcome, 50: × share of the task's checks passed: its answer (answers.py rules) and each
  state check;
- required calls, 20: × share of required calls made, each matched by tool name *and* key arguments;
- efficiency, 10: × min(1, reference turns / turns used); 0 unless the episode ended with an
  answer (the turn limit cut it, or a call could not be read);
- no hallucination, 10: × share of calls naming a tool this task exposes with arguments valid under
  its schema;
- no loops, 10: 10 with no call repeated identically, 5 with one repeat, 0 with more (a loop).

The last three (30 points) are earned in proportion to the outcome share: tidiness is credited
only as far as the job got done, so an agent that answers at once with nothing right — a null
model — scores 0, not 30.

`correct` (full marks on the outcome and every required call) is what paired comparisons use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchlab.tasks.tools.answers import check_answer
from benchlab.tasks.tools.calls import acceptable, arguments_match, canonical_call
from benchlab.tasks.tools.domains import build_environment
from benchlab.tasks.tools.environment import Environment

POINTS = {
    "outcome": 50.0,
    "required_calls": 20.0,
    "efficiency": 10.0,
    "no_hallucination": 10.0,
    "no_loops": 10.0,
}


@dataclass(frozen=True)
class RecordedCall:
    turn: int
    name: str
    arguments: Any


def replay(domain: str, tools: Sequence[str], calls: Sequence[RecordedCall]) -> Environment:
    """A fresh environment with `calls` executed in order (what the episode did to the world)."""
    environment = build_environment(domain, tools)
    for call in calls:
        environment.execute(call.name, call.arguments)
    return environment


def state_check(environment: Environment, check: Mapping[str, Any]) -> bool:
    """`{"collection", "match": {field: [acceptable…]}, "count"?: n}`: exactly n (default 1)
    records of the collection have every field acceptable."""
    rows = environment.state.get(check["collection"], [])
    matching = [
        row
        for row in rows
        if isinstance(row, dict)
        and all(acceptable(row.get(field), accepted) for field, accepted in check["match"].items())
    ]
    return len(matching) == check.get("count", 1)


def score_episode(
    data: Mapping[str, Any], calls: Sequence[RecordedCall], final_content: str | None, turns: int, stop: str
) -> tuple[float, bool, dict[str, Any]]:
    """(value in [0, 1], correct, breakdown) for one episode."""
    environment = replay(data["domain"], data["tools"], calls)
    checks: list[dict[str, Any]] = []
    answer_read = None
    if "answer" in data:
        passed, answer_read = (
            check_answer(final_content or "", data["answer"]) if final_content else (False, None)
        )
        checks.append({"check": "answer", "passed": passed, "read": answer_read})
    for check in data.get("state_checks", []):
        checks.append({"check": f"state:{check['collection']}", "passed": state_check(environment, check)})
    outcome = sum(c["passed"] for c in checks) / len(checks) if checks else 1.0

    required = data.get("required_calls", [])
    covered = [
        any(
            call.name == want["name"] and arguments_match(call.arguments, want.get("args", {}))
            for call in calls
        )
        for want in required
    ]
    required_share = sum(covered) / len(required) if required else 1.0

    reference_turns = len(data["reference"]) + 1  # the reference's tool turns and its answer
    efficiency = min(1.0, reference_turns / turns) if stop == "answered" and turns else 0.0

    bad = [c.name for c in environment.calls if c.problem in ("unknown_tool", "invalid_arguments")]
    hallucination_share = 1.0 - len(bad) / len(calls) if calls else 1.0

    seen: set[str] = set()
    repeats = 0
    for call in calls:
        text = canonical_call(call.name, call.arguments)
        repeats += text in seen
        seen.add(text)
    loops = 1.0 if repeats == 0 else 0.5 if repeats == 1 else 0.0

    items = {
        "outcome": POINTS["outcome"] * outcome,
        "required_calls": POINTS["required_calls"] * required_share,
        "efficiency": POINTS["efficiency"] * efficiency * outcome,
        "no_hallucination": POINTS["no_hallucination"] * hallucination_share * outcome,
        "no_loops": POINTS["no_loops"] * loops * outcome,
    }
    value = sum(items.values()) / sum(POINTS.values())
    correct = outcome == 1.0 and required_share == 1.0
    details = {
        "points": {name: round(points, 4) for name, points in items.items()},
        "checks": checks,
        "required_calls": [
            {"name": want["name"], "args": want.get("args", {}), "made": made}
            for want, made in zip(required, covered, strict=True)
        ],
        "turns": turns,
        "reference_turns": reference_turns,
        "stop": stop,
        "calls": len(calls),
        "hallucinated": bad,
        "repeats": repeats,
        "loop": repeats >= 2,
        "changes": environment.changes,
    }
    return value, correct, details
