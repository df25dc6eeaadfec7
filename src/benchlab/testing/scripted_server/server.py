"""The scripted server itself: its routes, fault injection, slots and streaming."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from benchlab.testing.scripted_server.events import DONE, SSE_HEADERS, fault_error, stream_events, usage_of
from benchlab.testing.scripted_server.native import (
    FourCharTokenizer,
    llamacpp_props,
    lmstudio_chat,
    model_entry,
    ollama_chat,
    vllm_metrics,
)
from benchlab.testing.scripted_server.planning import (
    DEFAULT_REPLY,
    FILLER_REPLY,
    ReplyPlan,
    group_pieces,
    prompt_tokens,
    request_limit,
    split_words,
)
from benchlab.testing.scripted_server.script import SERVER_KINDS, Fault, Pacing, Reply, Responder, ServerKind

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


class ScriptedServer:
    """An OpenAI-compatible server that answers from a script; see the package docstring.

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
        if server_kind not in SERVER_KINDS:
            raise ValueError(f"unknown server_kind {server_kind!r}; use one of {sorted(SERVER_KINDS)}")
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
        self._tokenizer = FourCharTokenizer()

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
        entry = model_entry(self.server_kind, self.model, self.owned_by, self.context_length)
        return self._json({"object": "list", "data": [entry]})

    async def _props(self, request: web.Request) -> web.Response:
        return self._json(llamacpp_props(self.model, self.slots, self.context_length, self.server_version))

    async def _tokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        return self._json({"tokens": self._tokenizer.encode(str(body.get("content", "")))})

    async def _detokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        return self._json({"content": self._tokenizer.decode(body.get("tokens", []))})

    async def _native_plan(self, body: dict[str, Any], limit: Any) -> tuple[ReplyPlan, Pacing] | web.Response:
        """A native-API reply (not streamed, no faults), after the pacing's whole duration."""
        if body.get("stream", True) is not False:
            return self._error(400, "the scripted native chat answers only stream=false")
        reply = await self._respond(body)
        if not isinstance(reply, Reply):
            return self._error(500, "the scripted native chat cannot inject faults")
        pacing = reply.pacing or self.pacing
        plan = ReplyPlan(reply, limit if isinstance(limit, int) and limit > 0 else None, self._call_ids)
        await asyncio.sleep(pacing.latency + pacing.ttft + pacing.gap * sum(plan.tokens))
        return plan, pacing

    async def _lmstudio_chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        planned = await self._native_plan(body, body.get("max_tokens"))
        if isinstance(planned, web.Response):
            return planned
        plan, pacing = planned
        rid = f"chatcmpl-{next(self._ids)}"
        return self._json(lmstudio_chat(rid, self.model, plan, pacing, usage_of(body, plan)))

    async def _ollama_chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        planned = await self._native_plan(body, (body.get("options") or {}).get("num_predict"))
        if isinstance(planned, web.Response):
            return planned
        plan, pacing = planned
        return self._json(ollama_chat(self.model, plan, pacing, prompt_tokens(body)))

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=vllm_metrics(self.model, self.metrics), content_type="text/plain")

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
            return DEFAULT_REPLY
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
            n_prompt = prompt_tokens(body)
            if n_prompt > self.context_length:
                self.counts["exceed_context"] += 1
                message = (
                    f"the request exceeds the available context size ({n_prompt} tokens > "
                    f"{self.context_length}), try increasing it"
                )
                return self._error(400, message, "exceed_context_size_error")

        fault = self._pick_fault(body) if self._armed else None
        reply = FILLER_REPLY
        if fault is None or fault.kind not in ("status", "disconnect"):
            try:
                answer = await self._respond(body)
            except Exception as exc:
                self.errors.append(exc)
                if fault is None:
                    return self._error(500, f"the scripted responder raised {exc!r}")
                answer = FILLER_REPLY
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
        plan = ReplyPlan(reply, request_limit(body), self._call_ids)
        rid = f"chatcmpl-{next(self._ids)}"
        self.metrics["vllm:prompt_tokens_total"] += prompt_tokens(body)
        self.metrics["vllm:generation_tokens_total"] += sum(plan.tokens)
        self.metrics["vllm:request_success_total"] += 1
        if stream:
            return await self._stream(request, body, reply, plan, pacing, fault, rid)

        n_chunks = len(group_pieces(split_words(plan.reasoning), pacing.tokens_per_chunk)) + len(
            group_pieces(split_words(plan.content), pacing.tokens_per_chunk)
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
            "usage": reply.usage or usage_of(body, plan),
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
        return self._json({"error": fault_error(fault)})

    async def _stream(
        self,
        request: web.Request,
        body: Mapping[str, Any],
        reply: Reply,
        plan: ReplyPlan,
        pacing: Pacing,
        fault: Fault | None,
        rid: str,
    ) -> web.StreamResponse:
        events = stream_events(
            body, reply, plan, pacing, rid, model=self.model, reasoning_field=self.reasoning_field
        )
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
                    events = [*events[:at], (0.0, b'data: {not json "choices": [\n\n'), (0.0, DONE)]
                else:
                    error = json.dumps({"error": fault_error(fault)})
                    events = [*events[:at], (0.0, f"data: {error}\n\n".encode())]

        response = web.StreamResponse(headers={**SSE_HEADERS, **self._extra_headers})
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
