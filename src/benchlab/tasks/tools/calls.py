"""Reading tool calls out of completions, and matching argument values against acceptable ones.

Matching is typed and normalised, never by substring of a rendered value:

* numbers compare as numbers (5, 5.0 and "5" are the same value; relative tolerance 1e-6);
* strings compare case-insensitively with surrounding and repeated whitespace ignored;
* booleans compare as booleans ("true" matches True: the *type* rubric item is what penalises it);
* lists compare as multisets (order of scopes or recipients does not change their meaning);
* an acceptable entry may be `null` (the argument may be left out), `{"contains": [words…]}` (free
  text that must mention every word, case-insensitive), `{"evaluates_to": x}` (an arithmetic
  expression whose value, by the safe calculator, is x within 1e-6 relative) or `{"any": true}`
  (any value present).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchlab.tasks.tools.calculator import CalculatorError, evaluate
from benchlab.types import Completion

MISSING = object()


@dataclass(frozen=True)
class ModelCall:
    """One call the model made. `arguments` is None when its JSON could not be read."""

    name: str
    arguments: dict[str, Any] | None
    call_id: str | None = None
    problem: str | None = None


def read_calls(completion: Completion) -> list[ModelCall]:
    """The completion's tool calls, OpenAI-shaped (`function.arguments` a JSON string or object)."""
    calls: list[ModelCall] = []
    for raw in completion.tool_calls:
        nested = raw.get("function")
        function: dict[str, Any] = nested if isinstance(nested, dict) else raw
        name = str(function.get("name") or "")
        arguments = function.get("arguments")
        problem = None
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as error:
                arguments, problem = None, f"arguments are not valid JSON ({error.msg})"
        elif arguments is None:
            arguments = {}
        if arguments is not None and not isinstance(arguments, dict):
            arguments, problem = None, f"arguments are a JSON {type(arguments).__name__}, not an object"
        calls.append(ModelCall(name, arguments, raw.get("id"), problem))
    return calls


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            return None
    return None


def _text(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip().casefold()


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def same_value(actual: Any, expected: Any) -> bool:
    """Whether `actual` is the literal `expected` under the normalisation in the module docstring."""
    if isinstance(expected, bool):
        return _boolean(actual) is expected
    if isinstance(expected, int | float):
        number = _number(actual)
        return number is not None and math.isclose(number, float(expected), rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(expected, str):
        return (
            isinstance(actual, str | int | float)
            and not isinstance(actual, bool)
            and _text(actual) == _text(expected)
        )
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return False
        remaining = list(actual)
        for item in expected:
            index = next((i for i, candidate in enumerate(remaining) if same_value(candidate, item)), None)
            if index is None:
                return False
            remaining.pop(index)
        return True
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and set(actual) == set(expected)
            and all(same_value(actual[key], value) for key, value in expected.items())
        )
    return bool(actual == expected)


def acceptable(actual: Any, accepted: Sequence[Any]) -> bool:
    """Whether `actual` (MISSING when the argument was left out) is one of the accepted entries."""
    for entry in accepted:
        if entry is None:
            if actual is MISSING:
                return True
            continue
        if actual is MISSING:
            continue
        if _accepts(entry, actual):
            return True
    return False


def _accepts(entry: Any, actual: Any) -> bool:
    """Whether one acceptable entry (a literal or a matcher) takes a given value."""
    if not isinstance(entry, dict):
        return same_value(actual, entry)
    if "contains" in entry:
        text = _text(actual) if isinstance(actual, str) else ""
        return bool(text) and all(_text(word) in text for word in entry["contains"])
    if "evaluates_to" in entry:
        return _evaluates_to(actual, float(entry["evaluates_to"]))
    if entry.get("any") is True:
        return True
    return same_value(actual, entry)


def _evaluates_to(expression: Any, target: float) -> bool:
    if not isinstance(expression, str):
        return False
    try:
        value = evaluate(expression)
    except CalculatorError:
        return False
    return math.isclose(value, target, rel_tol=1e-6, abs_tol=1e-9)


def arguments_match(arguments: dict[str, Any] | None, expected: dict[str, Sequence[Any]]) -> bool:
    """Whether every expected argument of a call is acceptable (used for agents' key arguments)."""
    if arguments is None:
        return False
    return all(acceptable(arguments.get(name, MISSING), accepted) for name, accepted in expected.items())


def canonical_call(name: str, arguments: Any) -> str:
    """A stable text for a call, to spot the same call repeated."""
    return name + json.dumps(arguments, sort_keys=True, default=str)
