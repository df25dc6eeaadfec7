"""Long context (DESIGN §5 longcontext): find one seeded fact in a haystack of a set token length.

A row names `{id, length, depth, seed}`; the haystack is built at solve time (see
`longcontext_haystack`) to `length` tokens with the needle at `depth` percent. Token counts come
from the server's tokenizer (llama.cpp `POST /tokenize`) when it has one, else from an estimate
that is flagged on the sample and in the summary. Lengths that do not fit the server's context
(llama.cpp `/props` `n_ctx`, or `--option context=N`) are skipped without a request and reported
as rejected, never scored as the model's failure.

Scoring: the needle's number must appear in the reply as a whole number (digits not part of a
longer number; thousands commas between digits are ignored), so "4821" never matches "48217".
The summary is accuracy by length × depth with Wilson intervals.

The transcript keeps the prompt with the haystack replaced by a marker (its SHA-256, token count
and filler length): the text is rebuilt exactly by `longcontext_haystack.compose`, so a 32k-token
document is not stored once per sample.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchlab.analysis.summary import count_summary, judged, model_error_rate, rate
from benchlab.endpoints.client import ChatClient
from benchlab.endpoints.errors import InfraError
from benchlab.tasks import longcontext_haystack as haystacks
from benchlab.tasks.base import ChatFn
from benchlab.types import ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript

PROMPT = """Below is a long document. Somewhere in it is one sentence that gives a secret number.

<document>
{document}
</document>

{question} Reply with the number only."""

DEFAULT_ANSWER_TOKENS = {False: 64, None: 512, True: 8192}
TEMPLATE_MARGIN = 32  # chat-template tokens around the prompt, beyond what /tokenize counts
_SEPARATED_DIGITS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER = re.compile(r"(?<!\d)\d+(?!\d)")


class LongContextRowError(ValueError):
    """A longcontext row that cannot be built; the message names the field and the fix."""


class ServerTokenCounter:
    """Counts tokens with the server's own tokenizer (llama.cpp `POST /tokenize`)."""

    method = "tokenizer"

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.url = client.endpoint.server_root + "/tokenize"

    async def count(self, text: str) -> int:
        payload = {"content": text, "add_special": False}
        for attempt in range(1, 4):
            try:
                async with self.client.session.post(self.url, json=payload) as response:
                    body = await response.json(content_type=None)
                    status = response.status
                break
            except aiohttp.ClientOSError as error:
                # llama.cpp closes a connection after a streamed reply; a pooled socket it closed
                # fails while the body is written, before the server saw anything: send again.
                if "write request body" in str(error) and attempt < 3:
                    continue
                raise InfraError(f"could not count tokens at {self.url}: {error}") from error
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                raise InfraError(f"could not count tokens at {self.url}: {error}") from error
        tokens = body.get("tokens") if isinstance(body, dict) else None
        if status != 200 or not isinstance(tokens, list):
            raise InfraError(f"{self.url} answered HTTP {status} without a token list")
        return len(tokens)


@dataclass(frozen=True)
class ServerFacts:
    counter: haystacks.TokenCounter
    context: int | None  # tokens per request slot; None when unknown


@dataclass
class LongContextTask:
    context_limit: int | None = None  # overrides what the server says (--option context=N)
    answer_tokens: int | None = None  # the reply's token budget (default by think mode)
    kind: str = "longcontext"
    _facts: ServerFacts | None = field(default=None, init=False, repr=False)
    _probing: asyncio.Lock | None = field(default=None, init=False, repr=False)

    def options(self) -> dict[str, Any]:
        return {"context_limit": self.context_limit, "answer_tokens": self.answer_tokens}

    async def server_facts(self, chat: ChatFn) -> ServerFacts:
        """Probe once per run: does the server tokenize, and how long is its context?"""
        self._probing = self._probing or asyncio.Lock()
        async with self._probing:
            if self._facts is None:
                self._facts = await _probe(chat, self.context_limit)
        return self._facts

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        length, depth, seed = _row(sample)
        answer_tokens = self.answer_tokens or DEFAULT_ANSWER_TOKENS[params.think]
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": answer_tokens})
        facts = await self.server_facts(chat)
        needle = haystacks.needle_for(seed)
        wrapper = PROMPT.format(document="", question=needle.question)
        wrapper_tokens = await facts.counter.count(wrapper)
        state: dict[str, Any] = {
            "length": length,
            "depth": depth,
            "seed": seed,
            "needle": needle.value,
            "label": needle.label,
            "token_count": facts.counter.method,
            "server_context": facts.context,
        }
        needed = length + wrapper_tokens + TEMPLATE_MARGIN + int(params.max_tokens or 0)
        if facts.context is not None and needed > facts.context:
            state["needed_context"] = needed
            state["skipped"] = (
                f"a {length}-token document does not fit the server's {facts.context}-token context with "
                "the prompt and reply; serve with a larger context (llama.cpp --ctx-size) to include it"
            )
            return Transcript(messages=[], completions=[], state=state)
        haystack = await haystacks.build(seed, depth, length, facts.counter)
        state.update(
            haystack_tokens=haystack.tokens,
            haystack_sha256=haystack.sha256,
            filler_chars=haystack.filler_chars,
            exact_length=haystack.exact,
        )
        prompt = PROMPT.format(document=haystack.text, question=needle.question)
        completion = await chat([{"role": "user", "content": prompt}], params)
        marker = (
            f"[haystack: {haystack.tokens} tokens, sha256 {haystack.sha256}, "
            f"filler {haystack.filler_chars} chars]"
        )
        shown = PROMPT.format(document=marker, question=needle.question)
        return Transcript(
            messages=[{"role": "user", "content": shown}], completions=[completion], state=state
        )

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        state = transcript.state
        details = {
            name: state.get(name)
            for name in (
                "length",
                "seed",
                "depth",
                "token_count",
                "haystack_tokens",
                "haystack_sha256",
                "exact_length",
            )
        }
        if state.get("skipped"):
            return Score(error_kind=ErrorKind.REJECTED, error=f"skipped: {state['skipped']}", details=details)
        completion = transcript.completions[-1]
        details["finish_reason"] = completion.finish_reason
        gold = str(state["needle"])
        numbers = reply_numbers(completion.content)
        details["numbers"] = numbers[:10]
        if not numbers:
            why = (
                "cut at the token limit" if completion.finish_reason == "length" else "no number in the reply"
            )
            return Score(
                value=0.0, correct=False, gold=gold, error_kind=ErrorKind.MODEL, error=why, details=details
            )
        correct = gold in numbers
        return Score(
            value=1.0 if correct else 0.0,
            correct=correct,
            extracted=gold if correct else numbers[0],
            gold=gold,
            details=details,
        )

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]:
        summary = count_summary(results)
        scored = judged(results)
        correct = sum(1 for r in scored if r.score.correct)
        summary["accuracy"] = rate(correct, len(scored))
        summary["correct"] = correct
        summary["unparseable"] = model_error_rate(scored)
        summary["truncated"] = sum(1 for r in scored if r.score.details.get("finish_reason") == "length")
        cells: dict[tuple[int, int], list[bool]] = {}
        for r in scored:
            key = (int(r.score.details["length"]), int(r.score.details["depth"]))
            cells.setdefault(key, []).append(bool(r.score.correct))
        lengths = sorted({length for length, _ in cells})
        depths = sorted({depth for _, depth in cells})
        summary["grid"] = {
            str(length): {
                str(depth): rate(sum(cells[(length, depth)]), len(cells[(length, depth)]))
                for depth in depths
                if (length, depth) in cells
            }
            for length in lengths
        }
        summary["by_length"] = {
            str(length): _pooled([flags for (ln, _), flags in cells.items() if ln == length])
            for length in lengths
        }
        summary["by_depth"] = {
            str(depth): _pooled([flags for (_, dp), flags in cells.items() if dp == depth])
            for depth in depths
        }
        methods = [r.score.details.get("token_count") for r in scored]
        summary["token_counts"] = {
            "tokenizer": methods.count("tokenizer"),
            "estimate": methods.count("estimate"),
            "exact_length": sum(1 for r in scored if r.score.details.get("exact_length")),
        }
        if summary["token_counts"]["estimate"]:
            summary["token_count_note"] = (
                "the server has no tokenizer endpoint: lengths are estimates at 4 characters per token"
            )
        skipped: dict[str, int] = {}
        for r in results:
            if r.score.error_kind is ErrorKind.REJECTED and r.score.details.get("length") is not None:
                skipped[str(r.score.details["length"])] = skipped.get(str(r.score.details["length"]), 0) + 1
        summary["skipped_lengths"] = skipped
        return summary


def reply_numbers(text: str) -> list[str]:
    """Whole numbers in a reply, in order; "4,821" reads as 4821, "48217" never as 4821."""
    return _NUMBER.findall(_SEPARATED_DIGITS.sub("", text))


def _pooled(groups: list[list[bool]]) -> dict[str, Any]:
    flags = [flag for group in groups for flag in group]
    return rate(sum(flags), len(flags))


def _row(sample: Sample) -> tuple[int, int, int]:
    values = []
    for name in ("length", "depth", "seed"):
        value = sample.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise LongContextRowError(
                f"longcontext row {sample.id!r}: `{name}` must be a whole number, got {value!r}. "
                "Rows are {id, length (tokens), depth (0-100), seed}."
            )
        values.append(value)
    length, depth, seed = values
    if length < 16 or not 0 <= depth <= 100:
        raise LongContextRowError(
            f"longcontext row {sample.id!r}: length must be at least 16 tokens and depth 0-100 (got "
            f"{length}, {depth})."
        )
    return length, depth, seed


async def _probe(chat: ChatFn, context_limit: int | None) -> ServerFacts:
    # The engine hands tasks a ChatClient's bound `chat`; its endpoint says where the server lives.
    client = getattr(chat, "__self__", None)
    if not isinstance(client, ChatClient):
        return ServerFacts(haystacks.EstimatedCounter(), context_limit)
    context = context_limit
    if context is None:
        props = await client.get_json(client.endpoint.server_root + "/props")
        if isinstance(props, dict):
            settings = props.get("default_generation_settings") or {}
            raw = settings.get("n_ctx") or props.get("n_ctx")
            context = int(raw) if isinstance(raw, int) and raw > 0 else None
    counter: haystacks.TokenCounter = ServerTokenCounter(client)
    try:
        if await counter.count("probe") < 1:
            raise RuntimeError("no tokens")
    except (InfraError, RuntimeError):  # no usable tokenizer here: estimate, and flag it
        counter = haystacks.EstimatedCounter()
    return ServerFacts(counter, context)
