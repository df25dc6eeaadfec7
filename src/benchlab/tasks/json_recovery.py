"""Recovering the JSON object from a model's reply (DESIGN §5 "extract"; docs/extraction.md).

The rule, in order:

1. Reasoning is removed (`<think>` blocks, text before a stray `</think>`); the separate reasoning
   field of a completion is never read.
2. Where to look: the bodies of fenced blocks (```json, ``` or ~~~), first to last, then the whole
   reply. Prose around a fence, or around a bare object, is ignored.
3. What to take: in the first place that has one, the first *balanced top-level object*: from a `{`
   to its matching `}`, counting braces outside JSON strings only. When that span does not parse,
   the search moves on *after* its end (never inside it, so a nested object is never mistaken for
   the answer) to the next `{`.
4. The span is parsed as standard JSON (Python's `json`), with no repairs: a trailing comma, single
   quotes or comments are the model's error, reported with the parser's message and position.

A reply with no object, an object cut off at the end, or only spans that do not parse is
unrecoverable (`Recovery.value is None`), and `Recovery.error` says why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from benchlab.tasks.reasoning import strip_reasoning

__all__ = ["Recovery", "balanced_spans", "recover_json"]

_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[^\n]*\n(?P<body>.*?)(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Recovery:
    """The object read from a reply (None when there is none) and how it was found."""

    value: dict[str, Any] | None
    where: str  # "fence", "reply" or "none"
    error: str | None = None
    text: str | None = None  # the span that was parsed (or failed to parse first)


def balanced_spans(text: str) -> list[tuple[int, int | None]]:
    """(start, end) of each top-level `{…}` span in `text`, end None when the text ends inside it.

    Braces inside JSON strings (double quotes, with backslash escapes) do not count.
    """
    spans: list[tuple[int, int | None]] = []
    index = text.find("{")
    while index >= 0:
        end = _matching_brace(text, index)
        spans.append((index, end))
        if end is None:
            break
        index = text.find("{", end)
    return spans


def _matching_brace(text: str, start: int) -> int | None:
    depth = 0
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def _from(text: str, where: str) -> Recovery | None:
    """The first parsable top-level object in `text`; a failure describes the first span tried."""
    first_failure: Recovery | None = None
    for start, end in balanced_spans(text):
        if end is None:
            failure = Recovery(
                None, where, "the JSON object is not closed: the reply ends inside it", text[start:]
            )
            return first_failure or failure
        span = text[start:end]
        try:
            value = json.loads(span)
        except json.JSONDecodeError as error:
            if first_failure is None:
                first_failure = Recovery(None, where, f"invalid JSON: {error}{_hint(span, error.pos)}", span)
            continue
        return Recovery(value, where, None, span)
    return first_failure


def _hint(span: str, position: int) -> str:
    """A plainer word for the commonest slip, which the parser reports only as a position."""
    before = span[:position].rstrip()
    if before.endswith(",") and span[position : position + 1] in ("}", "]"):
        return f" (a trailing comma before {span[position]!r})"
    return ""


def recover_json(reply: str) -> Recovery:
    """The JSON object a reply gives, by the rule in this module's docstring."""
    text = strip_reasoning(reply or "")
    if not text.strip():
        return Recovery(None, "none", "empty reply (nothing left once reasoning is removed)")
    failure: Recovery | None = None
    places = [(match.group("body"), "fence") for match in _FENCE.finditer(text)] + [(text, "reply")]
    for body, where in places:
        found = _from(body, where)
        if found is None:
            continue
        if found.value is not None:
            return found
        failure = failure or found
    return failure or Recovery(None, "none", "no JSON object in the reply")
