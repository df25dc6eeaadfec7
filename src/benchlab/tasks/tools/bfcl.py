"""BFCL's single-turn categories (`bfcl`): the row's functions offered as tools, one reply, the calls
judged right or wrong by `bfcl_match` against BFCL's possible answers.

The rows come from the catalog hook (`catalog/bfcl_rows.py`): the chat messages, OpenAI-style tool
specs with JSON Schema parameters, the offered → BFCL name map and the expected calls. Tools go
through the run's dialect like every tool-calling kind, so BFCL is comparable across dialects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchlab.analysis.summary import count_summary, judged, model_error_rate, rate
from benchlab.catalog.datasets import DatasetError
from benchlab.endpoints.dialects import with_dialect
from benchlab.tasks.base import ChatFn
from benchlab.tasks.tools.bfcl_match import match_calls
from benchlab.tasks.tools.calls import read_calls
from benchlab.tasks.tools.summary import schema_adherence
from benchlab.tasks.tools.toolcall import DEFAULT_MAX_TOKENS, SYSTEM_PROMPT
from benchlab.types import ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript


def check_bfcl_row(sample: Sample) -> None:
    data = sample.data
    for field, kind in (("messages", list), ("tools", list), ("names", dict), ("expected", list)):
        if not isinstance(data.get(field), kind):
            raise DatasetError(
                f"task {sample.id}: `{field}` must be a {kind.__name__}; BFCL rows come from the "
                "`bfcl` catalog hook (benchlab fetch bfcl_simple …), not hand-written JSON"
            )


def _schemas(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """BFCL function name → its parameters schema."""
    names: dict[str, str] = data["names"]
    return {names[tool["function"]["name"]]: tool["function"]["parameters"] for tool in data["tools"]}


@dataclass(frozen=True)
class BfclTask:
    dialect: str = "raw"
    kind: str = "bfcl"

    def options(self) -> dict[str, Any]:
        return {"dialect": self.dialect}

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        check_bfcl_row(sample)
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        given = [dict(message) for message in sample.data["messages"]]
        if given[0]["role"] != "system":
            given = [{"role": "system", "content": SYSTEM_PROMPT}, *given]
        messages = given
        speak = with_dialect(chat, self.dialect)
        completion = await speak(messages, params, tools=sample.data["tools"])
        return Transcript(messages=messages, completions=[completion])

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        completion = transcript.completions[-1]
        data = sample.data
        made = read_calls(completion)
        verdict = match_calls(made, data["expected"], _schemas(data), data["names"])
        correct = verdict.correct
        reason = verdict.reason
        if completion.tool_parse_error:
            correct, reason = False, "unparseable"
        kind, error = ErrorKind.NONE, None
        if completion.tool_parse_error:
            kind, error = ErrorKind.MODEL, f"tool call could not be parsed: {completion.tool_parse_error}"
        elif reason == "unreadable_arguments":
            kind, error = ErrorKind.MODEL, verdict.detail
        names = data["names"]
        return Score(
            value=1.0 if correct else 0.0,
            correct=correct,
            extracted=", ".join(names.get(call.name, call.name) for call in made) or "(no call)",
            gold=", ".join(call["name"] for call in data["expected"]) or "(no call)",
            error_kind=kind,
            error=error,
            details={
                "category": sample.subject or data.get("domain"),
                "domain": data.get("domain"),
                "reason": reason,
                "why": verdict.detail,
                "irrelevance": not data["expected"],
                "finish_reason": completion.finish_reason,
            },
        )

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]:
        summary = count_summary(results)
        scored = judged(results)
        summary["accuracy"] = rate(sum(1 for r in scored if r.score.correct), len(scored))
        summary["unparseable"] = model_error_rate(scored)
        summary["schema_adherence"] = schema_adherence(scored)
        categories: dict[str, list[SampleResult]] = {}
        for result in scored:
            categories.setdefault(str(result.score.details.get("category")), []).append(result)
        summary["by_subject"] = {
            name: rate(sum(1 for r in members if r.score.correct), len(members))
            for name, members in sorted(categories.items())
        }
        failures = Counter(str(r.score.details.get("reason")) for r in scored if not r.score.correct)
        summary["failures"] = dict(sorted(failures.items(), key=lambda item: (-item[1], item[0])))
        summary["truncated"] = sum(1 for r in scored if r.score.details.get("finish_reason") == "length")
        summary["dialect"] = self.dialect
        return summary
