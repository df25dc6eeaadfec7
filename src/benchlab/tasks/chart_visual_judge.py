"""The `--visual-judge` of charts: the rendered screenshot, shown to a vision-capable judge.

The PNG that `--render` saved is sent as an OpenAI-style `image_url` part (a `data:image/png;base64`
URL) with the chart request and the design tokens, and graded on four yes/no criteria:

* `readable` — labels and text can be read; nothing overlaps or is cut off;
* `chart_type` — it is the kind of chart asked for;
* `data_plotted` — the data is visibly drawn (marks for the rows, not an empty frame);
* `tokens_applied` — the series colours, background and text colour match the tokens.

The visual score is the share of criteria met (0–1). Like the `--llm-judge` opinion it is a second
view beside the programmatic score, asked in `solve()` and stored in the transcript. A judge that
rejects images (HTTP 400, or llama.cpp's HTTP 500 "image input is not supported" without a
multimodal projector) is a recorded `rejected` judge failure with a message naming the fix; the run
goes on, and later screenshots of the run are not sent to that judge again (recorded the same way,
with `asked: false`).
"""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path
from typing import Any

from benchlab.tasks.base import ChatFn
from benchlab.tasks.judging import JudgeClient, JudgeReply, as_bool, first_json_object, prompt_sha256

VISUAL_CRITERIA = ("readable", "chart_type", "data_plotted", "tokens_applied")

VISUAL_PROMPT = """You are reviewing a screenshot of a chart built for this request.

Title: {title}
Request: {request}
Chart type asked for: {chart_type}
Data:
{table}
Design tokens: series colours {palette}; background {background}; text colour {text}; font {font}

Look at the image and answer four questions, each true or false:
- readable: labels and text can be read; nothing important overlaps or is cut off.
- chart_type: the image shows the kind of chart asked for.
- data_plotted: the data is visibly drawn — marks for the rows, not an empty frame or only text.
- tokens_applied: the series colours, background and text colour visibly match the tokens.

Answer with one JSON object and nothing else:
{{"readable": true, "chart_type": true, "data_plotted": true, "tokens_applied": true,
"explanation": "<one or two sentences>"}}"""

RETRY_NOTE = (
    "Your answer could not be read. Reply with exactly one JSON object with the keys readable, "
    "chart_type, data_plotted and tokens_applied (each true or false) and explanation, and nothing else."
)

VISUAL_PROMPT_SHA256 = prompt_sha256(VISUAL_PROMPT, RETRY_NOTE)

# How servers say they take no images. llama.cpp without a projector answers HTTP 500 ("image input
# is not supported ... mmproj"), which the transport first retries as a server fault.
_IMAGES_REFUSED = re.compile(
    r"image input is not supported|mmproj|does not support (?:image|vision)|multimodal|image_url", re.I
)

NO_VISION_HINT = (
    "the judge does not take images: give --judge-server a vision-capable model (for llama.cpp, start "
    "llama-server with --mmproj), or drop --visual-judge"
)


def png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def visual_messages(prompt: str, png: bytes) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": prompt},
                {"type": "image_url", "image_url": {"url": png_data_url(png)}},
            ],
        }
    ]


def parse_visual(text: str) -> tuple[dict[str, bool], str] | None:
    """({criterion: met}, explanation) from the judge's reply, when all four criteria are readable."""

    def accept(value: dict[str, Any]) -> tuple[dict[str, bool], str] | None:
        met = {name: as_bool(value.get(name)) for name in VISUAL_CRITERIA}
        if any(flag is None for flag in met.values()):
            return None
        return {name: bool(flag) for name, flag in met.items()}, str(value.get("explanation", ""))

    return first_json_object(text, accept)


async def ask_visual(judge: JudgeClient, chat: ChatFn, prompt: str, screenshot: Path) -> dict[str, Any]:
    """The visual judge's record for one screenshot (never raises for the judge's own failures)."""
    record: dict[str, Any] = {
        "criteria": None,
        "score": None,
        "explanation": "",
        "prompt_sha256": VISUAL_PROMPT_SHA256,
        "screenshot": str(screenshot),
    }
    if judge.refused_images is not None:  # asking again would only be refused again (and retried)
        return {
            **record,
            **JudgeReply(None, failure="rejected", error=judge.refused_images, judge_model=None).record(),
            "asked": False,
        }
    png = await asyncio.to_thread(screenshot.read_bytes)
    async with judge:
        answer = await judge.ask(
            chat,
            visual_messages(prompt, png),
            parse_visual,
            retry_note=RETRY_NOTE,
            unreadable="the judge's reply held no JSON object with the four yes/no criteria, twice",
        )
    record.update(answer.record())
    if answer.value is not None:
        met, explanation = answer.value
        record.update(criteria=met, score=sum(met.values()) / len(met), explanation=explanation)
    elif _IMAGES_REFUSED.search(answer.error or ""):
        record.update(failure="rejected", error=f"{answer.error} — {NO_VISION_HINT}")
        judge.refused_images = f"not asked: the judge refused an image earlier in this run — {NO_VISION_HINT}"
    return record
