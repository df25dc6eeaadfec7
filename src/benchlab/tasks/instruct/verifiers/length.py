"""Length instructions: sentences, words, paragraphs, and the first word of the nth paragraph."""

from __future__ import annotations

from pydantic import Field, model_validator

from benchlab.tasks.instruct.text import (
    Relation,
    blank_line_paragraphs,
    compare,
    count_sentences,
    count_words,
    divider_paragraphs,
    first_word,
)
from benchlab.tasks.instruct.verifiers.base import Params, Verifier


class Sentences(Params):
    num_sentences: int = Field(ge=0)
    relation: Relation


def _sentences(response: str, params: Sentences) -> bool:
    return compare(count_sentences(response), params.relation, params.num_sentences)


class Words(Params):
    num_words: int = Field(ge=0)
    relation: Relation


def _words(response: str, params: Words) -> bool:
    return compare(count_words(response), params.relation, params.num_words)


class Paragraphs(Params):
    num_paragraphs: int = Field(ge=1)


def _paragraphs(response: str, params: Paragraphs) -> bool:
    paragraphs = divider_paragraphs(response)
    return paragraphs is not None and len(paragraphs) == params.num_paragraphs


class NthParagraph(Params):
    num_paragraphs: int = Field(ge=1)
    nth_paragraph: int = Field(ge=1)
    first_word: str = Field(min_length=1)

    @model_validator(mode="after")
    def _nth_within(self) -> NthParagraph:
        if self.nth_paragraph > self.num_paragraphs:
            raise ValueError(
                f"nth_paragraph {self.nth_paragraph} is past num_paragraphs {self.num_paragraphs}"
            )
        return self


def _nth_paragraph(response: str, params: NthParagraph) -> bool:
    paragraphs = blank_line_paragraphs(response)
    if len(paragraphs) != params.num_paragraphs:
        return False
    return first_word(paragraphs[params.nth_paragraph - 1]) == params.first_word.strip().lower()


VERIFIERS: tuple[Verifier, ...] = (
    Verifier(
        "length_constraints:number_sentences",
        "less than / at least N sentences",
        Sentences,
        _sentences,
    ),
    Verifier("length_constraints:number_words", "less than / at least N words", Words, _words),
    Verifier(
        "length_constraints:number_paragraphs",
        "exactly N paragraphs separated by the markdown divider ***",
        Paragraphs,
        _paragraphs,
    ),
    Verifier(
        "length_constraints:nth_paragraph_first_word",
        "exactly N paragraphs separated by blank lines, the nth starting with a given word",
        NthParagraph,
        _nth_paragraph,
    ),
)
