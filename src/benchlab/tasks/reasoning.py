"""Removing a reply's reasoning, so that only its answer is read."""

from __future__ import annotations

import re

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
