"""A reply resolved against one request: cut to its token limit, tool calls normalised, tokens
counted (a token is a word; a prompt token is four characters)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from benchlab.testing.scripted_server.messages import message_text
from benchlab.testing.scripted_server.script import Reply

DEFAULT_REPLY = Reply(content="OK")
FILLER_REPLY = Reply(content="a scripted filler reply with enough words in it to be streamed in pieces")
_WORDS = re.compile(r"\s*\S+\s*")


def split_words(text: str | None) -> list[str]:
    if not text:
        return []
    return _WORDS.findall(text) or [text]


def _count(text: str | None) -> int:
    return (len(text.split()) or 1) if text else 0


def group_pieces(pieces: list[str], size: int) -> list[str]:
    if size == 1:
        return pieces
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]


class ReplyPlan:
    """A reply resolved against one request: truncated to max_tokens, tool calls normalized."""

    __slots__ = ("content", "finish_reason", "reasoning", "tokens", "tool_calls")

    def __init__(self, reply: Reply, limit: int | None, call_ids: Iterator[int]) -> None:
        calls = [_normalize_call(c, call_ids) for c in reply.tool_calls or ()]
        call_tokens = sum(1 + _count(c["function"]["arguments"]) for c in calls)
        reasoning, content = reply.reasoning or "", reply.content
        n_reasoning, n_content = _count(reasoning), _count(content)
        truncated = False
        if limit is not None and n_reasoning + n_content + call_tokens > limit:
            truncated = True
            r_pieces = split_words(reasoning)[:limit]
            c_pieces = split_words(content)[: limit - len(r_pieces)]
            reasoning, content = "".join(r_pieces), "".join(c_pieces)
            n_reasoning, n_content = len(r_pieces), len(c_pieces)
            if call_tokens > limit - n_reasoning - n_content:
                calls, call_tokens = [], 0
        self.reasoning = reasoning
        self.content = content
        self.tool_calls = calls
        self.tokens = (n_reasoning, n_content + call_tokens)
        if truncated:
            self.finish_reason = "length"
        else:
            self.finish_reason = reply.finish_reason or ("tool_calls" if calls else "stop")


def _normalize_call(call: Mapping[str, Any], call_ids: Iterator[int]) -> dict[str, Any]:
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": call.get("id") or f"call_{next(call_ids)}",
        "type": "function",
        "function": {"name": function["name"], "arguments": arguments},
    }


def prompt_tokens(body: Mapping[str, Any]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 1
    chars = sum(len(message_text(m.get("content"))) for m in messages if isinstance(m, dict))
    return max(1, chars // 4)


def request_limit(body: Mapping[str, Any]) -> int | None:
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return limit if isinstance(limit, int) and limit > 0 else None
