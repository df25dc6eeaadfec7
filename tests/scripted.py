"""Responders for the scripted server that answer the test datasets of `conftest.make_mcq_file`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from benchlab.testing.scripted_server import Reply, last_user_text

_OPTION = re.compile(r"^([A-J])\. (\S+)$", re.MULTILINE)


def question_number(body: dict[str, Any]) -> int:
    match = re.search(r"Question number (\d+)\?", last_user_text(body))
    assert match, "not a test question"
    return int(match.group(1))


def letter_of(body: dict[str, Any], prefix: str) -> str:
    for letter, text in _OPTION.findall(last_user_text(body)):
        if text.startswith(prefix):
            return letter
    raise AssertionError(f"no option starting {prefix!r}")


def answering(
    correct: Callable[[int], bool], *, style: str = "Answer: {letter}"
) -> Callable[[dict[str, Any]], Reply]:
    """Answer right on the questions `correct` picks, wrong on the others."""

    def respond(body: dict[str, Any]) -> Reply:
        number = question_number(body)
        letter = letter_of(body, "right-" if correct(number) else "wrong-")
        return Reply.text(style.format(letter=letter))

    return respond
