"""Chart building (DESIGN §5 chart): the model writes a self-contained HTML/SVG chart from a data
table, design tokens and constraints; the markup is scored on six criteria (`chart_criteria`).

* **Prompt**: the request, the data as a Markdown table, the tokens, the banned patterns and the
  interactivity asked for; the reply is one complete HTML document in a ```html block.
* **Artifacts**: every chart is saved as `<artifacts>/charts/<sample>-<sha12>.html` (named by the
  content's hash, so saving again is harmless) and its path is in `Score.details["html_path"]`.
* **Rendering** (`render=True`) happens in `solve()`, the impure step, and is recorded in
  `Transcript.state["render"]` with the SHA-256 of the HTML it rendered; `score()` asks and runs
  nothing (its one side effect is writing the chart file, which is idempotent) and uses the record
  only when the hash matches the markup it re-extracts. What a render withholds:
  a script error (uncaught exception or console error) or a page that never finished loading
  withholds *valid markup* (20); a blank render (screenshot one flat colour, or nothing painted) or
  an unfinished page withholds *data present* (30) and *chart type* (10); a blocked network
  request withholds *banned patterns absent* (10). A browser that cannot start is an infra error.
* **Judges** (optional, a second view that never changes the score): with `judge` (`--llm-judge`)
  the chart's markup gets a 1–5 opinion (`judge_opinion`); with `visual_judge` (`--visual-judge`,
  needs rendering) the screenshot is graded by a vision-capable judge (`chart_visual_judge`). Both
  are asked in `solve()` and stored in `Score.details["judge"]` / `["visual_judge"]`.
* **Browser lifetime**: one `ChartRenderer` per task, started lazily; `summarize()` closes it (the
  engine summarizes once at the end of a run) and an `atexit` hook closes it if a run is abandoned.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlab.analysis.summary import count_summary, judged, mean_rate, model_error_rate, rate
from benchlab.tasks.base import ChatFn
from benchlab.tasks.chart_criteria import CRITERIA, WEIGHTS, chart_root
from benchlab.tasks.chart_markup import parse_chart, recover_html
from benchlab.tasks.chart_render import DEFAULT_BROWSER, ChartRenderer
from benchlab.tasks.chart_spec import BANNED_PATTERNS, ChartSpec, RowError
from benchlab.tasks.chart_visual_judge import VISUAL_CRITERIA, VISUAL_PROMPT, VISUAL_PROMPT_SHA256, ask_visual
from benchlab.tasks.judge_opinion import CHART_PROMPT, CHART_PROMPT_SHA256, PASS_GRADE, ask_opinion, clip_html
from benchlab.tasks.judge_summary import opinion_summary
from benchlab.tasks.judging import JudgeClient
from benchlab.types import ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript

# A chart document is a few hundred lines; reasoning models get more room to think first.
DEFAULT_MAX_TOKENS = {False: 4096, None: 8192, True: 16384}

INTERACTIVITY_ASK = {
    "tooltip": "Every data mark shows its label and value in a tooltip on hover (an SVG <title> in each "
    "mark, or a tooltip driven by a mouse/pointer event listener).",
    "hover": "Marks react to hover (highlight on mouseover/pointerover listeners or a CSS :hover rule).",
    "click": "Clicking a mark does something useful (e.g. shows its details): attach a click listener.",
    "none": "No interactivity is needed.",
}
TYPE_NAMES = {
    "bar": "bar chart",
    "stacked_bar": "stacked bar chart (one stack per row, one segment per series)",
    "line": "line chart (one line per series)",
    "area": "area chart (filled area under each series)",
    "pie": "pie chart",
    "donut": "donut chart (a ring with a hole in the middle)",
    "scatter": "scatter plot (one point per row; first value column on x, second on y)",
    "heatmap": "heatmap (rows × value columns, each cell coloured by its value)",
}

PROMPT = """Build a chart as a single, self-contained HTML document.

Title: {title}
Request: {request}
Chart type: {chart_type}
Size: about {width}×{height} px

Data (show every label and every value exactly as written here, e.g. as data labels, axis labels, \
legend entries or tooltips):

{table}

Design tokens:
- series colours, in order: {palette}
- background: {background}; text colour: {text}
- font family: {font}
- corner radius: {radius}px (for the chart card and for bars or cells where they apply)

Rules:
{banned}
- Use inline <svg>, or <canvas> with an inline script, built by hand; the page is viewed offline.
- {interactivity}

Reply with the complete document in one ```html code block."""


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def chart_digest(html: str) -> str:
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def _safe_name(sample_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", sample_id)[:80] or "chart"


@dataclass
class ChartTask:
    render: bool = False
    artifacts: Path | None = None
    browser: str = DEFAULT_BROWSER
    render_timeout_s: float = 15.0
    judge: JudgeClient | None = None  # --llm-judge: an opinion on the markup
    visual_judge: JudgeClient | None = None  # --visual-judge: an opinion on the screenshot
    kind: str = "chart"
    _renderer: ChartRenderer | None = field(default=None, init=False, repr=False)
    _scratch: Path | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.artifacts is not None:
            self.artifacts = self.artifacts.absolute()  # the browser loads charts by file:// URL

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"render": self.render}
        if self.judge is not None:
            options.update(llm_judge=self.judge.describes, llm_judge_prompt_sha256=CHART_PROMPT_SHA256)
        if self.visual_judge is not None:
            options.update(
                visual_judge=self.visual_judge.describes, visual_judge_prompt_sha256=VISUAL_PROMPT_SHA256
            )
        return options

    # -- asking ------------------------------------------------------------------------------------

    def messages(self, sample: Sample) -> list[dict[str, Any]]:
        spec = ChartSpec.of(sample)
        tokens = spec.tokens
        prompt = PROMPT.format(
            title=spec.title,
            request=spec.request,
            chart_type=TYPE_NAMES[spec.chart_type],
            width=spec.width,
            height=spec.height,
            table=markdown_table(spec.data.columns, spec.data.rows),
            palette=", ".join(tokens.palette),
            background=tokens.background,
            text=tokens.text,
            font=tokens.font,
            radius=tokens.radius,
            banned="\n".join(
                f"- {BANNED_PATTERNS[name][:1].upper()}{BANNED_PATTERNS[name][1:]}." for name in spec.banned
            ),
            interactivity=INTERACTIVITY_ASK[spec.interactivity],
        )
        return [{"role": "user", "content": prompt}]

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        messages = self.messages(sample)
        completion = await chat(messages, params)
        state: dict[str, Any] = {}
        html = recover_html(completion.content).html
        if html is not None:
            path = self.save(sample, html)
            if self.render and path is not None:
                state["render"] = {
                    "html_sha256": chart_digest(html),
                    **await self.renderer().render(path, path.with_suffix(".png")),
                }
        await self._ask_judges(sample, chat, html, state)
        return Transcript(messages=messages, completions=[completion], state=state)

    async def _ask_judges(
        self, sample: Sample, chat: ChatFn, html: str | None, state: dict[str, Any]
    ) -> None:
        """The optional second opinions, recorded in `state` (a judge's failure is recorded there too)."""
        if self.judge is None and self.visual_judge is None:
            return
        fields = _prompt_fields(ChartSpec.of(sample))
        if self.judge is not None:
            if html is None:
                state["judge"] = {"skipped": "no HTML in the reply to judge"}
            else:
                prompt = CHART_PROMPT.format(html=clip_html(html), **fields)
                state["judge"] = await ask_opinion(self.judge, chat, prompt, CHART_PROMPT_SHA256)
        if self.visual_judge is not None:
            render = state.get("render") or {}
            screenshot = render.get("screenshot")
            if render.get("status") != "rendered" or not screenshot:
                why = "no HTML in the reply" if html is None else f"render {render.get('status', 'missing')}"
                state["visual_judge"] = {"skipped": f"no screenshot to judge ({why})"}
            else:
                prompt = VISUAL_PROMPT.format(**fields)
                state["visual_judge"] = await ask_visual(self.visual_judge, chat, prompt, Path(screenshot))

    # -- artifacts and the browser -----------------------------------------------------------------

    def chart_dir(self) -> Path | None:
        if self.artifacts is not None:
            return self.artifacts / "charts"
        if self.render:  # rendering needs a file even when nothing is to be kept
            if self._scratch is None:
                self._scratch = Path(tempfile.mkdtemp(prefix="benchlab-charts-"))
            return self._scratch
        return None

    def save(self, sample: Sample, html: str) -> Path | None:
        """Write the chart (once: the name carries the content's hash) and return its path."""
        folder = self.chart_dir()
        if folder is None:
            return None
        path = folder / f"{_safe_name(sample.id)}-{chart_digest(html)[:12]}.html"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(html, encoding="utf-8")
        return path

    def renderer(self) -> ChartRenderer:
        if self._renderer is None:
            self._renderer = ChartRenderer(self.browser, timeout_s=self.render_timeout_s)
        return self._renderer

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
        if self._scratch is not None:  # rendered without an artifacts folder: nothing is kept
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # -- scoring -----------------------------------------------------------------------------------

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        spec = ChartSpec.of(sample)
        completion = transcript.completions[-1]
        recovered = recover_html(completion.content)
        details: dict[str, Any] = {
            "rule": recovered.rule,
            "finish_reason": completion.finish_reason,
            "criteria": {name: 0.0 for name in WEIGHTS},
        }
        for judge in ("judge", "visual_judge"):  # opinions beside the score, never part of it
            if isinstance(transcript.state.get(judge), dict):
                details[judge] = transcript.state[judge]
        if recovered.html is None:
            cut = " (the reply was cut at the token limit)" if completion.finish_reason == "length" else ""
            return Score(
                error_kind=ErrorKind.MODEL, error=f"no HTML found in the reply{cut}", details=details
            )
        html = recovered.html
        path = self.save(sample, html)
        details["html_path"] = str(path) if path else None
        details["html_sha256"] = chart_digest(html)
        # What `benchlab show` lists as the answer: where the chart is, else its opening.
        extracted = str(path) if path else html[:200]
        parsed = parse_chart(html)
        if chart_root(parsed, spec) is None:
            return Score(
                error_kind=ErrorKind.MODEL,
                error="no chart: the markup has no <svg> with shapes, no <canvas> with a drawing script"
                + (" and no heatmap table" if spec.chart_type == "heatmap" else ""),
                extracted=extracted,
                details=details,
            )
        results = {name: check(parsed, spec) for name, check in CRITERIA.items()}
        points = {name: result.points for name, result in results.items()}
        details["why"] = {name: result.detail for name, result in results.items()}
        render = self._render_record(transcript, html)
        if render is not None:
            details["render"] = render
            if render.get("status") == "unavailable":
                return Score(
                    error_kind=ErrorKind.INFRA,
                    error=f"the chart could not be rendered: {render.get('error')}",
                    details=details,
                )
            details["withheld"] = withheld = render_penalties(render)
            for name in withheld:
                points[name] = 0.0
        details["criteria"] = points
        total = round(sum(points.values()), 2)
        details["total"] = total
        return Score(
            value=round(total / 100, 4),
            correct=total >= 100,
            extracted=extracted,
            details=details,
        )

    def _render_record(self, transcript: Transcript, html: str) -> dict[str, Any] | None:
        record = transcript.state.get("render")
        if not isinstance(record, dict):
            return None
        if record.get("html_sha256") != chart_digest(html):
            return {"status": "stale", "note": "rendered markup differs from the markup scored now"}
        return record

    # -- summarizing -------------------------------------------------------------------------------

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]:
        self.close()  # the run is over: the browser is no longer needed
        summary = count_summary(results)
        scored = judged(results)
        values = [r.score.value for r in scored]
        summary["score"] = mean_rate(values)
        summary["accuracy"] = summary["score"]  # the field every surface prints first
        summary["perfect"] = rate(sum(1 for r in scored if r.score.correct), len(scored))
        summary["unparseable"] = model_error_rate(scored)
        summary["criteria"] = {
            name: {
                "mean": round(sum(float(r.score.details["criteria"][name]) for r in scored) / len(scored), 2)
                if scored
                else None,
                "max": weight,
            }
            for name, weight in WEIGHTS.items()
        }
        rendered = [
            r.score.details["render"] for r in scored if isinstance(r.score.details.get("render"), dict)
        ]
        failures: dict[str, int] = {"script_errors": 0, "blank": 0, "timeout_or_crash": 0, "blocked": 0}
        for render in rendered:
            failures["script_errors"] += bool(render.get("page_errors") or render.get("console_errors"))
            failures["blank"] += bool(render.get("blank"))
            failures["timeout_or_crash"] += render.get("status") in ("timeout", "crashed")
            failures["blocked"] += bool(render.get("blocked"))
        failed = sum(1 for render in rendered if render_penalties(render))
        summary["render"] = {
            "enabled": self.render,
            "rendered": len(rendered),
            "failures": rate(failed, len(rendered)),
            "by_kind": failures,
        }
        subjects: dict[str, list[float]] = {}
        for r in scored:
            subjects.setdefault(r.subject or "(none)", []).append(r.score.value)
        summary["by_subject"] = {name: mean_rate(found) for name, found in sorted(subjects.items())}
        summary["truncated"] = sum(1 for r in scored if r.score.details.get("finish_reason") == "length")
        self._summarize_judges(results, summary)
        return summary

    def _summarize_judges(self, results: Sequence[SampleResult], summary: dict[str, Any]) -> None:
        if self.judge is not None:
            summary["llm_judge"] = opinion_summary(
                results,
                key="judge",
                value_of=lambda record: record.get("grade"),
                passes=lambda grade: grade >= PASS_GRADE,
                endpoint=self.judge.describes,
                prompt_sha256=CHART_PROMPT_SHA256,
                scale="grade 1-5",
                pass_rule=f"grade >= {PASS_GRADE} against a perfect chart",
            )
        if self.visual_judge is not None:
            visual = opinion_summary(
                results,
                key="visual_judge",
                value_of=lambda record: record.get("score"),
                passes=lambda share: share >= 1.0,
                endpoint=self.visual_judge.describes,
                prompt_sha256=VISUAL_PROMPT_SHA256,
                scale="share of the four visual criteria met, 0-1",
                pass_rule="all four visual criteria met against a perfect chart",
            )
            records = [
                r.score.details["visual_judge"]
                for r in results
                if isinstance((r.score.details.get("visual_judge") or {}).get("criteria"), dict)
            ]
            visual["criteria"] = {
                name: rate(sum(bool(record["criteria"][name]) for record in records), len(records))
                for name in VISUAL_CRITERIA
            }
            summary["visual_judge"] = visual


def _prompt_fields(spec: ChartSpec) -> dict[str, Any]:
    """What the judges are told about the request (the same words the model was given)."""
    tokens = spec.tokens
    return {
        "title": spec.title,
        "request": spec.request,
        "chart_type": TYPE_NAMES[spec.chart_type],
        "table": markdown_table(spec.data.columns, spec.data.rows),
        "palette": ", ".join(tokens.palette),
        "background": tokens.background,
        "text": tokens.text,
        "font": tokens.font,
        "radius": tokens.radius,
    }


def render_penalties(render: dict[str, Any]) -> list[str]:
    """The criteria a render withholds (module docstring)."""
    status = render.get("status")
    if status in ("stale", "unavailable", None):
        return []
    withheld: list[str] = []
    unfinished = status != "rendered"
    if unfinished or render.get("page_errors") or render.get("console_errors"):
        withheld.append("valid_markup")
    if unfinished or render.get("blank"):
        withheld += ["data_present", "chart_type"]
    if render.get("blocked"):
        withheld.append("banned_absent")
    return withheld


__all__ = ["ChartTask", "RowError", "chart_digest", "markdown_table", "render_penalties"]
