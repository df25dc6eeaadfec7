"""Which task kind asks and scores a dataset: one factory per kind, all built from `TaskSettings`.

Factories import their module lazily, so a run of multiple choice never loads the sandbox, the
agent domains or a browser. A kind is available once it has an entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlab.tasks.base import Task
from benchlab.types import Endpoint

if TYPE_CHECKING:
    from benchlab.tasks.judging import JudgeClient


class TaskSettingsError(ValueError):
    """Settings a task kind cannot run with; the message names the flag to change."""


@dataclass(frozen=True)
class TaskSettings:
    """Everything a user can set about how a task asks and scores, from every surface alike."""

    shuffle: bool = True  # mcq: shuffle options per question (seeded by its text)
    samples: int = 1  # code: answers per problem, for pass@k
    dialect: str = "raw"  # toolcall/agent: how tools reach the model (raw, hermes, qwen, pi)
    judge: Endpoint | None = None  # rubric: the judge model's endpoint (None: the model under test)
    render: bool = False  # chart: render every chart in a headless browser
    llm_judge: bool = False  # toolcall/chart: a judge's 1-5 opinion beside the programmatic score
    visual_judge: bool = False  # chart (with render): a vision judge grades the screenshot
    artifacts: Path | None = None  # where a task saves files (charts, screenshots); None: none saved
    options: dict[str, Any] = field(default_factory=dict)  # kind-specific `--option key=value`


def _mcq(settings: TaskSettings) -> Task:
    from benchlab.tasks.mcq import McqTask

    if settings.samples != 1:
        raise TaskSettingsError(
            "--samples applies to code benchmarks; multiple choice asks each question once."
        )
    return McqTask(shuffle=settings.shuffle)


def _code(settings: TaskSettings) -> Task:
    from benchlab.tasks.code import CodeTask

    if settings.samples < 1:
        raise TaskSettingsError("--samples must be at least 1.")
    code = CodeTask(samples=settings.samples)
    code.check_ready()  # refuse before any request when execution is not allowed
    return code


def _instruct(settings: TaskSettings) -> Task:
    from benchlab.tasks.instruct.task import InstructTask
    from benchlab.tasks.instruct.text import LanguageDetectionUnavailable

    if settings.samples != 1:
        raise TaskSettingsError("--samples applies to code benchmarks; instruction following asks once.")
    if settings.options:
        raise TaskSettingsError(
            f"instruction following takes no --option (got {', '.join(sorted(settings.options))})."
        )
    try:
        return InstructTask()
    except LanguageDetectionUnavailable as error:
        raise TaskSettingsError(str(error)) from None


def _chart(settings: TaskSettings) -> Task:
    try:
        from benchlab.tasks.chart import ChartTask
    except ImportError as error:
        raise TaskSettingsError(
            f"chart benchmarks need {error.name} to parse the model's HTML: pip install 'benchlab[chart]'."
        ) from None
    from benchlab.tasks.chart_render import DEFAULT_BROWSER, RenderUnavailable, check_render_ready

    unknown = sorted(set(settings.options) - {"browser", "render_timeout", *_judge_option_names(settings)})
    if unknown:
        raise TaskSettingsError(
            f"chart benchmarks take --option browser=PATH and --option render_timeout=SECONDS, not {unknown}."
        )
    browser = str(settings.options.get("browser", DEFAULT_BROWSER))
    try:
        timeout = float(settings.options.get("render_timeout", 15.0))
    except (TypeError, ValueError):
        timeout = 0.0
    if not timeout > 0:
        raise TaskSettingsError("--option render_timeout must be a positive number of seconds.")
    if settings.render:
        try:
            check_render_ready(browser)  # refuse before any request when the browser cannot run
        except RenderUnavailable as error:
            raise TaskSettingsError(str(error)) from None
    if settings.visual_judge and not settings.render:
        raise TaskSettingsError("--visual-judge grades the rendered screenshot: add --render.")
    judge = _judge_client(settings) if settings.llm_judge or settings.visual_judge else None
    return ChartTask(
        render=settings.render,
        artifacts=settings.artifacts,
        browser=browser,
        render_timeout_s=timeout,
        judge=judge if settings.llm_judge else None,
        visual_judge=judge if settings.visual_judge else None,
    )


def _rubric(settings: TaskSettings) -> Task:
    from benchlab.tasks.rubric import RubricTask

    known = {"judge_max_tokens", "judge_concurrency"}
    unknown = sorted(set(settings.options) - known)
    if unknown:
        raise TaskSettingsError(
            f"rubric benchmarks take no option {', '.join(unknown)}; known: {', '.join(sorted(known))}."
        )
    try:
        max_tokens = int(settings.options.get("judge_max_tokens", 1024))
        concurrency = int(settings.options.get("judge_concurrency", 4))
    except (TypeError, ValueError):
        raise TaskSettingsError("--option judge_max_tokens / judge_concurrency take whole numbers.") from None
    if max_tokens < 1 or concurrency < 1:
        raise TaskSettingsError("--option judge_max_tokens and judge_concurrency must be at least 1.")
    return RubricTask(
        judge_endpoint=settings.judge, judge_max_tokens=max_tokens, judge_concurrency=concurrency
    )


JUDGE_OPTIONS = ("judge_max_tokens", "judge_concurrency")
LLM_JUDGE_KINDS = ("toolcall", "chart")


def _judge_option_names(settings: TaskSettings) -> tuple[str, ...]:
    """The judge's options, taken by a toolcall or chart run only when a judge is asked."""
    return JUDGE_OPTIONS if settings.llm_judge or settings.visual_judge else ()


def _judge_client(settings: TaskSettings) -> JudgeClient:
    """The judge of `--llm-judge`/`--visual-judge`, sized by `--option judge_max_tokens/judge_concurrency`."""
    from benchlab.tasks.judging import JudgeClient

    max_tokens = _integer_option(settings, "judge_max_tokens", 1, 65536)
    concurrency = _integer_option(settings, "judge_concurrency", 1, 64)
    return JudgeClient(settings.judge, max_tokens=max_tokens or 1024, concurrency=concurrency or 4)


def _longcontext(settings: TaskSettings) -> Task:
    from benchlab.tasks.longcontext import LongContextTask

    known = {"context", "answer_tokens"}
    unknown = sorted(set(settings.options) - known)
    if unknown:
        raise TaskSettingsError(
            f"longcontext benchmarks take no option {', '.join(unknown)}; known: {', '.join(sorted(known))}."
        )
    try:
        context = settings.options.get("context")
        context_limit = int(context) if context is not None else None
        tokens = settings.options.get("answer_tokens")
        answer_tokens = int(tokens) if tokens is not None else None
    except (TypeError, ValueError):
        raise TaskSettingsError("--option context / answer_tokens take whole numbers of tokens.") from None
    if (context_limit is not None and context_limit < 1) or (answer_tokens is not None and answer_tokens < 1):
        raise TaskSettingsError("--option context and answer_tokens must be at least 1.")
    return LongContextTask(context_limit=context_limit, answer_tokens=answer_tokens)


def _extract(settings: TaskSettings) -> Task:
    from benchlab.tasks.extract import ExtractTask

    if settings.samples != 1:
        raise TaskSettingsError("--samples applies to code benchmarks; extraction asks each task once.")
    unknown = set(settings.options) - {"constrained"}
    if unknown:
        raise TaskSettingsError(
            f"extract takes --option constrained=true|false, not {', '.join(sorted(unknown))}."
        )
    constrained = settings.options.get("constrained", False)
    if not isinstance(constrained, bool):
        raise TaskSettingsError(f"--option constrained takes true or false, not {constrained!r}.")
    return ExtractTask(constrained=constrained)


def _math(settings: TaskSettings) -> Task:
    from benchlab.tasks.math_task import MathTask

    if settings.samples != 1:
        raise TaskSettingsError("--samples applies to code benchmarks; math asks each problem once.")
    if settings.options:
        raise TaskSettingsError(
            f"math takes no --option settings (got {', '.join(sorted(settings.options))})."
        )
    return MathTask()


def _integer_option(settings: TaskSettings, name: str, low: int, high: int) -> int | None:
    value = settings.options.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TaskSettingsError(f"--option {name}={value!r}: give a whole number from {low} to {high}.")
    return value


def _unknown_options(settings: TaskSettings, kind: str, known: set[str]) -> None:
    unknown = sorted(set(settings.options) - known)
    if unknown:
        raise TaskSettingsError(
            f"{kind} benchmarks take no option {', '.join(unknown)}; "
            f"their options: {', '.join(sorted(known))}."
        )


def _check_dialect(settings: TaskSettings) -> None:
    """Refuse an unknown dialect before any request."""
    from benchlab.endpoints.dialects import DIALECTS

    if settings.dialect not in DIALECTS:
        raise TaskSettingsError(f"--dialect {settings.dialect!r}: choose one of {', '.join(DIALECTS)}.")


def _toolcall(settings: TaskSettings) -> Task:
    _check_dialect(settings)
    _unknown_options(settings, "toolcall", {"quality", *_judge_option_names(settings)})
    from benchlab.tasks.tools.toolcall import DEFAULT_QUALITY, ToolCallTask

    quality = _integer_option(settings, "quality", 1, 10)
    return ToolCallTask(
        quality=DEFAULT_QUALITY if quality is None else quality,
        dialect=settings.dialect,
        judge=_judge_client(settings) if settings.llm_judge else None,
    )


def _agent(settings: TaskSettings) -> Task:
    _check_dialect(settings)
    _unknown_options(settings, "agent", {"max_turns"})
    from benchlab.tasks.tools.agent import AgentTask

    return AgentTask(max_turns=_integer_option(settings, "max_turns", 1, 50), dialect=settings.dialect)


def _bfcl(settings: TaskSettings) -> Task:
    _check_dialect(settings)
    if settings.options:
        raise TaskSettingsError(f"BFCL takes no --option (got {', '.join(sorted(settings.options))}).")
    from benchlab.tasks.tools.bfcl import BfclTask

    return BfclTask(dialect=settings.dialect)


TASK_KINDS: dict[str, Callable[[TaskSettings], Task]] = {
    "mcq": _mcq,
    "code": _code,
    "instruct": _instruct,
    "chart": _chart,
    "rubric": _rubric,
    "longcontext": _longcontext,
    "extract": _extract,
    "math": _math,
    "toolcall": _toolcall,
    "agent": _agent,
    "bfcl": _bfcl,
}


def build_task(kind: str, settings: TaskSettings) -> Task:
    factory = TASK_KINDS.get(kind)
    if factory is None:
        available = ", ".join(sorted(TASK_KINDS))
        raise TaskSettingsError(f"{kind} benchmarks cannot run yet; available task kinds: {available}.")
    if settings.llm_judge and kind not in LLM_JUDGE_KINDS:
        raise TaskSettingsError(
            f"--llm-judge applies to {' and '.join(LLM_JUDGE_KINDS)} benchmarks, not {kind}"
            + (" (rubric benchmarks are judged already)." if kind == "rubric" else ".")
        )
    if settings.visual_judge and kind != "chart":
        raise TaskSettingsError(f"--visual-judge applies to chart benchmarks (with --render), not {kind}.")
    return factory(settings)
