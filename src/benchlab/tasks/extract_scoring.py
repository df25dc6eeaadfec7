"""Per-field scoring of an extracted JSON object against the expected one (DESIGN §5 "extract").

The expected object is walked into dotted paths (`customer.address.city`). An array of plain values
is one field, compared as a whole (a multiset unless its schema says `"x-ordered": true`). An array
of objects is compared item by item: with `"x-ordered": true` the output's items are taken in order;
otherwise each expected item, in order, is paired with the unused output item that has the most
equal fields (the first of equals). Each item's fields are then fields of their own
(`actions.0.due`, numbered by the expected item), plus one field `actions.length`, right when the
output has exactly as many items (so an invented extra item costs a point). The score is the share
of expected fields the output got right after normalisation (`field_values`).

The output is also validated against the task's schema with `jsonschema`, and each violation is
recorded under the dotted path it concerns. A violation does not by itself cost the field its point
(a total written as `"1,234.50"` is the right number in the wrong type), but it is reported, and
`schema_valid` says whether the whole object conforms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from benchlab.tasks.field_values import MISSING, values_match

__all__ = ["FieldScore", "dotted", "lookup", "schema_at", "score_fields", "violations"]


# The formats checked, and only these, so that the verdict does not depend on which optional format
# libraries happen to be installed: `date` (ISO calendar date), `date-time` and `time` (ISO 8601 as
# Python reads it; a time needs no zone, unlike RFC 3339).
FORMATS = FormatChecker(formats=["date"])


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(datetime.fromisoformat(value.replace("Z", "+00:00")))


@FORMATS.checks("time", raises=ValueError)
def _is_time(value: object) -> bool:
    return not isinstance(value, str) or bool(time.fromisoformat(value))


@dataclass(frozen=True)
class FieldScore:
    right: list[str]
    wrong: dict[str, Any]  # path -> what the output gave (None when missing)
    violations: dict[str, list[str]]  # path ("" for the root) -> the schema's complaints

    @property
    def total(self) -> int:
        return len(self.right) + len(self.wrong)

    @property
    def value(self) -> float:
        return len(self.right) / self.total if self.total else 0.0


def lookup(value: Any, path: str) -> Any:
    """The value at a dotted path, or `MISSING` when any step is absent or not an object."""
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def schema_at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The sub-schema of a dotted path (through `properties`); `{}` when the schema does not say."""
    for key in path.split("."):
        properties = schema.get("properties")
        if not isinstance(properties, dict) or not isinstance(properties.get(key), dict):
            return {}
        schema = properties[key]
    return schema


def dotted(parts: Any) -> str:
    return ".".join(str(part) for part in parts)


def violations(output: Any, schema: dict[str, Any]) -> dict[str, list[str]]:
    """Schema violations by the dotted path of the field they concern ("" for the object itself).

    A missing required property is filed under the property's own path, and an array item's
    violation under the array, so that violations line up with the scored fields.
    """
    found: dict[str, list[str]] = {}
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    for error in sorted(validator.iter_errors(output), key=lambda e: list(map(str, e.absolute_path))):
        parts = [part for part in error.absolute_path if isinstance(part, str)]
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [name for name in error.validator_value if name not in error.instance]
            for name in missing:
                found.setdefault(dotted([*parts, name]), []).append("required but missing")
            continue
        found.setdefault(dotted(parts), []).append(error.message)
    return found


def score_fields(output: Any, expected: dict[str, Any], schema: dict[str, Any]) -> FieldScore:
    """Compare every expected field (see the module docstring) and validate the output."""
    right: list[str] = []
    wrong: dict[str, Any] = {}
    _compare(output, expected, schema, "", right, wrong)
    return FieldScore(right, wrong, violations(output, schema) if isinstance(output, dict) else {})


def _compare(
    got: Any, want: Any, schema: dict[str, Any], path: str, right: list[str], wrong: dict[str, Any]
) -> None:
    if isinstance(want, dict) and want:
        for key, item in want.items():
            sub = f"{path}.{key}" if path else key
            value = got.get(key, MISSING) if isinstance(got, dict) else MISSING
            _compare(value, item, schema_at(schema, key), sub, right, wrong)
        return
    if isinstance(want, list) and want and all(isinstance(item, dict) for item in want):
        items = got if isinstance(got, list) else []
        item_schema: dict[str, Any] = schema["items"] if isinstance(schema.get("items"), dict) else {}
        if schema.get("x-ordered"):
            paired = [items[index] if index < len(items) else MISSING for index in range(len(want))]
        else:
            paired = _pair(items, want, item_schema)
        for index, (value, item) in enumerate(zip(paired, want, strict=True)):
            _compare(value, item, item_schema, f"{path}.{index}", right, wrong)
        (
            right.append(f"{path}.length")
            if len(items) == len(want)
            else wrong.update({f"{path}.length": len(items)})
        )
        return
    if values_match(got, want, schema):
        right.append(path)
    else:
        wrong[path] = None if got is MISSING else got


def _pair(items: list[Any], want: list[dict[str, Any]], schema: dict[str, Any]) -> list[Any]:
    """For each expected item in order, the unused output item with most fields equal (first on ties)."""
    unused = list(range(len(items)))
    paired: list[Any] = []
    for expected_item in want:
        best, best_right = None, -1
        for index in unused:
            found: list[str] = []
            _compare(items[index], expected_item, schema, "", found, {})
            if len(found) > best_right:
                best, best_right = index, len(found)
        if best is None:
            paired.append(MISSING)
            continue
        unused.remove(best)
        paired.append(items[best])
    return paired
