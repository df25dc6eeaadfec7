"""BFCL-style matching of a model's calls against possible answers: a call is right or wrong.

A model call matches an expected call when

* its name is the expected function (names reach the model in their tool-safe spelling,
  `math.factorial` → `math_factorial`; either spelling is read back);
* every parameter the function's schema requires is present;
* every parameter it passes is declared by the function and listed in the possible answers
  (an optional parameter that the answers do not list may not be added);
* every passed value equals one of the possible answers after normalisation (a wrong value is
  reported as `wrong_type` when it is not even valid under the parameter's JSON Schema: "5" for
  an integer). The possible answers are the authority: a few gold answers in the pinned data do
  not fit their own declared type (`None` for an integer, `True` for a string) and are accepted
  as given;
* every listed parameter it leaves out has `""` among its possible answers (may be omitted).

Normalisation is type-aware: numbers compare as numbers (5 and 5.0 are equal), strings compare
case-insensitively with spaces and the punctuation `, . / - _ * ^` removed ("New York, NY" equals
"new york ny"), lists compare item by item in order, objects key by key with each of their values
matched the same way (nested possible answers are themselves lists of acceptable values).

A task's calls are right when their number equals the number of expected calls and they pair
one-to-one with the expected calls in some order (parallel calls may come in any order). An
irrelevance task (no expected call) is right exactly when the model makes no call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from benchlab.tasks.tools.calls import ModelCall

OMIT = ""  # BFCL's marker: the parameter may be left out
_IGNORED = re.compile(r"[\s,./\-_*^]")


@dataclass(frozen=True)
class Verdict:
    correct: bool
    reason: str  # "ok" or a short code: wrong_count, wrong_name, missing_required, …
    detail: str = ""


def _string(value: str) -> str:
    return _IGNORED.sub("", value).casefold()


def same(actual: Any, expected: Any) -> bool:
    """Whether one passed value equals one possible answer under the normalisation above."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(expected, str):
        return isinstance(actual, str) and _string(actual) == _string(expected)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        return isinstance(actual, dict) and _object_matches(actual, expected)
    return bool(actual == expected)


def _object_matches(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    """A dict answer: each key's value is itself a list of acceptable values (`""`: may be left out)."""
    if set(actual) - set(expected):
        return False
    for key, accepted in expected.items():
        options = accepted if isinstance(accepted, list) else [accepted]
        if key not in actual:
            if OMIT not in options:
                return False
        elif not any(same(actual[key], option) for option in options if option != OMIT):
            return False
    return True


def call_matches(
    call: ModelCall, name: str, answers: Mapping[str, Sequence[Any]], parameters: Mapping[str, Any]
) -> Verdict:
    """One model call against one expected call (`parameters`: the function's JSON Schema)."""
    if call.arguments is None:
        return Verdict(False, "unreadable_arguments", call.problem or "arguments could not be read")
    properties: Mapping[str, Any] = parameters.get("properties", {})
    arguments = call.arguments
    for param in parameters.get("required", []):
        if param not in arguments:
            return Verdict(False, "missing_required", f"{name}: required parameter {param!r} is missing")
    for param, value in arguments.items():
        if param not in properties:
            return Verdict(False, "unknown_parameter", f"{name}: {param!r} is not a parameter")
        if param not in answers:
            return Verdict(False, "unexpected_parameter", f"{name}: {param!r} should not be passed here")
        if any(same(value, option) for option in answers[param] if option != OMIT):
            continue
        if not Draft202012Validator(properties[param]).is_valid(value):
            return Verdict(False, "wrong_type", f"{name}: {param}={value!r} does not fit its declared type")
        return Verdict(False, "wrong_value", f"{name}: {param}={value!r} is not a possible answer")
    for param, options in answers.items():
        if param not in arguments and OMIT not in options:
            return Verdict(False, "missing_parameter", f"{name}: {param!r} is needed here")
    return Verdict(True, "ok")


def match_calls(
    made: Sequence[ModelCall],
    expected: Sequence[Mapping[str, Any]],
    schemas: Mapping[str, Mapping[str, Any]],
    names: Mapping[str, str],
) -> Verdict:
    """The task's verdict. `schemas`: BFCL function name → parameters schema; `names`: the name
    offered to the model → BFCL's name."""
    if not expected:
        if made:
            return Verdict(False, "irrelevance_called", f"called {', '.join(c.name for c in made)}")
        return Verdict(True, "ok")
    if len(made) != len(expected):
        return Verdict(False, "wrong_count", f"{len(made)} call(s) made, {len(expected)} expected")
    resolved = [names.get(call.name, call.name) for call in made]
    wanted = {want["name"] for want in expected}
    stray = [name for name in resolved if name not in wanted]
    if stray:
        expected_names = ", ".join(sorted(wanted))
        return Verdict(False, "wrong_name", f"called {', '.join(stray)}; expected {expected_names}")
    # verdicts[i][j]: model call i against expected call j; then a one-to-one pairing in any order.
    verdicts = [
        [
            call_matches(call, want["name"], want.get("args", {}), schemas[want["name"]])
            if resolved[i] == want["name"]
            else Verdict(False, "wrong_name")
            for want in expected
        ]
        for i, call in enumerate(made)
    ]
    if _perfect_pairing(verdicts):
        return Verdict(True, "ok")
    for j in range(len(expected)):  # explain with the first expected call nobody satisfies, if any
        if not any(row[j].correct for row in verdicts):
            same_name = [row[j] for i, row in enumerate(verdicts) if resolved[i] == expected[j]["name"]]
            if same_name:
                return same_name[0]
    return Verdict(False, "no_pairing", "the calls cannot be paired one-to-one with the expected calls")


def _perfect_pairing(verdicts: list[list[Verdict]]) -> bool:
    """Bipartite matching by augmenting paths (Kuhn's algorithm); a handful of calls at most."""
    size = len(verdicts)
    owner: list[int | None] = [None] * size

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(size):
            if verdicts[i][j].correct and j not in seen:
                seen.add(j)
                holder = owner[j]
                if holder is None or augment(holder, seen):
                    owner[j] = i
                    return True
        return False

    return all(augment(i, set()) for i in range(size))
