"""Multiple-choice answer extraction (DESIGN §5 "mcq").

`extract_choice` reads the option letter a model chose out of its reply, following a short ordered
list of anchored, case-sensitive rules (`RULES`, rendered in docs/answer-extraction.md). Anything the
rules cannot read with confidence is *unparseable* (`letter is None`) and is counted as such by the
run summary; a guess is never made.

Ground rules, in the order they matter:

* Reasoning is not the answer. `<think>…</think>` blocks, an unterminated `<think>` up to the end,
  and everything before a stray `</think>` are removed first; a reply that is empty afterwards is
  unparseable even if the reasoning named a letter.
* Capital letters only. "a" and "i" are words; a lowercase letter is read only right after an
  explicit answer marker and only when nothing but punctuation follows ("Answer: c").
* "A" and "I" are also English words when capitalised. Where either could be prose ("A common
  cause…", "I think…") it is read as prose, never as option A or I.
* Letters outside the question's options are never accepted ("Answer: F" on four options is
  unparseable, rule "out-of-range").
* A hedge between letters ("A or B", "either B or C") is unparseable ("ambiguous") unless a later
  explicit marker settles it: of several explicit markers, the last one decides.

Patterns are precompiled and each rule makes one linear pass over the reply (some tens of microseconds for a
short reply, a few hundred for several thousand characters).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["RULES", "Extraction", "extract_choice", "strip_reasoning"]


@dataclass(frozen=True)
class Extraction:
    """What `extract_choice` read from a reply."""

    letter: str | None
    """The chosen option letter, or None when the reply is unparseable."""
    rule: str
    """Name of the rule that decided (one of `RULES`)."""
    detail: str = ""
    """Short explanation for drill-downs, usually the span that decided."""


RULES: list[tuple[str, str]] = [
    (
        "empty",
        "Nothing is left once reasoning is removed (`<think>…</think>` blocks, an unterminated `<think>` "
        "up to the end, everything before a stray `</think>`): unparseable.",
    ),
    (
        "answer-marker",
        "The last explicit answer statement names a letter: `Answer: C`, `The correct answer is (C)`, "
        "`Final answer: **C**`, `\\boxed{C}`, `Correct option: C`, `I choose C`, `C is the correct answer`. "
        "A lowercase letter counts here only when nothing but punctuation follows it (`answer: c`).",
    ),
    (
        "marker-text",
        "The last explicit answer statement is followed by exactly one option's text instead of a letter "
        "(`The answer is mitochondria.`).",
    ),
    (
        "bare-letter",
        "The whole reply is one capital letter, possibly decorated: `C`, `(C)`, `C.`, `C)`, `[C]`, `**C**`, "
        "`**(C)**`, `Option C`.",
    ),
    (
        "leading-letter",
        "The reply starts with a decorated capital letter followed by more text: `C) text`, `C: text`, "
        "`(B) because…`, `**B** — …`, `B. Text`. Undecorated prose such as `A common cause…`, `I think…` "
        "or an abbreviation such as `E. coli` does not qualify; neither does a reply that lists several "
        "labelled options.",
    ),
    (
        "closing-letter",
        "The last line of a multi-line reply is only a (decorated) capital letter; if the first line "
        "starts with a different letter the reply is ambiguous instead.",
    ),
    (
        "marked-letter",
        "Exactly one distinct option letter appears in parentheses, brackets or bold anywhere in the "
        "reply (`… so (C) fits best`).",
    ),
    (
        "option-text",
        "The whole reply, or its first or last line, equals exactly one option's text, ignoring case, "
        "punctuation, spacing and a leading `the`.",
    ),
    (
        "ambiguous",
        "Unparseable: the deciding statement names several different options (`A or B`, `either B or C`, "
        "`(B) … (C)`, a list of labelled options) and no later explicit marker settles it.",
    ),
    (
        "out-of-range",
        "Unparseable: the deciding statement names a letter that is not one of this question's options "
        "(`Answer: F` on a four-option question).",
    ),
    ("none", "Unparseable: no rule above applies."),
]

# --------------------------------------------------------------------------------------------------
# Reasoning removal and normalisation

_THINK_ANY = re.compile(r"</?think\b", re.IGNORECASE)
_THINK_BLOCK = re.compile(r"<think\b[^>]*>.*?(?:</think\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_UP_TO_LAST_CLOSE = re.compile(r".*</think\s*>", re.IGNORECASE | re.DOTALL)


def strip_reasoning(text: str) -> str:
    """`text` without reasoning: think blocks, an unterminated `<think>` and text before a stray `</think>`.

    Chat templates that open the think block in the prompt leave only the closing tag in the reply,
    so a `</think>` without an opening tag means everything before it was reasoning.
    """
    if not text or _THINK_ANY.search(text) is None:
        return text
    text = _THINK_BLOCK.sub("", text)
    stray = _UP_TO_LAST_CLOSE.match(text)
    return text[stray.end() :] if stray is not None else text


_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_HSPACE = re.compile(r"[^\S\n]+")
_LATEX_WRAP = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox)\s*\{([^{}]*)\}")
# Markdown emphasis, code and math delimiters; underscores only at word edges (snake_case survives).
_MARKUP = str.maketrans("", "", "*`$~")
_UNDERSCORES = re.compile(r"_+")


def _edge_underscores(m: re.Match[str]) -> str:
    s, a, b = m.string, m.start(), m.end()
    inside = a > 0 and b < len(s) and s[a - 1].isalnum() and s[b].isalnum()
    return m.group(0) if inside else ""


def _normalize(text: str) -> str:
    """NFKC (full-width letters and punctuation), no zero-width characters, one space for any blank run."""
    if not text.isascii():
        text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))
        return _HSPACE.sub(" ", text)
    if "  " in text or "\t" in text or "\r" in text or "\x0b" in text or "\x0c" in text:
        return _HSPACE.sub(" ", text)
    return text


def _plain(text: str) -> str:
    """`text` without markdown emphasis and with LaTeX text wrappers unwrapped."""
    if "\\" in text:
        text = _LATEX_WRAP.sub(r"\1", text)
    text = text.translate(_MARKUP)
    return _UNDERSCORES.sub(_edge_underscores, text) if "_" in text else text


_NON_ALNUM = re.compile(r"[\W_]+")


def _norm_text(text: str) -> str:
    """Comparison form of an option text: case-folded words separated by single spaces, no leading 'the'."""
    return _drop_the(_NON_ALNUM.sub(" ", text.casefold()).strip())


def _drop_the(norm: str) -> str:
    return norm[4:] if norm.startswith("the ") else norm


def _clause_start(text: str, pos: int) -> int:
    """Start of the clause around `pos`, at most a few words back, for readable details."""
    lo = max(0, pos - 24)
    cut = max(text.rfind(ch, lo, pos) for ch in ".!?:;\n")
    if cut >= 0:
        return cut + 1
    space = text.find(" ", lo, pos)
    return lo if lo == 0 or space < 0 else space + 1


def _snippet(text: str, start: int, end: int) -> str:
    span = " ".join(text[max(0, start) : end].split())
    return span if len(span) <= 80 else span[:77] + "..."


# --------------------------------------------------------------------------------------------------
# Letter tokens

# Words after a capitalised "A" or "I" that show the letter is an option label, not an article or a
# pronoun ("Answer: A because…"). Anything else after "A "/"I " is read as prose.
_CONNECTIVES = frozenset(
    {"because", "since", "as", "is", "seems", "appears", "which", "due", "given", "fits", "matches",
     "and", "or", "being", "here", "best", "remains", "correctly", "explains", "describes"}
)  # fmt: skip
_WORD = re.compile(r"[^\W_]+")


class _Ctx:
    """Per-call data shared by the rules."""

    __slots__ = ("_option_texts", "_texts", "valid")

    def __init__(self, valid: frozenset[str], option_texts: Mapping[str, str] | None) -> None:
        self.valid = valid
        self._option_texts = option_texts
        self._texts: dict[str, str] | None = None

    @property
    def texts(self) -> dict[str, str]:
        """Letter -> normalised option text (non-empty only).

        Normalised on first use: most replies are settled by a letter rule that never needs them.
        """
        if self._texts is None:
            self._texts = _normalised_texts(self.valid, self._option_texts)
        return self._texts


def _starts_with(norm: str, prefix: str) -> bool:
    return norm == prefix or norm.startswith(prefix + " ")


def _is_letter_token(s: str, end: int, ch: str, ctx: _Ctx) -> bool:
    """Whether the letter `ch` just before `s[end]` stands alone as an option letter."""
    n = len(s)
    nxt = s[end] if end < n else ""
    if nxt.isalnum() or nxt == "_":
        return False
    if nxt in "'’-" and end + 1 < n and s[end + 1].isalpha():  # I'm, A's, C-reactive, A-list
        return False
    if ch.islower():
        # Lowercase is only accepted as a terminal token: "answer: c", "answer is (b).", not "a bit".
        j = end
        while j < n and s[j] == " ":
            j += 1
        return j >= n or not s[j].isalnum()
    if ch in "AI" and nxt == " ":
        word = _WORD.match(s, end + 1)
        if word is None:
            return True
        w = word.group(0)
        if w.lower() in _CONNECTIVES or (len(w) == 1 and w.isupper()):
            return True
        own = ctx.texts.get(ch)
        # "Answer: A Staphylococcus aureus" where option A is "Staphylococcus aureus".
        return own is not None and _starts_with(_norm_text(s[end : end + 2 * len(own) + 20]), own)
    return True


_ALT = re.compile(
    r"[)\]*_]*[ ]*(?P<conj>,[ ]*(?i:or|and)\b|,|/|&|\+|(?i:or|and)\b)[ ]*(?:(?i:option|choice)[ ]*)?"
    r"[(\[*_]*[ ]*(?P<x>[A-Za-z])"
)


def _alternative(s: str, end: int, ch: str, ctx: _Ctx) -> str | None:
    """A second, different valid option offered right after the letter ending at `end` ("A or B")."""
    m = _ALT.match(s, end)
    if m is None:
        return None
    ch2 = m.group("x")
    e2 = m.end()
    if ch2.islower() and not ch.islower():
        return None
    if not _is_letter_token(s, e2, ch2, ctx):
        return None
    conj = m.group("conj").lower()
    if conj not in ("/", "or") and not conj.endswith("or"):
        # With "," or "and" the second letter must close the list ("A and C."), so that
        # "Answer: C, D being wrong" or "A and B are wrong" are not read as hedges.
        j = e2
        while j < len(s) and s[j] in ")]*_":
            j += 1
        if j < len(s) and s[j] == " ":
            word = _WORD.match(s, j + 1)
            if word is not None and word.group(0).lower() not in ("or", "and"):
                return None
    letter = ch2.upper()
    if letter == ch.upper() or letter not in ctx.valid:
        return None
    return letter


# --------------------------------------------------------------------------------------------------
# Rule: explicit answer markers
#
# For speed, markers are found by scanning an ASCII-lowercased copy of the reply (same length, same
# offsets) for a few keywords; the surrounding context is then checked with anchored matches.

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


def _text_prefix(norm: str, ctx: _Ctx) -> tuple[set[str], int]:
    """Letters whose option text starts the normalised `norm` (longest texts only), and that length.

    Single-character texts are skipped: after a marker a lone "C" is read as a letter.
    """
    best, found = 0, set()
    for letter, text in ctx.texts.items():
        if len(text) > 1 and _starts_with(norm, text):
            if len(text) > best:
                best, found = len(text), {letter}
            elif len(text) == best:
                found.add(letter)
    return found, best


def _read_payload(s: str, pos: int, ctx: _Ctx, where: str) -> Extraction | None:
    """What follows an answer marker at `s[pos]`: a letter, an option's text, or nothing decisive."""
    if ctx.texts:
        norm = _norm_text(s[pos : pos + _PAYLOAD_WINDOW])
        found, size = _text_prefix(norm, ctx)
        if len(found) > 1:
            return Extraction(None, "ambiguous", f"several options share this text: {where}")
        if found:
            rest = norm[size:].lstrip()
            if rest.startswith("or "):  # "mitochondria or the ribosome"
                rivals, _ = _text_prefix(_drop_the(rest[3:]), ctx)
                if rivals - found:
                    return Extraction(None, "ambiguous", where)
            return Extraction(found.pop(), "marker-text", where)
    m = _PAYLOAD.match(s, pos)
    if m is None:
        return None
    ch, end = m.group(1), m.end()
    if not _is_letter_token(s, end, ch, ctx):
        return None
    letter = ch.upper()
    other = _alternative(s, end, ch, ctx)
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


def _rule_markers(plain: str, ctx: _Ctx) -> Extraction | None:
    low = plain.translate(_ASCII_LOWER)
    last_pos = -1
    result: Extraction | None = None
    for m in _keywords(low):
        pos = _marker_end(plain, low, m)
        if pos is None:
            continue
        got = _read_payload(plain, pos, ctx, _snippet(plain, _clause_start(plain, m.start()), pos + 24))
        if got is not None:
            last_pos, result = m.start(), got
    if "\\boxed" in plain:
        for m in _BOXED.finditer(plain):
            got = _read_payload(m.group(1).strip(), 0, ctx, _snippet(plain, m.start(), m.end()))
            if got is not None and m.start() >= last_pos:
                last_pos, result = m.start(), got
    for m in _POST.finditer(plain):
        if m.start() < last_pos or not _post_marker_ok(plain, m.start()):
            continue
        letter = plain[m.start()]
        where = _snippet(plain, _clause_start(plain, m.start()), m.end())
        if letter in ctx.valid:
            last_pos, result = m.start(), Extraction(letter, "answer-marker", where)
        else:
            last_pos, result = (
                m.start(),
                Extraction(None, "out-of-range", f"{letter} is not an option: {where}"),
            )
    return result


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


def _marked_letters(text: str, ctx: _Ctx) -> dict[str, int]:
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


def _label(line: str, ctx: _Ctx, check_text: bool) -> _Label | None:
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
        norm = _norm_text(line)
        low = letter.lower()
        for text in ctx.texts.values():
            if text.split(" ", 1)[0] == low and len(text) > 1 and _starts_with(norm, text):
                return None
    return _Label(letter, only, m.end())


def _rule_lines(text: str, ctx: _Ctx) -> Extraction | None:
    lines = [line for line in text.split("\n") if line.strip()]
    first = _label(lines[0], ctx, check_text=True)
    if len(lines) == 1:
        if first is None:
            return None
        where = _snippet(lines[0], 0, len(lines[0]))
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
        where = _snippet(lines[-1], 0, len(lines[-1]))
        if first is not None and len(labelled) <= 1 and first.letter != last.letter:
            return Extraction(None, "ambiguous", f"starts with {first.letter}, ends with {last.letter}")
        return _decide(last.letter, "closing-letter", where, lines[-1], last.end, ctx)
    if len(labelled) > 1:
        return Extraction(None, "ambiguous", "lists options " + ", ".join(sorted(labelled)))
    if first is not None:
        where = _snippet(lines[0], 0, len(lines[0]))
        return _decide(first.letter, "leading-letter", where, lines[0], first.end, ctx)
    return None


def _decide(letter: str, rule: str, where: str, line: str, end: int, ctx: _Ctx) -> Extraction:
    if letter not in ctx.valid:
        return Extraction(None, "out-of-range", f"{letter} is not an option: {where}")
    # The label regex has consumed the closing decoration; look for "or B" right after it.
    other = _alternative(line, end, letter, ctx)
    if other is None:
        # "(A) and (B) are wrong": another marked option on the same line.
        other = next((x for x in _marked_letters(line[end:], ctx) if x != letter), None)
    if other is not None:
        return Extraction(None, "ambiguous", f"{letter} and {other}: {where}")
    return Extraction(letter, rule, where)


# --------------------------------------------------------------------------------------------------
# Rule: a parenthesised, bracketed or bold letter anywhere


def _rule_marked(text: str, ctx: _Ctx) -> Extraction | None:
    seen = _marked_letters(text, ctx)
    if not seen:
        return None
    if len(seen) > 1:
        return Extraction(None, "ambiguous", "marks " + ", ".join(sorted(seen)))
    ((letter, start),) = seen.items()
    return Extraction(letter, "marked-letter", _snippet(text, start - 20, start + 20))


# --------------------------------------------------------------------------------------------------
# Rule: the option's text instead of its letter


def _rule_option_text(plain: str, ctx: _Ctx) -> Extraction | None:
    if not ctx.texts:
        return None
    lines = [line for line in plain.split("\n") if line.strip()]
    candidates = [plain, lines[0], lines[-1]] if len(lines) > 1 else [plain]
    longest = 4 * max(map(len, ctx.texts.values())) + 40
    for candidate in candidates:
        if len(candidate) > longest:
            continue  # far longer than any option text: cannot be equal to one
        norm = _norm_text(candidate)
        if not norm:
            continue
        hits = sorted(letter for letter, text in ctx.texts.items() if text == norm)
        if len(hits) == 1:
            return Extraction(hits[0], "option-text", _snippet(candidate, 0, len(candidate)))
        if hits:
            return Extraction(None, "ambiguous", "options " + ", ".join(hits) + " have the same text")
    return None


# --------------------------------------------------------------------------------------------------
# Last resort: a hedge between letters anywhere ("It's either B or C")

# A capital letter followed by a conjunction; the full check is `_alternative`.
_HEDGE = re.compile(r"[A-Z][)\]]?[ ]*(?:,|/|&|\+|[ ](?i:or|and)\b)")


def _rule_hedge(plain: str, ctx: _Ctx) -> Extraction | None:
    for m in _HEDGE.finditer(plain):
        start = m.start()
        ch = plain[start]
        if start > 0 and (plain[start - 1].isalnum() or plain[start - 1] in "_'’-"):
            continue
        if ch not in ctx.valid or not _is_letter_token(plain, start + 1, ch, ctx):
            continue
        other = _alternative(plain, start + 1, ch, ctx)
        if other is not None:
            return Extraction(None, "ambiguous", _snippet(plain, start, m.end() + 12))
    return None


# --------------------------------------------------------------------------------------------------


def _context(letters: Sequence[str], option_texts: Mapping[str, str] | None) -> _Ctx:
    valid: list[str] = []
    for item in letters:
        letter = item.upper() if isinstance(item, str) else ""
        if len(letter) != 1 or not "A" <= letter <= "Z":
            raise ValueError(f"option letters must be single letters A-Z, got {item!r}")
        valid.append(letter)
    if not valid or len(set(valid)) != len(valid):
        raise ValueError(f"option letters must be distinct and non-empty, got {list(letters)!r}")
    return _Ctx(frozenset(valid), option_texts)


def _normalised_texts(valid: frozenset[str], option_texts: Mapping[str, str] | None) -> dict[str, str]:
    texts: dict[str, str] = {}
    if option_texts:
        for key, value in option_texts.items():
            letter = key.upper()
            if letter in valid and value:
                norm = _norm_text(_plain(_normalize(str(value))))
                if norm:
                    texts[letter] = norm
    return texts


def extract_choice(
    reply: str | None, letters: Sequence[str], option_texts: Mapping[str, str] | None = None
) -> Extraction:
    """The option letter chosen in `reply`, or an unparseable result naming why.

    `letters` are this question's option letters ("ABCD", or a list such as ["A", …, "J"]);
    `option_texts` optionally maps each letter to its option text, which lets a reply that gives the
    text instead of the letter be read. Rules are tried in the order of `RULES`; the first that
    applies decides.
    """
    ctx = _context(letters, option_texts)
    raw = reply or ""
    text = _normalize(strip_reasoning(raw))
    if not text.strip():
        why = "only reasoning, no answer" if raw.strip() else "empty reply"
        return Extraction(None, "empty", why)
    plain = _plain(text)
    if not plain.strip():
        return Extraction(None, "none", "only markup")
    got = (
        _rule_markers(plain, ctx)
        or _rule_lines(text, ctx)
        or _rule_marked(text, ctx)
        or _rule_option_text(plain, ctx)
        or _rule_hedge(plain, ctx)
    )
    return got if got is not None else Extraction(None, "none", "no rule applies")
