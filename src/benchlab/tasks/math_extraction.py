"""Reading a numeric final answer out of a model's reply (DESIGN §5 "math"; docs/math-extraction.md).

`extract_number` finds the span that states the answer by the first rule of `RULES` that applies,
then parses the first number in it with `parse_number`. Numbers are compared as exact fractions
(`numbers_match`), never as text, so "5" does not match "15" and "3.50" matches "3.5" and "7/2".

Ground rules:

* Reasoning is not the answer: `<think>` blocks (and text before a stray `</think>`) are removed
  first; the separate reasoning field of a completion is never read.
* A number is a whole token: an optional sign glued to it, an optional currency symbol, digits
  (comma thousands separators only in groups of three), an optional decimal part, an optional
  `/denominator` and an optional `%`. A number glued to a letter, digit, dot or slash before it is
  not a token (`x2`), and a comma followed by digits that are not a group of three makes no number
  at all ("3,5" could be a decimal comma: it is not guessed).
* Units and currency around a number are ignored ("12 km" is 12, "$1,234.50" is 1234.5); a percent
  sign is dropped ("25%" is 25), never divided by 100.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from benchlab.tasks.reasoning import strip_reasoning

__all__ = ["RULES", "NumberExtraction", "extract_number", "numbers_match", "parse_number"]

#: Every rule `extract_number` can report, in the order they are tried.
RULES: dict[str, str] = {
    "empty": "Nothing is left once reasoning is removed: unparseable.",
    "boxed": "The last `\\boxed{…}` (or `\\fbox{…}`) that holds a number: its first number.",
    "final-answer": (
        "The last `Final answer` marker (`Final answer: 42`, `The final answer is 42`, markdown "
        "emphasis allowed) followed by a number on its line or the next non-blank line."
    ),
    "hashes": "The last `#### 42` line (GSM8K's own convention): the first number after `####`.",
    "answer-is": (
        "The last weaker marker (`The answer is 42`, `Answer: 42`, `Answer = 42`) followed by a number "
        "on its line or the next non-blank line."
    ),
    "last-number": "No marker states an answer: the last number in the reply.",
    "none": "No number anywhere in the reply: unparseable.",
}

# A number token. Lookbehind: not glued to a letter, digit, dot or slash before it (so "x2", "1.2.3"
# and "a/5" do not yield a number from their middle). Thousands groups must be exactly three digits.
_NUMBER = re.compile(
    r"(?<![\w.,/])"
    r"(?P<sign>[-−–+])?"
    r"(?P<currency>[$€£¥])?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?:\.(?P<frac>\d+))?"
    r"(?:/(?P<den>\d+(?:\.\d+)?))?"
    r"(?P<percent>\s?%)?"
    r"(?!\d|,\d)"
)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FINAL = re.compile(r"final\s+answer\s*(?:is|:|=|-)?", re.IGNORECASE)
_HASHES = re.compile(r"^[ \t]*####[ \t]*(?P<rest>.*)$", re.MULTILINE)
_ANSWER_IS = re.compile(r"\b(?:the\s+)?answer\s*(?:is\b|:|=)", re.IGNORECASE)
_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*([^{}]+?)\s*\}\s*\{\s*([^{}]+?)\s*\}")
_LATEX_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox|operatorname)\s*\{([^{}]*)\}")
_LATEX_NOISE = re.compile(r"\\[,!;: ]|\\left|\\right|\\\(|\\\)|\\\[|\\\]")


@dataclass(frozen=True)
class NumberExtraction:
    """What `extract_number` read: the value (None: unparseable), its text and the deciding rule."""

    value: Fraction | None
    text: str | None
    rule: str
    percent: bool = False


def _clean(text: str) -> str:
    """Markup that hides numbers from the token rules: emphasis, LaTeX spacing and text wrappers,
    `1{,}000` thousands separators, `\\frac{a}{b}` (rewritten as `a/b`) and escaped dollar signs."""
    text = text.replace("{,}", ",").replace("\\$", "$").replace("\\%", "%")
    text = _FRAC.sub(lambda m: f"{m.group(1)}/{m.group(2)}", text)
    text = _LATEX_TEXT.sub(lambda m: f" {m.group(1)}", text)
    text = _LATEX_NOISE.sub(" ", text)
    return text.replace("*", "").replace("`", "")


def _value(match: re.Match[str]) -> Fraction | None:
    number = Fraction(match.group("int").replace(",", ""))
    if match.group("frac"):
        number += Fraction(int(match.group("frac")), 10 ** len(match.group("frac")))
    if match.group("den"):
        denominator = Fraction(match.group("den"))
        if denominator == 0:
            return None
        number /= denominator
    if match.group("sign") in ("-", "−", "–"):
        number = -number
    return number


def _numbers(text: str) -> list[tuple[re.Match[str], Fraction]]:
    found = []
    for match in _NUMBER.finditer(text):
        value = _value(match)
        if value is not None:
            found.append((match, value))
    return found


def parse_number(text: str) -> Fraction | None:
    """The first number in `text` as an exact fraction ("1,234.50" → 2469/2, "3/4", "-5%" → -5)."""
    found = _numbers(_clean(text))
    return found[0][1] if found else None


def _first_number(span: str, rule: str) -> NumberExtraction | None:
    found = _numbers(span)
    if not found:
        return None
    match, value = found[0]
    return NumberExtraction(value, match.group(0).strip(), rule, percent=bool(match.group("percent")))


def _after_marker(text: str, start: int, rule: str) -> NumberExtraction | None:
    """The first number on the marker's line, or else on the next non-blank line."""
    rest = text[start:]
    lines = rest.split("\n")
    candidates = [lines[0], *[line for line in lines[1:] if line.strip()][:1]]
    for line in candidates:
        found = _first_number(line, rule)
        if found is not None:
            return found
    return None


def _boxed_contents(text: str) -> list[str]:
    contents = []
    for match in _BOXED.finditer(text):
        depth, index = 1, match.end()
        while index < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            index += 1
        contents.append(text[match.end() : index - 1 if depth == 0 else index])
    return contents


def extract_number(reply: str) -> NumberExtraction:
    """The final numeric answer in a reply, by the first rule of `RULES` that applies."""
    raw = strip_reasoning(reply or "")
    if not raw.strip():
        return NumberExtraction(None, None, "empty")
    for inside in reversed(_boxed_contents(raw)):  # before cleaning: cleaning removes the braces' context
        found = _first_number(_clean(inside), "boxed")
        if found is not None:
            return found
    text = _clean(raw)
    for marker, rule in ((_FINAL, "final-answer"), (_HASHES, "hashes"), (_ANSWER_IS, "answer-is")):
        for match in reversed(list(marker.finditer(text))):
            found = _after_marker(text, match.end() if rule != "hashes" else match.start("rest"), rule)
            if found is not None:
                return found
    found_all = _numbers(text)
    if found_all:
        match, value = found_all[-1]
        return NumberExtraction(value, match.group(0).strip(), "last-number", bool(match.group("percent")))
    return NumberExtraction(None, None, "none")


def numbers_match(answer: Fraction, gold: Fraction, tolerance: float | None = None) -> bool:
    """Exact equality of parsed numbers, or within an absolute `tolerance` when the task gives one."""
    if tolerance is None or tolerance == 0:
        return answer == gold
    return abs(answer - gold) <= Fraction(str(tolerance))
