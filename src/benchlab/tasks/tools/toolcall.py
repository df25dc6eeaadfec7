"""Single-turn tool calling (`toolcall`): one request, the task's tools, calls scored by the rubric.

Each task stores its request at several prompt-quality levels (1 vague … 10 precise). A run asks
one level per task: `--option quality=N` takes the most precise stored variant at or below N (the
least precise one when none is), default 10 — the most precise — so that a score measures tool
use rather than guessing. Runs at different quality levels are compared with `benchlab compare`.

With a `judge` (`--llm-judge`) the reply also gets a judge's 1–5 opinion (`tasks/judge_opinion.py`),
asked in `solve()` and stored beside the score in `Score.details["judge"]`; it never changes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchlab.analysis.summary import count_summary, judged, model_error_rate, rate
from benchlab.endpoints.dialects import with_dialect
from benchlab.tasks.base import ChatFn
from benchlab.tasks.judge_opinion import (
    PASS_GRADE,
    TOOLCALL_PROMPT_SHA256,
    ask_opinion,
    describe_reply,
    toolcall_prompt,
)
from benchlab.tasks.judge_summary import opinion_summary
from benchlab.tasks.judging import JudgeClient
from benchlab.tasks.tools.calls import read_calls
from benchlab.tasks.tools.domains import domain_tools, presented_order
from benchlab.tasks.tools.rows import check_toolcall_row
from benchlab.tasks.tools.rubric import DIFFICULTY_WEIGHTS, score_calls
from benchlab.tasks.tools.summary import breakdown, mean_score, schema_adherence, weighted_score
from benchlab.types import ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript

DEFAULT_MAX_TOKENS = {False: 1024, None: 4096, True: 16384}
DEFAULT_QUALITY = 10

SYSTEM_PROMPT = (
    "You can call the tools described to you. Fulfil the user's request by calling the right tools, "
    "with the right arguments, all in this one reply; when several calls are needed, make them in "
    "the order they should run. If no tool fits the request, do not call any tool: answer in text."
)


def pick_variant(variants: dict[str, str], quality: int) -> tuple[int, str]:
    """(level, prompt): the most precise stored variant at or below `quality`, else the vaguest."""
    levels = sorted(int(level) for level in variants)
    at_or_below = [level for level in levels if level <= quality]
    level = at_or_below[-1] if at_or_below else levels[0]
    return level, variants[str(level)]


@dataclass(frozen=True)
class ToolCallTask:
    quality: int = DEFAULT_QUALITY
    dialect: str = "raw"
    judge: JudgeClient | None = None  # --llm-judge: a second opinion on every reply
    kind: str = "toolcall"

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"quality": self.quality, "dialect": self.dialect}
        if self.judge is not None:
            options.update(llm_judge=self.judge.describes, llm_judge_prompt_sha256=TOOLCALL_PROMPT_SHA256)
        return options

    def messages(self, sample: Sample) -> tuple[int, list[dict[str, Any]]]:
        level, prompt = pick_variant(sample.data["variants"], self.quality)
        return level, [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]

    def tool_specs(self, sample: Sample) -> list[dict[str, Any]]:
        available = domain_tools(sample.data["domain"])
        return [available[name].spec() for name in presented_order(sample.data["tools"], sample.id)]

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        check_toolcall_row(sample)
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        level, messages = self.messages(sample)
        speak = with_dialect(chat, self.dialect)
        tools = self.tool_specs(sample)
        completion = await speak(messages, params, tools=tools)
        state: dict[str, Any] = {"quality": level}
        if self.judge is not None:
            calls = [(call.name, call.arguments) for call in read_calls(completion)]
            prompt = toolcall_prompt(messages, tools, describe_reply(completion.content, calls))
            state["judge"] = await ask_opinion(self.judge, chat, prompt, TOOLCALL_PROMPT_SHA256)
        return Transcript(messages=messages, completions=[completion], state=state)

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        completion = transcript.completions[-1]
        data = sample.data
        tools = domain_tools(data["domain"])
        exposed = {name: tools[name] for name in data["tools"]}
        made = read_calls(completion)
        # A call to a tool this task does not expose never pairs: it is an extra (hallucinated) call.
        result = score_calls(made, data["expected"], exposed, ordered=bool(data.get("ordered")))
        value = result.value
        problems = [f"{call.name}: {call.problem}" for call in made if call.problem]
        if completion.tool_parse_error and not data["expected"]:
            value = 0.0  # an attempted but unreadable call is still a call where none was wanted
        details: dict[str, Any] = {
            "domain": data["domain"],
            "difficulty": data["difficulty"],
            "weight": DIFFICULTY_WEIGHTS[data["difficulty"]],
            "quality": transcript.state.get("quality"),
            "achieved": result.achieved,
            "maximum": result.maximum,
            "calls": result.calls,
            "extra_calls": result.extra_calls,
            "hallucinated_tools": [name for name in result.extra_calls if name not in exposed],
            "irrelevance": not data["expected"],
            "schema_adherent": completion.tool_parse_error is None,
            "finish_reason": completion.finish_reason,
        }
        if isinstance(transcript.state.get("judge"), dict):
            details["judge"] = transcript.state["judge"]  # an opinion beside the score, never part of it
        extracted = ", ".join(call.name for call in made) or "(no call)"
        gold = ", ".join(call["name"] for call in data["expected"]) or "(no call)"
        error = None
        kind = ErrorKind.NONE
        if completion.tool_parse_error:
            kind, error = ErrorKind.MODEL, f"tool call could not be parsed: {completion.tool_parse_error}"
        elif problems:
            kind, error = ErrorKind.MODEL, "; ".join(problems)
        return Score(
            value=value,
            correct=value >= 1.0 - 1e-9,
            extracted=extracted,
            gold=gold,
            error_kind=kind,
            error=error,
            details=details,
        )

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]:
        summary = count_summary(results)
        scored = judged(results)
        values = [r.score.value for r in scored]
        summary["score"] = weighted_score(values, [r.score.details.get("weight", 1.0) for r in scored])
        summary["mean_score"] = mean_score(values)
        summary["accuracy"] = rate(sum(1 for r in scored if r.score.correct), len(scored))  # full marks
        summary["unparseable"] = model_error_rate(scored)
        summary["schema_adherence"] = schema_adherence(scored)
        irrelevance = [r for r in scored if r.score.details.get("irrelevance")]
        summary["irrelevance"] = rate(sum(1 for r in irrelevance if r.score.correct), len(irrelevance))
        summary["hallucinated_tool_calls"] = sum(
            len(r.score.details.get("hallucinated_tools", [])) for r in scored
        )
        summary["truncated"] = sum(1 for r in scored if r.score.details.get("finish_reason") == "length")
        summary["by_difficulty"] = breakdown(
            scored, lambda r: str(r.score.details.get("difficulty")), tuple(DIFFICULTY_WEIGHTS)
        )
        summary["by_domain"] = breakdown(scored, lambda r: str(r.score.details.get("domain")))
        # the level each task was asked at: one level per run, or several with --quality low..high
        summary["by_quality"] = breakdown(
            scored, lambda r: str(r.score.details.get("quality")), tuple(str(level) for level in range(1, 11))
        )
        summary["quality"] = self.quality
        summary["dialect"] = self.dialect
        if self.judge is not None:
            summary["llm_judge"] = opinion_summary(
                results,
                key="judge",
                value_of=lambda record: record.get("grade"),
                passes=lambda grade: grade >= PASS_GRADE,
                endpoint=self.judge.describes,
                prompt_sha256=TOOLCALL_PROMPT_SHA256,
                scale="grade 1-5",
                pass_rule=f"grade >= {PASS_GRADE} against full marks",
            )
        return summary
