"""The speed profiles: which requests to send, in what order and at what load, and their summaries.

- quick: short, medium and long prompts one at a time; per size one warm-up then `trials` counted
  requests; medians and percentiles reported.
- context: one request at a time at growing prompt lengths (exact token counts where the server can
  tokenize); TTFT and prefill rate against context, and a prefill rate from the slope of TTFT over
  length, which cancels the fixed per-request overhead.
- concurrency: a sweep of in-flight request counts; aggregate output throughput per level,
  per-request TTFT/decode/E2E percentiles, failures apart, the knee marked, and a stop when median
  latency runs away.
- rate: open-loop Poisson arrivals at set request rates (seeded), the way real traffic arrives.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchlab.endpoints.client import ChatClient
from benchlab.endpoints.errors import AuthError, InfraError, RejectedError
from benchlab.speed import aggregate, server_truth
from benchlab.speed.measure import RequestMeasure, failed, from_completion
from benchlab.speed.server_truth import relative_gap
from benchlab.speed.workload import QUICK_SIZES, Prompt, Tokenizer, make_prompt
from benchlab.types import ErrorKind, GenerationParams

PROFILES = ("quick", "context", "concurrency", "rate")


class SpeedError(RuntimeError):
    """A speed run cannot be done as asked; the message says why and what to change."""


@dataclass(frozen=True)
class SpeedSettings:
    profile: str = "quick"
    output_tokens: int = 128  # asked for with max_tokens (and ignore_eos where the server takes it)
    ignore_eos: bool = True
    trials: int = 3  # counted requests per prompt size / context length (after one warm-up)
    sizes: dict[str, int] = field(default_factory=lambda: dict(QUICK_SIZES))
    lengths: tuple[int, ...] = (256, 1024, 4096)
    levels: tuple[int, ...] = (1, 2, 4, 8, 16)
    requests_per_level: int = 2  # per in-flight request: a level of 8 sends 16
    rates: tuple[float, ...] = (0.5, 1.0, 2.0)
    requests_per_rate: int = 16
    load_prompt_tokens: int = 128  # prompt size of the concurrency and rate profiles
    runaway_factor: float = aggregate.RUNAWAY_FACTOR
    seed: int = 1234

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise SpeedError(f"unknown profile {self.profile!r}; use one of {', '.join(PROFILES)}.")
        if self.output_tokens < 2:
            raise SpeedError("--output-tokens must be at least 2 (a decode rate needs two tokens).")
        if self.trials < 1:
            raise SpeedError("--trials must be at least 1.")
        if not self.levels or min(self.levels) < 1:
            raise SpeedError("--levels takes positive numbers of requests in flight, e.g. 1,2,4,8.")
        if not self.rates or min(self.rates) <= 0:
            raise SpeedError("--rates takes positive request rates per second, e.g. 0.5,1,2.")
        if not self.lengths or min(self.lengths) < 1:
            raise SpeedError("--lengths takes positive prompt lengths in tokens, e.g. 256,1024,4096.")


@dataclass
class SweepOutcome:
    summary: dict[str, Any]
    measures: list[RequestMeasure]


Observer = Callable[[RequestMeasure], None]


class Sweep:
    """Sends the requests of one profile and keeps every measure, in the order they finished."""

    def __init__(
        self,
        client: ChatClient,
        tokenizer: Tokenizer | None,
        settings: SpeedSettings,
        observer: Observer | None = None,
    ) -> None:
        self.client = client
        self.tokenizer = tokenizer
        self.settings = settings
        self.observer = observer
        self.measures: list[RequestMeasure] = []
        self.started = time.perf_counter()
        self._seeds = iter(range(settings.seed * 1000, settings.seed * 1000 + 10**6))
        self.params = self.params_for(settings)

    @staticmethod
    def params_for(settings: SpeedSettings) -> GenerationParams:
        """Greedy, seeded, and a fixed output length: `ignore_eos` keeps the model from stopping early."""
        extra = {"ignore_eos": True} if settings.ignore_eos else {}
        return GenerationParams(
            temperature=0.0, seed=settings.seed, max_tokens=settings.output_tokens, extra_body=extra
        )

    async def prompt(self, tokens: int) -> Prompt:
        return await make_prompt(self.tokenizer, tokens, next(self._seeds))

    async def send(self, prompt: Prompt, group: str, index: int, *, warmup: bool = False) -> RequestMeasure:
        started = time.perf_counter()
        messages = [{"role": "user", "content": prompt.text}]
        try:
            completion = await self.client.chat(messages, self.params)
            measure = from_completion(
                completion, group=group, index=index, started=started - self.started, warmup=warmup
            )
        except AuthError:
            raise
        except (InfraError, RejectedError) as error:
            kind = ErrorKind.REJECTED if isinstance(error, RejectedError) else ErrorKind.INFRA
            measure = failed(
                error,
                kind,
                group=group,
                index=index,
                started=started - self.started,
                elapsed=time.perf_counter() - started,
                warmup=warmup,
            )
        self.measures.append(measure)
        if self.observer is not None:
            self.observer(measure)
        return measure

    def group(self, name: str) -> list[RequestMeasure]:
        return [m for m in self.measures if m.group == name]


async def run_profile(sweep: Sweep) -> SweepOutcome:
    runner = {
        "quick": _quick,
        "context": _context,
        "concurrency": _concurrency,
        "rate": _rate,
    }[sweep.settings.profile]
    summary = await runner(sweep)
    return SweepOutcome(summary=summary, measures=sweep.measures)


async def _quick(sweep: Sweep) -> dict[str, Any]:
    sizes: dict[str, Any] = {}
    for name, tokens in sweep.settings.sizes.items():
        for index in range(sweep.settings.trials + 1):
            await sweep.send(await sweep.prompt(tokens), name, index, warmup=index == 0)
        sizes[name] = {"target_tokens": tokens, **aggregate.group_summary(sweep.group(name))}
        await _server_twin(sweep, sizes[name], tokens)
    reference = sizes.get("medium") or next(iter(sizes.values()))
    headline = {
        "decode_tok_s": _p50(reference["decode_tok_s"]),
        "ttft_s": _p50(reference["ttft_s"]),
        "prefill_tok_s": _prefill_from_groups(sweep, list(sweep.settings.sizes)),
    }
    return {"sizes": sizes, "headline": headline}


async def _context(sweep: Sweep) -> dict[str, Any]:
    await sweep.send(await sweep.prompt(min(sweep.settings.lengths)), "warmup", 0, warmup=True)
    lengths: list[dict[str, Any]] = []
    for tokens in sorted(sweep.settings.lengths):
        name = f"ctx-{tokens}"
        for index in range(sweep.settings.trials):
            await sweep.send(await sweep.prompt(tokens), name, index)
        group = aggregate.group_summary(sweep.group(name))
        client_prefill = None
        ttft, prompt_tokens = _p50(group["ttft_s"]), group["prompt_tokens"]
        if ttft and prompt_tokens:
            client_prefill = prompt_tokens / ttft  # includes the fixed overhead: a lower bound
        lengths.append({"target_tokens": tokens, "naive_client_prefill_tok_s": client_prefill, **group})
        await _server_twin(sweep, lengths[-1], tokens)
        if group["requests"] == 0 and group["failure_kinds"].get("rejected"):
            break  # longer prompts would be refused too (beyond the server's context)
    by_difference = _prefill_from_groups(
        sweep, [f"ctx-{tokens}" for tokens in sorted(sweep.settings.lengths)]
    )
    server_by_difference = _server_prefill_by_difference(sweep.measures) or _twin_prefill(lengths)
    return {
        "lengths": lengths,
        "prefill_by_difference": {
            "client_tok_s": by_difference,
            "server_tok_s": server_by_difference,
            "gap": relative_gap(by_difference, server_by_difference),
        },
        "headline": {
            "prefill_tok_s": by_difference,
            "ttft_s": _p50(lengths[0]["ttft_s"]) if lengths else None,
            "decode_tok_s": _p50(lengths[0]["decode_tok_s"]) if lengths else None,
        },
    }


async def _concurrency(sweep: Sweep) -> dict[str, Any]:
    settings = sweep.settings
    await sweep.send(await sweep.prompt(settings.load_prompt_tokens), "warmup", 0, warmup=True)
    levels: list[dict[str, Any]] = []
    first_latency: float | None = None
    saturated_at: int | None = None
    for level in sorted(settings.levels):
        name = f"c{level}"
        count = level * settings.requests_per_level
        prompts = [await sweep.prompt(settings.load_prompt_tokens) for _ in range(count)]
        queue = list(enumerate(prompts))

        async def worker(queue: list[tuple[int, Prompt]] = queue, name: str = name) -> None:
            while queue:
                index, prompt = queue.pop(0)
                await sweep.send(prompt, name, index)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(level)))
        wall = time.perf_counter() - began
        group = aggregate.group_summary(sweep.group(name))
        levels.append({"level": level, **aggregate.throughput(sweep.group(name), wall), **group})
        latency = _p50(group["e2e_s"])
        first_latency = first_latency if first_latency is not None else latency
        if aggregate.runaway(first_latency, latency, settings.runaway_factor) or _mostly_failed(group):
            saturated_at = level
            break
    knee = aggregate.find_knee(
        [entry["level"] for entry in levels], [entry["output_tok_s"] for entry in levels]
    )
    best = max(levels, key=lambda entry: entry["output_tok_s"] or 0.0)
    return {
        "levels": levels,
        "knee": knee,
        "saturated_at": saturated_at,
        "headline": {
            "output_tok_s": best["output_tok_s"],
            "best_level": best["level"],
            "knee": knee,
            "decode_tok_s": _p50(levels[0]["decode_tok_s"]),
            "ttft_s": _p50(levels[0]["ttft_s"]),
        },
    }


async def _rate(sweep: Sweep) -> dict[str, Any]:
    settings = sweep.settings
    await sweep.send(await sweep.prompt(settings.load_prompt_tokens), "warmup", 0, warmup=True)
    rates: list[dict[str, Any]] = []
    first_latency: float | None = None
    saturated_at: float | None = None
    for rate in sorted(settings.rates):
        name = f"r{rate:g}"
        rng = random.Random(f"{settings.seed}:{rate}")  # seeded: the same arrivals every time
        arrivals, clock = [], 0.0
        for _ in range(settings.requests_per_rate):
            arrivals.append(clock)
            clock += rng.expovariate(rate)
        prompts = [await sweep.prompt(settings.load_prompt_tokens) for _ in arrivals]
        began = time.perf_counter()

        async def arrive(
            index: int, at: float, prompt: Prompt, began: float = began, name: str = name
        ) -> None:
            await asyncio.sleep(max(0.0, began + at - time.perf_counter()))
            await sweep.send(prompt, name, index)

        await asyncio.gather(
            *(arrive(i, at, p) for i, (at, p) in enumerate(zip(arrivals, prompts, strict=True)))
        )
        wall = time.perf_counter() - began
        group = aggregate.group_summary(sweep.group(name))
        rates.append(
            {
                "rate": rate,
                "offered_span_s": arrivals[-1],
                **aggregate.throughput(sweep.group(name), wall),
                **group,
            }
        )
        latency = _p50(group["e2e_s"])
        first_latency = first_latency if first_latency is not None else latency
        if aggregate.runaway(first_latency, latency, settings.runaway_factor) or _mostly_failed(group):
            saturated_at = rate
            break
    best = max(rates, key=lambda entry: entry["output_tok_s"] or 0.0)
    return {
        "rates": rates,
        "saturated_at": saturated_at,
        "headline": {
            "output_tok_s": best["output_tok_s"],
            "ttft_s": _p50(rates[0]["ttft_s"]),
            "decode_tok_s": _p50(rates[0]["decode_tok_s"]),
        },
    }


async def _server_twin(sweep: Sweep, entry: dict[str, Any], tokens: int) -> None:
    """Ollama and LM Studio stream no timings over the OpenAI API: ask a native twin for its figures."""
    endpoint = sweep.client.endpoint
    if entry.get("server") or endpoint.server_kind not in server_truth.TWIN_KINDS or not entry["requests"]:
        return
    prompt = await sweep.prompt(tokens)
    twin = await server_truth.native_twin(
        sweep.client.session,
        endpoint.server_kind,
        endpoint.server_root,
        endpoint.model or "",
        prompt.text,
        max_tokens=sweep.settings.output_tokens,
        seed=sweep.settings.seed,
    )
    if twin is not None:
        entry["server"] = {**twin, "requests": 1}
        entry["decode_gap"] = relative_gap(_p50(entry["decode_tok_s"]), twin.get("decode_rate"))


def _twin_prefill(lengths: Sequence[dict[str, Any]]) -> float | None:
    points = [
        (float(server["prompt_tokens"]), server["prompt_ms"] / 1000.0)
        for entry in lengths
        if (server := entry.get("server"))
        and server.get("prompt_tokens")
        and server.get("prompt_ms") is not None
    ]
    return aggregate.prefill_by_difference(points)


def _p50(entry: dict[str, Any] | None) -> float | None:
    return None if not entry else entry.get("p50")


def _mostly_failed(group: dict[str, Any]) -> bool:
    return group["failures"] > group["requests"]


def _prefill_from_groups(sweep: Sweep, groups: Sequence[str]) -> float | None:
    """Client-side prefill rate: the slope of TTFT against prompt tokens over the given groups."""
    # Tokens served from the prompt cache (a shared template prefix, say) are not prefilled: leave them out.
    points = [
        (float(m.prompt_tokens - (m.cached_tokens or 0)), m.ttft)
        for name in groups
        for m in sweep.group(name)
        if m.counted and m.prompt_tokens and m.ttft is not None
    ]
    return aggregate.prefill_by_difference(points)


def _server_prefill_by_difference(measures: Sequence[RequestMeasure]) -> float | None:
    """The same slope from the server's own prompt timings, for a like-for-like comparison."""
    points = [
        (float(m.server["prompt_tokens"]), m.server["prompt_ms"] / 1000.0)
        for m in measures
        if m.counted and m.server and m.server.get("prompt_tokens") and m.server.get("prompt_ms") is not None
    ]
    return aggregate.prefill_by_difference(points)
