"""Checks that a toolcall or agent row is well formed, with a message that names the row, the field
and the fix. The shipped suites are validated in depth by tests; these checks catch a hand-written
dataset before its first request, as a `DatasetError` that fails the run with a clear reason."""

from __future__ import annotations

from typing import Any

from benchlab.catalog.datasets import DatasetError
from benchlab.tasks.tools.domains import DOMAINS, domain_tools
from benchlab.tasks.tools.rubric import DIFFICULTY_WEIGHTS
from benchlab.types import Sample


def _fail(sample: Sample, problem: str) -> DatasetError:
    return DatasetError(f"task {sample.id}: {problem}")


def _common(sample: Sample) -> dict[str, Any]:
    data = sample.data
    if data.get("domain") not in DOMAINS:
        raise _fail(sample, f"domain {data.get('domain')!r} is not one of {', '.join(DOMAINS)}")
    if data.get("difficulty") not in DIFFICULTY_WEIGHTS:
        raise _fail(
            sample, f"difficulty {data.get('difficulty')!r}: use one of {', '.join(DIFFICULTY_WEIGHTS)}"
        )
    available = domain_tools(data["domain"])
    tools = data.get("tools")
    if not isinstance(tools, list) or not tools:
        raise _fail(sample, "`tools` must be a non-empty list of tool names")
    unknown = [name for name in tools if name not in available]
    if unknown:
        raise _fail(
            sample,
            f"the {data['domain']} domain has no tool {', '.join(map(str, unknown))}; "
            f"its tools: {', '.join(sorted(available))}",
        )
    return data


def _calls(sample: Sample, calls: Any, field: str, tools: list[str]) -> None:
    if not isinstance(calls, list):
        raise _fail(sample, f"`{field}` must be a list of calls")
    for call in calls:
        if not isinstance(call, dict) or call.get("name") not in tools:
            raise _fail(sample, f"`{field}` names {call!r}, which is not one of the task's `tools`")
        if not isinstance(call.get("args", {}), dict):
            raise _fail(sample, f"`{field}`: the arguments of {call['name']} must be an object")


def check_toolcall_row(sample: Sample) -> None:
    data = _common(sample)
    variants = data.get("variants")
    if not isinstance(variants, dict) or not variants or not all(str(k).isdigit() for k in variants):
        raise _fail(sample, '`variants` must map quality levels to prompts, e.g. {"10": "…"}')
    _calls(sample, data.get("expected"), "expected", data["tools"])
    for call in data["expected"]:
        for name, accepted in call.get("args", {}).items():
            if not isinstance(accepted, list) or not accepted:
                raise _fail(sample, f"{call['name']}.{name}: give a list of acceptable values")


def check_agent_row(sample: Sample) -> None:
    data = _common(sample)
    if not isinstance(data.get("prompt"), str) or not data["prompt"].strip():
        raise _fail(sample, "`prompt` must be the task's text")
    reference = data.get("reference")
    if not isinstance(reference, list) or not all(isinstance(turn, list) for turn in reference):
        raise _fail(sample, "`reference` must be a list of turns, each a list of calls")
    for turn in reference:
        _calls(sample, turn, "reference", data["tools"])
    _calls(sample, data.get("required_calls", []), "required_calls", data["tools"])
    answer = data.get("answer")
    if answer is not None and not (
        (answer.get("type") == "number" and isinstance(answer.get("value"), int | float))
        or (answer.get("type") == "text" and isinstance(answer.get("accept"), list) and answer["accept"])
    ):
        raise _fail(
            sample, '`answer` must be {"type": "number", "value": …} or {"type": "text", "accept": […]}'
        )
    if answer is None and not data.get("state_checks"):
        raise _fail(sample, "give an `answer`, `state_checks` or both, or the task cannot be scored")
