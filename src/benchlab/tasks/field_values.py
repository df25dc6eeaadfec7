"""Normalising extracted field values before comparison (DESIGN §5 "extract").

The field's JSON Schema decides how a value is read, so that a right answer written differently
still counts and a wrong one never does:

* `"format": "date"` — ISO `YYYY-MM-DD` from ISO dates (with or without a time), `5 March 2024`,
  `March 5, 2024`, `Mar 5 2024`, `5-Mar-2024`, `2024/03/05`, `05.03.2024` (day first, the dotted
  European form) and numeric slashed dates whose reading is unambiguous (`25/03/2024` day first,
  `03/25/2024` month first). `03/05/2024` is ambiguous and is not read.
* `"format": "date-time"` — ISO 8601 with `T` or a space, optional seconds and zone (`Z`, `+01:00`
  or a trailing `UTC`/`GMT`); compared as instants when both carry a zone, else as wall-clock
  times.
* `"format": "time"` — `14:30`, `14:30:00`, `2:30 pm`, `2pm` → `HH:MM:SS`.
* `"type": "number"` / `"integer"` — JSON numbers, or strings such as `"1,234.50"`, `"$1.2k"`,
  `"€ 3.5M"`, `"12%"` (the percent sign is dropped); compared exactly unless the schema gives
  `x-tolerance` (absolute).
* `"type": "boolean"` — JSON booleans, or the strings `true`/`false`.
* strings (and enums) — Unicode NFKC, case-folded, runs of whitespace collapsed, and whitespace,
  quotes and sentence punctuation (`. , ; : ! ?`) stripped from both ends. A JSON number given for a
  string field is compared by its text (`55021` for `"55021"`); the schema violation is still
  recorded.
* arrays — compared as multisets of normalised items unless the schema says `"x-ordered": true`.
* `null` expected — the field is right when the output gives null or leaves it out.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from datetime import date, datetime, time
from fractions import Fraction
from typing import Any

__all__ = ["MISSING", "normalise", "values_match"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a field the output does not have at all

_MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_DATE_FORMS = [
    re.compile(rf"^{_YEAR}-(?P<m>\d{{1,2}})-(?P<day>\d{{1,2}})(?:[T ].*)?$"),
    re.compile(rf"^{_YEAR}/(?P<m>\d{{1,2}})/(?P<day>\d{{1,2}})$"),
    re.compile(rf"^(?P<day>\d{{1,2}})\.(?P<m>\d{{1,2}})\.{_YEAR}$"),
    re.compile(rf"^(?:[A-Za-z]+,?\s+)?{_DAY}[\s-]+{_MONTH}[\s,-]+{_YEAR}$"),
    re.compile(rf"^(?:[A-Za-z]+,?\s+)?{_MONTH}\s+{_DAY},?\s+{_YEAR}$"),
]
_SLASHED = re.compile(rf"^(?P<a>\d{{1,2}})/(?P<b>\d{{1,2}})/{_YEAR}$")
_TIME = re.compile(r"^(?P<h>\d{1,2})(?::(?P<m>\d{2}))?(?::(?P<s>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?$", re.I)
_AMOUNT = re.compile(
    r"^(?P<sign>[-−])?\s*(?:[$€£¥]|usd|eur|gbp)?\s*(?P<sign2>[-−])?"
    r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*"
    r"(?P<suffix>[kmb])?\s*(?:%|[$€£¥]|usd|eur|gbp)?$",
    re.IGNORECASE,
)
_SCALE = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
_SPACES = re.compile(r"\s+")
_EDGES = " \t\n\"'`.,;:!?“”‘’"
_ZONE_WORD = re.compile(r"\s*(?:UTC|GMT)$", re.IGNORECASE)


def _date(value: str) -> str | None:
    text = value.strip()
    for form in _DATE_FORMS:
        match = form.match(text)
        if match is None:
            continue
        groups = match.groupdict()
        month = int(groups["m"]) if groups.get("m") else _MONTHS.get((groups.get("month") or "").lower())
        return _iso(int(groups["year"]), month, int(groups["day"]))
    match = _SLASHED.match(text)
    if match is not None:
        a, b, year = int(match["a"]), int(match["b"]), int(match["year"])
        if a == b or a > 12:
            return _iso(year, b, a)
        if b > 12:
            return _iso(year, a, b)
    return None  # ambiguous or not a date


def _iso(year: int, month: int | None, day: int) -> str | None:
    if month is None:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _datetime(value: str) -> datetime | None:
    text = _ZONE_WORD.sub("+00:00", value.strip()).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _time(value: str) -> str | None:
    match = _TIME.match(value.strip())
    if match is None:
        return None
    hour, minute, second = int(match["h"]), int(match["m"] or 0), int(match["s"] or 0)
    ampm = (match["ampm"] or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif match["m"] is None:
        return None  # a bare "14" is not a time
    try:
        return time(hour, minute, second).isoformat()
    except ValueError:
        return None


def _number(value: Any) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Fraction(str(value))
    if not isinstance(value, str):
        return None
    match = _AMOUNT.match(value.strip())
    if match is None:
        return None
    number = Fraction(match["number"].replace(",", ""))
    if match["suffix"]:
        number *= _SCALE[match["suffix"].lower()]
    return -number if (match["sign"] or match["sign2"]) else number


def _text(value: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip(_EDGES).casefold()


def _types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, list):
        return set(declared)
    if isinstance(declared, str):
        return {declared}
    if "enum" in schema:
        return {type_name(item) for item in schema["enum"]}
    return set()


def type_name(value: Any) -> str:
    """The JSON type name of a Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def normalise(value: Any, schema: dict[str, Any]) -> Any:
    """A comparable form of `value` as the field's `schema` reads it (see the module docstring).

    A value that cannot be read as the schema's type is returned in a form that matches nothing
    but itself (a tagged tuple), so it is never right by accident.
    """
    if value is None or value is MISSING:
        return None
    types = _types(schema)
    fmt = schema.get("format")
    if isinstance(value, list):
        normalised = [_hashable(normalise(item, _sub(schema.get("items")))) for item in value]
        return tuple(normalised) if schema.get("x-ordered") else frozenset(Counter(normalised).items())
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        return frozenset(
            (key, _hashable(normalise(item, properties.get(key, {})))) for key, item in value.items()
        )
    if types & {"number", "integer"}:
        number = _number(value)
        if number is not None:
            return number
    if types & {"boolean"}:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    if isinstance(value, str):
        if fmt == "date":
            return ("date", _date(value) or _text(value))
        if fmt == "date-time":
            moment = _datetime(value)
            return ("date-time", moment) if moment is not None else ("unread", _text(value))
        if fmt == "time":
            return ("time", _time(value) or _text(value))
        return _text(value)
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return _text(json.dumps(value)) if "string" in types else Fraction(str(value))
    return ("other", repr(value))


def _sub(schema: Any) -> dict[str, Any]:
    return schema if isinstance(schema, dict) else {}


def _hashable(value: Any) -> Any:
    return value if not isinstance(value, datetime) else value.isoformat()


def values_match(output: Any, expected: Any, schema: dict[str, Any]) -> bool:
    """Whether an output value equals the expected one once both are normalised by `schema`."""
    if expected is None:
        return output is None or output is MISSING
    if output is MISSING or output is None:
        return False
    tolerance = schema.get("x-tolerance")
    left, right = normalise(output, schema), normalise(expected, schema)
    if isinstance(tolerance, int | float) and isinstance(left, Fraction) and isinstance(right, Fraction):
        return abs(left - right) <= Fraction(str(tolerance))
    if isinstance(left, tuple) and isinstance(right, tuple) and left[:1] == right[:1] == ("date-time",):
        return _same_moment(left[1], right[1])
    return bool(left == right)


def _same_moment(left: datetime, right: datetime) -> bool:
    if (left.tzinfo is None) != (right.tzinfo is None):
        return left.replace(tzinfo=None) == right.replace(tzinfo=None)
    return left == right
