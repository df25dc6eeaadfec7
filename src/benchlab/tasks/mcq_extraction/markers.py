"""The strongest rule: an explicit answer marker ("Answer: C", "the correct option is (B)").

For speed, markers are found by scanning an ASCII-lowercased copy of the reply (same length, same
offsets) for a few keywords; the surrounding context is then checked with anchored matches."""

from __future__ import annotations

import re
import string

from benchlab.tasks.mcq_extraction.rules import Extraction
from benchlab.tasks.mcq_extraction.text import (
    ChoiceContext,
    alternative_letter,
    clause_start,
    drop_the,
    is_letter_token,
    norm_text,
    snippet,
    starts_with,
)

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_QUAL = (
    r"(?:final|correct|right|best|true|proper|only|single\s+best"
    r"|most\s+(?:likely|appropriate|accurate|correct|plausible))"
)
_KEYWORD_KIND = {
    "answer": "answer",
    **dict.fromkeys(("option", "choice", "selection", "response", "letter"), "noun"),
    **dict.fromkeys(("choose", "chose", "selected", "select", "picked", "pick"), "verb"),
    **dict.fromkeys(("go with", "going with", "went with"), "verb"),
    "<answer>": "tag",
}
_KEYWORD = re.compile("|".join(sorted(map(re.escape, _KEYWORD_KIND), key=len, reverse=True)))
# Substrings that locate every keyword with str.find, much faster than scanning with the regex.
_FIND = ("answer", "option", "choice", "select", "response", "letter", "choose", "chose", "pick", "with")


def _keywords(low: str) -> list[re.Match[str]]:
    """Every marker keyword in `low`, in order."""
    hits: list[re.Match[str]] = []
    for word in _FIND:
        i = low.find(word)
        while i != -1:
            start = i
            if word == "with":
                start = next(
                    (
                        i - len(p)
                        for p in ("going ", "went ", "go ")
                        if i >= len(p) and low.startswith(p, i - len(p))
                    ),
                    -1,
                )
            elif word == "answer" and i > 0 and low[i - 1] == "<":
                start = i - 1
            m = _KEYWORD.match(low, start) if start >= 0 else None
            if m is not None:
                hits.append(m)
            i = low.find(word, i + len(word))
    hits.sort(key=lambda m: m.start())
    return hits


_ANSWER_TAIL = re.compile(r"(?:\s+(?:choice|option|letter))?(?:\s+to\s+(?:this|the)\s+question)?")
_SEP = re.compile(
    r"""["'”’]?[ ]*(?:(?:is|would\s+be|will\s+be|should\s+be|must\s+be|has\s+to\s+be|remains)\b[ ]*:?"""
    r"""|[:=]|[ ][-–—][ ]|[–—])"""
)
_SEP_NEWLINE = re.compile(r"[ ]*(?=\n)")
_LINE_HEAD = re.compile(rf"[ #>]*(?:{_QUAL}\s+)?")
_QUAL_BEFORE = re.compile(rf"\b(?:{_QUAL}|my)\s+$")
_I_BEFORE = re.compile(r"(?<![\w-])I(?:['’](?:d|ll|m)|\s+(?:would|will|am))?\s+$")
_VERB_TAIL = re.compile(r"[ ]*:?")
_NEGATED = re.compile(
    r"\b(?:wrong|incorrect|false|worst|least(?:\s+likely)?|not|possible|alternative|another|tempting|"
    r"other|initial|original|previous|first)\s+$"
)
_PAYLOAD = re.compile(
    r"\s*(?:(?i:clearly|definitely|probably|likely|most\s+likely|therefore|thus|indeed|actually|certainly|"
    r"obviously|undoubtedly|either|simply|just|still)\s+)?(?:(?i:option|choice|letter)[ ]*)?"
    r"""[(\[{"'“‘]?[ ]*([A-Za-z])"""
)
_BOXED = re.compile(r"\\boxed\s*\{([^{}]*)\}")
# "C is the correct answer", "Option C is correct", "(B) is right". The letter is capital-only.
_POST = re.compile(
    r"[A-Z][)\]]?[ ]+(?i:is|would\s+be|seems\s+to\s+be)[ ]+(?i:the[ ]+)?"
    r"(?i:(?:correct|right)(?:[ ]+(?:answer|option|choice|one))?"
    r"|(?:best|most\s+likely|most\s+appropriate)[ ]+(?:answer|option|choice|one)|answer)\b"
)
_POST_PREFIX = re.compile(r"(?i:\b(?:option|choice|answer))[ ]*$")
_POST_LEAD_WORD = re.compile(r"(?i:\b(?:so|thus|hence|therefore|then|yes))[ ,]*$")
_PAYLOAD_WINDOW = 300


def _text_prefix(norm: str, ctx: ChoiceContext) -> tuple[set[str], int]:
    """Letters whose option text starts the normalised `norm` (longest texts only), and that length.

    Single-character texts are skipped: after a marker a lone "C" is read as a letter.
    """
    best, found = 0, set()
    for letter, text in ctx.texts.items():
        if len(text) > 1 and starts_with(norm, text):
            if len(text) > best:
                best, found = len(text), {letter}
            elif len(text) == best:
                found.add(letter)
    return found, best


def _read_payload(s: str, pos: int, ctx: ChoiceContext, where: str) -> Extraction | None:
    """What follows an answer marker at `s[pos]`: a letter, an option's text, or nothing decisive."""
    if ctx.texts:
        norm = norm_text(s[pos : pos + _PAYLOAD_WINDOW])
        found, size = _text_prefix(norm, ctx)
        if len(found) > 1:
            return Extraction(None, "ambiguous", f"several options share this text: {where}")
        if found:
            rest = norm[size:].lstrip()
            if rest.startswith("or "):  # "mitochondria or the ribosome"
                rivals, _ = _text_prefix(drop_the(rest[3:]), ctx)
                if rivals - found:
                    return Extraction(None, "ambiguous", where)
            return Extraction(found.pop(), "marker-text", where)
    m = _PAYLOAD.match(s, pos)
    if m is None:
        return None
    ch, end = m.group(1), m.end()
    if not is_letter_token(s, end, ch, ctx):
        return None
    letter = ch.upper()
    other = alternative_letter(s, end, ch, ctx)
    if other is not None:
        return Extraction(None, "ambiguous", f"{letter} or {other}: {where}")
    if letter not in ctx.valid:
        return Extraction(None, "out-of-range", f"{letter} is not an option: {where}")
    return Extraction(letter, "answer-marker", where)


def _skip(rx: re.Pattern[str], s: str, pos: int) -> int:
    m = rx.match(s, pos)
    return m.end() if m is not None else pos


def _marker_end(plain: str, low: str, m: re.Match[str]) -> int | None:
    """Where the payload of the keyword match `m` starts, or None when it is not an answer marker."""
    start, end = m.span()
    kind = _KEYWORD_KIND[m.group(0)]
    if kind == "tag":
        return end
    if (start > 0 and (low[start - 1].isalnum() or low[start - 1] in "_-")) or (
        end < len(low) and low[end].isalnum()
    ):
        return None  # part of a longer word: "answers", "optional", "unselected"
    window = max(0, start - 40)
    if kind == "verb":  # "I choose C", "I'd go with C": only with the pronoun right before
        return _skip(_VERB_TAIL, low, end) if _I_BEFORE.search(plain, window, start) else None
    if kind == "answer":
        end = _skip(_ANSWER_TAIL, low, end)
    sep = _SEP.match(low, end)
    if sep is not None:
        payload = sep.end()
    elif kind == "answer" and _SEP_NEWLINE.match(low, end):
        # A heading on its own line ("Final Answer", "## Answer"), the letter on the next line.
        line_start = low.rfind("\n", 0, start) + 1
        if not _LINE_HEAD.fullmatch(low, line_start, start):
            return None
        payload = end
    else:
        return None
    if _NEGATED.search(low, window, start) is not None:
        return None  # "the wrong answer is A", "another option is B"
    if kind == "answer":
        return payload
    if _QUAL_BEFORE.search(low, window, start) is not None:
        return payload  # "the correct option is C", "my choice: C"
    if m.group(0) in ("option", "choice") and sep is not None and sep.group(0).strip() == ":":
        return payload  # "Option: C"
    return None


def _post_marker_ok(s: str, start: int) -> bool:
    """'C is correct' counts after 'option', in brackets, or at a clause start - not 'Vitamin A is …'."""
    if start > 0 and (s[start - 1].isalnum() or s[start - 1] in "_'’-"):
        return False  # the capital is inside a word
    window = max(0, start - 30)
    if start > 0 and s[start - 1] in "([":
        return True
    if _POST_PREFIX.search(s, window, start) is not None:
        return True
    before = s[window:start].rstrip(" ")
    if not before or not before[-1].isalnum():
        return True
    return _POST_LEAD_WORD.search(before) is not None


def rule_markers(plain: str, ctx: ChoiceContext) -> Extraction | None:
    low = plain.translate(_ASCII_LOWER)
    last_pos = -1
    result: Extraction | None = None
    for m in _keywords(low):
        pos = _marker_end(plain, low, m)
        if pos is None:
            continue
        got = _read_payload(plain, pos, ctx, snippet(plain, clause_start(plain, m.start()), pos + 24))
        if got is not None:
            last_pos, result = m.start(), got
    if "\\boxed" in plain:
        for m in _BOXED.finditer(plain):
            got = _read_payload(m.group(1).strip(), 0, ctx, snippet(plain, m.start(), m.end()))
            if got is not None and m.start() >= last_pos:
                last_pos, result = m.start(), got
    for m in _POST.finditer(plain):
        if m.start() < last_pos or not _post_marker_ok(plain, m.start()):
            continue
        letter = plain[m.start()]
        where = snippet(plain, clause_start(plain, m.start()), m.end())
        if letter in ctx.valid:
            last_pos, result = m.start(), Extraction(letter, "answer-marker", where)
        else:
            last_pos, result = (
                m.start(),
                Extraction(None, "out-of-range", f"{letter} is not an option: {where}"),
            )
    return result
