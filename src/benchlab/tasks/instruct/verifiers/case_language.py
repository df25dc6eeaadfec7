"""Letter case (all capitals, all lowercase, how many capitalised words) and response language."""

from __future__ import annotations

import re

from pydantic import Field

from benchlab.tasks.instruct.text import Relation, compare, detect_language
from benchlab.tasks.instruct.verifiers.base import NoParams, Params, Verifier

# Words for counting capitalised ones: letters and digits, with inner apostrophes ("DON'T").
_WORD = re.compile(r"\w+(?:['’]\w+)*")


class CapitalWords(Params):
    capital_frequency: int = Field(ge=0)
    capital_relation: Relation


def _capital_words(response: str, params: CapitalWords) -> bool:
    count = sum(1 for word in _WORD.findall(response) if word.isupper())
    return compare(count, params.capital_relation, params.capital_frequency)


def _english_capital(response: str, params: NoParams) -> bool:
    return response.isupper() and detect_language(response) == "en"


def _english_lowercase(response: str, params: NoParams) -> bool:
    return response.islower() and detect_language(response) == "en"


class Language(Params):
    language: str = Field(min_length=2)  # ISO 639-1, as langdetect reports it


def _language(response: str, params: Language) -> bool:
    return detect_language(response) == params.language.strip().lower()


VERIFIERS: tuple[Verifier, ...] = (
    Verifier(
        "change_case:capital_word_frequency",
        "less than / at least N words written in capital letters",
        CapitalWords,
        _capital_words,
    ),
    Verifier(
        "change_case:english_capital",
        "English, in capital letters only",
        NoParams,
        _english_capital,
    ),
    Verifier(
        "change_case:english_lowercase",
        "English, in lowercase letters only",
        NoParams,
        _english_lowercase,
    ),
    Verifier(
        "language:response_language",
        "the response is in the given language (ISO 639-1 code)",
        Language,
        _language,
    ),
)
