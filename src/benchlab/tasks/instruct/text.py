"""Text measurements the instruction verifiers share: words, sentences, paragraphs, language.

Everything here works offline and deterministically: sentence splitting is a rule-based splitter
written for this module (no tokenizer data to download), and language identification uses
`langdetect`, whose language profiles ship inside its wheel, with its random seed pinned so the
same text always gets the same verdict.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Literal

Relation = Literal["less than", "at least"]
RELATIONS: tuple[str, ...] = ("less than", "at least")

_WORD = re.compile(r"\w+")


def count_words(text: str) -> int:
    """Runs of word characters (letters, digits, underscore, in any script): "don't" is two words,
    "3.5" is two, "e-mail" is two. Simple on purpose, so a count never depends on a tokenizer model."""
    return len(_WORD.findall(text))


def compare(count: int, relation: str, target: int) -> bool:
    """`count` against `target` under an IFEval relation: "less than" is <, "at least" is >=."""
    if relation == "less than":
        return count < target
    if relation == "at least":
        return count >= target
    raise ValueError(f"unknown relation {relation!r}; use one of: {', '.join(RELATIONS)}")


# --- sentences -------------------------------------------------------------------------------------

# Words after which a full stop does not end a sentence. Words that often end a sentence
# themselves, like "no", are left out.
_ABBREVIATION_WORDS = (
    "mr mrs ms dr prof sr jr st vs etc inc ltd co corp dept fig vol approx jan feb apr jun "
    "jul aug sep sept oct nov dec mt ft lt capt sgt rev gov ave blvd rd"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_PLACEHOLDER = "\x00"  # stands in for full stops that do not end a sentence while we split
_INITIALISM = re.compile(r"\b(?:[A-Za-z]\.){2,}")  # e.g. U.S.A. / i.e.
_DECIMAL = re.compile(r"(?<=\d)\.(?=\d)")  # 3.14
_DOMAIN = re.compile(r"\.(?=(?:com|org|net|edu|gov|io)\b)", re.IGNORECASE)  # example.com
_ELLIPSIS = re.compile(r"\.{2,}|…")
_ABBREVIATION = re.compile(r"\b([A-Za-z]+)\.(?=\s)")
_SINGLE_INITIAL = re.compile(r"(?<![\w.])([A-Z])\.(?=\s+[A-Z])")  # J. Smith
# A sentence ends at . ! or ? (and any closing quotes or brackets right after), before whitespace
# or the end of the text.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, by rule: a sentence ends at `.`, `!` or `?` followed by whitespace
    or the end, except after common abbreviations, initials, initialisms, decimals and domain names.
    A blank line also ends a sentence (a heading or list item without a full stop is one sentence)."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        protected = _protect(block.replace("\n", " "))
        start = 0
        for match in _SENTENCE_END.finditer(protected):
            piece = protected[start : match.end()].strip()
            if piece:
                sentences.append(piece.replace(_PLACEHOLDER, "."))
            start = match.end()
        rest = protected[start:].strip()
        if rest:
            sentences.append(rest.replace(_PLACEHOLDER, "."))
    return sentences


def _protect(text: str) -> str:
    text = _ELLIPSIS.sub(lambda m: _PLACEHOLDER * len(m.group(0)), text)
    text = _DECIMAL.sub(_PLACEHOLDER, text)
    text = _DOMAIN.sub(_PLACEHOLDER, text)
    text = _INITIALISM.sub(lambda m: m.group(0).replace(".", _PLACEHOLDER), text)
    text = _SINGLE_INITIAL.sub(lambda m: m.group(1) + _PLACEHOLDER, text)

    def keep(match: re.Match[str]) -> str:
        word = match.group(1)
        return word + (_PLACEHOLDER if word.lower() in _ABBREVIATIONS else ".")

    return _ABBREVIATION.sub(keep, text)


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


# --- paragraphs and lines ------------------------------------------------------------------------

_DIVIDER = re.compile(r"\s?\*\*\*\s?")


def divider_paragraphs(text: str) -> list[str] | None:
    """Paragraphs separated by the markdown divider `***`. An empty piece at either end (a divider
    that opens or closes the reply) is dropped; an empty piece in the middle (two dividers in a row)
    makes the layout invalid: None."""
    pieces = _DIVIDER.split(text)
    kept: list[str] = []
    for index, piece in enumerate(pieces):
        if piece.strip():
            kept.append(piece)
        elif 0 < index < len(pieces) - 1:
            return None
    return kept


def blank_line_paragraphs(text: str) -> list[str]:
    """Paragraphs separated by one or more blank lines ("\\n\\n"), empty ones dropped."""
    return [piece for piece in re.split(r"\n\s*\n", text) if piece.strip()]


def first_word(paragraph: str) -> str:
    """The first word of a paragraph as IFEval reads it: the first whitespace-separated token,
    without leading quotes, cut at the first `.`, `,`, `?`, `!` or quote, lowercased
    ('"Hello, world' → "hello")."""
    words = paragraph.split()
    if not words:
        return ""
    token = words[0].lstrip("'\"")
    return re.split(r"[.,?!'\"]", token, maxsplit=1)[0].lower()


# --- language ------------------------------------------------------------------------------------


class LanguageDetectionUnavailable(RuntimeError):
    """`langdetect` is not installed; the message says how to install it."""


@cache
def _detector_ready() -> None:
    try:
        from langdetect import DetectorFactory
    except ImportError as error:  # pragma: no cover - the extra is part of every test install
        raise LanguageDetectionUnavailable(
            "instruction-following runs need the language detector: pip install 'benchlab[instruct]'"
        ) from error
    from langdetect.detector_factory import init_factory

    DetectorFactory.seed = 0  # langdetect samples n-grams at random; a fixed seed makes it repeatable
    # Load the language profiles now (about a second), not inside the first score of a run, where
    # it would stall the event loop and inflate the timings of requests in flight.
    init_factory()


def require_language_detection() -> None:
    """Raise `LanguageDetectionUnavailable` now rather than in the middle of a run."""
    _detector_ready()


@lru_cache(maxsize=512)
def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the text's language (`langdetect`'s codes: "en", "de", "zh-cn"…), or
    None when the text holds nothing to detect from (only digits, symbols or whitespace).

    Cached: detection takes milliseconds to tenths of a second, and the loose variants of one
    reply, and several instructions on it, often ask about the same text."""
    _detector_ready()
    from langdetect import detect
    from langdetect.lang_detect_exception import LangDetectException

    try:
        return str(detect(text))
    except LangDetectException:
        return None
