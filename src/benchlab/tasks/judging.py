"""Asking a judge model: one client, a tolerant JSON reader and failure classification, shared by the
rubric judge, the `--llm-judge` opinion and the `--visual-judge` of charts.

The judge is any OpenAI-compatible endpoint (`--judge-server/--judge-model/--judge-api-key`), or
the model under test when none is given. Every prompt template is fixed and its SHA-256 recorded,
so two runs' judgements are comparable only when their hashes agree.

A judge's failure is recorded, never read as a verdict: a judge that cannot be reached (after the
transport's retries) is an `infra` failure, one that refuses the request itself (HTTP 400, e.g. an
image sent to a server without vision) is `rejected`, and a reply with no readable verdict after one
corrective retry is a `parse` failure.

Connection lifetime: tasks have no close hook (the engine calls `solve`, `score`, `summarize`), so
the judge's `ChatClient` is opened on the first request and closed when the last sample that uses it
finishes (a use count). Under concurrency the pool is shared; a run never leaves it open.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from benchlab.endpoints.client import ChatClient, RetryPolicy
from benchlab.endpoints.errors import EndpointError, RejectedError
from benchlab.tasks.base import ChatFn
from benchlab.types import Completion, Endpoint, GenerationParams

T = TypeVar("T")

FAILURE_KINDS = ("infra", "rejected", "parse")
RAW_KEPT = 2000  # characters of the judge's reply stored with each verdict

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_TRUE = {"true", "yes", "met", "1"}
_FALSE = {"false", "no", "not met", "unmet", "0"}


def prompt_sha256(*parts: str) -> str:
    """The hash recorded with a run: the template and its retry note, joined by newlines."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def first_json_object(text: str, accept: Callable[[dict[str, Any]], T | None]) -> T | None:
    """The first JSON object in `text` that `accept` turns into a value, else None.

    Tolerates `<think>` blocks, code fences and prose around the object: every `{` is tried as the
    start of an object, and objects `accept` declines (None) are skipped.
    """
    cleaned = _THINK.sub("", text)
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", cleaned):
        try:
            value, _ = decoder.raw_decode(cleaned, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            accepted = accept(value)
            if accepted is not None:
                return accepted
    return None


def as_bool(value: Any) -> bool | None:
    """A verdict flag written as a JSON boolean or as "true"/"yes"/"false"/"no"; else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return None


@dataclass(frozen=True)
class JudgeReply(Generic[T]):
    """What one question to the judge gave: a parsed `value`, or a classified failure."""

    value: T | None
    failure: str | None = None  # one of FAILURE_KINDS when the judge failed
    error: str | None = None
    judge_model: str | None = None
    attempts: int = 0
    raw: str = ""

    def record(self) -> dict[str, Any]:
        return {
            "failure": self.failure,
            "error": self.error,
            "judge_model": self.judge_model,
            "attempts": self.attempts,
            "raw": self.raw[:RAW_KEPT],
        }


class JudgeClient:
    """Asks a judge with a bounded number of requests in flight; see the module docstring."""

    def __init__(
        self,
        endpoint: Endpoint | None,
        *,
        max_tokens: int = 1024,
        concurrency: int = 4,
        timeout: float = 300.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.params = GenerationParams(temperature=0.0, seed=1234, max_tokens=max_tokens)
        self._timeout = timeout
        self._retry = retry or RetryPolicy(attempts=3)
        self._concurrency = concurrency
        self._gate: asyncio.Semaphore | None = None
        self._client: ChatClient | None = None
        self._users = 0
        self._model: str | None = endpoint.model if endpoint else None
        self._resolving: asyncio.Lock | None = None
        self.refused_images: str | None = None  # set once the judge refused an image (visual judge)

    @property
    def describes(self) -> str:
        """Where the judge lives, for the run's options (never the key)."""
        if self.endpoint is None:
            return "the model under test"
        return f"{self.endpoint.model or '(server default model)'} at {self.endpoint.base_url}"

    async def __aenter__(self) -> JudgeClient:
        self._users += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._users -= 1
        if self._users == 0 and self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def _chat(self, chat: ChatFn) -> ChatFn:
        if self.endpoint is None:
            return chat
        if self._client is None:
            self._client = ChatClient(self.endpoint, timeout=self._timeout, retry=self._retry)
        if self._model is None:
            self._resolving = self._resolving or asyncio.Lock()
            async with self._resolving:
                if self._model is None:
                    self._model, _ = await self._client.resolve_model(None)
        if self._client.endpoint.model != self._model:
            self._client.endpoint = self._client.endpoint.model_copy(update={"model": self._model})
        return self._client.chat

    async def ask(
        self,
        chat: ChatFn,
        messages: list[dict[str, Any]],
        parse: Callable[[str], T | None],
        *,
        retry_note: str,
        unreadable: str,
    ) -> JudgeReply[T]:
        """Ask once, and once more with `retry_note` when `parse` cannot read the reply.

        `chat` is the model under test (used when no judge endpoint was given); `unreadable` is the
        error recorded when neither reply could be read. Never raises for the judge's own failures.
        Call inside `async with client:` so the connection is closed after the last user.
        """
        self._gate = self._gate or asyncio.Semaphore(self._concurrency)
        async with self._gate:
            attempts = 0
            raw = ""
            model: str | None = None
            try:
                ask = await self._chat(chat)
                for attempt in (1, 2):
                    attempts = attempt
                    completion: Completion = await ask(messages, self.params)
                    model = completion.model or self._model
                    raw = completion.content
                    parsed = parse(raw)
                    if parsed is not None:
                        return JudgeReply(parsed, judge_model=model, attempts=attempt, raw=raw)
                    messages = [
                        *messages,
                        {"role": "assistant", "content": raw},
                        {"role": "user", "content": retry_note},
                    ]
            except RejectedError as error:
                return JudgeReply(
                    None,
                    failure="rejected",
                    error=f"the judge refused the request: {error}",
                    judge_model=model or self._model,
                    attempts=max(attempts, 1),
                    raw=raw,
                )
            except EndpointError as error:
                return JudgeReply(
                    None,
                    failure="infra",
                    error=f"judge unreachable or refused: {error}",
                    judge_model=model or self._model,
                    attempts=max(attempts, 1),
                    raw=raw,
                )
        return JudgeReply(
            None, failure="parse", error=unreadable, judge_model=model, attempts=attempts, raw=raw
        )
