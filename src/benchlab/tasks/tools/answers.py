"""Reading an agent's final answer, compared as a number or as a normalised phrase.

Rules, in order (docs/toolcall.md repeats them):

1. Reasoning is removed (`<think>` blocks; separate reasoning fields are never read).
2. The answer text is what follows the last line starting with `Answer:` (any case); without such
   a line, the whole reply.
3. A numeric answer is the first number of an `Answer:` line, else the last number of the reply;
   thousands separators, currency signs and a trailing % are ignored. It is correct when
   |given − expected| ≤ max(abs_tol, rel_tol × |expected|); defaults abs_tol 0.01, rel_tol 0.005,
   a task may set its own. "5" never matches 15 or 50: numbers are parsed, not searched for.
4. A text answer is correct when one accepted phrase, case-folded with punctuation other than
   `-`, `.` and `_` dropped, equals the answer text or occurs in it as whole words.
"""

from __future__ import annotations

import math
import re
from typing import Any

from benchlab.tasks.mcq_extraction import strip_reasoning

DEFAULT_ABS_TOL = 0.01
DEFAULT_REL_TOL = 0.005

_ANSWER_LINE = re.compile(r"^[\s*#>_-]*answer\s*[:：]\s*(?P<text>.*)$", re.IGNORECASE | re.MULTILINE)
_NUMBER = re.compile(r"(?<![\w.])[-−]?\$?\d[\d,]*(?:\.\d+)?|(?<![\w.])[-−]?\$?\.\d+")


def answer_text(content: str) -> tuple[str, bool]:
    """(answer text, whether it came from an `Answer:` line)."""
    text = strip_reasoning(content)
    lines = list(_ANSWER_LINE.finditer(text))
    if lines:
        return lines[-1].group("text").strip().strip("*_ ").strip(), True
    return text.strip(), False


def parse_number(text: str, *, first: bool) -> float | None:
    matches = _NUMBER.findall(text)
    if not matches:
        return None
    raw = (matches[0] if first else matches[-1]).replace("−", "-").replace("$", "").replace(",", "")
    try:
        return float(raw)
    except ValueError:
        return None


def _phrase(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s.\-]", " ", text.casefold()).split()).strip(" .")


def check_answer(content: str, expected: dict[str, Any]) -> tuple[bool, str | None]:
    """(correct, what was read) for an answer spec `{"type": "number", "value", "abs_tol"?,
    "rel_tol"?}` or `{"type": "text", "accept": [...]}`."""
    text, from_line = answer_text(content)
    if expected["type"] == "number":
        number = parse_number(text, first=from_line)
        if number is None:
            return False, None
        target = float(expected["value"])
        tolerance = max(
            expected.get("abs_tol", DEFAULT_ABS_TOL), expected.get("rel_tol", DEFAULT_REL_TOL) * abs(target)
        )
        return math.isfinite(number) and abs(number - target) <= tolerance, f"{number:g}"
    given = _phrase(text)
    for phrase in expected["accept"]:
        wanted = _phrase(phrase)
        if wanted and (given == wanted or re.search(rf"(?<![\w-]){re.escape(wanted)}(?![\w-])", given)):
            return True, text[:200]
    return False, text[:200] or None
