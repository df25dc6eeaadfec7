"""Summary figures shared by the toolcall and agent kinds: weighted score with a bootstrap
interval, schema adherence, and breakdowns by difficulty and domain."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchlab.analysis.stats import bootstrap_mean
from benchlab.analysis.summary import rate
from benchlab.types import SampleResult

BOOTSTRAP_RESAMPLES = 4000


def weighted_score(values: Sequence[float], weights: Sequence[float], *, seed: int = 0) -> dict[str, Any]:
    """Σ wᵢsᵢ / Σ wᵢ with a 95% percentile bootstrap interval that resamples tasks as (w, s) pairs,
    so the weight total varies with the resample as it would with another draw of tasks."""
    if not values:
        return {"rate": None, "ci_low": 0.0, "ci_high": 1.0, "n": 0, "method": "weighted bootstrap"}
    scores = np.asarray(values, dtype=float)
    weight = np.asarray(weights, dtype=float)
    estimate = float(np.sum(weight * scores) / np.sum(weight))
    if np.ptp(scores) == 0.0:
        low = high = estimate
    else:
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(scores), size=(BOOTSTRAP_RESAMPLES, len(scores)))
        resampled = np.sum(weight[picks] * scores[picks], axis=1) / np.sum(weight[picks], axis=1)
        low, high = (float(x) for x in np.quantile(resampled, [0.025, 0.975]))
    return {
        "rate": estimate,
        "ci_low": low,
        "ci_high": high,
        "n": len(values),
        "method": "weighted bootstrap",
    }


def mean_score(values: Sequence[float]) -> dict[str, Any]:
    """The unweighted mean task score with analysis.stats' BCa bootstrap interval."""
    if not values:
        return {"rate": None, "ci_low": 0.0, "ci_high": 1.0, "n": 0, "method": "bootstrap"}
    interval = bootstrap_mean(list(values), n_resamples=BOOTSTRAP_RESAMPLES)
    return {
        "rate": interval.estimate,
        "ci_low": interval.low,
        "ci_high": interval.high,
        "n": len(values),
        "method": "bootstrap",
    }


def schema_adherence(results: Sequence[SampleResult]) -> dict[str, Any]:
    """Share of completions whose tool calls could be read (no `tool_parse_error`), over every turn."""
    total = clean = 0
    for result in results:
        if result.transcript is None:
            continue
        for completion in result.transcript.completions:
            total += 1
            clean += completion.tool_parse_error is None
    return rate(clean, total)


def _rank(name: str, order: Sequence[str]) -> tuple[int, str]:
    return (order.index(name) if name in order else len(order), name)


def breakdown(
    results: Sequence[SampleResult], key: Callable[[SampleResult], str], order: Sequence[str] = ()
) -> dict[str, Any]:
    """Mean score and full-marks rate per group (difficulty, domain…), groups named in `order` first."""
    groups: dict[str, list[SampleResult]] = {}
    for result in results:
        groups.setdefault(key(result), []).append(result)
    return {
        name: {
            "n": len(members),
            "mean": sum(r.score.value for r in members) / len(members),
            "full_marks": rate(sum(1 for r in members if r.score.correct), len(members)),
        }
        for name, members in sorted(
            groups.items(),
            key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0]),
        )
    }
