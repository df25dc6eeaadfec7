"""Paired comparison of two runs on the same questions (DESIGN §6).

Two runs are paired question by question; only then is a small difference (one quant against
another) detectable. Pairing is refused when it would be meaningless: different datasets, different
question sets, or a different option order for the same question. Differences in model or settings
are the point of a comparison and only produce a note.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from benchlab.analysis.stats import paired_comparison
from benchlab.types import ErrorKind, RunRecord, SampleResult

_COMPARED_PARAMS = ("temperature", "top_p", "seed", "max_tokens", "think", "stop")


class PairingError(ValueError):
    """The two runs cannot be paired; the message says what differs."""


class RunSide(BaseModel):
    run_id: str
    tag: str
    model: str | None
    accuracy: float | None


class Comparison(BaseModel):
    benchmark: str
    a: RunSide
    b: RunSide
    n_pairs: int
    excluded: int  # pairs dropped because either side had an infra failure or a rejection
    both_correct: int
    only_a: int  # discordant: A right, B wrong
    only_b: int  # discordant: A wrong, B right
    both_wrong: int
    difference: float  # accuracy of B minus accuracy of A, on the pairs
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    required_n: int | None
    power_note: str | None
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def compare_runs(
    run_a: RunRecord, results_a: Sequence[SampleResult], run_b: RunRecord, results_b: Sequence[SampleResult]
) -> Comparison:
    _check_pairable(run_a, run_b)
    by_id_a = {result.sample_id: result for result in results_a}
    by_id_b = {result.sample_id: result for result in results_b}
    for sample_id in by_id_a.keys() & by_id_b.keys():
        order_a = by_id_a[sample_id].score.details.get("order")
        order_b = by_id_b[sample_id].score.details.get("order")
        if order_a and order_b and order_a != order_b:
            raise PairingError(
                f"question {sample_id} was shown with options in a different order ({order_a} vs {order_b}); "
                "pair only runs made with the same shuffle setting."
            )
    flags_a: list[bool] = []
    flags_b: list[bool] = []
    excluded = 0
    for sample_id in run_a.sample_ids:
        left, right = by_id_a.get(sample_id), by_id_b.get(sample_id)
        if left is None or right is None:
            continue
        if not (_scored(left) and _scored(right)):
            excluded += 1
            continue
        flags_a.append(bool(left.score.correct))
        flags_b.append(bool(right.score.correct))
    if not flags_a:
        raise PairingError(
            f"runs {run_a.run_id} and {run_b.run_id} have no question that both answered; "
            "finish or resume them first."
        )
    paired = paired_comparison(flags_a, flags_b)
    both_correct = sum(1 for x, y in zip(flags_a, flags_b, strict=True) if x and y)
    notes = _notes(run_a, run_b, excluded, len(flags_a))
    return Comparison(
        benchmark=run_a.benchmark,
        a=_side(run_a, paired.accuracy_a),
        b=_side(run_b, paired.accuracy_b),
        n_pairs=paired.n,
        excluded=excluded,
        both_correct=both_correct,
        only_a=paired.b,
        only_b=paired.c,
        both_wrong=paired.n - both_correct - paired.b - paired.c,
        difference=paired.difference,
        ci_low=paired.interval.low,
        ci_high=paired.interval.high,
        p_value=paired.p_value,
        significant=paired.significant,
        required_n=paired.required_n,
        power_note=paired.power_note,
        notes=notes,
    )


def _check_pairable(run_a: RunRecord, run_b: RunRecord) -> None:
    if run_a.run_id == run_b.run_id:
        raise PairingError("both sides are the same run; give two different runs or tags.")
    if run_a.benchmark != run_b.benchmark:
        raise PairingError(f"the runs are on different benchmarks ({run_a.benchmark} vs {run_b.benchmark}).")
    hash_a, hash_b = run_a.provenance.dataset_sha256, run_b.provenance.dataset_sha256
    if hash_a != hash_b:
        raise PairingError(
            f"the runs used different data for {run_a.benchmark} (dataset {hash_a[:12]} vs {hash_b[:12]}); "
            "re-run both on the same file."
        )
    if run_a.task_options.get("shuffle") != run_b.task_options.get("shuffle"):
        raise PairingError(
            "one run shuffled the options and the other did not; pair runs with the same setting."
        )
    if set(run_a.sample_ids) != set(run_b.sample_ids):
        only_a = len(set(run_a.sample_ids) - set(run_b.sample_ids))
        only_b = len(set(run_b.sample_ids) - set(run_a.sample_ids))
        raise PairingError(
            f"the runs asked different questions ({only_a} only in {run_a.run_id}, {only_b} only in "
            f"{run_b.run_id}); run both with the same -n and sample seed."
        )


def _notes(run_a: RunRecord, run_b: RunRecord, excluded: int, pairs: int) -> list[str]:
    notes = []
    if run_a.endpoint.model != run_b.endpoint.model:
        notes.append(f"different models: {run_a.endpoint.model} vs {run_b.endpoint.model}")
    for name in _COMPARED_PARAMS:
        left, right = getattr(run_a.params, name), getattr(run_b.params, name)
        if left != right:
            notes.append(f"different {name}: {left} vs {right}")
    if excluded:
        notes.append(f"{excluded} question(s) left out: an infra failure or a rejection on either side")
    planned = len(run_a.sample_ids)
    if pairs + excluded < planned:
        notes.append(f"only {pairs + excluded} of {planned} planned questions were answered by both runs")
    return notes


def _scored(result: SampleResult) -> bool:
    return result.score.error_kind in (ErrorKind.NONE, ErrorKind.MODEL)


def _side(record: RunRecord, accuracy: float) -> RunSide:
    return RunSide(
        run_id=record.run_id,
        tag=record.tag,
        model=record.endpoint.model,
        accuracy=None if math.isnan(accuracy) else accuracy,
    )
