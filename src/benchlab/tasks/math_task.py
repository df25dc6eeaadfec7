"""Math word problems (DESIGN §5 "math"): GSM8K and the built-in `math_core` suite.

Rows are `{id, question, answer}` plus, optionally, `tolerance` (an absolute tolerance for the
comparison) and `unit` (the unit the answer is asked in, named in the prompt). The model is asked
to work step by step and end with a `Final answer:` line; `math_extraction.extract_number` reads
the answer (docs/math-extraction.md) and compares it with the row's answer as parsed numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from benchlab.analysis.summary import count_summary, judged, model_error_rate, rate
from benchlab.tasks.base import ChatFn
from benchlab.tasks.math_extraction import extract_number, numbers_match, parse_number
from benchlab.types import ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript

# Token budgets when the user gives none: worked solutions are a few hundred tokens; reasoning
# models get far more so that the budget is not what decides the score.
DEFAULT_MAX_TOKENS = {False: 1024, None: 4096, True: 16384}

PROMPT = """Solve the following problem. Work through it step by step, then give the final answer \
as a number on its own last line, in the form "Final answer: <number>".{unit}

{question}"""


class MathRowError(ValueError):
    """A math row whose answer or tolerance cannot be read; the message names the row and the fix."""


def _format(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    return f"{value.numerator}/{value.denominator}" if len(repr(as_float)) > 12 else repr(as_float)


@dataclass(frozen=True)
class MathTask:
    kind: str = "math"

    def options(self) -> dict[str, Any]:
        return {}

    def messages(self, sample: Sample) -> list[dict[str, Any]]:
        unit = sample.data.get("unit")
        hint = f" Give the answer in {unit}." if unit else ""
        prompt = PROMPT.format(question=str(sample.data["question"]).strip(), unit=hint)
        return [{"role": "user", "content": prompt}]

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        gold_of(sample)  # a row with an unreadable answer fails before any request is made
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        messages = self.messages(sample)
        completion = await chat(messages, params)
        return Transcript(messages=messages, completions=[completion])

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        gold, tolerance = gold_of(sample)
        completion = transcript.completions[-1]
        extraction = extract_number(completion.content)
        details: dict[str, Any] = {
            "rule": extraction.rule,
            "finish_reason": completion.finish_reason,
            "tolerance": tolerance,
        }
        gold_text = str(sample.data["answer"])
        if extraction.value is None:
            cut = completion.finish_reason == "length"
            why = "the reply was cut at the token limit" if cut else "no number could be read"
            return Score(
                correct=False,
                gold=gold_text,
                error_kind=ErrorKind.MODEL,
                error=f"unparseable: {why} ({extraction.rule})",
                details=details,
            )
        correct = numbers_match(extraction.value, gold, tolerance)
        details["parsed"] = _format(extraction.value)
        details["text"] = extraction.text
        return Score(
            value=1.0 if correct else 0.0,
            correct=correct,
            extracted=_format(extraction.value),
            gold=gold_text,
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
        summary["rules"] = dict(Counter(str(r.score.details.get("rule")) for r in scored))
        subjects: dict[str, list[bool]] = {}
        for r in scored:
            subjects.setdefault(r.subject or "(none)", []).append(bool(r.score.correct))
        summary["by_subject"] = {
            subject: rate(sum(flags), len(flags)) for subject, flags in sorted(subjects.items())
        }
        return summary


def gold_of(sample: Sample) -> tuple[Fraction, float | None]:
    """The row's answer as an exact number and its tolerance; a bad row raises `MathRowError`."""
    answer = sample.data.get("answer")
    gold = parse_number(str(answer)) if isinstance(answer, str | int | float) else None
    if gold is None:
        raise MathRowError(
            f"math row {sample.id!r}: the answer {answer!r} is not a number; write it as digits "
            '("1250", "-3.5", "3/4").'
        )
    tolerance = sample.data.get("tolerance")
    if tolerance is not None and (
        isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0
    ):
        raise MathRowError(
            f"math row {sample.id!r}: tolerance {tolerance!r} must be a non-negative number "
            "(an absolute difference, e.g. 0.01)."
        )
    return gold, float(tolerance) if tolerance is not None else None
