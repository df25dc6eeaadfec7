"""Keyword instructions (include, repeat, avoid words; letter frequency) and punctuation."""

from __future__ import annotations

import re

from pydantic import Field

from benchlab.tasks.instruct.text import Relation, compare
from benchlab.tasks.instruct.verifiers.base import NoParams, Params, Verifier


class Existence(Params):
    keywords: list[str] = Field(min_length=1)


def _existence(response: str, params: Existence) -> bool:
    # Case-insensitive and as substrings, as IFEval defines it ("climb" is in "climbing").
    return all(re.search(re.escape(word), response, re.IGNORECASE) for word in params.keywords)


class Frequency(Params):
    keyword: str = Field(min_length=1)
    frequency: int = Field(ge=0)
    relation: Relation


def _frequency(response: str, params: Frequency) -> bool:
    count = len(re.findall(re.escape(params.keyword), response, re.IGNORECASE))
    return compare(count, params.relation, params.frequency)


class Forbidden(Params):
    forbidden_words: list[str] = Field(min_length=1)


def _forbidden(response: str, params: Forbidden) -> bool:
    # Whole words only: forbidding "can" does not forbid "candle".
    return not any(
        re.search(rf"\b{re.escape(word)}\b", response, re.IGNORECASE) for word in params.forbidden_words
    )


class LetterFrequency(Params):
    letter: str = Field(min_length=1, max_length=1)
    let_frequency: int = Field(ge=0)
    let_relation: Relation


def _letter_frequency(response: str, params: LetterFrequency) -> bool:
    count = response.lower().count(params.letter.lower())
    return compare(count, params.let_relation, params.let_frequency)


def _no_comma(response: str, params: NoParams) -> bool:
    return "," not in response


VERIFIERS: tuple[Verifier, ...] = (
    Verifier("keywords:existence", "every listed keyword appears (any case)", Existence, _existence),
    Verifier(
        "keywords:frequency",
        "a keyword appears less than / at least N times (any case)",
        Frequency,
        _frequency,
    ),
    Verifier("keywords:forbidden_words", "none of the listed words appears as a word", Forbidden, _forbidden),
    Verifier(
        "keywords:letter_frequency",
        "a letter appears less than / at least N times (any case)",
        LetterFrequency,
        _letter_frequency,
    ),
    Verifier("punctuation:no_comma", "the response contains no comma", NoParams, _no_comma),
)
