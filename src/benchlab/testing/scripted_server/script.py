"""What a script is made of: replies, their pacing, the faults to inject, and responders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

from benchlab.testing.scripted_server.messages import last_user_text

FaultKind = Literal["status", "disconnect", "stall", "cut", "malformed", "stream_error"]
ServerKind = Literal["generic", "llama.cpp", "vllm", "ollama", "lmstudio"]
_FAULT_KINDS = frozenset(get_args(FaultKind))
SERVER_KINDS = frozenset(get_args(ServerKind))


@dataclass
class Pacing:
    """How fast a reply is delivered.

    ``latency`` is spent inside the slot before anything is sent (think queueing and prefill; the
    response headers wait for it). In a stream, the role chunk follows immediately, ``ttft`` passes
    before the first chunk that carries reasoning, content or a tool call, and ``gap`` between the
    following content-carrying chunks; the finish and usage chunks follow the last one at once. A
    non-streamed reply waits for the whole of it: ``latency + ttft + gap * (chunks - 1)``.
    """

    ttft: float = 0.0
    gap: float = 0.0
    tokens_per_chunk: int = 1
    role_chunk: bool = True
    latency: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens_per_chunk < 1:
            raise ValueError(f"tokens_per_chunk must be at least 1, got {self.tokens_per_chunk}")
        if min(self.ttft, self.gap, self.latency) < 0:
            raise ValueError("ttft, gap and latency must not be negative")


@dataclass
class Reply:
    """What the scripted model says.

    A "token" is a whitespace-separated word (with its surrounding whitespace), so streamed pieces
    join back into exactly ``content``. ``reasoning`` is sent as ``reasoning_content`` (the field name
    is a server option) before the content; ``tool_calls`` follow the content. Tool calls take the
    OpenAI shape ``{"id", "type": "function", "function": {"name", "arguments"}}`` or the shorthand
    ``{"name", "arguments"}``; ``arguments`` may be a dict or a JSON string, and a missing ``id`` is
    generated. ``finish_reason`` defaults to ``"tool_calls"`` when there are tool calls, else
    ``"stop"`` (``"length"`` when the request's ``max_tokens`` cut the reply). ``usage`` defaults to
    computed counts; ``timings`` (llama.cpp style) is sent only when given, on the last JSON chunk of
    a stream or at the top level of a non-streamed body. ``pacing`` overrides the server's pacing for
    this reply.
    """

    content: str = ""
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    pacing: Pacing | None = None

    @classmethod
    def text(cls, content: str, *, reasoning: str | None = None) -> Reply:
        """A plain text answer, optionally preceded by reasoning."""
        return cls(content=content, reasoning=reasoning)

    @classmethod
    def tool(cls, name: str, arguments: Mapping[str, Any] | str | None = None, *, content: str = "") -> Reply:
        """A single tool call (``arguments`` as a mapping or a JSON string)."""
        return cls(content=content, tool_calls=[{"name": name, "arguments": arguments or {}}])


@dataclass
class Fault:
    """A failure to inject into chat completions.

    Kinds:

    - ``status``: answer with HTTP ``status`` and an OpenAI-style error body; with ``retry_after`` a
      ``Retry-After`` header is sent (whole seconds as an integer, fractions as a decimal such as
      ``0.05``, which is not standard HTTP but keeps retry tests fast).
    - ``disconnect``: close the connection without any response.
    - ``stall``: hang for ``seconds`` (default an hour, so the client's timeout fires), then answer
      normally. A stall is released at once, by closing the connection, when the server stops. In a
      stream it happens after ``after_chunks`` SSE events (default 0: before the response headers).
    - ``cut``: start the reply and close the connection before it is complete. A stream sends
      ``after_chunks`` events (default 2: the role chunk and one content chunk) and never ``[DONE]``;
      a non-streamed body sends half of a ``Content-Length``-declared body.
    - ``malformed``: a 200 whose body is not valid JSON (a truncated reply); in a stream, after
      ``after_chunks`` good events (default 1), a ``data: {not json`` event and then ``[DONE]``.
    - ``stream_error``: the server fails after the 200 was sent: in a stream, after ``after_chunks``
      events (default 1), a ``data: {"error": {...}}`` event and the end of the stream (llama-server
      does this); a non-streamed reply is a 200 whose JSON body is ``{"error": {...}}``.

    ``match`` selects requests: a substring of the last user message, a predicate on the request
    body, or None for every request. The fault fires on the first ``times`` matching requests (None:
    on all of them); later matches are answered normally, so a client that retries succeeds, always
    after the same number of attempts. ``status`` and ``disconnect`` answer at once without taking a
    slot; the other kinds occupy a slot like a normal reply.
    """

    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    times: int | None = 1
    match: str | Callable[[dict[str, Any]], bool] | None = None
    message: str | None = None
    after_chunks: int | None = None
    seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {sorted(_FAULT_KINDS)}")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be None (always) or a non-negative count")

    def matches(self, body: dict[str, Any]) -> bool:
        if self.match is None:
            return True
        if isinstance(self.match, str):
            return self.match in last_user_text(body)
        return bool(self.match(body))


ReplyLike: TypeAlias = "Reply | Fault | str"
Responder: TypeAlias = Callable[[dict[str, Any]], "ReplyLike | Awaitable[ReplyLike]"]


def by_substring(table: Mapping[str, Reply | Fault | str], default: Reply | Fault | str = "") -> Responder:
    """A responder that picks the first entry whose key occurs in the last user message."""
    items = list(table.items())

    def respond(body: dict[str, Any]) -> Reply | Fault | str:
        text = last_user_text(body)
        for key, reply in items:
            if key in text:
                return reply
        return default

    return respond
