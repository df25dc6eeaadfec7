"""Multi-turn agents (`agent`): benchlab runs the loop — the model calls tools, the task's
environment executes them, the results go back as `role: tool` messages — until the model answers
in text or the turn limit is reached. Scoring is in `agent_scoring`.

The whole trace (every message, including tool results) is the transcript; `state["calls"]` lists
the calls executed, with their turn, so the episode can be replayed and re-scored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchlab.analysis.summary import count_summary, judged, model_error_rate, rate
from benchlab.endpoints.dialects import with_dialect
from benchlab.tasks.base import ChatFn
from benchlab.tasks.tools.agent_scoring import RecordedCall, score_episode
from benchlab.tasks.tools.calls import read_calls
from benchlab.tasks.tools.domains import build_environment, presented_order
from benchlab.tasks.tools.rows import check_agent_row
from benchlab.tasks.tools.rubric import DIFFICULTY_WEIGHTS
from benchlab.tasks.tools.summary import breakdown, mean_score, schema_adherence, weighted_score
from benchlab.types import ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript

DEFAULT_MAX_TOKENS = {False: 1024, None: 4096, True: 16384}
DEFAULT_MAX_TURNS = 8

SYSTEM_PROMPT = (
    "You are an operations assistant with tools. Work step by step: call tools to look things up or "
    "make changes, read their results, and call more tools if needed. Use only the tools you are "
    "given. When the job is done, reply in text, with your final answer on a last line that starts "
    "with 'Answer:'."
)


@dataclass(frozen=True)
class AgentTask:
    max_turns: int | None = None  # None: each task's own limit (default DEFAULT_MAX_TURNS)
    dialect: str = "raw"
    kind: str = "agent"

    def options(self) -> dict[str, Any]:
        return {"max_turns": self.max_turns, "dialect": self.dialect}

    def turn_limit(self, sample: Sample) -> int:
        return self.max_turns or int(sample.data.get("max_turns", DEFAULT_MAX_TURNS))

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        check_agent_row(sample)
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        data = sample.data
        environment = build_environment(data["domain"], presented_order(data["tools"], sample.id))
        specs = environment.specs()
        speak = with_dialect(chat, self.dialect)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": data["prompt"]},
        ]
        completions = []
        calls: list[dict[str, Any]] = []
        stop = "turn_limit"
        for turn in range(1, self.turn_limit(sample) + 1):
            completion = await speak(list(messages), params, tools=specs)
            completions.append(completion)
            made = read_calls(completion)
            if completion.tool_parse_error:
                messages.append({"role": "assistant", "content": completion.content})
                stop = "parse_error"
                break
            if not made:
                messages.append({"role": "assistant", "content": completion.content})
                stop = "answered"
                break
            ids = [call.call_id or f"call_{turn}_{index}" for index, call in enumerate(made)]
            messages.append(
                {
                    "role": "assistant",
                    "content": completion.content or None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                        }
                        for call_id, call in zip(ids, made, strict=True)
                    ],
                }
            )
            for call_id, call in zip(ids, made, strict=True):
                outcome = environment.execute(call.name, call.arguments)
                calls.append(
                    {"turn": turn, "name": call.name, "arguments": call.arguments, "problem": outcome.problem}
                )
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call_id,
                        "name": call.name,
                        "content": json.dumps(outcome.result),
                    }
                )
        return Transcript(
            messages=messages,
            completions=completions,
            state={
                "stop": stop,
                "turns": len(completions),
                "calls": calls,
                "turn_limit": self.turn_limit(sample),
            },
        )

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        state = transcript.state
        calls = [RecordedCall(c["turn"], c["name"], c["arguments"]) for c in state["calls"]]
        final = transcript.completions[-1].content if state["stop"] == "answered" else None
        value, correct, details = score_episode(sample.data, calls, final, state["turns"], state["stop"])
        data = sample.data
        details |= {
            "domain": data["domain"],
            "difficulty": data["difficulty"],
            "weight": DIFFICULTY_WEIGHTS[data["difficulty"]],
            "turn_limit": state.get("turn_limit"),
            "schema_adherent": all(c.tool_parse_error is None for c in transcript.completions),
        }
        kind, error = ErrorKind.NONE, None
        parse_errors = [c.tool_parse_error for c in transcript.completions if c.tool_parse_error]
        if parse_errors:
            kind, error = ErrorKind.MODEL, f"tool call could not be parsed: {parse_errors[0]}"
        answer = data.get("answer")
        gold = None
        if answer:
            gold = str(answer["value"]) if answer["type"] == "number" else " | ".join(answer["accept"])
        read = next((c.get("read") for c in details["checks"] if c["check"] == "answer"), None)
        return Score(
            value=value,
            correct=correct,
            extracted=read,
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
        summary["accuracy"] = rate(sum(1 for r in scored if r.score.correct), len(scored))  # task solved
        summary["unparseable"] = model_error_rate(scored)
        summary["schema_adherence"] = schema_adherence(scored)
        summary["turn_limit_hit"] = rate(
            sum(1 for r in scored if r.score.details.get("stop") == "turn_limit"), len(scored)
        )
        summary["loops"] = rate(sum(1 for r in scored if r.score.details.get("loop")), len(scored))
        summary["hallucinated_calls"] = sum(len(r.score.details.get("hallucinated", [])) for r in scored)
        turns = [r.score.details.get("turns", 0) for r in scored]
        summary["turns_mean"] = sum(turns) / len(turns) if turns else None
        summary["by_difficulty"] = breakdown(
            scored, lambda r: str(r.score.details.get("difficulty")), tuple(DIFFICULTY_WEIGHTS)
        )
        summary["by_domain"] = breakdown(scored, lambda r: str(r.score.details.get("domain")))
        summary["dialect"] = self.dialect
        return summary
