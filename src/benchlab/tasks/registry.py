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


def _extract(settings: TaskSettings) -> Task:
    try:
        from benchlab.tasks.extract import ExtractTask
    except ImportError as error:  # jsonschema is an optional extra
        raise TaskSettingsError(
            f"extract benchmarks need the jsonschema library ({error}); install it with "
            "pip install 'benchlab[extract]'."
        ) from error
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


TASK_KINDS: dict[str, Callable[[TaskSettings], Task]] = {
    "mcq": _mcq,
    "code": _code,
    "extract": _extract,
    "math": _math,
}


def build_task(kind: str, settings: TaskSettings) -> Task:
    factory = TASK_KINDS.get(kind)
    if factory is None:
        available = ", ".join(sorted(TASK_KINDS))
        raise TaskSettingsError(f"{kind} benchmarks cannot run yet; available task kinds: {available}.")
    return factory(settings)
