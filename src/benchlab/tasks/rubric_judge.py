"""The judge of rubric items: a fixed prompt, a tolerant verdict parser, and a lazily opened client.

The judge is any OpenAI-compatible endpoint (`--judge-server/--judge-model/--judge-api-key`), or
the model under test when none is given. The prompt template is fixed and its SHA-256 recorded
with the run, so two runs' judgements are comparable only when their hashes agree.

A judge failure is never read as "criterion not met": an unreachable judge is a `infra` failure,
a reply with no readable verdict after one corrective retry is a `parse` failure, and both are
recorded apart by the caller.

Connection lifetime: tasks have no close hook (the engine calls `solve`, `score`, `summarize`),
so the judge's `ChatClient` is opened on the first request and closed when the last sample that
uses it finishes (a use count). Under concurrency the pool is shared; a run never leaves it open.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from benchlab.endpoints.client import ChatClient, RetryPolicy
from benchlab.endpoints.errors import EndpointError
from benchlab.tasks.base import ChatFn
from benchlab.types import Completion, Endpoint, GenerationParams

JUDGE_PROMPT = """You are grading one reply of an assistant against one rubric criterion.

<conversation>
{conversation}
</conversation>

<reply>
{reply}
</reply>

<criterion points="{points}">
{criterion}
</criterion>

Decide whether the reply satisfies the criterion as written. Some criteria describe something a
reply should NOT do (their points are negative); still answer whether the described behaviour is
present in the reply — true means it is present. A criterion with several parts is met only if
every part is. Judge the reply alone, not what the assistant might have meant.

Answer with one JSON object and nothing else:
{{"explanation": "<one or two sentences>", "criteria_met": true or false}}"""

RETRY_NOTE = (
    'Your answer could not be read. Reply with exactly one JSON object of the form {"explanation": '
    '"...", "criteria_met": true} or {"explanation": "...", "criteria_met": false}, and nothing else.'
)

PROMPT_SHA256 = hashlib.sha256((JUDGE_PROMPT + "\n" + RETRY_NOTE).encode()).hexdigest()

_TRUE = {"true", "yes", "met", "1"}
_FALSE = {"false", "no", "not met", "unmet", "0"}
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    met: bool | None  # None when the judge failed
    explanation: str = ""
    failure: str | None = None  # "infra" or "parse"
    error: str | None = None
    judge_model: str | None = None
    attempts: int = 0
    raw: str = ""

    def record(self) -> dict[str, Any]:
        return {
            "met": self.met,
            "explanation": self.explanation,
            "failure": self.failure,
            "error": self.error,
            "judge_model": self.judge_model,
            "attempts": self.attempts,
            "raw": self.raw[:2000],
        }


def render_conversation(conversation: list[dict[str, Any]]) -> str:
    return "\n\n".join(f"[{turn['role']}]\n{turn['content']}" for turn in conversation)


def judge_messages(
    conversation: list[dict[str, Any]], reply: str, criterion: str, points: float
) -> list[dict[str, Any]]:
    shown = int(points) if float(points).is_integer() else points
    prompt = JUDGE_PROMPT.format(
        conversation=render_conversation(conversation), reply=reply, criterion=criterion, points=shown
    )
    return [{"role": "user", "content": prompt}]


def parse_verdict(text: str) -> tuple[bool, str] | None:
    """(criteria_met, explanation) from a judge reply, or None when no verdict can be read.

    Tolerates `<think>` blocks, code fences and prose around the object, and "true"/"false"
    written as strings; the first JSON object carrying `criteria_met` wins.
    """
    cleaned = _THINK.sub("", text)
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", cleaned):
        try:
            value, _ = decoder.raw_decode(cleaned, match.start())
        except json.JSONDecodeError:
            continue
        if not isinstance(value, dict) or "criteria_met" not in value:
            continue
        met = _as_bool(value["criteria_met"])
        if met is None:
            continue
        return met, str(value.get("explanation", ""))
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return None


class Judge:
    """Asks the judge about one rubric item at a time, with a bounded number in flight."""

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

    @property
    def describes(self) -> str:
        """Where the judge lives, for the run's options (never the key)."""
        if self.endpoint is None:
            return "the model under test"
        return f"{self.endpoint.model or '(server default model)'} at {self.endpoint.base_url}"

    async def __aenter__(self) -> Judge:
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

    async def verdict(
        self,
        chat: ChatFn,
        conversation: list[dict[str, Any]],
        reply: str,
        criterion: str,
        points: float,
    ) -> Verdict:
        """The judge's verdict on one item; `chat` is the model under test (used when no judge
        endpoint was given). Never raises for the judge's own failures: they come back recorded."""
        self._gate = self._gate or asyncio.Semaphore(self._concurrency)
        messages = judge_messages(conversation, reply, criterion, points)
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
                    parsed = parse_verdict(raw)
                    if parsed is not None:
                        return Verdict(parsed[0], parsed[1], judge_model=model, attempts=attempt, raw=raw)
                    messages = [
                        *messages,
                        {"role": "assistant", "content": raw},
                        {"role": "user", "content": RETRY_NOTE},
                    ]
            except EndpointError as error:
                return Verdict(
                    None,
                    failure="infra",
                    error=f"judge unreachable or refused: {error}",
                    judge_model=model or self._model,
                    attempts=max(attempts, 1),
                    raw=raw,
                )
        return Verdict(
            None,
            failure="parse",
            error="the judge's reply held no JSON verdict with `criteria_met`, twice",
            judge_model=model,
            attempts=attempts,
            raw=raw,
        )
