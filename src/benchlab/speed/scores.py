"""Scores: one number for a server's speed, and one for a panel of runs (quality, speed, reliability).

Speed score
    A weighted geometric mean of the measured figures relative to a reference, times 100:

        speed = 100 × (decode / D_ref)^w_d × (T_ref / ttft)^w_t × (prefill / P_ref)^w_p

    so the reference endpoint scores 100, twice its decode rate (alone) scores 100 × 2^w_d, and
    half the TTFT scores 100 × 2^w_t. Weights: decode 0.5, TTFT 0.3, prefill 0.2; a missing figure
    drops out and the remaining weights are rescaled to sum to 1. Local and remote endpoints have
    different references, because a remote TTFT always carries the network round trip:

    ============  ==============  ==========  =================
    endpoint      decode D_ref    TTFT T_ref  prefill P_ref
    ============  ==============  ==========  =================
    local         30 tokens/s     0.5 s       500 tokens/s
    remote        60 tokens/s     1.0 s       2000 tokens/s
    ============  ==============  ==========  =================

    Local means a loopback, private-range or `.local` address (overridable with `--remote/--local`).

Panel score
    For a set of runs of one model: quality Q = the mean of each quality suite's accuracy (or pass@1),
    speed S = speed / (speed + 100) (so the reference endpoint gives 0.5 and it never exceeds 1),
    reliability R = 1 − (infra failures + rejected + unparseable) / requests over all the runs. The
    panel score is 100 × (0.6 Q + 0.25 S + 0.15 R); a missing part drops out and the weights are
    rescaled. The suites, the parts and the weights are returned beside the number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchlab.types import RunRecord

SPEED_WEIGHTS = {"decode_tok_s": 0.5, "ttft_s": 0.3, "prefill_tok_s": 0.2}


@dataclass(frozen=True)
class Reference:
    decode_tok_s: float
    ttft_s: float
    prefill_tok_s: float


REFERENCES = {
    "local": Reference(decode_tok_s=30.0, ttft_s=0.5, prefill_tok_s=500.0),
    "remote": Reference(decode_tok_s=60.0, ttft_s=1.0, prefill_tok_s=2000.0),
}
PANEL_WEIGHTS = {"quality": 0.6, "speed": 0.25, "reliability": 0.15}


def speed_score(headline: dict[str, Any], *, remote: bool) -> dict[str, Any] | None:
    """The speed score of a sweep's headline figures, with everything that went into it."""
    reference = REFERENCES["remote" if remote else "local"]
    ratios: dict[str, float] = {}
    decode, ttft, prefill = (
        headline.get("decode_tok_s"),
        headline.get("ttft_s"),
        headline.get("prefill_tok_s"),
    )
    if decode:
        ratios["decode_tok_s"] = decode / reference.decode_tok_s
    if ttft:
        ratios["ttft_s"] = reference.ttft_s / ttft  # lower is better: the ratio is inverted
    if prefill:
        ratios["prefill_tok_s"] = prefill / reference.prefill_tok_s
    if not ratios:
        return None
    total = sum(SPEED_WEIGHTS[name] for name in ratios)
    weights = {name: SPEED_WEIGHTS[name] / total for name in ratios}
    value = 100.0 * math.exp(sum(weights[name] * math.log(ratio) for name, ratio in ratios.items()))
    return {
        "value": value,
        "endpoint": "remote" if remote else "local",
        "reference": {name: getattr(reference, name) for name in SPEED_WEIGHTS},
        "weights": weights,
        "ratios": ratios,
        "formula": "100 × Π (figure / reference)^weight  (TTFT inverted)",
    }


def panel_score(runs: list[RunRecord]) -> dict[str, Any]:
    """The quality/speed/reliability score of a panel of runs (quality suites and speed runs)."""
    quality: dict[str, float] = {}
    speeds: list[float] = []
    requests = bad = 0
    for record in runs:
        summary = record.summary
        if record.task_kind == "speed":
            score = (summary.get("speed_score") or {}).get("value")
            if score is not None:
                speeds.append(score)
            failures = summary.get("failures") or 0
            requests += (summary.get("requests") or 0) + failures
            bad += failures
            continue
        accuracy = _quality_of(summary)
        if accuracy is not None:
            quality[record.benchmark] = accuracy
        requests += summary.get("recorded") or 0
        bad += (summary.get("infra_errors") or {}).get("k") or 0
        bad += summary.get("rejected") or 0
        bad += (summary.get("unparseable") or {}).get("k") or 0
    parts: dict[str, float] = {}
    if quality:
        parts["quality"] = sum(quality.values()) / len(quality)
    if speeds:
        speed = sum(speeds) / len(speeds)
        parts["speed"] = speed / (speed + 100.0)
    if requests:
        parts["reliability"] = 1.0 - bad / requests
    if not parts:
        return {"value": None, "parts": {}, "weights": {}, "suites": {}, "runs": [r.run_id for r in runs]}
    total = sum(PANEL_WEIGHTS[name] for name in parts)
    weights = {name: PANEL_WEIGHTS[name] / total for name in parts}
    return {
        "value": 100.0 * sum(weights[name] * value for name, value in parts.items()),
        "parts": parts,
        "weights": weights,
        "suites": quality,
        "speed_scores": speeds,
        "runs": [record.run_id for record in runs],
        "formula": "100 × (0.6 quality + 0.25 speed/(speed+100) + 0.15 reliability), missing parts rescaled",
    }


def _quality_of(summary: dict[str, Any]) -> float | None:
    """A quality run's headline rate: every task kind puts it under `accuracy` (code: pass@1)."""
    entry = summary.get("accuracy")
    if isinstance(entry, dict) and entry.get("rate") is not None:
        return float(entry["rate"])
    return None
