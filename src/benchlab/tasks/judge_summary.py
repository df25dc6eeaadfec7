"""The run summary of a judge's second opinion (`--llm-judge`, `--visual-judge`): its mean with a
bootstrap interval, its agreement with the programmatic score, and its failures counted apart.

Agreement is measured two ways on the samples both graded: Spearman's rank correlation between the
judge's value and the programmatic score (SciPy), and Cohen's kappa on pass/fail — the judge's pass
(e.g. a grade of 4 or more) against the programmatic one (`Score.correct`). Either is `None`, with
a note, when it is undefined (too few samples, or one side never varies).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from benchlab.analysis.summary import mean_interval
from benchlab.tasks.judging import FAILURE_KINDS
from benchlab.types import ErrorKind, SampleResult

MIN_PAIRS = 3  # fewer graded samples than this give no rank correlation worth printing


def opinion_summary(
    results: Sequence[SampleResult],
    *,
    key: str,
    value_of: Callable[[dict[str, Any]], float | None],
    passes: Callable[[float], bool],
    endpoint: str,
    prompt_sha256: str,
    scale: str,
    pass_rule: str,
) -> dict[str, Any]:
    """Summarize the records stored under `Score.details[key]` (see the module docstring)."""
    failures = dict.fromkeys(FAILURE_KINDS, 0)
    skipped = 0
    models: set[str] = set()
    pairs: list[tuple[float, float, bool | None]] = []
    for result in results:
        record = result.score.details.get(key)
        if not isinstance(record, dict):
            continue
        if record.get("skipped"):
            skipped += 1
            continue
        if record.get("judge_model"):
            models.add(str(record["judge_model"]))
        if record.get("failure") in failures:
            failures[record["failure"]] += 1
            continue
        value = value_of(record)
        if value is None or result.score.error_kind not in (ErrorKind.NONE, ErrorKind.MODEL):
            continue
        pairs.append((value, result.score.value, result.score.correct))
    values = [judge for judge, _, _ in pairs]
    return {
        "scale": scale,
        "mean": mean_interval(values),
        "graded": len(pairs),
        "failures": failures,
        "skipped": skipped,
        "agreement": agreement(pairs, passes, pass_rule),
        "endpoint": endpoint,
        "models": sorted(models),
        "prompt_sha256": prompt_sha256,
        "note": "a second opinion beside the programmatic score, which it never changes; "
        "judge failures are counted apart and left out of the mean",
    }


def agreement(
    pairs: Sequence[tuple[float, float, bool | None]], passes: Callable[[float], bool], pass_rule: str
) -> dict[str, Any]:
    """Spearman's rho (judge value vs programmatic score) and Cohen's kappa on pass/fail."""
    entry: dict[str, Any] = {"n": len(pairs), "judge_pass": pass_rule, "notes": []}
    judged = [judge for judge, _, _ in pairs]
    scored = [score for _, score, _ in pairs]
    if len(pairs) < MIN_PAIRS:
        entry.update(spearman=None, spearman_p=None)
        entry["notes"].append(f"Spearman needs at least {MIN_PAIRS} graded samples")
    elif len(set(judged)) < 2 or len(set(scored)) < 2:
        entry.update(spearman=None, spearman_p=None)
        entry["notes"].append("Spearman is undefined: the judge or the score never varies")
    else:
        from scipy import stats  # imported on first use: it is slow to import

        rho, p_value = stats.spearmanr(judged, scored)
        entry.update(spearman=float(rho), spearman_p=float(p_value))
    binary = [(passes(judge), bool(correct)) for judge, _, correct in pairs if correct is not None]
    entry["pass_agreement"] = sum(a == b for a, b in binary) / len(binary) if binary else None
    entry["kappa"] = cohen_kappa(binary)
    if binary and entry["kappa"] is None:
        entry["notes"].append("Cohen's kappa is undefined: both sides give the same verdict on every sample")
    return entry


def cohen_kappa(pairs: Sequence[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of two raters' yes/no verdicts: (observed − chance agreement) / (1 − chance)."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first = sum(a for a, _ in pairs) / n
    second = sum(b for _, b in pairs) / n
    chance = first * second + (1 - first) * (1 - second)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1 - chance)
