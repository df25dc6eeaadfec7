"""Which task kind asks and scores a dataset: one factory per kind, all built from `TaskSettings`.

Factories import their module lazily, so a run of multiple choice never loads the sandbox, the
agent domains or a browser. A kind is available once it has an entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlab.tasks.base import Task
from benchlab.types import Endpoint


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


def _tools_ready(kind: str) -> None:
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        raise TaskSettingsError(
            f"{kind} benchmarks validate tool arguments with jsonschema: pip install 'benchlab[tools]'."
        ) from None


def _check_dialect(settings: TaskSettings) -> None:
    """Refuse an unknown or unavailable dialect before any request (wrapping calls nothing)."""
    from benchlab.endpoints.dialects import DIALECTS, with_dialect

    if settings.dialect not in DIALECTS:
        raise TaskSettingsError(f"--dialect {settings.dialect!r}: choose one of {', '.join(DIALECTS)}.")

    async def never_called(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a dialect must not call the model while it is being set up")

    try:
        with_dialect(never_called, settings.dialect)
    except NotImplementedError as error:
        raise TaskSettingsError(f"--dialect {settings.dialect}: {error}; use --dialect raw.") from None


def _toolcall(settings: TaskSettings) -> Task:
    _tools_ready("toolcall")
    _check_dialect(settings)
    _unknown_options(settings, "toolcall", {"quality"})
    from benchlab.tasks.tools.toolcall import DEFAULT_QUALITY, ToolCallTask

    quality = _integer_option(settings, "quality", 1, 10)
    return ToolCallTask(quality=DEFAULT_QUALITY if quality is None else quality, dialect=settings.dialect)


def _agent(settings: TaskSettings) -> Task:
    _tools_ready("agent")
    _check_dialect(settings)
    _unknown_options(settings, "agent", {"max_turns"})
    from benchlab.tasks.tools.agent import AgentTask

    return AgentTask(max_turns=_integer_option(settings, "max_turns", 1, 50), dialect=settings.dialect)


TASK_KINDS: dict[str, Callable[[TaskSettings], Task]] = {
    "mcq": _mcq,
    "code": _code,
    "toolcall": _toolcall,
    "agent": _agent,
}


def build_task(kind: str, settings: TaskSettings) -> Task:
    factory = TASK_KINDS.get(kind)
    if factory is None:
        available = ", ".join(sorted(TASK_KINDS))
        raise TaskSettingsError(f"{kind} benchmarks cannot run yet; available task kinds: {available}.")
    return factory(settings)
