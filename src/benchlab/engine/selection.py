"""Which of a dataset's samples a run asks: `--domain`, `--difficulty`, `--quality`, `--task-id` and
`--mode mixed`, applied to the samples before the run is planned.

Filters read `Sample.data` fields, so they work for every kind whose rows carry them (toolcall and
agent: `domain`, `difficulty`; BFCL: `domain` is the category). A filter that leaves nothing is an
error that names the values the dataset does have.

- `domains`: keep samples whose `domain` is one of these.
- `difficulty`: an inclusive range over easy < medium < hard < expert (`"easy..hard"`, `"hard"`,
  `"medium.."`, `"..medium"`).
- `quality`: an inclusive range of prompt-quality levels (`"1..5"`). Every stored variant in the
  range becomes its own sample, id `<task>@q<level>`, holding that one variant — so one run
  measures how a model degrades as the prompt gets vaguer, paired task by task.
- `task_ids`: keep these ids (a task's id also selects all its `@q` variants).
- `mode = "mixed"`: with `-n`, draw the n samples round-robin across domains (each domain's order
  shuffled by the sample seed), so a small run is not dominated by the largest domain.

The run records `as_options()` in its task options, so resume and compare see the selection.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from benchlab.catalog.datasets import Dataset
from benchlab.tasks.base import ChatFn, Task
from benchlab.types import GenerationParams, Sample, SampleResult, Score, Transcript

DIFFICULTIES = ("easy", "medium", "hard", "expert")
MODES = ("all", "mixed")


class SelectionError(ValueError):
    """A selection that is malformed or selects nothing; the message names the available values."""


def _range(text: str, flag: str, parse: Any, low: Any, high: Any, examples: str) -> tuple[Any, Any]:
    first, sep, last = text.partition("..")
    try:
        start = parse(first.strip()) if first.strip() else low
        end = (parse(last.strip()) if last.strip() else high) if sep else start
    except (KeyError, ValueError):
        raise SelectionError(f"{flag} {text!r}: give a value or a range such as {examples}.") from None
    if start > end:
        raise SelectionError(f"{flag} {text!r}: the range runs backwards; write it low..high.")
    return start, end


def parse_difficulty(text: str) -> tuple[str, str]:
    start, end = _range(
        text, "--difficulty", DIFFICULTIES.index, 0, len(DIFFICULTIES) - 1, "easy..hard or hard"
    )
    return DIFFICULTIES[start], DIFFICULTIES[end]


def parse_quality(text: str) -> tuple[int, int]:
    start, end = _range(text, "--quality", int, 1, 10, "1..5 or 10")
    if start < 1 or end > 10:
        raise SelectionError(f"--quality {text!r}: prompt-quality levels run from 1 to 10.")
    return int(start), int(end)


@dataclass(frozen=True)
class Selection:
    domains: tuple[str, ...] = ()
    difficulty: tuple[str, str] | None = None
    quality: tuple[int, int] | None = None
    task_ids: tuple[str, ...] = ()
    mode: str = "all"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SelectionError(f"--mode {self.mode!r}: choose {' or '.join(MODES)}.")
        if self.difficulty is not None and not set(self.difficulty) <= set(DIFFICULTIES):
            raise SelectionError(f"--difficulty: use {', '.join(DIFFICULTIES)}.")

    @classmethod
    def parse(
        cls,
        *,
        domains: Sequence[str] = (),
        difficulty: str | None = None,
        quality: str | None = None,
        task_ids: Sequence[str] = (),
        mode: str = "all",
    ) -> Selection:
        """From the CLI's text forms (`--difficulty easy..hard`, `--quality 1..5`)."""
        return cls(
            domains=tuple(domains),
            difficulty=parse_difficulty(difficulty) if difficulty else None,
            quality=parse_quality(quality) if quality else None,
            task_ids=tuple(task_ids),
            mode=mode,
        )

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> Selection:
        """The selection a run recorded (`as_options()`), for resuming it."""
        if not options:
            return cls()
        return cls(
            domains=tuple(options.get("domains") or ()),
            difficulty=tuple(options["difficulty"]) if options.get("difficulty") else None,
            quality=tuple(options["quality"]) if options.get("quality") else None,
            task_ids=tuple(options.get("task_ids") or ()),
            mode=str(options.get("mode") or "all"),
        )

    @property
    def empty(self) -> bool:
        return self == Selection()

    def as_options(self) -> dict[str, Any]:
        return {
            "domains": list(self.domains),
            "difficulty": list(self.difficulty) if self.difficulty else None,
            "quality": list(self.quality) if self.quality else None,
            "task_ids": list(self.task_ids),
            "mode": self.mode,
        }


def _values(samples: Sequence[Sample], field: str) -> list[str]:
    return sorted({str(sample.data[field]) for sample in samples if field in sample.data})


def _keep(
    samples: list[Sample], field: str, wanted: set[str], flag: str, what: str, asked: str
) -> list[Sample]:
    if not any(field in sample.data for sample in samples):
        raise SelectionError(
            f"{flag}: this benchmark's tasks have no `{field}`; it cannot be filtered by {what}."
        )
    kept = [sample for sample in samples if str(sample.data.get(field)) in wanted]
    if not kept:
        raise SelectionError(
            f"{flag} {asked} selects no task; available {what}: {', '.join(_values(samples, field))}."
        )
    return kept


def _expand_quality(samples: list[Sample], low: int, high: int) -> list[Sample]:
    if not any(isinstance(sample.data.get("variants"), dict) for sample in samples):
        raise SelectionError("--quality: this benchmark's tasks have no prompt-quality variants.")
    expanded = []
    for sample in samples:
        variants = sample.data.get("variants") or {}
        if not all(str(key).isdigit() for key in variants):
            raise SelectionError(f"task {sample.id}: `variants` must map quality levels (1–10) to prompts.")
        for level in sorted(int(key) for key in variants):
            if low <= level <= high:
                data = {**sample.data, "variants": {str(level): variants[str(level)]}}
                expanded.append(sample.model_copy(update={"id": f"{sample.id}@q{level}", "data": data}))
    if not expanded:
        stored = sorted({int(key) for sample in samples for key in sample.data.get("variants") or {}})
        raise SelectionError(
            f"--quality {low}..{high} selects no variant; stored levels: {', '.join(map(str, stored))}."
        )
    return expanded


def select(samples: Sequence[Sample], selection: Selection) -> list[Sample]:
    """The samples a selection keeps, in dataset order (quality variants low to high per task)."""
    kept = list(samples)
    if selection.task_ids:
        wanted = set(selection.task_ids)
        kept = [sample for sample in kept if sample.id in wanted]
        missing = sorted(wanted - {sample.id for sample in kept})
        if missing:
            some = ", ".join(sample.id for sample in list(samples)[:5])
            raise SelectionError(f"--task-id {', '.join(missing)}: no such task; ids look like {some}, …")
    if selection.domains:
        kept = _keep(
            kept, "domain", set(selection.domains), "--domain", "domains", ", ".join(selection.domains)
        )
    if selection.difficulty:
        low, high = (DIFFICULTIES.index(level) for level in selection.difficulty)
        wanted = set(DIFFICULTIES[low : high + 1])
        asked = "..".join(dict.fromkeys(selection.difficulty))
        kept = _keep(kept, "difficulty", wanted, "--difficulty", "difficulties", asked)
    if selection.quality:
        kept = _expand_quality(kept, *selection.quality)
    return kept


def mixed(samples: Sequence[Sample], limit: int, seed: int) -> list[Sample]:
    """`limit` samples drawn round-robin across domains (samples without one form one group), each
    domain's order shuffled by `seed`; returned in dataset order."""
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    for index, sample in enumerate(samples):
        groups.setdefault(str(sample.data.get("domain")), []).append(index)
    for indices in groups.values():
        rng.shuffle(indices)
    chosen: list[int] = []
    queues = [groups[name] for name in sorted(groups)]
    rng.shuffle(queues)  # which domains get the extra sample when `limit` does not divide evenly
    while len(chosen) < min(limit, len(samples)):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop())
    return [samples[index] for index in sorted(chosen)]


@dataclass(frozen=True)
class SelectedTask:
    """A task whose run asks a selection: records it in the options and the summary, asks and
    scores exactly as the task does."""

    task: Task
    selection: Selection

    @property
    def kind(self) -> str:
        return self.task.kind

    def options(self) -> dict[str, Any]:
        return {**self.task.options(), "selection": self.selection.as_options()}

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        return await self.task.solve(sample, chat, params)

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        return self.task.score(sample, transcript)

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]:
        return {**self.task.summarize(results), "selection": self.selection.as_options()}


def apply(
    dataset: Dataset, task: Task, selection: Selection, limit: int | None, seed: int
) -> tuple[Dataset, Task]:
    """The dataset narrowed to the selection (a mixed draw of `limit` when asked) and the task that
    records it; unchanged when nothing is selected."""
    if selection.empty:
        return dataset, task
    if limit is not None and limit < 1:
        raise SelectionError("-n must be a positive number of samples.")
    samples = select(dataset.samples, selection)
    if selection.mode == "mixed" and limit is not None:
        samples = mixed(samples, limit, seed)
    return replace(dataset, samples=samples), SelectedTask(task, selection)
