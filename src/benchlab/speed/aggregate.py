"""Many requests into a few trustworthy figures: percentiles, throughput, the gap to the server's
own figures, the knee of a concurrency sweep and when latency runs away.

Warm-up requests and failures never enter a latency or rate figure; failures are counted apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from scipy.stats import theilslopes

from benchlab.speed.measure import RequestMeasure
from benchlab.speed.server_truth import relative_gap

KNEE_SHARE = 0.9  # the knee: the lowest level that reaches this share of the best throughput
RUNAWAY_FACTOR = 8.0  # a sweep stops once median latency exceeds this multiple of its first level's
MIN_PREFILL_RISE = 0.005  # seconds of TTFT growth over the measured lengths needed to infer prefill


def percentiles(values: Sequence[float]) -> dict[str, float] | None:
    """p50/p90/p99, mean, min and max (inclusive method: exact at small n, no extrapolation)."""
    data = sorted(value for value in values if value is not None)
    if not data:
        return None
    if len(data) == 1:
        only = data[0]
        return {"p50": only, "p90": only, "p99": only, "mean": only, "min": only, "max": only, "n": 1}
    cuts = statistics.quantiles(data, n=100, method="inclusive")
    return {
        "p50": statistics.median(data),
        "p90": cuts[89],
        "p99": cuts[98],
        "mean": statistics.fmean(data),
        "min": data[0],
        "max": data[-1],
        "n": len(data),
    }


def _median(values: Sequence[float | None]) -> float | None:
    data = [value for value in values if value is not None]
    return statistics.median(data) if data else None


def group_summary(measures: Sequence[RequestMeasure]) -> dict[str, Any]:
    """The client's figures for one group of requests, with the server's beside them."""
    counted = [m for m in measures if m.counted]
    failures = [m for m in measures if not m.ok and not m.warmup]
    summary: dict[str, Any] = {
        "requests": len(counted),
        "failures": len(failures),
        "failure_kinds": _kinds(failures),
        "warmup": sum(m.warmup for m in measures),
        "ttft_s": percentiles([m.ttft for m in counted if m.ttft is not None]),
        "ttfot_s": percentiles([m.ttfot for m in counted if m.ttfot is not None]),
        "e2e_s": percentiles([m.e2e for m in counted if m.e2e is not None]),
        "decode_tok_s": percentiles([m.decode_rate for m in counted if m.decode_rate is not None]),
        "inter_chunk_p50_s": _median([(m.inter_chunk or {}).get("p50") for m in counted]),
        "inter_chunk_p99_s": _median([(m.inter_chunk or {}).get("p99") for m in counted]),
        "prompt_tokens": _median([m.prompt_tokens for m in counted]),
        "output_tokens": _median([m.output_tokens for m in counted]),
        "reasoning_tokens": _median([m.reasoning_tokens for m in counted]),
        "cached_tokens": _median([m.cached_tokens for m in counted]),
        "approximate_tokens": any(m.approximate for m in counted),
    }
    summary["server"] = server_summary(counted)
    client_decode = (summary["decode_tok_s"] or {}).get("p50")
    server_decode = (summary["server"] or {}).get("decode_rate")
    summary["decode_gap"] = relative_gap(client_decode, server_decode)
    return summary


def server_summary(measures: Sequence[RequestMeasure]) -> dict[str, Any] | None:
    """Medians of the server's own per-request figures (None when it reported none)."""
    reported = [m.server for m in measures if m.server]
    if not reported:
        return None
    keys = ("prompt_tokens", "prompt_ms", "prefill_rate", "output_tokens", "decode_ms", "decode_rate")
    summary: dict[str, Any] = {"source": reported[0].get("source"), "requests": len(reported)}
    for key in (*keys, "cached_tokens"):
        summary[key] = _median([entry.get(key) for entry in reported])
    return summary


def _kinds(failures: Sequence[RequestMeasure]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for failure in failures:
        kinds[failure.error_kind.value] = kinds.get(failure.error_kind.value, 0) + 1
    return kinds


def throughput(measures: Sequence[RequestMeasure], wall: float) -> dict[str, Any]:
    """Aggregate rates over a load level: output tokens and finished requests per wall-clock second."""
    counted = [m for m in measures if m.counted]
    tokens = sum(m.output_tokens or 0 for m in counted)
    return {
        "wall_s": wall,
        "output_tokens": tokens,
        "output_tok_s": tokens / wall if wall > 0 else None,
        "requests_per_s": len(counted) / wall if wall > 0 else None,
    }


def find_knee(levels: Sequence[float], rates: Sequence[float | None]) -> float | None:
    """The lowest level whose throughput reaches `KNEE_SHARE` of the best: past it, more load buys
    (almost) no more throughput, only more latency."""
    pairs = [(level, rate) for level, rate in zip(levels, rates, strict=True) if rate is not None]
    if not pairs:
        return None
    best = max(rate for _, rate in pairs)
    if best <= 0:
        return None
    return next(level for level, rate in pairs if rate >= KNEE_SHARE * best)


def runaway(first_latency: float | None, latency: float | None, factor: float = RUNAWAY_FACTOR) -> bool:
    """True when latency has run away: more than `factor` times the first level's median."""
    return first_latency is not None and latency is not None and latency > factor * first_latency


def ttft_line(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """(slope, intercept) of TTFT seconds against prompt tokens: the Theil–Sen line (the median of
    pairwise slopes), so one request that waited behind something else cannot tilt it."""
    if len({tokens for tokens, _ in points}) < 2:
        return None
    slope, intercept, _, _ = theilslopes([s for _, s in points], [t for t, _ in points])
    return float(slope), float(intercept)


def prefill_by_difference(points: Sequence[tuple[float, float]]) -> float | None:
    """Prefill rate from (prompt tokens, TTFT seconds) pairs: the inverse slope of `ttft_line`.

    TTFT = fixed overhead (HTTP, template, queue) + prompt tokens / prefill rate, so the slope of TTFT
    against prompt length is 1 / prefill rate and the fixed overhead drops out. Needs two lengths, and
    a TTFT rise over them of at least MIN_PREFILL_RISE (else None: too fast to tell from noise).
    """
    line = ttft_line(points)
    if line is None:
        return None
    lengths = [tokens for tokens, _ in points]
    # A rise in TTFT smaller than the clock's noise over the whole range measures nothing.
    if line[0] * (max(lengths) - min(lengths)) < MIN_PREFILL_RISE:
        return None
    return 1.0 / line[0]
