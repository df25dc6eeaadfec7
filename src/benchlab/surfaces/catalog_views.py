"""Terminal rendering of the catalog: the benchmark list, lock status, verification, health, fetch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from benchlab.catalog.fetch import FetchProgress, HealthReport
from benchlab.catalog.lock import LockResult, LockStatus, VerifyResult
from benchlab.catalog.spec import BenchmarkSpec


def catalog_table(specs: Sequence[BenchmarkSpec], statuses: dict[str, LockStatus]) -> Table:
    table = Table(title=f"{len(specs)} benchmark(s)")
    table.add_column("key", no_wrap=True)
    for column in ("kind", "domain", "tier", "rows", "fetched", "locked", "licence"):
        table.add_column(column)
    for spec in specs:
        status = statuses.get(spec.key)
        table.add_row(
            spec.key,
            spec.kind,
            spec.domain,
            spec.tier,
            str(status.rows) if status and status.rows else "–",
            _mark(status.fetched if status else False),
            _mark(status.locked if status else False) + ("" if not status or status.ok else " [red]drift[/]"),
            spec.license,
        )
    return table


def lock_table(statuses: Sequence[LockStatus]) -> Table:
    table = Table(title="lock status")
    for column in ("key", "locked", "rows", "sha256", "source", "fetched", "state"):
        table.add_column(column, overflow="fold")
    for status in statuses:
        state = Text("ok", style="green") if status.ok else Text(status.drift.describe(), style="red")  # type: ignore[union-attr]
        if status.notes:
            state.append("\n" + "\n".join(status.notes), style="dim")
        table.add_row(
            status.key,
            _mark(status.locked),
            str(status.rows or "–"),
            (status.sha256 or "–")[:16],
            status.source or "–",
            status.fetched_from or ("yes" if status.fetched else "no"),
            state,
        )
    return table


def lock_result(console: Console, result: LockResult) -> None:
    for change in result.changes:
        console.print(change.describe())
    if not result.changes:
        console.print("nothing changed")
    for problem in result.problems:
        console.print(f"[red]problem:[/] {problem}", highlight=False)
    if result.written:
        console.print(f"written to {result.written}")


def verify_table(results: Sequence[VerifyResult]) -> Table:
    table = Table(title="verification")
    for column in ("key", "state", "checked", "problems"):
        table.add_column(column, overflow="fold")
    for result in results:
        colour = "green" if result.ok else "red"
        table.add_row(
            result.key,
            f"[{colour}]{result.state}[/]",
            ", ".join(result.checked),
            Text("\n".join(result.problems)),
        )
    return table


def health_table(report: HealthReport) -> Table:
    table = Table(title="health check: one row of each benchmark through its normalizer")
    for column in ("key", "status", "source", "message"):
        table.add_column(column, overflow="fold")
    styles = {"ok": "green", "drift": "red", "error": "red", "unavailable": "yellow", "skipped": "dim"}
    for item in report.items:
        table.add_row(
            item.key,
            f"[{styles.get(item.status, '')}]{item.status}[/]",
            item.source or "–",
            Text(item.message),
        )
    return table


class FetchDisplay:
    """A progress bar per benchmark, fed by the catalog's progress callback."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.fields[key]}"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> FetchDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: FetchProgress) -> None:
        task = self.tasks.get(event.key)
        if task is None:
            task = self.tasks[event.key] = self.progress.add_task(event.message, key=event.key, total=None)
        finished = event.stage in ("done", "cached")
        update: dict[str, Any] = {"description": event.message}
        if event.total:
            update.update(total=event.total, completed=event.done or 0)
        if finished:
            update.update(total=1, completed=1)
        self.progress.update(task, **update)


def _mark(value: bool) -> str:
    return "[green]✓[/]" if value else "[dim]–[/]"
