"""The parts of a run summary that every task kind shares: counts, error rates, timings, tokens.

Every rate is reported with its Wilson interval; infra failures and server rejections are counted
apart from the model's own failures and never enter its accuracy.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from benchlab.analysis.stats import bootstrap_mean, wilson_interval
from benchlab.types import ErrorKind, SampleResult

INVALID_INFRA_RATE = 0.05  # a run with more infra failures than this is marked invalid


def rate(successes: int, n: int) -> dict[str, Any]:
    """A proportion with its Wilson 95% interval, in the shape every surface prints."""
    interval = wilson_interval(successes, n)
    return {
        "k": successes,
        "n": n,
        "rate": None if n == 0 else successes / n,
        "ci_low": interval.low,
        "ci_high": interval.high,
    }


def judged(results: Sequence[SampleResult]) -> list[SampleResult]:
    """The results the model is scored on: answered, or failed by its own fault. Infra failures
    and server rejections say nothing about the model and stay out of every score."""
    return [r for r in results if r.score.error_kind in (ErrorKind.NONE, ErrorKind.MODEL)]


def model_error_rate(scored: Sequence[SampleResult]) -> dict[str, Any]:
    """The share of scored results that are the model's own failures (unparseable, no code, …)."""
    return rate(sum(1 for r in scored if r.score.error_kind is ErrorKind.MODEL), len(scored))


def mean_rate(values: Sequence[float], *, n_resamples: int = 10_000) -> dict[str, Any]:
    """A mean of non-binary scores with its bootstrap 95% interval, in the shape of `rate()`
    (k is the sum of the scores), so that surfaces print it like any other rate."""
    if not values:
        return {"k": 0, "n": 0, "rate": None, "ci_low": 0.0, "ci_high": 1.0, "method": "bootstrap"}
    interval = bootstrap_mean(values, n_resamples=n_resamples)
    return {
        "k": round(sum(values), 3),
        "n": len(values),
        "rate": interval.estimate,
        "ci_low": interval.low,
        "ci_high": interval.high,
        "method": "bootstrap",
    }


def mean_interval(values: Sequence[float]) -> dict[str, Any]:
    """A mean that is not a rate (a rubric mean, a judge's grade) with its bootstrap 95% interval,
    shaped `{mean, ci_low, ci_high, n}` so no surface mistakes it for an accuracy."""
    if not values:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0, "method": "bootstrap"}
    interval = bootstrap_mean(list(values))
    low, high = (None if math.isnan(x) else x for x in (interval.low, interval.high))
    return {
        "mean": interval.estimate,
        "ci_low": low,
        "ci_high": high,
        "n": len(values),
        "method": "bootstrap",
    }


def count_summary(results: Sequence[SampleResult]) -> dict[str, Any]:
    kinds = {kind: 0 for kind in ErrorKind}
    for result in results:
        kinds[result.score.error_kind] += 1
    rejected = sorted({r.score.error or "" for r in results if r.score.error_kind is ErrorKind.REJECTED})
    summary: dict[str, Any] = {
        "recorded": len(results),
        "scored": kinds[ErrorKind.NONE] + kinds[ErrorKind.MODEL],
        "infra_errors": rate(kinds[ErrorKind.INFRA], len(results)),
        "rejected": kinds[ErrorKind.REJECTED],
        "rejected_messages": rejected[:3],
        "retries": sum(max(0, r.attempts - 1) for r in results),
    }
    summary.update(timing_summary(results))
    return summary


def timing_summary(results: Sequence[SampleResult]) -> dict[str, Any]:
    e2e: list[float] = []
    ttft: list[float] = []
    decode: list[float] = []
    prompt_tokens = completion_tokens = 0
    approximate = False
    for result in results:
        if result.transcript is None:
            continue
        for completion in result.transcript.completions:
            timings, usage = completion.timings, completion.usage
            if timings.e2e is not None:
                e2e.append(timings.e2e)
            if timings.ttft is not None:
                ttft.append(timings.ttft)
            if timings.decode_rate is not None:
                decode.append(timings.decode_rate)
            prompt_tokens += usage.prompt_tokens or 0
            completion_tokens += usage.completion_tokens or 0
            approximate = approximate or usage.approximate
    return {
        "latency_s": _quantiles(e2e),
        "ttft_s": _quantiles(ttft),
        "decode_tokens_per_s": _quantiles(decode),
        "tokens": {"prompt": prompt_tokens, "completion": completion_tokens, "approximate": approximate},
    }


def _quantiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return {"p50": ordered[0], "p90": ordered[0], "mean": ordered[0]}
    cuts = statistics.quantiles(ordered, n=10, method="inclusive")
    return {"p50": statistics.median(ordered), "p90": cuts[8], "mean": statistics.fmean(ordered)}
