"""Separating a model's reasoning from its answer.

Servers deliver reasoning three ways: a `reasoning_content` or `reasoning` field beside `content`, or
inline `<think>…</think>` blocks inside `content`, sometimes with the closing tag missing (the model
ran out of tokens) or the opening tag missing (the chat template opened the block for the model).
The split is done once on the finished text, which is exact; the client maps the answer's first
character back to the chunk that carried it to time the first answer token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

_SEGMENT = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Split:
    reasoning: str
    answer: str
    answer_start: int | None  # offset in the raw text of the answer's first non-space character


def split_reasoning(text: str) -> Split:
    """Split raw content into reasoning and answer text."""
    reasoning: list[str] = []
    answer: list[str] = []
    answer_start: int | None = None
    cursor = 0
    first_open = text.find(OPEN_TAG)
    first_close = text.find(CLOSE_TAG)
    if first_close >= 0 and (first_open < 0 or first_close < first_open):
        # The template opened the block: everything before the first close tag is reasoning.
        reasoning.append(text[:first_close])
        cursor = first_close + len(CLOSE_TAG)
    for match in _SEGMENT.finditer(text, cursor):
        answer_start = _note_answer(text, cursor, match.start(), answer, answer_start)
        reasoning.append(match.group(1))
        cursor = match.end()
    answer_start = _note_answer(text, cursor, len(text), answer, answer_start)
    return Split("".join(reasoning).strip(), "".join(answer).strip(), answer_start)


def strip_think(text: str) -> str:
    """The answer part of `text` with every think block removed."""
    return split_reasoning(text).answer if (OPEN_TAG in text or CLOSE_TAG in text) else text.strip()


def _note_answer(text: str, start: int, end: int, answer: list[str], found: int | None) -> int | None:
    piece = text[start:end]
    answer.append(piece)
    if found is None:
        stripped = len(piece) - len(piece.lstrip())
        if stripped < len(piece):
            return start + stripped
    return found
