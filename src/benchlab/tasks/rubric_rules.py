"""Rubric rows and the machine-checkable rules that decide some rubric items without a judge.

A rubric row is `{id, subject?, conversation: [{role, content}…], rubric: [item…]}`; an item is
`{criterion, points, tags?, rule?}`. Points may be negative (an undesirable behaviour: when the
item is *met*, its points are lost). An item with a `rule` is decided by that rule alone, so a
criterion a program can check ("mentions 112", "answers in at most 80 words") never costs a judge
call and never depends on a judge's mood.

Rule vocabulary (`rule = {"kind": …}`), all case-insensitive where text is compared:

- `must_mention` `{terms: [...], match: "any"|"all"}` — met when the reply mentions the terms
  (each as a whole word or phrase: "ice" is not found in "advice").
- `must_not_mention` `{terms: [...]}` — met when the reply mentions none of them.
- `regex` `{pattern, flags?: "i"|"m"|"s" combined}` — met when the pattern is found.
- `max_words` `{limit}` / `min_words` `{limit}` — met when the reply's word count is within.

Rows are validated with a JSON Schema (jsonschema), so a malformed row is refused with the field
at fault named instead of being scored wrongly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema

_TERMS = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}

RULE_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "kind": {"const": "must_mention"},
                "terms": _TERMS,
                "match": {"enum": ["any", "all"]},
            },
            "required": ["kind", "terms"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"kind": {"const": "must_not_mention"}, "terms": _TERMS},
            "required": ["kind", "terms"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "kind": {"const": "regex"},
                "pattern": {"type": "string", "minLength": 1},
                "flags": {"type": "string", "pattern": "^[ims]*$"},
            },
            "required": ["kind", "pattern"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "kind": {"enum": ["max_words", "min_words"]},
                "limit": {"type": "integer", "minimum": 0},
            },
            "required": ["kind", "limit"],
            "additionalProperties": False,
        },
    ]
}

ROW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "conversation": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "role": {"enum": ["system", "user", "assistant", "developer"]},
                    "content": {"type": "string"},
                },
                "required": ["role", "content"],
            },
        },
        "rubric": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "criterion": {"type": "string", "minLength": 1},
                    "points": {"type": "number"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "rule": RULE_SCHEMA,
                },
                "required": ["criterion", "points"],
            },
        },
    },
    "required": ["conversation", "rubric"],
}

RULE_KINDS = ("must_mention", "must_not_mention", "regex", "max_words", "min_words")
_VALIDATOR = jsonschema.Draft202012Validator(ROW_SCHEMA)
_WORD = re.compile(r"\b\w[\w'’-]*\b")


class RubricRowError(ValueError):
    """A rubric row that cannot be scored; the message names the row, the field and the fix."""


@dataclass(frozen=True)
class RubricItem:
    criterion: str
    points: float
    tags: tuple[str, ...] = ()
    rule: dict[str, Any] | None = None


def validate_row(sample_id: str, data: dict[str, Any]) -> list[RubricItem]:
    """The row's rubric items, or a `RubricRowError` naming the first problem found."""
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(data))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(row)"
        raise RubricRowError(
            f"rubric row {sample_id!r}: {where}: {error.message}. A row needs `conversation` "
            "(a list of {role, content}) and `rubric` (a list of {criterion, points, rule?}); "
            f"rule kinds: {', '.join(RULE_KINDS)}."
        )
    items = [
        RubricItem(
            criterion=item["criterion"],
            points=float(item["points"]),
            tags=tuple(item.get("tags") or ()),
            rule=item.get("rule"),
        )
        for item in data["rubric"]
    ]
    if not any(item.points > 0 for item in items):
        raise RubricRowError(
            f"rubric row {sample_id!r}: no item has positive points, so no score can be earned; "
            "give at least one item points > 0."
        )
    for index, item in enumerate(items):
        if item.rule is not None and item.rule["kind"] == "regex":
            try:
                re.compile(item.rule["pattern"])
            except re.error as error:
                raise RubricRowError(
                    f"rubric row {sample_id!r}: rubric/{index}/rule: the pattern does not compile ({error}); "
                    "fix the regular expression."
                ) from None
    if data["conversation"][-1]["role"] != "user":
        raise RubricRowError(
            f"rubric row {sample_id!r}: the conversation must end with a user turn (the reply graded is "
            "the model's answer to it)."
        )
    return items


def mentions(text: str, term: str) -> bool:
    """Whether `term` appears in `text` as a whole word or phrase, ignoring case and spacing."""
    words = [re.escape(word) for word in term.split()]
    pattern = r"\s+".join(words)
    # Word edges only where the term itself starts/ends with a word character ("112" yes, "+1" too).
    left = r"(?<!\w)" if term[:1].isalnum() else ""
    right = r"(?!\w)" if term[-1:].isalnum() else ""
    return re.search(left + pattern + right, text, flags=re.IGNORECASE) is not None


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def rule_met(rule: dict[str, Any], reply: str) -> bool:
    """Decide a validated rule against the model's reply."""
    kind = rule["kind"]
    if kind == "must_mention":
        found = [mentions(reply, term) for term in rule["terms"]]
        return all(found) if rule.get("match", "any") == "all" else any(found)
    if kind == "must_not_mention":
        return not any(mentions(reply, term) for term in rule["terms"])
    if kind == "regex":
        flags = 0
        for letter in rule.get("flags", ""):
            flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}[letter]
        return re.search(rule["pattern"], reply, flags) is not None
    if kind == "max_words":
        return word_count(reply) <= int(rule["limit"])
    if kind == "min_words":
        return word_count(reply) >= int(rule["limit"])
    raise RubricRowError(f"unknown rule kind {kind!r}; known kinds: {', '.join(RULE_KINDS)}")


def rubric_score(items: list[RubricItem], met: list[bool]) -> tuple[float, float, float]:
    """(score, achieved points, possible points): achieved over the positive points, in [0, 1].

    Negative items subtract when met; the ratio is clipped so a reply cannot go below 0 or above 1.
    """
    possible = sum(item.points for item in items if item.points > 0)
    achieved = sum(item.points for item, flag in zip(items, met, strict=True) if flag)
    return min(1.0, max(0.0, achieved / possible)), achieved, possible
