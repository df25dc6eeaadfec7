"""The judge of rubric items: a fixed prompt and a tolerant verdict parser, asked through the
shared judge client (`tasks/judging.py`: connection lifetime, retries, failure classification).

A judge failure is never read as "criterion not met": an unreachable or refusing judge is an `infra`
failure, a reply with no readable verdict after one corrective retry is a `parse` failure, and both
are recorded apart by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchlab.tasks.base import ChatFn
from benchlab.tasks.judging import RAW_KEPT, JudgeClient, as_bool, first_json_object, prompt_sha256

JUDGE_PROMPT = """You are grading one reply of an assistant against one rubric criterion.

<conversation>
{conversation}
</conversation>

<reply>
{reply}
</reply>

<criterion points="{points}">
{criterion}
</criterion>

Decide whether the reply satisfies the criterion as written. Some criteria describe something a
reply should NOT do (their points are negative); still answer whether the described behaviour is
present in the reply — true means it is present. A criterion with several parts is met only if
every part is. Judge the reply alone, not what the assistant might have meant.

Answer with one JSON object and nothing else:
{{"explanation": "<one or two sentences>", "criteria_met": true or false}}"""

RETRY_NOTE = (
    'Your answer could not be read. Reply with exactly one JSON object of the form {"explanation": '
    '"...", "criteria_met": true} or {"explanation": "...", "criteria_met": false}, and nothing else.'
)

PROMPT_SHA256 = prompt_sha256(JUDGE_PROMPT, RETRY_NOTE)


@dataclass(frozen=True)
class Verdict:
    met: bool | None  # None when the judge failed
    explanation: str = ""
    failure: str | None = None  # "infra" or "parse"
    error: str | None = None
    judge_model: str | None = None
    attempts: int = 0
    raw: str = ""

    def record(self) -> dict[str, Any]:
        return {
            "met": self.met,
            "explanation": self.explanation,
            "failure": self.failure,
            "error": self.error,
            "judge_model": self.judge_model,
            "attempts": self.attempts,
            "raw": self.raw[:RAW_KEPT],
        }


def render_conversation(conversation: list[dict[str, Any]]) -> str:
    return "\n\n".join(f"[{turn['role']}]\n{turn['content']}" for turn in conversation)


def judge_messages(
    conversation: list[dict[str, Any]], reply: str, criterion: str, points: float
) -> list[dict[str, Any]]:
    shown = int(points) if float(points).is_integer() else points
    prompt = JUDGE_PROMPT.format(
        conversation=render_conversation(conversation), reply=reply, criterion=criterion, points=shown
    )
    return [{"role": "user", "content": prompt}]


def parse_verdict(text: str) -> tuple[bool, str] | None:
    """(criteria_met, explanation) from a judge reply, or None when no verdict can be read.

    Tolerates `<think>` blocks, code fences and prose around the object, and "true"/"false"
    written as strings; the first JSON object carrying `criteria_met` wins.
    """

    def accept(value: dict[str, Any]) -> tuple[bool, str] | None:
        met = as_bool(value.get("criteria_met"))
        return None if met is None else (met, str(value.get("explanation", "")))

    return first_json_object(text, accept)


class Judge(JudgeClient):
    """Asks the judge about one rubric item at a time, with a bounded number in flight."""

    async def verdict(
        self,
        chat: ChatFn,
        conversation: list[dict[str, Any]],
        reply: str,
        criterion: str,
        points: float,
    ) -> Verdict:
        """The judge's verdict on one item; `chat` is the model under test (used when no judge
        endpoint was given). Never raises for the judge's own failures: they come back recorded."""
        answer = await self.ask(
            chat,
            judge_messages(conversation, reply, criterion, points),
            parse_verdict,
            retry_note=RETRY_NOTE,
            unreadable="the judge's reply held no JSON verdict with `criteria_met`, twice",
        )
        if answer.value is None:
            # A refused request counts with the unreachable ones: the rubric reports infra and parse.
            failure = "parse" if answer.failure == "parse" else "infra"
            return Verdict(
                None,
                failure=failure,
                error=answer.error,
                judge_model=answer.judge_model,
                attempts=answer.attempts,
                raw=answer.raw,
            )
        met, explanation = answer.value
        return Verdict(
            met, explanation, judge_model=answer.judge_model, attempts=answer.attempts, raw=answer.raw
        )
