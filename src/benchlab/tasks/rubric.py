"""Judged rubrics (DESIGN §5 rubric): a reply graded item by item, HealthBench-style.

`solve` asks the model under test to continue the conversation, then decides every rubric item:
rule-first (an item with a machine-checkable `rule` is decided by it, no judge call), otherwise by
the judge with a fixed prompt. The verdicts are stored in the transcript, so `score` is pure:
achieved points over possible positive points, clipped to [0, 1].

The figure is a rubric *mean* (`rubric_score`), not an accuracy: the summary carries no
`accuracy` field, so it never enters an accuracy average. A sample whose judge failed on any item
(unreachable, or no readable verdict after a retry) is recorded as an infra failure — excluded
from the mean, retried on resume, and counted apart by kind — never as "not met".
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchlab.analysis.summary import count_summary, judged, mean_interval, model_error_rate
from benchlab.tasks.base import ChatFn
from benchlab.tasks.rubric_judge import PROMPT_SHA256, Judge
from benchlab.tasks.rubric_rules import rubric_score, rule_met, validate_row
from benchlab.types import Endpoint, ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript

DEFAULT_MAX_TOKENS = {False: 2048, None: 4096, True: 16384}
METRIC_NOTE = (
    "rubric mean: achieved over possible points per conversation, clipped to [0, 1], averaged; "
    "not an accuracy and kept out of accuracy averages"
)


@dataclass
class RubricTask:
    judge_endpoint: Endpoint | None = None
    judge_max_tokens: int = 1024
    judge_concurrency: int = 4
    kind: str = "rubric"
    judge: Judge = field(init=False)

    def __post_init__(self) -> None:
        self.judge = Judge(
            self.judge_endpoint, max_tokens=self.judge_max_tokens, concurrency=self.judge_concurrency
        )

    def options(self) -> dict[str, Any]:
        return {
            "judge": self.judge.describes,
            "judge_prompt_sha256": PROMPT_SHA256,
            "judge_max_tokens": self.judge_max_tokens,
        }

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        items = validate_row(sample.id, sample.data)
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        conversation = [{"role": t["role"], "content": t["content"]} for t in sample.data["conversation"]]
        completion = await chat(conversation, params)
        reply = completion.content.strip()
        verdicts: list[dict[str, Any]] = [{} for _ in items]
        if reply:
            async with self.judge:
                judged = []
                for index, item in enumerate(items):
                    if item.rule is not None:
                        verdicts[index] = {"source": "rule", "met": rule_met(item.rule, reply)}
                    else:
                        judged.append(index)
                answers = await asyncio.gather(
                    *(
                        self.judge.verdict(chat, conversation, reply, items[i].criterion, items[i].points)
                        for i in judged
                    )
                )
                for index, verdict in zip(judged, answers, strict=True):
                    verdicts[index] = {"source": "judge", **verdict.record()}
        return Transcript(
            messages=conversation,
            completions=[completion],
            state={"verdicts": verdicts, "judge_prompt_sha256": PROMPT_SHA256},
        )

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        items = validate_row(sample.id, sample.data)
        completion = transcript.completions[-1]
        verdicts: list[dict[str, Any]] = transcript.state["verdicts"]
        details: dict[str, Any] = {"finish_reason": completion.finish_reason, "verdicts": verdicts}
        if not completion.content.strip():
            why = "cut at the token limit" if completion.finish_reason == "length" else "empty"
            return Score(
                value=0.0, error_kind=ErrorKind.MODEL, error=f"no reply to grade ({why})", details=details
            )
        failures = [v for v in verdicts if v.get("failure")]
        if failures:
            kinds = sorted({str(v["failure"]) for v in failures})
            details["judge_failure"] = kinds[0] if len(kinds) == 1 else "+".join(kinds)
            return Score(
                value=0.0,
                error_kind=ErrorKind.INFRA,
                error=f"judge failed on {len(failures)} of {len(items)} items ({failures[0]['error']})",
                details=details,
            )
        met = [bool(v["met"]) for v in verdicts]
        value, achieved, possible = rubric_score(items, met)
        details.update({"achieved": achieved, "possible": possible})
        return Score(value=value, correct=None, extracted=f"{achieved:g}/{possible:g}", details=details)

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]:
        summary = count_summary(results)
        scored = judged(results)
        values = [r.score.value for r in scored]
        summary["metric"] = "rubric_score"
        summary["metric_note"] = METRIC_NOTE
        summary["rubric_score"] = mean_interval(values)
        summary["unparseable"] = model_error_rate(scored)
        summary["truncated"] = sum(1 for r in scored if r.score.details.get("finish_reason") == "length")
        rule_items = judge_items = 0
        item_failures = {"infra": 0, "parse": 0}
        failed_samples = {"infra": 0, "parse": 0}
        models: set[str] = set()
        for result in results:
            verdicts = result.score.details.get("verdicts") or []
            for verdict in verdicts:
                if verdict.get("source") == "rule":
                    rule_items += 1
                elif verdict.get("source") == "judge":
                    judge_items += 1
                    if verdict.get("failure") in item_failures:
                        item_failures[verdict["failure"]] += 1
                    if verdict.get("judge_model"):
                        models.add(str(verdict["judge_model"]))
            for kind in str(result.score.details.get("judge_failure") or "").split("+"):
                if kind in failed_samples:
                    failed_samples[kind] += 1
        summary["items"] = {"rule_decided": rule_items, "judge_decided": judge_items}
        summary["judge_failures"] = {
            "items": item_failures,
            "samples": failed_samples,
            "note": "samples with a judge failure are excluded from the rubric mean, never scored as not met",
        }
        summary["judge"] = {
            "endpoint": self.judge.describes,
            "models": sorted(models),
            "prompt_sha256": PROMPT_SHA256,
        }
        subjects: dict[str, list[float]] = {}
        for r in scored:
            subjects.setdefault(r.subject or "(none)", []).append(r.score.value)
        summary["by_subject"] = {name: mean_interval(vals) for name, vals in sorted(subjects.items())}
        return summary
