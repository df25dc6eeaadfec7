"""The compare page's data: `api.compare`'s card plus per-subject and per-benchmark breakdowns.

The card is exactly what `benchlab compare --json` prints (the same function makes it). The
breakdowns split the same pairs by subject, and, when two tags are compared, pair the newest run
of every benchmark both tags ran; each row uses the same paired test as the card.
"""

from __future__ import annotations

from typing import Any

from benchlab import api
from benchlab.analysis.compare import PairingError
from benchlab.analysis.stats import paired_comparison
from benchlab.engine.runner import RunError
from benchlab.types import ErrorKind, SampleResult

SCORED = (ErrorKind.NONE, ErrorKind.MODEL)


def compare_page(a: str, b: str) -> dict[str, Any]:
    card = api.compare(a, b)
    results_a = {r.sample_id: r for r in api.results(card.a.run_id, with_transcripts=False)}
    results_b = {r.sample_id: r for r in api.results(card.b.run_id, with_transcripts=False)}
    return {
        "card": card.as_dict(),
        "by_subject": by_subject(results_a, results_b),
        "by_benchmark": by_benchmark(a, b),
    }


def by_subject(
    results_a: dict[str, SampleResult], results_b: dict[str, SampleResult]
) -> list[dict[str, Any]]:
    pairs: dict[str, tuple[list[bool], list[bool]]] = {}
    for sample_id, left in results_a.items():
        right = results_b.get(sample_id)
        if right is None or left.score.error_kind not in SCORED or right.score.error_kind not in SCORED:
            continue
        flags_a, flags_b = pairs.setdefault(left.subject or "(none)", ([], []))
        flags_a.append(bool(left.score.correct))
        flags_b.append(bool(right.score.correct))
    return [_row(name, flags_a, flags_b) for name, (flags_a, flags_b) in sorted(pairs.items())]


def by_benchmark(a: str, b: str) -> list[dict[str, Any]]:
    """For two tags: one paired row per benchmark both ran (newest run of each). Empty for run ids."""
    newest_a = {record.benchmark: record for record in reversed(api.runs(tag=a))}
    newest_b = {record.benchmark: record for record in reversed(api.runs(tag=b))}
    rows = []
    for benchmark in sorted(newest_a.keys() & newest_b.keys()):
        run_a, run_b = newest_a[benchmark], newest_b[benchmark]
        try:
            card = api.compare(run_a.run_id, run_b.run_id).as_dict()
        except (PairingError, RunError) as error:
            rows.append({"name": benchmark, "error": str(error)})
            continue
        rows.append({"name": benchmark, **_card_row(card)})
    return rows


def _row(name: str, flags_a: list[bool], flags_b: list[bool]) -> dict[str, Any]:
    paired = paired_comparison(flags_a, flags_b)
    return {
        "name": name,
        "n_pairs": paired.n,
        "accuracy_a": paired.accuracy_a,
        "accuracy_b": paired.accuracy_b,
        "only_a": paired.b,
        "only_b": paired.c,
        "difference": paired.difference,
        "ci_low": paired.interval.low,
        "ci_high": paired.interval.high,
        "p_value": paired.p_value,
        "significant": paired.significant,
    }


def _card_row(card: dict[str, Any]) -> dict[str, Any]:
    keys = ("n_pairs", "only_a", "only_b", "difference", "ci_low", "ci_high", "p_value", "significant")
    return {
        "accuracy_a": card["a"]["accuracy"],
        "accuracy_b": card["b"]["accuracy"],
        **{key: card[key] for key in keys},
    }
