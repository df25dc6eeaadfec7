"""Normalising a reply (markup, LaTeX, invisible characters) and telling an option letter from the
words "A" and "I"; the per-question context every rule reads."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

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


def normalize(text: str) -> str:
    """NFKC (full-width letters and punctuation), no zero-width characters, one space for any blank run."""
    if not text.isascii():
        text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))
        return _HSPACE.sub(" ", text)
    if "  " in text or "\t" in text or "\r" in text or "\x0b" in text or "\x0c" in text:
        return _HSPACE.sub(" ", text)
    return text


def strip_markup(text: str) -> str:
    """`text` without markdown emphasis and with LaTeX text wrappers unwrapped."""
    if "\\" in text:
        text = _LATEX_WRAP.sub(r"\1", text)
    text = text.translate(_MARKUP)
    return _UNDERSCORES.sub(_edge_underscores, text) if "_" in text else text


_NON_ALNUM = re.compile(r"[\W_]+")


def norm_text(text: str) -> str:
    """Comparison form of an option text: case-folded words separated by single spaces, no leading 'the'."""
    return drop_the(_NON_ALNUM.sub(" ", text.casefold()).strip())


def drop_the(norm: str) -> str:
    return norm[4:] if norm.startswith("the ") else norm


def clause_start(text: str, pos: int) -> int:
    """Start of the clause around `pos`, at most a few words back, for readable details."""
    lo = max(0, pos - 24)
    cut = max(text.rfind(ch, lo, pos) for ch in ".!?:;\n")
    if cut >= 0:
        return cut + 1
    space = text.find(" ", lo, pos)
    return lo if lo == 0 or space < 0 else space + 1


def snippet(text: str, start: int, end: int) -> str:
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


class ChoiceContext:
    """Per-call data shared by the rules."""

    __slots__ = ("texts", "valid")

    def __init__(self, valid: frozenset[str], texts: dict[str, str]) -> None:
        self.valid = valid
        self.texts = texts  # letter -> normalised option text (non-empty only)


def starts_with(norm: str, prefix: str) -> bool:
    return norm == prefix or norm.startswith(prefix + " ")


def is_letter_token(s: str, end: int, ch: str, ctx: ChoiceContext) -> bool:
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
        return own is not None and starts_with(norm_text(s[end : end + 2 * len(own) + 20]), own)
    return True


_ALT = re.compile(
    r"[)\]*_]*[ ]*(?P<conj>,[ ]*(?i:or|and)\b|,|/|&|\+|(?i:or|and)\b)[ ]*(?:(?i:option|choice)[ ]*)?"
    r"[(\[*_]*[ ]*(?P<x>[A-Za-z])"
)


def alternative_letter(s: str, end: int, ch: str, ctx: ChoiceContext) -> str | None:
    """A second, different valid option offered right after the letter ending at `end` ("A or B")."""
    m = _ALT.match(s, end)
    if m is None:
        return None
    ch2 = m.group("x")
    e2 = m.end()
    if ch2.islower() and not ch.islower():
        return None
    if not is_letter_token(s, e2, ch2, ctx):
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


def choice_context(letters: Sequence[str], option_texts: Mapping[str, str] | None) -> ChoiceContext:
    valid: list[str] = []
    for item in letters:
        letter = item.upper() if isinstance(item, str) else ""
        if len(letter) != 1 or not "A" <= letter <= "Z":
            raise ValueError(f"option letters must be single letters A-Z, got {item!r}")
        valid.append(letter)
    if not valid or len(set(valid)) != len(valid):
        raise ValueError(f"option letters must be distinct and non-empty, got {list(letters)!r}")
    texts: dict[str, str] = {}
    if option_texts:
        for key, value in option_texts.items():
            letter = key.upper()
            if letter in valid and value:
                norm = norm_text(strip_markup(normalize(str(value))))
                if norm:
                    texts[letter] = norm
    return ChoiceContext(frozenset(valid), texts)
