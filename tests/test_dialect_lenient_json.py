"""Which JSON slips the dialect readers mend, and which they refuse (docs/dialects.md)."""

from __future__ import annotations

from typing import Any

import pytest

from benchlab.endpoints.dialects.lenient_json import decode, strip_fence

MENDED: list[tuple[str, Any]] = [
    ('{"a": 1, "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),
    ("{'a': 'x', 'b': \"it's\"}", {"a": "x", "b": "it's"}),
    ("{'a': 'it\\'s'}", {"a": "it's"}),
    ("{'a': True, 'b': False, 'c': None}", {"a": True, "b": False, "c": None}),
    ('{"a": 1, // why\n "b": 2}', {"a": 1, "b": 2}),
    ('{"a": 1, /* why */ "b": 2}', {"a": 1, "b": 2}),
    ('{"a": "line\nbreak"}', {"a": "line\nbreak"}),
    ('{"a": 1 "b": 2}', {"a": 1, "b": 2}),
    ('{"a": {"b": [1, {"c": 2', {"a": {"b": [1, {"c": 2}]}}),
    ('{"a": 1}\n{"b": 2}', [{"a": 1}, {"b": 2}]),
    ('```json\n{"a": 1}\n```', {"a": 1}),
]
REFUSED: list[tuple[str, str]] = [
    ('{"city": Paris}', "not valid JSON"),
    ('{"city": "Paris", "days": }', "not valid JSON"),
    ('{"city": "Par', "not valid JSON"),
    ('{"q": "say "hi" now"}', "not valid JSON"),
    ('{"a": [1, 2}, "b": 3}', "not valid JSON"),
    ("city=Paris", "not JSON at all"),
    ("", "empty"),
    ("```\n```", "empty"),
]


@pytest.mark.parametrize(("text", "value"), MENDED)
def test_slips_with_one_meaning_are_mended(text: str, value: Any) -> None:
    decoded = decode(text)
    assert decoded.error is None
    assert decoded.value == value


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_mends_that_would_guess_are_refused(text: str, reason: str) -> None:
    decoded = decode(text)
    assert decoded.value is None
    assert decoded.error is not None and reason in decoded.error


def test_fences_are_unwrapped_with_or_without_a_language() -> None:
    assert strip_fence('```json\n{"a": 1}\n```') == '{"a": 1}'
    assert strip_fence("```\n[1]\n```") == "[1]"
    assert strip_fence("  no fence  ") == "no fence"
