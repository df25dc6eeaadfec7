"""Tool-call dialects: how tools reach a model, natively or rendered into the prompt (DESIGN §5).

`raw` passes tools through the server's native `tools` field. The prompt dialects (`hermes`,
`qwen`, `pi`) render the tools into the system prompt, send no `tools` field, and parse the
calls back out of the reply text; a call that cannot be parsed is reported on the completion as
`tool_parse_error` (a model error), never raised.
"""

from __future__ import annotations

from typing import Any, Protocol

from benchlab.types import Completion, GenerationParams

DIALECTS: tuple[str, ...] = ("raw", "hermes", "qwen", "pi")


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
        return chat
    raise NotImplementedError(f"the {dialect} dialect is not available yet")
