"""The async OpenAI-compatible client: models, streamed chat completions, timings, retries.

One `ChatClient` holds one connection pool for a run. `chat()` streams by default so that time to
first token is measured on the wire; it asks for `usage` in the stream so token counts come from the
server, and keeps the server's own figures when it sends them (llama.cpp `timings`, LM Studio
`stats`, Ollama's `eval_*` counters). Transport failures are retried with exponential backoff and
jitter (honouring `Retry-After`); what is left after the last attempt is raised as an `InfraError`,
never silently turned into an empty answer.

Optional request fields that some servers refuse (`stream_options`, `max_completion_tokens`,
`ignore_eos`) are dropped when the server answers HTTP 400 naming one of them, or up front for a
server kind known to refuse it; each drop is kept in `ChatClient.notes` so reports can say so.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import statistics
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from benchlab.endpoints.errors import (
    AuthError,
    EndpointError,
    InfraError,
    ModelNotFound,
    RejectedError,
    ServerUnreachable,
)
from benchlab.endpoints.reasoning import split_reasoning
from benchlab.types import Completion, Endpoint, GenerationParams, ServerKind, Timings, Usage

REJECTING_STATUSES = frozenset({400, 404, 413, 422})
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# Fields benchlab can do without: a server that refuses one gets the request again without it.
DROPPABLE_FIELDS = ("stream_options", "max_completion_tokens", "ignore_eos")
# Server kinds known to refuse a field outright (OpenAI-style clouds reject unknown arguments).
KNOWN_REFUSALS: dict[ServerKind, frozenset[str]] = {ServerKind.CLOUD: frozenset({"ignore_eos"})}
# The server's own figures, by the key each server kind puts them under.
SERVER_FIGURE_KEYS = ("timings", "stats")
OLLAMA_FIGURE_KEYS = ("eval_count", "eval_duration", "prompt_eval_count", "prompt_eval_duration")
_OLLAMA_FIGURES = frozenset(OLLAMA_FIGURE_KEYS)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 10.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)  # jitter: retries from many workers spread out


class ChatClient:
    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 64,
        stream: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.retry = retry or RetryPolicy()
        self.stream = stream
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self.dropped: dict[str, str] = {}  # request field -> why it is no longer sent
        self.notes: list[str] = []  # what the client changed about its requests, for reports

    def drop_field(self, name: str, reason: str) -> None:
        if name not in self.dropped:
            self.dropped[name] = reason
            self.notes.append(f"`{name}` is no longer sent: {reason}")

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            headers = {"Content-Type": "application/json"}
            if self.endpoint.api_key is not None:
                headers["Authorization"] = f"Bearer {self.endpoint.api_key.get_secret_value()}"
            self._session = aiohttp.ClientSession(
                headers=headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300),
            )
        return self._session

    # ---- discovery -------------------------------------------------------------------------

    async def models(self) -> list[dict[str, Any]]:
        """The `/v1/models` listing; raises `ServerUnreachable` with a pointer to `doctor`."""
        url = self.endpoint.api_root + "/models"
        try:
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=15)) as response:
                if response.status in (401, 403):
                    raise AuthError(_auth_message(url, response.status))
                if response.status != 200:
                    raise ServerUnreachable(
                        f"{url} answered HTTP {response.status}; is this an OpenAI-compatible server? "
                        "Check the URL (it usually ends in :PORT or :PORT/v1) or run `benchlab doctor`."
                    )
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as error:
            raise ServerUnreachable(
                f"no OpenAI-compatible server answers at {self.endpoint.api_root} ({_describe(error)}). "
                "Start one (e.g. `benchlab serve --smoke`), check --server / BENCHLAB_SERVER, "
                "or run `benchlab doctor` to find servers on the usual ports."
            ) from error
        data = body.get("data") if isinstance(body, dict) else None
        return [entry for entry in data or [] if isinstance(entry, dict) and "id" in entry]

    async def resolve_model(self, requested: str | None) -> tuple[str, list[dict[str, Any]]]:
        """The model id to use: the requested one if the server has it, else the first listed."""
        listing = await self.models()
        ids = [str(entry["id"]) for entry in listing]
        if requested:
            if requested in ids:
                return requested, listing
            raise ModelNotFound(requested, ids)
        if not ids:
            raise ModelNotFound("(any)", ids)
        return ids[0], listing

    async def get_json(self, url: str, *, timeout: float = 5.0) -> Any | None:
        """GET a JSON document for probing; None when it is not there."""
        try:
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                if response.status != 200:
                    return None
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    # ---- chat ----------------------------------------------------------------------------------

    def build_body(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.endpoint.model, "messages": messages, "stream": self.stream}
        if self.stream:
            body["stream_options"] = {"include_usage": True}
        body["temperature"] = params.temperature
        if params.top_p is not None:
            body["top_p"] = params.top_p
        if params.seed is not None:
            body["seed"] = params.seed
        if params.max_tokens is not None:
            body["max_tokens"] = params.max_tokens
        if params.stop:
            body["stop"] = params.stop
        if params.think is not None:
            # Ollama reads `think`; llama.cpp, vLLM and SGLang pass template switches through.
            body["think"] = params.think
            body["chat_template_kwargs"] = {"enable_thinking": params.think}
        if tools:
            body["tools"] = tools
        if response_format is not None:
            body["response_format"] = response_format
        body.update(params.extra_body)
        refused = KNOWN_REFUSALS.get(self.endpoint.server_kind, frozenset())
        for name in DROPPABLE_FIELDS:
            if name in refused and name in body:
                self.drop_field(name, f"{self.endpoint.server_kind.value} servers refuse it")
            if name in self.dropped:
                body.pop(name, None)
        return body

    async def chat(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Completion:
        body = self.build_body(messages, params, tools=tools, response_format=response_format)
        payload = json.dumps(body).encode()
        attempt = 1
        reasons: list[str] = []
        while True:
            try:
                completion = await self._chat_once(payload)
            except RejectedError as error:
                refused = _refused_field(error, body)
                if refused is None:
                    raise
                # Not a retry: the request never ran. Later requests leave the field out from the start.
                self.drop_field(refused, f"the server refused it (HTTP {error.status}: {error})")
                body.pop(refused)
                payload = json.dumps(body).encode()
                continue
            except InfraError as error:
                if attempt >= self.retry.attempts:
                    error.attempts = attempt
                    raise
                reasons.append(str(error))
                await asyncio.sleep(self.retry.delay(attempt, error.retry_after))
                attempt += 1
                continue
            if attempt == 1:
                return completion
            return completion.model_copy(update={"attempts": attempt, "retry_reasons": reasons})

    async def _send(self, url: str, payload: bytes) -> tuple[aiohttp.ClientResponse, float]:
        """POST, reconnecting when a pooled connection turns out to be closed.

        Some servers close the connection after a streamed reply while advertising keep-alive; the
        next request on that socket fails while its body is written, so it never reached the
        server. That is reconnected at once and not counted as a retry. llama.cpp is known to do
        this, so its streamed requests ask for `Connection: close` and never race the close.
        """
        closes_after_stream = self.stream and self.endpoint.server_kind == ServerKind.LLAMACPP
        headers = {"Connection": "close"} if closes_after_stream else None
        for _ in range(self._max_connections + 1):
            sent = time.perf_counter()
            try:
                return await self.session.post(url, data=payload, headers=headers), sent
            except aiohttp.ClientConnectorError:
                raise
            except aiohttp.ClientOSError as error:
                if "write request body" not in str(error):
                    raise
        raise InfraError(f"could not send the request to {url}: every pooled connection was closed")

    async def _chat_once(self, payload: bytes) -> Completion:
        url = self.endpoint.api_root + "/chat/completions"
        try:
            response, sent = await self._send(url, payload)
            async with response:
                if response.status != 200:
                    await _raise_for_status(response, url)
                if self.stream and response.content_type == "text/event-stream":
                    return await _read_stream(response, sent)
                return _parse_body(await response.read(), sent)
        except EndpointError:
            raise
        except TimeoutError as error:
            raise InfraError(f"no data from {url} within the read timeout (the server stalled)") from error
        except (aiohttp.ClientError, OSError) as error:
            raise InfraError(f"request to {url} failed: {_describe(error)}") from error


# ---- response parsing ------------------------------------------------------------------------


class _StreamState:
    __slots__ = (
        "arrivals",
        "content",
        "content_length",
        "finish",
        "first",
        "last",
        "marks",
        "model",
        "reasoning",
        "reasoning_chunks",
        "server",
        "tokens",
        "tool_calls",
        "usage",
    )

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.marks: list[tuple[float, int]] = []  # (arrival, content length so far)
        self.tokens = 0  # chunks that carried something: the fallback token count
        self.reasoning_chunks = 0
        self.arrivals: list[float] = []  # arrival of every chunk that carried something
        self.first: float | None = None
        self.last: float | None = None
        self.finish: str | None = None
        self.model: str | None = None
        self.server: dict[str, Any] | None = None
        self.usage: dict[str, Any] | None = None
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.content_length = 0


async def _read_stream(response: aiohttp.ClientResponse, sent: float) -> Completion:
    """Read an SSE stream as it arrives: one clock reading per network read, not per line.

    Events that arrive in the same read arrived at the same moment, so they share a timestamp;
    reading whatever is buffered at once (instead of line by line) is most of the client's cost
    per request saved.
    """
    state = _StreamState()
    pending = b""  # a line split across two reads
    try:
        async for block in response.content.iter_any():
            now = time.perf_counter()
            lines = (pending + block).split(b"\n") if pending else block.split(b"\n")
            pending = lines.pop()
            for line in lines:
                if _feed_line(state, line, now):
                    return _assemble(state, sent, time.perf_counter())
        if pending and _feed_line(state, pending, time.perf_counter()):
            return _assemble(state, sent, time.perf_counter())
    except aiohttp.ClientPayloadError as error:
        raise InfraError(f"the stream broke mid-answer ({_describe(error)})") from error
    if state.finish is None:
        raise InfraError("the stream ended before the answer was complete (no finish_reason, no [DONE])")
    return _assemble(state, sent, time.perf_counter())


def _feed_line(state: _StreamState, raw: bytes, now: float) -> bool:
    """Take one SSE line into the state; True when it is the closing `[DONE]`."""
    line = raw.strip()
    if not line.startswith(b"data:"):
        return False  # blank keep-alives, comments and `event:` lines
    data = line[5:].strip()
    if data == b"[DONE]":
        return True
    try:
        chunk = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InfraError(f"the server sent a malformed stream chunk: {data[:80]!r}") from error
    if not isinstance(chunk, dict):
        raise InfraError(f"the server sent a stream chunk that is not an object: {data[:80]!r}")
    if "error" in chunk:
        _raise_stream_error(chunk["error"])
    model = chunk.get("model")
    if model:
        state.model = model
    if chunk.get("usage"):
        state.usage = chunk["usage"]
    figures = _server_figures(chunk)
    if figures:
        state.server = figures
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        text = delta.get("content")
        thought = delta.get("reasoning_content") or delta.get("reasoning")
        calls = delta.get("tool_calls")
        if text or thought or calls:
            state.tokens += 1
            if state.first is None:
                state.first = now
            state.last = now
            state.arrivals.append(now)
        if text:
            state.content.append(text)
            state.content_length += len(text)
            state.marks.append((now, state.content_length))
        if thought:
            state.reasoning.append(thought)
            state.reasoning_chunks += 1
        if calls:
            _merge_tool_calls(state.tool_calls, calls)
        if choice.get("finish_reason"):
            state.finish = choice["finish_reason"]
    return False


def _assemble(state: _StreamState, sent: float, end: float) -> Completion:
    raw_content = "".join(state.content)
    split = split_reasoning(raw_content)
    reasoning = "\n".join(part for part in ("".join(state.reasoning).strip(), split.reasoning) if part)
    first_answer: float | None = None
    if split.answer_start is not None:
        first_answer = next(t for t, length in state.marks if length > split.answer_start)
    parsed_usage = _usage(
        state.usage, fallback_tokens=state.tokens, fallback_reasoning=state.reasoning_chunks
    )
    output_tokens = parsed_usage.completion_tokens
    decode_rate = span = None
    if state.first is not None and state.last is not None:
        span = state.last - state.first
        if output_tokens and output_tokens > 1 and span > 0:
            decode_rate = (output_tokens - 1) / span
    # Plain constructors on purpose: pydantic's validation runs in compiled code and measures faster
    # here than `model_construct`, which is Python and inspects default factories on every call.
    timings = Timings(
        ttft=None if state.first is None else state.first - sent,
        ttfot=None if first_answer is None else first_answer - sent,
        e2e=end - sent,
        decode_rate=decode_rate,
        chunks=state.tokens,
        decode_span=span,
        reasoning_chunks=state.reasoning_chunks,
        inter_chunk=_gap_percentiles(state.arrivals),
    )
    return Completion(
        content=split.answer,
        reasoning=reasoning,
        tool_calls=list(state.tool_calls.values()),
        finish_reason=_text_or_none(state.finish),
        usage=parsed_usage,
        timings=timings,
        server_timings=state.server,
        model=_text_or_none(state.model),
    )


def _text_or_none(value: Any) -> str | None:
    # A server that sends a number or an object where a string belongs: keep its text, not a crash.
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _parse_body(raw: bytes, sent: float) -> Completion:
    end = time.perf_counter()
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InfraError(f"the server sent a malformed response body: {raw[:80]!r}") from error
    if not isinstance(body, dict):
        raise InfraError(f"the server sent a response that is not an object: {raw[:80]!r}")
    if "error" in body:
        _raise_stream_error(body["error"])
    choices = body.get("choices") or []
    if not choices:
        raise InfraError("the server sent a response with no choices")
    message = choices[0].get("message") or {}
    state = _StreamState()
    content = message.get("content") or ""
    state.content.append(content)
    state.marks.append((end, len(content)))
    state.reasoning.append(message.get("reasoning_content") or message.get("reasoning") or "")
    state.finish = choices[0].get("finish_reason")
    state.server = _server_figures(body)
    state.model = body.get("model")
    state.usage = body.get("usage")
    state.tool_calls = dict(enumerate(message.get("tool_calls") or []))
    completion = _assemble(state, sent, end)
    # Without a stream there is no first-token time: report only what was measured.
    return completion.model_copy(update={"timings": Timings(e2e=end - sent)})


def _server_figures(message: dict[str, Any]) -> dict[str, Any] | None:
    """The server's own timing figures in a chunk or body, as it sent them (shapes vary by server)."""
    for key in SERVER_FIGURE_KEYS:
        figures = message.get(key)
        if isinstance(figures, dict) and figures:
            return figures
    if _OLLAMA_FIGURES.isdisjoint(message):
        return None  # the common case, answered without building a dict
    ollama = {key: message[key] for key in OLLAMA_FIGURE_KEYS if key in message}
    return ollama or None


def _gap_percentiles(arrivals: list[float]) -> dict[str, float] | None:
    """p50/p90/p99/max of the gaps between consecutive chunks: compact however long the answer."""
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    if not gaps:
        return None
    if len(gaps) == 1:
        return {"p50": gaps[0], "p90": gaps[0], "p99": gaps[0], "max": gaps[0]}
    cuts = statistics.quantiles(gaps, n=100, method="inclusive")
    return {"p50": statistics.median(gaps), "p90": cuts[89], "p99": cuts[98], "max": max(gaps)}


def _refused_field(error: RejectedError, body: dict[str, Any]) -> str | None:
    """The droppable field a 400 names, when the request carries it; else None (a real rejection)."""
    if error.status != 400:
        return None
    message = str(error)
    for name in DROPPABLE_FIELDS:
        if name in body and re.search(rf"\b{name}\b", message):
            return name
    return None


def _usage(raw: dict[str, Any] | None, *, fallback_tokens: int, fallback_reasoning: int = 0) -> Usage:
    if not raw:
        # Chunk counts: a chunk may carry several tokens, so these are lower bounds, flagged as such.
        return Usage(
            completion_tokens=fallback_tokens,
            reasoning_tokens=fallback_reasoning or None,
            approximate=True,
        )
    completion_details = raw.get("completion_tokens_details") or {}
    prompt_details = raw.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=raw.get("prompt_tokens"),
        completion_tokens=raw.get("completion_tokens"),
        reasoning_tokens=completion_details.get("reasoning_tokens"),
        cached_tokens=prompt_details.get("cached_tokens"),
    )


def _merge_tool_calls(calls: dict[int, dict[str, Any]], deltas: list[dict[str, Any]]) -> None:
    """Stitch OpenAI tool-call deltas (name first, arguments in pieces) into whole calls."""
    for position, delta in enumerate(deltas):
        index = delta.get("index", position)
        call = calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if delta.get("id"):
            call["id"] = delta["id"]
        function = delta.get("function") or {}
        if function.get("name"):
            call["function"]["name"] += function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # some servers send whole objects
            call["function"]["arguments"] = json.dumps(arguments)
        elif arguments:
            call["function"]["arguments"] += arguments


# ---- errors ------------------------------------------------------------------------------------


async def _raise_for_status(response: aiohttp.ClientResponse, url: str) -> None:
    status = response.status
    detail = _server_message(await response.read())
    if status in (401, 403):
        raise AuthError(_auth_message(url, status))
    if status in RETRYABLE_STATUSES:
        raise InfraError(
            f"HTTP {status} from {url}: {detail}",
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    if status in REJECTING_STATUSES:
        raise RejectedError(f"the server refused the request (HTTP {status}): {detail}", status=status)
    raise InfraError(f"HTTP {status} from {url}: {detail}")


def _raise_stream_error(error: Any) -> None:
    message = error.get("message") if isinstance(error, dict) else str(error)
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int) and code in REJECTING_STATUSES:
        raise RejectedError(f"the server refused the request: {message}", status=code)
    raise InfraError(f"the server reported an error: {message}")


def _server_message(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw[:300].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:300]
        return str(error)[:300]
    return str(body)[:300]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _auth_message(url: str, status: int) -> str:
    return (
        f"{url} refused the credentials (HTTP {status}). Set the key with --api-key, "
        "BENCHLAB_API_KEY or OPENAI_API_KEY."
    )


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) < 200 else text[:200] + "…"
