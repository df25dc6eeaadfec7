"""The single-turn tool-call rubric (DESIGN §5 toolcall), pure and deterministic.

Each expected call is worth 100 points:

- selection, 25: a model call with the expected tool name is paired with it;
- required params, 25: × share of the tool's schema-required arguments whose value is acceptable;
- optional params, 20: × share of acceptable optional arguments, over the expected optional
  arguments plus any optional argument the model added unasked (none of either: full marks);
- param types, 15: × share of the model's arguments that are declared and valid under their own
  schema (no arguments although some are required: 0);
- chain order, 15: for an ordered chain, the call comes after the calls expected before it;
  otherwise, for being paired.

Pairing goes through the expected calls in order and takes, among the model's unpaired calls with
the same name, the one whose arguments earn most (the first on a tie). Every model call left
unpaired (a hallucinated tool, a duplicate, an unneeded call) adds 100 points to the maximum and
none to the score. A task whose right answer is *no* call is worth 100 points: all of them for
making no call, none for any call. The task's score is achieved / maximum, in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from benchlab.tasks.tools.calls import MISSING, ModelCall, acceptable
from benchlab.tasks.tools.environment import Tool

POINTS = {"selection": 25.0, "required": 25.0, "optional": 20.0, "types": 15.0, "order": 15.0}
CALL_POINTS = sum(POINTS.values())
DIFFICULTY_WEIGHTS = {"easy": 1.0, "medium": 1.5, "hard": 2.5, "expert": 4.0}


@dataclass(frozen=True)
class RubricResult:
    achieved: float
    maximum: float
    calls: list[dict[str, Any]]
    extra_calls: list[str]

    @property
    def value(self) -> float:
        return self.achieved / self.maximum if self.maximum else 0.0


def _argument_items(call: ModelCall, expected: Mapping[str, Sequence[Any]], tool: Tool) -> dict[str, float]:
    """Required, optional and type shares (0–1) of one model call against one expected call."""
    arguments = call.arguments
    schema = tool.parameters
    required = list(schema.get("required", []))
    properties: dict[str, Any] = schema.get("properties", {})
    if arguments is None:  # unreadable JSON: nothing about the arguments can be credited
        return {"required": 0.0, "optional": 0.0, "types": 0.0}
    required_share = (
        sum(
            acceptable(arguments.get(name, MISSING), expected.get(name, [{"any": True}])) for name in required
        )
        / len(required)
        if required
        else 1.0
    )
    optional_names = {name for name in expected if name not in required}
    optional_names |= {name for name in arguments if name not in required and name not in expected}
    optional_share = (
        sum(acceptable(arguments.get(name, MISSING), expected.get(name, [])) for name in optional_names)
        / len(optional_names)
        if optional_names
        else 1.0
    )
    if arguments:
        valid = sum(
            1
            for name, value in arguments.items()
            if name in properties and Draft202012Validator(properties[name]).is_valid(value)
        )
        types_share = valid / len(arguments)
    else:
        types_share = 0.0 if required else 1.0
    return {"required": required_share, "optional": optional_share, "types": types_share}


def score_calls(
    made: Sequence[ModelCall],
    expected: Sequence[Mapping[str, Any]],
    tools: Mapping[str, Tool],
    *,
    ordered: bool,
) -> RubricResult:
    """Score the model's calls against the expected ones (see the module docstring)."""
    if not expected:
        names = [call.name for call in made]
        return RubricResult(0.0 if made else CALL_POINTS, CALL_POINTS, [], names)
    unpaired = list(range(len(made)))
    breakdown: list[dict[str, Any]] = []
    last_position = -1
    for want in expected:
        name, wanted_args = want["name"], want.get("args", {})
        tool = tools[name]
        best: tuple[float, int, dict[str, float]] | None = None
        for position in unpaired:
            if made[position].name != name:
                continue
            items = _argument_items(made[position], wanted_args, tool)
            earned = sum(POINTS[item] * share for item, share in items.items())
            if best is None or earned > best[0]:
                best = (earned, position, items)
        if best is None:
            breakdown.append(
                {"name": name, "matched": False, "position": None, "points": 0.0} | dict.fromkeys(POINTS, 0.0)
            )
            continue
        _, position, items = best
        unpaired.remove(position)
        in_order = position > last_position if ordered else True
        if ordered:
            last_position = max(last_position, position)
        entry = {
            "selection": POINTS["selection"],
            "required": round(POINTS["required"] * items["required"], 4),
            "optional": round(POINTS["optional"] * items["optional"], 4),
            "types": round(POINTS["types"] * items["types"], 4),
            "order": POINTS["order"] if in_order else 0.0,
        }
        breakdown.append(
            {"name": name, "matched": True, "position": position, "points": sum(entry.values())} | entry
        )
    achieved = sum(entry["points"] for entry in breakdown)
    extras = [made[position].name for position in unpaired]
    return RubricResult(achieved, CALL_POINTS * (len(expected) + len(extras)), breakdown, extras)
