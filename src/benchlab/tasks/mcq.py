"""Multiple choice (DESIGN §5 mcq): shuffled options, one request, a documented letter extraction.

Options are shuffled per question with a seed taken from a hash of the question text, so every
model and every quant sees the same order and letter-position bias averages out; the permutation
is stored with each sample. The reply's reasoning (separate fields or `<think>` blocks) is removed
before extraction, so an answer that appears only in the reasoning does not count.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchlab.analysis.stats import letter_bias
from benchlab.analysis.summary import count_summary, judged, model_error_rate, rate
from benchlab.tasks.base import ChatFn
from benchlab.tasks.mcq_extraction import extract_choice
from benchlab.types import ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Token budgets when the user gives none. A no-think answer is one letter or a sentence; 512 leaves
# ample room. Reasoning models get far more so that the budget is not what decides the score.
DEFAULT_MAX_TOKENS = {False: 512, None: 4096, True: 16384}

PROMPT = """The following is a multiple-choice question{about}. Choose the single best option.

{question}

{options}

Reply with the letter of the correct option ({first}–{last}) in the form "Answer: X"."""


def shuffled_order(question: str, letters: Sequence[str]) -> list[str]:
    """The original letters in displayed order, seeded by the question text alone."""
    return list(_shuffled(question, tuple(letters)))


@functools.lru_cache(maxsize=8192)
def _shuffled(question: str, letters: tuple[str, ...]) -> tuple[str, ...]:
    # Cached: building the prompt and scoring the answer both need the order of the same question.
    seed = int.from_bytes(hashlib.sha256(question.encode("utf-8")).digest()[:8], "big")
    order = list(letters)
    random.Random(seed).shuffle(order)
    return tuple(order)


@dataclass(frozen=True)
class McqTask:
    shuffle: bool = True
    kind: str = "mcq"

    def options(self) -> dict[str, Any]:
        return {"shuffle": self.shuffle}

    def layout(self, sample: Sample) -> tuple[list[str], dict[str, str]]:
        """(original letter for each displayed position, displayed letter → option text)."""
        options: dict[str, str] = sample.data["options"]
        original = list(options)
        order = shuffled_order(sample.data["question"], original) if self.shuffle else original
        return order, {LETTERS[index]: options[letter] for index, letter in enumerate(order)}

    def messages(self, sample: Sample) -> list[dict[str, Any]]:
        _, shown = self.layout(sample)
        return self._messages(sample, shown)

    def _messages(self, sample: Sample, shown: dict[str, str]) -> list[dict[str, Any]]:
        letters = list(shown)
        prompt = PROMPT.format(
            about=f" about {sample.subject.replace('_', ' ')}" if sample.subject else "",
            question=sample.data["question"].strip(),
            options="\n".join(f"{letter}. {text}" for letter, text in shown.items()),
            first=letters[0],
            last=letters[-1],
        )
        return [{"role": "user", "content": prompt}]

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        order, shown = self.layout(sample)  # once per sample: `score` reads the order back from the state
        messages = self._messages(sample, shown)
        completion = await chat(messages, params)
        return Transcript(messages=messages, completions=[completion], state={"order": "".join(order)})

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        order = list(transcript.state["order"])
        gold = LETTERS[order.index(sample.data["answer"])]
        options: dict[str, str] = sample.data["options"]
        shown = {LETTERS[index]: options[letter] for index, letter in enumerate(order)}
        completion = transcript.completions[-1]
        extraction = extract_choice(completion.content, list(shown), shown)
        truncated = completion.finish_reason == "length"
        details: dict[str, Any] = {
            "rule": extraction.rule,
            "why": extraction.detail,
            "order": transcript.state["order"],
            "options": len(order),
            "finish_reason": completion.finish_reason,
        }
        if extraction.letter is None:
            why = "the reply was cut at the token limit" if truncated else "no option letter could be read"
            return Score(
                value=0.0,
                correct=False,
                gold=gold,
                error_kind=ErrorKind.MODEL,
                error=f"unparseable: {why} ({extraction.rule})",
                details=details,
            )
        details["original"] = order[LETTERS.index(extraction.letter)]
        correct = extraction.letter == gold
        return Score(
            value=1.0 if correct else 0.0,
            correct=correct,
            extracted=extraction.letter,
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
        answered = [r for r in scored if r.score.extracted is not None]
        bias = letter_bias(
            [r.score.extracted or "" for r in answered], [r.score.details["options"] for r in answered]
        )
        summary["letter_bias"] = {
            "chi2": bias.chi2,
            "dof": bias.dof,
            "p_value": bias.p_value,
            "observed": bias.observed,
            "expected": bias.expected,
            "note": bias.note,
        }
        subjects: dict[str, list[bool]] = {}
        for r in scored:
            subjects.setdefault(r.subject or "(none)", []).append(bool(r.score.correct))
        summary["by_subject"] = {
            subject: rate(sum(flags), len(flags)) for subject, flags in sorted(subjects.items())
        }
        return summary
