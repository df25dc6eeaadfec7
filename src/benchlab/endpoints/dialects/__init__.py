"""Tool-call dialects: how tools reach a model, natively or rendered into the prompt (DESIGN §5).

`raw` passes tools through the server's native `tools` field. The prompt dialects (`hermes`,
`qwen`, `pi`) render the tools into the system prompt, send no `tools` field, and parse the
calls back out of the reply text; a call that cannot be parsed is reported on the completion as
`tool_parse_error` (a model error), never raised.

Rendering lives in `render`, reading calls back in `parse`, the JSON tolerance in `lenient_json`;
this module ties them to a chat function.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from benchlab.endpoints.dialects.parse import Parsed, parse_hermes, parse_pi, parse_qwen, tool_names_of
from benchlab.endpoints.dialects.render import render_messages
from benchlab.types import Completion, GenerationParams

DIALECTS: tuple[str, ...] = ("raw", "hermes", "qwen", "pi")
RESULT_STOP = "<tool_response>"  # prompt dialects stop the reply where a tool result would begin

__all__ = [
    "DIALECTS",
    "RESULT_STOP",
    "Chat",
    "UnknownDialect",
    "parse_reply",
    "unparsed_markup",
    "with_dialect",
]


class Chat(Protocol):
    """The chat function tasks are handed (structurally `tasks.base.ChatFn`)."""

    async def __call__(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Completion: ...


class UnknownDialect(ValueError):
    def __init__(self, dialect: str) -> None:
        super().__init__(f"unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}.")


def with_dialect(chat: Chat, dialect: str) -> Chat:
    """A chat function that speaks `dialect`: OpenAI-shaped messages, tools and tool calls in and
    out, whatever the model sees on the wire."""
    if dialect not in DIALECTS:
        raise UnknownDialect(dialect)
    if dialect == "raw":
        return _NativeTools(chat)
    return _PromptDialect(chat, dialect)


def parse_reply(
    dialect: str, content: str, tools: list[dict[str, Any]] | None, *, reasoning: str = ""
) -> Parsed:
    """The calls, prose and parse error in a reply written in a prompt dialect."""
    if dialect == "qwen":
        return parse_qwen(content, tools)
    if dialect == "pi":
        return parse_pi(content, tool_names_of(tools), reasoning=reasoning)
    if dialect == "hermes":
        return parse_hermes(content, tool_names_of(tools))
    raise UnknownDialect(dialect)


class _PromptDialect:
    """Tools in the system prompt, calls read out of the reply text."""

    def __init__(self, chat: Chat, dialect: str) -> None:
        self.chat = chat
        self.dialect = dialect

    async def __call__(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Completion:
        wire = render_messages(self.dialect, messages, tools)
        if tools and RESULT_STOP not in (params.stop or []):
            # A model that writes a call may go on to invent its result; the result is ours to give.
            params = params.model_copy(update={"stop": [*(params.stop or []), RESULT_STOP]})
        completion = await self.chat(wire, params, tools=None, response_format=response_format)
        if not tools or completion.tool_calls:
            # No tools offered: nothing to read. Native calls despite no `tools` field: the server
            # parsed the markup itself, and its reading stands.
            return completion
        parsed = parse_reply(self.dialect, completion.content, tools, reasoning=completion.reasoning)
        turn = sum(1 for message in messages if message.get("role") == "assistant")
        return _with_parsed(completion, parsed, turn)


class _NativeTools:
    """`raw`: tools go out natively. When the server returns no native call but the text holds
    call markup, the text is kept as it is and no call is made up: what is measured is the
    model *with* the server's own tool parser. The miss is recorded as `tool_parse_error`, so it
    counts as a model error and says which prompt dialect would have read the call."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    async def __call__(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Completion:
        completion = await self.chat(messages, params, tools=tools, response_format=response_format)
        if not tools or completion.tool_calls:
            return completion
        error = unparsed_markup(completion.content, tools)
        return completion if error is None else completion.model_copy(update={"tool_parse_error": error})


def unparsed_markup(content: str, tools: list[dict[str, Any]]) -> str | None:
    """What call markup a native-tools reply left in its text, or None when there is none."""
    readings = {dialect: parse_reply(dialect, content, tools) for dialect in ("hermes", "qwen")}
    for dialect, parsed in readings.items():
        if parsed.calls:
            names = ", ".join(sorted({call.name for call in parsed.calls}))
            return (
                f"the server returned no native tool call, but the reply text holds "
                f"{len(parsed.calls)} {dialect}-style call(s) ({names}) that its tool parser did not "
                f"read; raw keeps the text and makes no call (try --dialect {dialect})"
            )
    for parsed in readings.values():
        if parsed.error:
            return (
                "the server returned no native tool call, and the reply text holds call markup "
                f"that could not be read ({parsed.error})"
            )
    return None


def _with_parsed(completion: Completion, parsed: Parsed, turn: int) -> Completion:
    calls = [
        {
            "id": f"call_{turn}_{index}",
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)},
        }
        for index, call in enumerate(parsed.calls)
    ]
    finish = completion.finish_reason
    if calls and finish == "stop":
        finish = "tool_calls"  # what a server with native tool calls reports
    return completion.model_copy(
        update={
            "content": parsed.prose,
            "reasoning": parsed.reasoning or completion.reasoning,
            "tool_calls": calls,
            "tool_parse_error": parsed.error,
            "finish_reason": finish,
        }
    )
