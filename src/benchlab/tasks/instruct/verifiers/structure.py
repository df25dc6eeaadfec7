"""Combination (repeat the prompt, two responses) and start/end instructions."""

from __future__ import annotations

from pydantic import Field

from benchlab.tasks.instruct.verifiers.base import NoParams, Params, Verifier


class RepeatPrompt(Params):
    prompt_to_repeat: str = Field(min_length=1)


def _repeat_prompt(response: str, params: RepeatPrompt) -> bool:
    return response.strip().lower().startswith(params.prompt_to_repeat.strip().lower())


TWO_RESPONSES_SEPARATOR = "******"


def _two_responses(response: str, params: NoParams) -> bool:
    pieces = response.split(TWO_RESPONSES_SEPARATOR)
    answers: list[str] = []
    for index, piece in enumerate(pieces):
        if piece.strip():
            answers.append(piece.strip())
        elif 0 < index < len(pieces) - 1:
            return False  # two separators in a row: an empty answer between them
    return len(answers) == 2 and answers[0] != answers[1]


def _quotation(response: str, params: NoParams) -> bool:
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


class EndPhrase(Params):
    end_phrase: str = Field(min_length=1)


def _end_checker(response: str, params: EndPhrase) -> bool:
    # A closing quotation mark around the whole reply does not hide the phrase.
    return response.strip().strip('"').lower().endswith(params.end_phrase.strip().lower())


VERIFIERS: tuple[Verifier, ...] = (
    Verifier(
        "combination:repeat_prompt",
        "starts by repeating the given request word for word (any case)",
        RepeatPrompt,
        _repeat_prompt,
    ),
    Verifier(
        "combination:two_responses",
        "two different answers separated by six asterisks ******",
        NoParams,
        _two_responses,
    ),
    Verifier(
        "startend:quotation",
        "the whole response is wrapped in double quotation marks",
        NoParams,
        _quotation,
    ),
    Verifier(
        "startend:end_checker",
        "ends with the exact given phrase (any case), nothing after it",
        EndPhrase,
        _end_checker,
    ),
)
