"""The `--llm-judge` opinion: a 1–5 quality grade with a short reason, for toolcall and chart runs.

The programmatic score stays THE score; the opinion is a second view recorded beside it, so that
a run can show how far a judge model agrees with the rules. The judge is asked in `solve()` (asking
is the impure step) and its record kept in `Transcript.state["judge"]`; `score()` copies it into
`Score.details["judge"]`, so a re-score needs no request.

The judge sees what the model was asked and what it answered — never the expected answer — and
grades it on a fixed 1–5 scale. Each prompt is fixed and its SHA-256 recorded with the record and
the run's options.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from benchlab.tasks.base import ChatFn
from benchlab.tasks.judging import JudgeClient, first_json_object, prompt_sha256

GRADE_SCALE = (1, 5)
PASS_GRADE = 4  # a grade at or above this counts as "good" when compared with a pass/fail score
HTML_SHOWN = 24_000  # characters of a chart document shown to the judge (the rest is elided)

_ANSWER = """Answer with one JSON object and nothing else:
{{"reason": "<one or two sentences>", "grade": <a whole number from 1 to 5>}}"""

_SCALE = """Grade on this scale:
5 — fully right: nothing a careful reviewer would change.
4 — right in substance, with a small flaw.
3 — partly right: a real part of the request is missing or wrong.
2 — mostly wrong, with something usable.
1 — wrong, missing, or harmful to the request."""

TOOLCALL_PROMPT = (
    """You are reviewing how an assistant used tools to answer one request.

<system>
{system}
</system>

<request>
{request}
</request>

<tools>
{tools}
</tools>

<reply>
{reply}
</reply>

Judge whether the reply fulfils the request with the tools offered: the right tools, called with
the right arguments, in a sensible order, and no call where none fits (then a text answer is
right). Do not reward calls to tools that were not offered.

"""
    + _SCALE
    + "\n\n"
    + _ANSWER
)

CHART_PROMPT = (
    """You are reviewing a chart an assistant built as an HTML document.

<request>
Title: {title}
Request: {request}
Chart type asked for: {chart_type}
Data:
{table}
Design tokens: series colours {palette}; background {background}; text colour {text}; font {font};
corner radius {radius}px
</request>

<document>
{html}
</document>

Judge the document as the chart it would draw: the chart type asked for, every label and value of
the data shown correctly, the design tokens applied, and a self-contained page with no outside
resources.

"""
    + _SCALE
    + "\n\n"
    + _ANSWER
)

RETRY_NOTE = (
    'Your answer could not be read. Reply with exactly one JSON object of the form {"reason": "...", '
    '"grade": 4} (a whole number from 1 to 5), and nothing else.'
)

TOOLCALL_PROMPT_SHA256 = prompt_sha256(TOOLCALL_PROMPT, RETRY_NOTE)
CHART_PROMPT_SHA256 = prompt_sha256(CHART_PROMPT, RETRY_NOTE)

_FRACTION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*5)?\s*$")


def read_grade(value: Any) -> float | None:
    """A grade from 1 to 5 written as a number, "4" or "4/5"; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and (match := _FRACTION.match(value)):
        number = float(match.group(1))
    else:
        return None
    low, high = GRADE_SCALE
    return number if math.isfinite(number) and low <= number <= high else None


def parse_grade(text: str) -> tuple[float, str] | None:
    """(grade, reason) from the judge's reply: the first JSON object with a readable `grade`."""

    def accept(value: dict[str, Any]) -> tuple[float, str] | None:
        grade = read_grade(value.get("grade"))
        reason = value.get("reason", value.get("explanation", ""))
        return None if grade is None else (grade, str(reason))

    return first_json_object(text, accept)


async def ask_opinion(judge: JudgeClient, chat: ChatFn, prompt: str, sha256: str) -> dict[str, Any]:
    """The judge's grade of one answer, as the record stored in the transcript (never raises for the
    judge's own failures: they are recorded with their kind)."""
    async with judge:
        answer = await judge.ask(
            chat,
            [{"role": "user", "content": prompt}],
            parse_grade,
            retry_note=RETRY_NOTE,
            unreadable="the judge's reply held no JSON object with a 1–5 `grade`, twice",
        )
    grade, reason = answer.value if answer.value is not None else (None, "")
    return {"grade": grade, "reason": reason, "prompt_sha256": sha256, **answer.record()}


def toolcall_prompt(messages: list[dict[str, Any]], tools: list[dict[str, Any]], reply: str) -> str:
    system = "\n".join(str(m["content"]) for m in messages if m["role"] == "system")
    request = "\n".join(str(m["content"]) for m in messages if m["role"] == "user")
    listed = "\n".join(
        json.dumps(tool.get("function", tool), ensure_ascii=False, separators=(",", ":")) for tool in tools
    )
    return TOOLCALL_PROMPT.format(system=system, request=request, tools=listed, reply=reply)


def describe_reply(content: str, calls: list[tuple[str, Any]]) -> str:
    """The model's answer as the judge reads it: its text, then one line per tool call."""
    lines = [f"text: {content.strip()}" if content.strip() else "text: (none)"]
    lines += [f"call: {name}({json.dumps(arguments, ensure_ascii=False)})" for name, arguments in calls]
    if not calls:
        lines.append("call: (no tool call)")
    return "\n".join(lines)


def clip_html(html: str) -> str:
    if len(html) <= HTML_SHOWN:
        return html
    return html[:HTML_SHOWN] + f"\n<!-- {len(html) - HTML_SHOWN} more characters not shown -->"
