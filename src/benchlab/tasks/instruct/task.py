"""Instruction following (DESIGN §5 "instruct"): IFEval-style prompts scored by programmatic
verifiers, strict and loose, at prompt level and instruction level.

A row is `{id, prompt, instruction_id_list, kwargs}` (IFEval's own shape, plus benchlab's `id`):
the model answers the prompt in one turn and every listed instruction is checked on the answer
(after reasoning is removed). A prompt counts as followed when all its instructions are; the
headline accuracy is prompt-level strict, the figure IFEval reports first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchlab.analysis.summary import count_summary, rate
from benchlab.catalog.datasets import DatasetError
from benchlab.tasks.base import ChatFn
from benchlab.tasks.instruct.evaluate import Instruction, judge, parse_instructions
from benchlab.tasks.instruct.text import require_language_detection
from benchlab.tasks.instruct.verifiers import InstructionError
from benchlab.tasks.reasoning import strip_reasoning
from benchlab.types import ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript

# Token budgets when the user gives none: some prompts ask for 600+ words; reasoning models get
# room to think first so the budget is not what decides the score.
DEFAULT_MAX_TOKENS = {False: 2048, None: 8192, True: 16384}


class InstructRowError(DatasetError):
    """A dataset row the verifiers cannot check; the message names the sample and the field.
    Raised from `solve()`, before the model is asked, so the run stops with this message."""


class InstructTask:
    kind = "instruct"

    def __init__(self) -> None:
        require_language_detection()  # refuse before any request when the detector is missing

    def options(self) -> dict[str, Any]:
        return {}

    def instructions(self, sample: Sample) -> list[Instruction]:
        try:
            return parse_instructions(sample.data.get("instruction_id_list"), sample.data.get("kwargs"))
        except InstructionError as error:
            raise InstructRowError(
                f"sample {sample.id}: {error}. Fix the row's instruction_id_list/kwargs in the dataset "
                "(docs/instruct.md lists every instruction id and its parameters)."
            ) from None

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        self.instructions(sample)  # a malformed row stops the run before the model is asked
        prompt = sample.data.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise InstructRowError(f"sample {sample.id}: the row has no prompt text.")
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        messages = [{"role": "user", "content": prompt}]
        completion = await chat(messages, params)
        return Transcript(messages=messages, completions=[completion])

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        completion = transcript.completions[-1]
        response = strip_reasoning(completion.content).strip()
        verdicts = judge(self.instructions(sample), response)
        strict = all(v.strict for v in verdicts)
        loose = all(v.loose for v in verdicts)
        details: dict[str, Any] = {
            "instructions": [v.instruction_id for v in verdicts],
            "strict": [v.strict for v in verdicts],
            "loose": [v.loose for v in verdicts],
            "prompt_loose": loose,
            "finish_reason": completion.finish_reason,
        }
        error_kind, error = ErrorKind.NONE, None
        if not response:
            # Nothing to check: every instruction fails, and the reply is counted as empty.
            truncated = completion.finish_reason == "length"
            error_kind = ErrorKind.MODEL
            error = "empty reply" + (" (cut at the token limit while reasoning)" if truncated else "")
        return Score(
            value=1.0 if strict else 0.0,
            correct=strict,
            extracted=f"{sum(v.strict for v in verdicts)}/{len(verdicts)} instructions followed",
            error_kind=error_kind,
            error=error,
            details=details,
        )

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]:
        summary = count_summary(results)
        scored = [
            r
            for r in results
            if r.score.error_kind in (ErrorKind.NONE, ErrorKind.MODEL) and "strict" in r.score.details
        ]
        strict_prompts = sum(1 for r in scored if all(r.score.details["strict"]))
        loose_prompts = sum(1 for r in scored if all(r.score.details["loose"]))
        per_instruction: dict[str, list[tuple[bool, bool]]] = {}
        for r in scored:
            details = r.score.details
            for name, strict, loose in zip(
                details["instructions"], details["strict"], details["loose"], strict=True
            ):
                per_instruction.setdefault(name, []).append((strict, loose))
        verdicts = [pair for pairs in per_instruction.values() for pair in pairs]
        summary["accuracy"] = rate(strict_prompts, len(scored))  # the headline: prompt-level strict
        summary["correct"] = strict_prompts
        summary["prompt_strict"] = summary["accuracy"]
        summary["prompt_loose"] = rate(loose_prompts, len(scored))
        summary["instruction_strict"] = rate(sum(s for s, _ in verdicts), len(verdicts))
        summary["instruction_loose"] = rate(sum(loose for _, loose in verdicts), len(verdicts))
        empty = sum(1 for r in scored if r.score.error_kind is ErrorKind.MODEL)
        summary["unparseable"] = rate(empty, len(scored))  # empty replies: nothing to check
        summary["truncated"] = sum(1 for r in scored if r.score.details.get("finish_reason") == "length")
        summary["by_instruction"] = {
            name: {
                "strict": rate(sum(s for s, _ in pairs), len(pairs)),
                "loose": rate(sum(loose for _, loose in pairs), len(pairs)),
            }
            for name, pairs in sorted(per_instruction.items())
        }
        return summary
