"""The rules that follow the markers: a decorated letter opening or closing the reply, one marked
anywhere, the option's text instead of its letter, and, last, a hedge between letters."""

from __future__ import annotations

import re
from dataclasses import dataclass

from benchlab.tasks.mcq_extraction.rules import Extraction
from benchlab.tasks.mcq_extraction.text import (
    ChoiceContext,
    alternative_letter,
    is_letter_token,
    norm_text,
    snippet,
    starts_with,
)

# --------------------------------------------------------------------------------------------------
# Decorated letters: "(C)", "[C]", "**C**", and letters the reply itself dismisses

# No leading look-behind (it would slow the scan down); what precedes a match is checked in code.
_BRACKETED = re.compile(r"[(\[][ ]?([A-Z])[ ]?[)\]](?![\w'’-])")
_EMPHASISED = re.compile(r"(\*\*|\*|__)[ ]?[(\[]?([A-Z])[)\].:]?[ ]?\1(?![\w*])")
# "(A) is wrong", "(B) isn't", "(A) and (C) are wrong": letters mentioned only to be set aside.
_DISMISSED_AFTER = re.compile(
    r"[)\]*_.:]*(?:[ ]*(?:,|and|or|&)[ ]*[(\[*_]*[A-Z][)\]*_]*)*"  # "(A) and (B) are wrong"
    r"[ ]*(?:is|are|was|were|seems|seem|looks|look)(?:n['’]t\b|[ ]+(?:not|wrong|incorrect|false|unlikely|"
    r"tempting|less|also\s+wrong|a\s+distractor)\b)",
    re.IGNORECASE,
)
# "not (A)", "rules out (B)", "rather than **C**".
_DISMISSED_BEFORE = re.compile(
    r"\b(?:not|rule[sd]?\s+out|ruling\s+out|exclude[sd]?|eliminate[sd]?|than|unlike|instead\s+of)[ ]*$",
    re.IGNORECASE,
)


def _dismissed(s: str, start: int, end: int) -> bool:
    return (
        _DISMISSED_AFTER.match(s, end) is not None
        or _DISMISSED_BEFORE.search(s, max(0, start - 24), start) is not None
    )


def _marked_letters(text: str, ctx: ChoiceContext) -> dict[str, int]:
    """Valid letters shown in parentheses, brackets or bold and not dismissed -> first position."""
    seen: dict[str, int] = {}
    for rx, group, not_after in ((_BRACKETED, 1, "_*(["), (_EMPHASISED, 2, "_*")):
        if rx is _BRACKETED and "(" not in text and "[" not in text:
            continue
        if rx is _EMPHASISED and "*" not in text and "__" not in text:
            continue
        for m in rx.finditer(text):
            start = m.start()
            if start > 0 and (text[start - 1].isalnum() or text[start - 1] in not_after):
                continue  # "cause(S)", "x**B**"
            letter = m.group(group)
            if (
                letter in ctx.valid
                and start < seen.get(letter, len(text))
                and not _dismissed(text, start, m.end())
            ):
                seen[letter] = start
    return seen


# --------------------------------------------------------------------------------------------------
# Rules: a decorated letter opening or closing the reply

_LABEL = re.compile(
    r"[ >#]*(?:[-+•][ ]+)?(?P<o>\*\*|__|\*|_)?[ ]*(?:(?i:option|choice)[ ]*:?[ ]*)?(?P<p>[(\[])?[ ]*"
    r"(?P<x>[A-Z])(?![^\W_]|['’-][^\W\d_])[ ]*(?P<q>[)\]])?[ ]*(?P<sep>[.:)])?[ ]*(?P<c>\*\*|__|\*|_)?"
    r"[ ]*(?P<sep2>[.:)])?"
)
_DASH_SEP = re.compile(r"[-–—]+(?: |$)")
_TRAILING = " .!*_`"


@dataclass(frozen=True, slots=True)
class _Label:
    letter: str
    only: bool  # the line is nothing but the (decorated) letter
    end: int  # where the label ends in the line


def _label(line: str, ctx: ChoiceContext, check_text: bool) -> _Label | None:
    """The decorated capital letter this line opens with, if any."""
    m = _LABEL.match(line)
    if m is None:
        return None
    p, q, o, c = m.group("p"), m.group("q"), m.group("o"), m.group("c")
    rest = line[m.end() :]
    only = not rest.strip(_TRAILING)
    paren = p is not None and q is not None and (p + q) in ("()", "[]")
    if p is not None and not paren:
        return None  # "(A common cause …"
    bold = o is not None and o == c
    sep = m.group("sep") or m.group("sep2") or (q if p is None else None)
    if not (only or paren or bold):
        rest_l = rest.lstrip()
        if sep:
            if sep == "." and rest_l[:1].islower():
                return None  # an abbreviation or initial: "E. coli", "B. pertussis"
        elif _DASH_SEP.match(rest_l) is None:
            return None  # "A common cause …", "B is wrong", "I think …"
    letter = m.group("x")
    if not only and _DISMISSED_AFTER.match(line, m.end("x")) is not None:
        return None  # "(A) is wrong because …"
    if check_text and ctx.texts and not only:
        # The line begins with an option's own text that starts with this letter ("A. Fleming").
        norm = norm_text(line)
        low = letter.lower()
        for text in ctx.texts.values():
            if text.split(" ", 1)[0] == low and len(text) > 1 and starts_with(norm, text):
                return None
    return _Label(letter, only, m.end())


def rule_lines(text: str, ctx: ChoiceContext) -> Extraction | None:
    lines = [line for line in text.split("\n") if line.strip()]
    first = _label(lines[0], ctx, check_text=True)
    if len(lines) == 1:
        if first is None:
            return None
        where = snippet(lines[0], 0, len(lines[0]))
        rule = "bare-letter" if first.only else "leading-letter"
        return _decide(first.letter, rule, where, lines[0], first.end, ctx)
    labelled = {first.letter} if first is not None and first.letter in ctx.valid else set()
    last: _Label | None = None
    for i, line in enumerate(lines[1:], start=1):
        lab = _label(line, ctx, check_text=False)
        if lab is None:
            continue
        if i == len(lines) - 1 and lab.only:
            last = lab
        elif lab.letter in ctx.valid:
            labelled.add(lab.letter)
    if last is not None:
        where = snippet(lines[-1], 0, len(lines[-1]))
        if first is not None and len(labelled) <= 1 and first.letter != last.letter:
            return Extraction(None, "ambiguous", f"starts with {first.letter}, ends with {last.letter}")
        return _decide(last.letter, "closing-letter", where, lines[-1], last.end, ctx)
    if len(labelled) > 1:
        return Extraction(None, "ambiguous", "lists options " + ", ".join(sorted(labelled)))
    if first is not None:
        where = snippet(lines[0], 0, len(lines[0]))
        return _decide(first.letter, "leading-letter", where, lines[0], first.end, ctx)
    return None


def _decide(letter: str, rule: str, where: str, line: str, end: int, ctx: ChoiceContext) -> Extraction:
    if letter not in ctx.valid:
        return Extraction(None, "out-of-range", f"{letter} is not an option: {where}")
    # The label regex has consumed the closing decoration; look for "or B" right after it.
    other = alternative_letter(line, end, letter, ctx)
    if other is None:
        # "(A) and (B) are wrong": another marked option on the same line.
        other = next((x for x in _marked_letters(line[end:], ctx) if x != letter), None)
    if other is not None:
        return Extraction(None, "ambiguous", f"{letter} and {other}: {where}")
    return Extraction(letter, rule, where)


# --------------------------------------------------------------------------------------------------
# Rule: a parenthesised, bracketed or bold letter anywhere


def rule_marked(text: str, ctx: ChoiceContext) -> Extraction | None:
    seen = _marked_letters(text, ctx)
    if not seen:
        return None
    if len(seen) > 1:
        return Extraction(None, "ambiguous", "marks " + ", ".join(sorted(seen)))
    ((letter, start),) = seen.items()
    return Extraction(letter, "marked-letter", snippet(text, start - 20, start + 20))


# --------------------------------------------------------------------------------------------------
# Rule: the option's text instead of its letter


def rule_option_text(plain: str, ctx: ChoiceContext) -> Extraction | None:
    if not ctx.texts:
        return None
    lines = [line for line in plain.split("\n") if line.strip()]
    candidates = [plain, lines[0], lines[-1]] if len(lines) > 1 else [plain]
    longest = 4 * max(map(len, ctx.texts.values())) + 40
    for candidate in candidates:
        if len(candidate) > longest:
            continue  # far longer than any option text: cannot be equal to one
        norm = norm_text(candidate)
        if not norm:
            continue
        hits = sorted(letter for letter, text in ctx.texts.items() if text == norm)
        if len(hits) == 1:
            return Extraction(hits[0], "option-text", snippet(candidate, 0, len(candidate)))
        if hits:
            return Extraction(None, "ambiguous", "options " + ", ".join(hits) + " have the same text")
    return None


# --------------------------------------------------------------------------------------------------
# Last resort: a hedge between letters anywhere ("It's either B or C")

# A capital letter followed by a conjunction; the full check is `alternative_letter`.
_HEDGE = re.compile(r"[A-Z][)\]]?[ ]*(?:,|/|&|\+|[ ](?i:or|and)\b)")


def rule_hedge(plain: str, ctx: ChoiceContext) -> Extraction | None:
    for m in _HEDGE.finditer(plain):
        start = m.start()
        ch = plain[start]
        if start > 0 and (plain[start - 1].isalnum() or plain[start - 1] in "_'’-"):
            continue
        if ch not in ctx.valid or not is_letter_token(plain, start + 1, ch, ctx):
            continue
        other = alternative_letter(plain, start + 1, ch, ctx)
        if other is not None:
            return Extraction(None, "ambiguous", snippet(plain, start, m.end() + 12))
    return None
