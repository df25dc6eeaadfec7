"""A scripted OpenAI-compatible server for exact-score, fault-injection and overhead tests.

The server answers ``POST /v1/chat/completions`` from a *responder* (a constant :class:`Reply`, or a
function of the request body), optionally paced like a real model (:class:`Pacing`) and optionally
failing on purpose (:class:`Fault`). It runs on its own event loop in a background thread, so sync
and async tests use it the same way::

    with ScriptedServer(Reply.text("The answer is C"), faults=[Fault("status", status=429)]) as server:
        ...  # point the code under test at server.v1_url ("http://127.0.0.1:PORT/v1")
        assert server.counts["status"] == 1
        assert server.requests[0]["temperature"] == 0

Speed tests use its exact pacing (``Pacing``), ``slots`` (a server that serves N requests at once and
queues the rest), ``refuse_fields`` (HTTP 400 naming a request field, as servers that do not take
``stream_options`` or ``ignore_eos`` answer), llama.cpp's ``/tokenize`` and ``/detokenize`` (a token
is four characters) and vLLM's Prometheus ``/metrics`` (token and request counters).

URLs: ``base_url`` is the server root (``http://127.0.0.1:PORT``); the OpenAI routes live under
``/v1`` (``v1_url``). With ``server_kind="llama.cpp"`` the un-prefixed aliases (``/chat/completions``,
``/models``) are served too, as llama-server does.

It is deliberately cheap on the trivial path (no access log, no validation layer, one ``json.dumps``
per non-streamed reply, one per streamed chunk) because the harness-overhead benchmarks push it to
thousands of requests per second. For those benchmarks run it in its own process
(``python -m benchlab.testing.scripted_server --help``) so that it does not share the client's GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import itertools
import json
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeAlias, get_args

from aiohttp import web

__all__ = [
    "Fault",
    "FaultKind",
    "Pacing",
    "Reply",
    "Responder",
    "ScriptedServer",
    "ServerKind",
    "by_substring",
    "last_user_text",
    "message_text",
]

FaultKind = Literal["status", "disconnect", "stall", "cut", "malformed", "stream_error"]
ServerKind = Literal["generic", "llama.cpp", "vllm", "ollama", "lmstudio"]
_FAULT_KINDS = frozenset(get_args(FaultKind))
_SERVER_KINDS = frozenset(get_args(ServerKind))


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

_DEFAULT_REPLY = Reply(content="OK")
_FILLER = Reply(content="a scripted filler reply with enough words in it to be streamed in pieces")
_WORDS = re.compile(r"\s*\S+\s*")
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
_DONE = b"data: [DONE]\n\n"
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    503: "unavailable_error",
}
_VERSIONS = {"llama.cpp": "b0000-scripted", "vllm": "0.0.0+scripted", "ollama": "0.0.0-scripted"}
_OWNERS = {
    "generic": "scripted",
    "llama.cpp": "llamacpp",
    "vllm": "vllm",
    "ollama": "library",
    "lmstudio": "organization_owner",
}
_SERVER_HEADERS = {"llama.cpp": "llama.cpp", "vllm": "uvicorn"}


def message_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(body: Mapping[str, Any]) -> str:
    """The text of the last ``user`` message of a chat request ("" when there is none)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return message_text(message.get("content"))
    return ""


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


def _pieces(text: str | None) -> list[str]:
    if not text:
        return []
    return _WORDS.findall(text) or [text]


def _count(text: str | None) -> int:
    return (len(text.split()) or 1) if text else 0


def _group(pieces: list[str], size: int) -> list[str]:
    if size == 1:
        return pieces
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]


class _Plan:
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
            r_pieces = _pieces(reasoning)[:limit]
            c_pieces = _pieces(content)[: limit - len(r_pieces)]
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


def _prompt_tokens(body: Mapping[str, Any]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 1
    chars = sum(len(message_text(m.get("content"))) for m in messages if isinstance(m, dict))
    return max(1, chars // 4)


def _request_limit(body: Mapping[str, Any]) -> int | None:
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return limit if isinstance(limit, int) and limit > 0 else None


class ScriptedServer:
    """An OpenAI-compatible server that answers from a script; see the module docstring.

    Args:
        responder: a constant :class:`Reply` or string, or a function (sync or async) from the
            request body to a Reply, a string, or a :class:`Fault` to inject for that request.
            None answers "OK". It may be replaced while the server runs.
        pacing: default :class:`Pacing` (a Reply's own ``pacing`` wins).
        faults: scripted :class:`Fault` s, tried in order; the first armed one that matches fires.
        slots: at most this many chat requests are served at once (the rest queue), as a server with
            N slots would; None is unlimited.
        model: the model id listed by ``/v1/models`` and put in replies.
        server_kind: which server to imitate in the details: ``llama.cpp`` adds ``/props``, the
            un-prefixed routes and llama.cpp's ``owned_by``/``Server`` header; ``vllm`` adds
            ``/version`` and ``/metrics``; ``ollama`` adds ``/api/version`` and a non-streamed native
            ``/api/chat`` whose ``prompt_eval_duration`` is the pacing's ``ttft`` and whose
            ``eval_duration`` is ``gap`` per generated token; ``lmstudio`` adds ``/api/v0/models``
            and a non-streamed ``/api/v0/chat/completions`` with LM Studio's ``stats`` (time to
            first token = ``ttft``, ``gap`` per token). ``generic`` adds nothing.
        server_version: the version those endpoints report.
        owned_by: the ``owned_by`` of the model entry (default: what the imitated server sends).
        context_length: when set, a prompt estimated (chars / 4) at more tokens than this is rejected
            with llama.cpp's 400 ``exceed_context_size_error``; also reported by ``/props`` etc.
        api_key: when set, chat and model requests without ``Authorization: Bearer <key>`` get 401.
        reasoning_field: the message/delta field that carries reasoning.
        record: keep every request body and its headers (turn off for long benchmarks).
        host, port: where to listen; port 0 lets the OS choose (kept across stop/start).
        shutdown_grace: seconds that in-flight replies get to finish when the server stops.
        refuse_fields: request fields the server does not take: a request carrying one is answered
            HTTP 400 with a message naming it (before any fault or slot).

    Per-request ``max_tokens``/``max_completion_tokens`` is honoured: a longer reply is cut to that
    many tokens (reasoning first, then content; tool calls only if they fit whole) with
    ``finish_reason="length"``. Usage, when not scripted, counts ``prompt_tokens`` as the characters
    of the message texts / 4 and ``completion_tokens`` as words (plus, per tool call, one for the
    name and the words of its arguments); reasoning words are also given as ``reasoning_tokens``.
    """

    def __init__(
        self,
        responder: Responder | Reply | str | None = None,
        *,
        pacing: Pacing | None = None,
        faults: Sequence[Fault] = (),
        slots: int | None = None,
        model: str = "scripted-model",
        server_kind: ServerKind = "generic",
        server_version: str | None = None,
        owned_by: str | None = None,
        context_length: int | None = None,
        api_key: str | None = None,
        reasoning_field: str = "reasoning_content",
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = True,
        shutdown_grace: float = 0.5,
        refuse_fields: Sequence[str] = (),
    ) -> None:
        if server_kind not in _SERVER_KINDS:
            raise ValueError(f"unknown server_kind {server_kind!r}; use one of {sorted(_SERVER_KINDS)}")
        if slots is not None and slots < 1:
            raise ValueError("slots must be None (unlimited) or at least 1")
        self.responder: Responder | Reply | str | None = responder
        self.pacing = pacing or Pacing()
        self.slots = slots
        self.model = model
        self.server_kind = server_kind
        self.server_version = server_version or _VERSIONS.get(server_kind, "scripted")
        self.owned_by = owned_by or _OWNERS[server_kind]
        self.context_length = context_length
        self.api_key = api_key
        self.reasoning_field = reasoning_field
        self.host = host
        self.port = port
        self.record = record
        self.shutdown_grace = shutdown_grace
        self.refuse_fields = tuple(refuse_fields)
        self.metrics: Counter[str] = Counter()
        """Running totals served at vLLM's ``/metrics``: prompt and generation tokens, requests."""
        self._vocabulary: dict[str, int] = {}
        self._pieces_by_id: list[str] = []

        self.requests: list[dict[str, Any]] = []
        """Every chat request body received, in arrival order (when ``record``)."""
        self.headers: list[dict[str, str]] = []
        """The headers of each recorded request, names lower-cased."""
        self.counts: Counter[str] = Counter()
        """How often each fault kind fired, plus ``exceed_context`` and ``unauthorized`` rejections."""
        self.errors: list[BaseException] = []
        """Exceptions raised by the responder (each was answered with a 500)."""
        self.request_count = 0
        """Chat requests received, recorded or not."""

        self._armed: list[list[Any]] = []  # [fault, remaining or None]
        for fault in faults:
            self.add_fault(fault)
        self._ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self._extra_headers: dict[str, str] = {}
        if server_kind in _SERVER_HEADERS:
            self._extra_headers["Server"] = _SERVER_HEADERS[server_kind]
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._closing: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._startup_error: BaseException | None = None

    # ----------------------------------------------------------------------------- control

    @property
    def base_url(self) -> str:
        """The server root, ``http://HOST:PORT`` (no ``/v1``)."""
        if not self.port:
            raise RuntimeError("the server has no port yet: call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def v1_url(self) -> str:
        """The OpenAI base URL, ``http://HOST:PORT/v1``."""
        return self.base_url + "/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def add_fault(self, fault: Fault) -> None:
        """Arm one more fault (thread-safe enough for tests: a list append)."""
        self._armed.append([fault, fault.times])

    def reset(self) -> None:
        """Forget recorded requests and counts and re-arm every fault."""
        self.requests.clear()
        self.headers.clear()
        self.counts.clear()
        self.errors.clear()
        self.request_count = 0
        for entry in self._armed:
            entry[1] = entry[0].times

    def start(self) -> ScriptedServer:
        """Serve from a background thread; returns once the port is listening.

        After :meth:`stop`, ``start`` listens on the same port again (a port chosen by the OS on the
        first start is kept), which is how tests simulate a server that goes away and comes back.
        """
        if self._thread is not None:
            raise RuntimeError("the scripted server is already running")
        ready = threading.Event()
        self._startup_error = None
        thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="scripted-server", daemon=True
        )
        thread.start()
        ready.wait()
        if self._startup_error is not None:
            thread.join()
            raise self._startup_error
        self._thread = thread
        return self

    def stop(self) -> None:
        """Stop listening, release stalls, let other replies finish for ``shutdown_grace``, join."""
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None or loop is None or event is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            loop.call_soon_threadsafe(event.set)
        thread.join()
        self._thread = None

    def run(self) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM (the command-line entry point)."""
        asyncio.run(self._serve(None, handle_signals=True))

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> ScriptedServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _thread_main(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # reported to start() when it happens before ready
            if not ready.is_set():
                self._startup_error = exc
                ready.set()
            else:
                raise

    async def _serve(self, ready: threading.Event | None, handle_signals: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stop_event = asyncio.Event()
        self._closing = asyncio.Event()
        self._slots = asyncio.Semaphore(self.slots) if self.slots else None
        runner = web.AppRunner(
            self._make_app(), access_log=None, handler_cancellation=True, shutdown_timeout=self.shutdown_grace
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
            self.port = runner.addresses[0][1]
            if handle_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, self._stop_event.set)
                print(f"scripted server listening on {self.base_url}", flush=True)
            if ready is not None:
                ready.set()
            await self._stop_event.wait()
            await site.stop()  # refuse new connections first
            self._closing.set()  # then release stalls
        finally:
            await runner.cleanup()

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        routes = [
            web.post("/v1/chat/completions", self._chat),
            web.get("/v1/models", self._models),
            web.get("/health", self._health),
        ]
        if self.server_kind == "llama.cpp":
            routes += [
                web.post("/chat/completions", self._chat),
                web.get("/models", self._models),
                web.get("/props", self._props),
                web.post("/tokenize", self._tokenize),
                web.post("/detokenize", self._detokenize),
            ]
        elif self.server_kind == "vllm":
            routes += [web.get("/version", self._version), web.get("/metrics", self._metrics)]
        elif self.server_kind == "ollama":
            routes += [web.get("/api/version", self._version), web.post("/api/chat", self._ollama_chat)]
        elif self.server_kind == "lmstudio":
            routes += [
                web.get("/api/v0/models", self._models),
                web.post("/api/v0/chat/completions", self._lmstudio_chat),
            ]
        app.add_routes(routes)
        return app

    # ----------------------------------------------------------------------------- small endpoints

    def _json(
        self, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        all_headers = {**self._extra_headers, **headers} if headers else self._extra_headers
        return web.Response(
            body=json.dumps(payload).encode(),
            status=status,
            content_type="application/json",
            headers=all_headers or None,
        )

    def _error(
        self, status: int, message: str, kind: str | None = None, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        error_type = kind or _ERROR_TYPES.get(status, "server_error")
        return self._json(
            {"error": {"code": status, "message": message, "type": error_type}}, status, headers
        )

    def _authorized(self, request: web.Request) -> bool:
        return self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _health(self, request: web.Request) -> web.Response:
        return self._json({"status": "ok"})

    async def _version(self, request: web.Request) -> web.Response:
        return self._json({"version": self.server_version})

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            self.counts["unauthorized"] += 1
            return self._error(401, "invalid or missing API key")
        entry: dict[str, Any] = {"id": self.model, "object": "model", "created": 0, "owned_by": self.owned_by}
        if self.server_kind == "llama.cpp":
            entry["meta"] = {"n_ctx_train": self.context_length or 4096, "n_params": 1000000, "n_vocab": 256}
        elif self.server_kind == "vllm":
            entry.update(root=self.model, max_model_len=self.context_length or 4096)
        return self._json({"object": "list", "data": [entry]})

    async def _props(self, request: web.Request) -> web.Response:
        n_ctx = self.context_length or 4096
        return self._json(
            {
                "default_generation_settings": {"n_ctx": n_ctx, "params": {"temperature": 0.8, "seed": -1}},
                "total_slots": self.slots or 1,
                "model_path": f"/models/{self.model}.gguf",
                "chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}",
                "modalities": {"vision": False, "audio": False},
                "build_info": self.server_version,
            }
        )

    async def _tokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = str(body.get("content", ""))
        ids = []
        for start in range(0, len(text), 4):  # a token is four characters, like the usage estimate
            piece = text[start : start + 4]
            if piece not in self._vocabulary:
                self._vocabulary[piece] = len(self._pieces_by_id)
                self._pieces_by_id.append(piece)
            ids.append(self._vocabulary[piece])
        return self._json({"tokens": ids})

    async def _detokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        pieces = self._pieces_by_id
        return self._json({"content": "".join(pieces[i] for i in body.get("tokens", []) if i < len(pieces))})

    async def _native_plan(self, body: dict[str, Any], limit: Any) -> tuple[_Plan, Pacing] | web.Response:
        """A native-API reply (not streamed, no faults), after the pacing's whole duration."""
        if body.get("stream", True) is not False:
            return self._error(400, "the scripted native chat answers only stream=false")
        reply = await self._respond(body)
        if not isinstance(reply, Reply):
            return self._error(500, "the scripted native chat cannot inject faults")
        pacing = reply.pacing or self.pacing
        plan = _Plan(reply, limit if isinstance(limit, int) and limit > 0 else None, self._call_ids)
        await asyncio.sleep(pacing.latency + pacing.ttft + pacing.gap * sum(plan.tokens))
        return plan, pacing

    async def _lmstudio_chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        planned = await self._native_plan(body, body.get("max_tokens"))
        if isinstance(planned, web.Response):
            return planned
        plan, pacing = planned
        tokens = sum(plan.tokens)
        return self._json(
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": plan.content},
                        "finish_reason": plan.finish_reason,
                    }
                ],
                "usage": self._usage(body, plan),
                "stats": {
                    "tokens_per_second": 1.0 / pacing.gap if pacing.gap else None,
                    "time_to_first_token": pacing.ttft,
                    "generation_time": pacing.gap * tokens,
                    "stop_reason": "eosFound"
                    if plan.finish_reason == "stop"
                    else "maxPredictedTokensReached",
                },
            }
        )

    async def _ollama_chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        planned = await self._native_plan(body, (body.get("options") or {}).get("num_predict"))
        if isinstance(planned, web.Response):
            return planned
        plan, pacing = planned
        tokens = sum(plan.tokens)
        return self._json(
            {
                "model": self.model,
                "message": {"role": "assistant", "content": plan.content},
                "done": True,
                "done_reason": plan.finish_reason,
                "prompt_eval_count": _prompt_tokens(body),
                "prompt_eval_duration": int(pacing.ttft * 1e9),
                "eval_count": tokens,
                "eval_duration": int(pacing.gap * tokens * 1e9),
            }
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        lines = []
        for name, help_text in (
            ("vllm:prompt_tokens_total", "Prompt tokens processed."),
            ("vllm:generation_tokens_total", "Generation tokens produced."),
            ("vllm:request_success_total", "Requests finished."),
        ):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
            lines.append(f'{name}{{model_name="{self.model}"}} {float(self.metrics[name])}')
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    # ----------------------------------------------------------------------------- chat

    def _pick_fault(self, body: dict[str, Any]) -> Fault | None:
        for entry in self._armed:
            fault, remaining = entry
            if remaining != 0 and fault.matches(body):
                if remaining is not None:
                    entry[1] = remaining - 1
                return fault
        return None

    async def _respond(self, body: dict[str, Any]) -> Reply | Fault:
        responder = self.responder
        if responder is None:
            return _DEFAULT_REPLY
        if isinstance(responder, Reply):
            return responder
        if isinstance(responder, str):
            return Reply(content=responder)
        result = responder(body)
        if inspect.isawaitable(result):
            result = await result
        return Reply(content=result) if isinstance(result, str) else result

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self._error(400, "the request body is not valid JSON")
        if not isinstance(body, dict):
            return self._error(400, "the request body must be a JSON object")
        self.request_count += 1
        if self.record:
            self.requests.append(body)
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
        if not self._authorized(request):
            self.counts["unauthorized"] += 1
            return self._error(401, "invalid or missing API key")
        refused = next((name for name in self.refuse_fields if name in body), None)
        if refused is not None:
            self.counts["refused_field"] += 1
            return self._error(400, f"Unrecognized request argument supplied: {refused}")
        if self.context_length is not None:
            n_prompt = _prompt_tokens(body)
            if n_prompt > self.context_length:
                self.counts["exceed_context"] += 1
                message = (
                    f"the request exceeds the available context size ({n_prompt} tokens > "
                    f"{self.context_length}), try increasing it"
                )
                return self._error(400, message, "exceed_context_size_error")

        fault = self._pick_fault(body) if self._armed else None
        reply = _FILLER
        if fault is None or fault.kind not in ("status", "disconnect"):
            try:
                answer = await self._respond(body)
            except Exception as exc:
                self.errors.append(exc)
                if fault is None:
                    return self._error(500, f"the scripted responder raised {exc!r}")
                answer = _FILLER
            if isinstance(answer, Fault):
                fault = fault or answer  # a scripted fault wins over one the responder returns
            else:
                reply = answer

        if fault is not None:
            self.counts[fault.kind] += 1
            if fault.kind == "status":
                headers = None
                if fault.retry_after is not None:
                    seconds = fault.retry_after
                    headers = {"Retry-After": str(int(seconds)) if seconds == int(seconds) else str(seconds)}
                return self._error(
                    fault.status, fault.message or f"scripted HTTP {fault.status}", None, headers
                )
            if fault.kind == "disconnect":
                if request.transport is not None:
                    request.transport.close()
                return web.Response()

        if self._slots is None:
            return await self._deliver(request, body, reply, fault)
        async with self._slots:
            return await self._deliver(request, body, reply, fault)

    async def _stall(self, request: web.Request, seconds: float) -> bool:
        """Hang; True when the stall ran its course, False when the server is stopping."""
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            return True
        if request.transport is not None:
            request.transport.close()
        return False

    async def _deliver(
        self, request: web.Request, body: dict[str, Any], reply: Reply, fault: Fault | None
    ) -> web.StreamResponse:
        pacing = reply.pacing or self.pacing
        stream = bool(body.get("stream"))
        if (
            fault is not None
            and fault.kind == "stall"
            and (not stream or not fault.after_chunks)
            and not await self._stall(request, fault.seconds)
        ):
            return web.Response()
        if pacing.latency:
            await asyncio.sleep(pacing.latency)
        plan = _Plan(reply, _request_limit(body), self._call_ids)
        rid = f"chatcmpl-{next(self._ids)}"
        self.metrics["vllm:prompt_tokens_total"] += _prompt_tokens(body)
        self.metrics["vllm:generation_tokens_total"] += sum(plan.tokens)
        self.metrics["vllm:request_success_total"] += 1
        if stream:
            return await self._stream(request, body, reply, plan, pacing, fault, rid)

        n_chunks = len(_group(_pieces(plan.reasoning), pacing.tokens_per_chunk)) + len(
            _group(_pieces(plan.content), pacing.tokens_per_chunk)
        )
        wait = (pacing.ttft + pacing.gap * max(0, n_chunks - 1)) if (pacing.ttft or pacing.gap) else 0.0
        if wait:
            await asyncio.sleep(wait)
        message: dict[str, Any] = {"role": "assistant", "content": plan.content}
        if plan.reasoning:
            message[self.reasoning_field] = plan.reasoning
        if plan.tool_calls:
            message["tool_calls"] = plan.tool_calls
            if not plan.content:
                message["content"] = None
        payload: dict[str, Any] = {
            "id": rid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": plan.finish_reason}],
            "usage": reply.usage or self._usage(body, plan),
        }
        if reply.timings is not None:
            payload["timings"] = reply.timings
        if fault is None or fault.kind == "stall":
            return self._json(payload)
        if fault.kind == "stream_error":
            return self._error_in_200(fault)
        data = json.dumps(payload).encode()
        if fault.kind == "malformed":
            return web.Response(body=data[: len(data) // 2], content_type="application/json")
        # cut: promise the whole body, send half of it, hang up
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(data)
        await response.prepare(request)
        await response.write(data[: len(data) // 2])
        if request.transport is not None:
            request.transport.close()
        return response

    def _error_in_200(self, fault: Fault) -> web.Response:
        return self._json({"error": self._error_object(fault)})

    @staticmethod
    def _error_object(fault: Fault) -> dict[str, Any]:
        message = fault.message or "scripted failure after the response had started"
        return {"code": fault.status, "message": message, "type": "server_error"}

    def _usage(self, body: Mapping[str, Any], plan: _Plan) -> dict[str, Any]:
        prompt = _prompt_tokens(body)
        n_reasoning, n_other = plan.tokens
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": n_reasoning + n_other,
            "total_tokens": prompt + n_reasoning + n_other,
        }
        if n_reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": n_reasoning}
        return usage

    def _events(
        self, body: Mapping[str, Any], reply: Reply, plan: _Plan, pacing: Pacing, rid: str
    ) -> list[tuple[float, bytes]]:
        """The SSE events of a stream as ``(delay_before, bytes)``; delays fall on content chunks."""
        head = (
            f'data: {{"id":"{rid}","object":"chat.completion.chunk","created":{int(time.time())},'
            f'"model":{json.dumps(self.model)},"choices":[{{"index":0,"delta":'
        )
        open_tail = ',"finish_reason":null}]}\n\n'
        size = pacing.tokens_per_chunk
        deltas: list[dict[str, Any]] = [
            {self.reasoning_field: p} for p in _group(_pieces(plan.reasoning), size)
        ]
        deltas += [{"content": p} for p in _group(_pieces(plan.content), size)]
        for index, call in enumerate(plan.tool_calls):
            function = call["function"]
            first = {"index": index, "id": call["id"], "type": "function"}
            deltas.append(
                {"tool_calls": [{**first, "function": {"name": function["name"], "arguments": ""}}]}
            )
            for piece in _group(_pieces(function["arguments"]), size):
                deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})

        events: list[tuple[float, bytes]] = []
        if pacing.role_chunk:
            events.append((0.0, (head + '{"role":"assistant","content":""}' + open_tail).encode()))
        elif deltas:
            deltas[0] = {"role": "assistant", **deltas[0]}
        else:
            deltas.append({"role": "assistant", "content": ""})
        for i, delta in enumerate(deltas):
            events.append(
                (pacing.ttft if i == 0 else pacing.gap, (head + json.dumps(delta) + open_tail).encode())
            )

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        final = f'{head}{{}},"finish_reason":{json.dumps(plan.finish_reason)}}}]'
        extras: dict[str, Any] = {}
        if include_usage:
            events.append((0.0, (final + "}\n\n").encode()))
            final = head.split('"choices":')[0] + '"choices":[]'
            extras["usage"] = reply.usage or self._usage(body, plan)
        if reply.timings is not None:
            extras["timings"] = reply.timings
        tail = "".join(f",{json.dumps(k)}:{json.dumps(v)}" for k, v in extras.items())
        events.append((0.0, (final + tail + "}\n\n").encode()))
        events.append((0.0, _DONE))
        return events

    async def _stream(
        self,
        request: web.Request,
        body: Mapping[str, Any],
        reply: Reply,
        plan: _Plan,
        pacing: Pacing,
        fault: Fault | None,
        rid: str,
    ) -> web.StreamResponse:
        events = self._events(body, reply, plan, pacing, rid)
        stall_at = cut_at = None
        if fault is not None:
            if fault.kind == "stall":
                stall_at = fault.after_chunks or None  # 0/None: it already stalled before the headers
            elif fault.kind == "cut":
                cut_at = 2 if fault.after_chunks is None else fault.after_chunks
                events = events[:cut_at]
            else:
                at = 1 if fault.after_chunks is None else fault.after_chunks
                if fault.kind == "malformed":
                    events = [*events[:at], (0.0, b'data: {not json "choices": [\n\n'), (0.0, _DONE)]
                else:
                    error = json.dumps({"error": self._error_object(fault)})
                    events = [*events[:at], (0.0, f"data: {error}\n\n".encode())]

        response = web.StreamResponse(headers={**_SSE_HEADERS, **self._extra_headers})
        await response.prepare(request)
        buffer: list[bytes] = []
        try:
            for index, (delay, data) in enumerate(events):
                if index == stall_at:
                    if buffer:
                        await response.write(b"".join(buffer))
                        buffer.clear()
                    assert fault is not None
                    if not await self._stall(request, fault.seconds):
                        return response
                if delay:
                    if buffer:
                        await response.write(b"".join(buffer))
                        buffer.clear()
                    await asyncio.sleep(delay)
                buffer.append(data)
            if buffer:
                await response.write(b"".join(buffer))
        except ConnectionError:  # the client went away; nothing left to do
            return response
        if cut_at is not None and request.transport is not None:
            request.transport.close()
        return response


def _main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchlab.testing.scripted_server",
        description="Serve a constant scripted reply over the OpenAI chat API (for overhead benchmarks).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--reply", default="The answer is A", help="content of every reply")
    parser.add_argument("--model", default="scripted-model")
    parser.add_argument("--server-kind", default="generic", choices=sorted(_SERVER_KINDS))
    parser.add_argument(
        "--slots", type=int, default=None, help="concurrent requests served (default: unlimited)"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply starts")
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds before the first streamed token")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between streamed chunks")
    parser.add_argument("--tokens-per-chunk", type=int, default=1)
    args = parser.parse_args(argv)
    pacing = Pacing(
        ttft=args.ttft, gap=args.gap, tokens_per_chunk=args.tokens_per_chunk, latency=args.latency
    )
    ScriptedServer(
        Reply.text(args.reply),
        pacing=pacing,
        slots=args.slots,
        model=args.model,
        server_kind=args.server_kind,
        host=args.host,
        port=args.port,
        record=False,
    ).run()


if __name__ == "__main__":
    _main()
