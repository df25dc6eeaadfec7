"""Reading the almost-JSON that models write inside tool calls.

Strict JSON is tried first. Otherwise `json_repair` mends the text, and the mend is accepted only
when it could have meant one thing: trailing commas, single quotes, Python literals (`True`,
`None`), comments, missing commas between members, raw newlines in strings and closing brackets
missing at the very end (a reply that ran out of tokens after the last value). A mend that had to
guess content — a bare word where a string belongs, a value left out, a string cut off — is
refused, because the arguments it would produce are not what the model wrote.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from json_repair import repair_json

# json_repair's log lines for mends with a single reading. Anything else it logs is a guess.
_UNAMBIGUOUS_MENDS = (
    "converted unquoted python",
    "found line comment",
    "found block comment",
    "found a comment",
    "found a stray escape sequence",
    "the parser returned early, checking if there's more json elements",
    "there were no more elements, returning the element without the array",
)
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n?(.*?)(?:\n?```\s*)?$", re.DOTALL)


@dataclass(frozen=True)
class Decoded:
    value: Any = None
    error: str | None = None  # why the text could not be read as JSON


def strip_fence(text: str) -> str:
    """The inside of a Markdown code fence (```json … ```), or the text itself."""
    match = _FENCE.match(text)
    return match.group(1).strip() if match else text.strip()


def decode(text: str) -> Decoded:
    """Read `text` as JSON, tolerating the mends described in the module docstring."""
    body = strip_fence(text)
    if not body:
        return Decoded(error="it is empty")
    try:
        return Decoded(json.loads(body))
    except json.JSONDecodeError:
        pass
    value, log = repair_json(_close_truncated(body), return_objects=True, logging=True)
    guesses = [entry["text"] for entry in log if not _unambiguous(entry["text"])]
    if guesses:
        guess = guesses[0].rstrip(".")
        return Decoded(error=f"it is not valid JSON ({guess[:1].lower()}{guess[1:]})")
    if value == "" or value is None:
        return Decoded(error="it is not JSON at all")
    return Decoded(value)


def _unambiguous(message: str) -> bool:
    lowered = message.lower()
    return any(fragment in lowered for fragment in _UNAMBIGUOUS_MENDS)


def _close_truncated(text: str) -> str:
    """Add the closing brackets a reply cut off after its last value left out.

    Only when the text ends outside a string and every bracket so far matched: then the missing
    closers are the only possible ending. Anything else goes to json_repair as it is."""
    expected: list[str] = []
    quote: str | None = None
    escaped = False
    for char in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "{[":
            expected.append("}" if char == "{" else "]")
        elif char in "}]" and (not expected or expected.pop() != char):
            return text  # a mismatched closer: not a clean cut-off
    if quote is not None or not expected:
        return text
    return text.rstrip().rstrip(",") + "".join(reversed(expected))


def snippet(text: str, limit: int = 80) -> str:
    """A short, single-line quotation of `text` for error messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
