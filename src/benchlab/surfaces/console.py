"""Terminal rendering with rich: the live progress of a run and the reports the CLI prints."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from benchlab.analysis.compare import Comparison
from benchlab.analysis.stats import wilson_interval
from benchlab.api import ServerInfo, ServerReport, Tally
from benchlab.surfaces.speed_views import host_line, speed_rows
from benchlab.types import RunRecord, RunStatus, SampleResult

SMOKE_MODEL_IDS = ("benchlab-smoke",)


class ProgressDisplay:
    """A progress bar with live accuracy, its interval, and error counts (a `RunObserver`)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task_id: Any = None
        self.rubric = False  # rubric scores are means, not right/wrong: no live accuracy for them

    def started(self, record: RunRecord, tally: Tally, server: ServerInfo, concurrency: int) -> None:
        self.rubric = record.task_kind == "rubric"
        self.console.print(
            f"[bold]{record.benchmark}[/] · model [cyan]{record.endpoint.model}[/] on "
            f"{server.kind.value}{f' ({server.version})' if server.version else ''} · "
            f"{len(record.sample_ids)} questions · concurrency {concurrency} · run {record.run_id} "
            f"(tag {record.tag})"
        )
        if tally.done:
            self.console.print(f"resuming: {tally.done} sample(s) already recorded")
        if is_smoke_model(record.endpoint.model):
            self.console.print(SMOKE_NOTE, style="yellow")
        self.progress.start()
        self.task_id = self.progress.add_task(
            record.benchmark, total=tally.total, completed=tally.done, stats=_tally_text(tally, self.rubric)
        )

    def sample_done(self, result: SampleResult, tally: Tally) -> None:
        self.progress.update(self.task_id, completed=tally.done, stats=_tally_text(tally, self.rubric))

    def finished(self, record: RunRecord, tally: Tally) -> None:
        if self.task_id is not None:
            self.progress.update(self.task_id, completed=tally.done, stats=_tally_text(tally, self.rubric))
        self.progress.stop()


SMOKE_NOTE = (
    "Note: this is benchlab's smoke model, a tiny random-weight model. Its scores are chance by design; "
    "they show that the pipeline works, not how good any model is."
)


def is_smoke_model(model: str | None) -> bool:
    return bool(model) and any(str(model).startswith(prefix) for prefix in SMOKE_MODEL_IDS)


def _tally_text(tally: Tally, rubric: bool = False) -> str:
    if rubric:
        text = f"graded {tally.scored}"
    elif tally.scored == 0:
        text = "acc –"
    else:
        interval = wilson_interval(tally.correct, tally.scored)
        text = f"acc {tally.correct / tally.scored:.1%} [{interval.low:.0%}–{interval.high:.0%}]"
    text += f" · unparseable {tally.unparseable}"
    if tally.infra:
        text += f" · [red]infra {tally.infra}[/]"
    if tally.rejected:
        text += f" · [red]rejected {tally.rejected}[/]"
    return text


def fmt_rate(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("rate") is None:
        return "n/a"
    return f"{entry['rate']:.1%} [{entry['ci_low']:.1%}–{entry['ci_high']:.1%}] ({entry['k']}/{entry['n']})"


def run_report(record: RunRecord) -> Panel:
    summary = record.summary
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("status", _status_text(record))
    if record.task_kind == "speed":  # requests, not questions: its own rows (surfaces/speed_views.py)
        for name, value in speed_rows(summary):
            table.add_row(name, value)
    elif record.task_kind == "code":
        for k, entry in (summary.get("pass_at_k") or {}).items():
            table.add_row(f"pass@{k}", fmt_rate(entry) if "k" in entry else _interval(entry))
        outcomes = summary.get("outcomes") or {}
        table.add_row("outcomes", " · ".join(f"{name} {count}" for name, count in outcomes.items()))
        table.add_row("no code found", fmt_rate(summary.get("unparseable")))
        table.add_row("isolation", str(summary.get("isolation", "?")))
    elif record.task_kind == "instruct":
        for level in ("prompt", "instruction"):
            for mode in ("strict", "loose"):
                table.add_row(f"{level}-level {mode}", fmt_rate(summary.get(f"{level}_{mode}")))
        table.add_row("empty replies", fmt_rate(summary.get("unparseable")))
    elif record.task_kind == "chart":
        table.add_row("mean score", _interval(summary.get("score") or {}))
        criteria = summary.get("criteria") or {}
        table.add_row("criteria", " · ".join(f"{k} {v['mean']}/{v['max']:g}" for k, v in criteria.items()))
        table.add_row("perfect charts", fmt_rate(summary.get("perfect")))
        table.add_row("no chart found", fmt_rate(summary.get("unparseable")))
        render = summary.get("render") or {}
        if render.get("enabled"):
            kinds = " · ".join(f"{k} {v}" for k, v in (render.get("by_kind") or {}).items())
            table.add_row("render failures", f"{fmt_rate(render.get('failures'))}  ({kinds})")
    elif record.task_kind == "rubric":
        table.add_row("rubric score", _rubric_mean(summary.get("rubric_score") or {}))
        failures = (summary.get("judge_failures") or {}).get("items") or {}
        items = summary.get("items") or {}
        table.add_row(
            "rubric items",
            f"{items.get('rule_decided', 0)} by rule · {items.get('judge_decided', 0)} by the judge · "
            f"judge failures: {failures.get('infra', 0)} unreachable, {failures.get('parse', 0)} unreadable",
        )
        judge = summary.get("judge") or {}
        models = ", ".join(judge.get("models") or []) or "none answered"
        table.add_row(
            "judge", f"{judge.get('endpoint', '?')} ({models}) · prompt {judge.get('prompt_sha256', '')[:12]}"
        )
        table.add_row("empty replies", fmt_rate(summary.get("unparseable")))
    elif record.task_kind == "extract":
        table.add_row("field score", _interval(summary.get("field_score") or {}))
        table.add_row("all fields right", fmt_rate(summary.get("exact")))
        table.add_row("schema valid", fmt_rate(summary.get("schema_valid")))
        table.add_row("no usable JSON", fmt_rate(summary.get("unparseable")))
    elif record.task_kind in ("toolcall", "agent"):
        _tool_rows(table, record.task_kind, summary)
    elif record.task_kind == "bfcl":
        table.add_row("accuracy", fmt_rate(summary.get("accuracy")) + "  (Wilson 95% interval)")
        table.add_row("schema adherence", fmt_rate(summary.get("schema_adherence")))
        failures = summary.get("failures") or {}
        table.add_row("failures", " · ".join(f"{k} {v}" for k, v in failures.items()) or "none")
    else:
        table.add_row("accuracy", fmt_rate(summary.get("accuracy")) + "  (Wilson 95% interval)")
        table.add_row("unparseable", fmt_rate(summary.get("unparseable")))
        for length, cells in (summary.get("grid") or {}).items():  # longcontext: length x depth
            row = " · ".join(f"{depth}% {_pct_cell(entry)}" for depth, entry in cells.items())
            table.add_row(f"{length} tokens", row)
        if summary.get("token_count_note"):
            table.add_row("token counts", Text(summary["token_count_note"], style="yellow"))
    _opinion_rows(table, summary)
    table.add_row("infra errors", fmt_rate(summary.get("infra_errors")))
    if summary.get("rejected"):
        table.add_row("rejected", Text(f"{summary['rejected']}: {'; '.join(summary['rejected_messages'])}"))
    if summary.get("truncated"):
        table.add_row("cut at token limit", str(summary["truncated"]))
    bias = summary.get("letter_bias") or {}
    if bias.get("p_value") is not None and not _isnan(bias.get("p_value")):
        table.add_row("letter bias", f"χ² {bias['chi2']:.2f}, dof {bias['dof']}, p = {bias['p_value']:.3g}")
    latency = summary.get("latency_s")
    if latency:
        decode = summary.get("decode_tokens_per_s")
        ttft = summary.get("ttft_s")
        parts = [f"latency p50 {latency['p50']:.2f} s, p90 {latency['p90']:.2f} s"]
        if ttft:
            parts.append(f"TTFT p50 {ttft['p50'] * 1000:.0f} ms")
        if decode:
            parts.append(f"decode p50 {decode['p50']:.0f} tok/s")
        table.add_row("speed", " · ".join(parts))
    if summary.get("host"):
        table.add_row("host", host_line(summary["host"]).removeprefix("host: "))
    table.add_row("model", f"{record.endpoint.model} at {record.endpoint.base_url}")
    table.add_row(
        "server", f"{record.endpoint.server_kind.value} {record.endpoint.server_version or ''}".strip()
    )
    provenance = record.provenance
    table.add_row(
        "dataset",
        f"{record.benchmark} · {provenance.dataset_rows} rows · sha256 {provenance.dataset_sha256[:16]}… "
        f"· {len(record.sample_ids)} asked (seed {record.task_options.get('sample_seed')})",
    )
    params = record.params
    table.add_row(
        "settings",
        f"temperature {params.temperature} · seed {params.seed} · think {_think(params.think)} · "
        f"shuffle {'on' if record.task_options.get('shuffle') else 'off'}",
    )
    table.add_row(
        "benchlab",
        f"{provenance.benchlab_version} ({(provenance.git_sha or 'no git sha')[:12]}) on "
        f"{provenance.host.get('hostname', '?')}, {provenance.host.get('os', '?')}",
    )
    body: list[Any] = [table]
    if is_smoke_model(record.endpoint.model):
        body.append(Text(SMOKE_NOTE, style="yellow"))
    return Panel(Group(*body), title=f"run {record.run_id} · tag {record.tag}", expand=False)


def _tool_rows(table: Table, kind: str, summary: dict[str, Any]) -> None:
    """Tool-calling and agent figures: the weighted rubric score first, then what explains it."""
    table.add_row("score", _interval(summary.get("score") or {}) + "  difficulty-weighted")
    table.add_row("full marks" if kind == "toolcall" else "solved", fmt_rate(summary.get("accuracy")))
    table.add_row("schema adherence", fmt_rate(summary.get("schema_adherence")))
    if kind == "toolcall":
        table.add_row("no-call tasks", fmt_rate(summary.get("irrelevance")))
    else:
        table.add_row("turn limit hit", fmt_rate(summary.get("turn_limit_hit")))
        table.add_row("loops", fmt_rate(summary.get("loops")))
    for key, label in (
        ("by_difficulty", "by difficulty"),
        ("by_domain", "by domain"),
        ("by_quality", "by quality"),
    ):
        groups = summary.get(key) or {}
        if groups and (key == "by_difficulty" or len(groups) > 1):
            prefix = "q" if key == "by_quality" else ""
            cells = (f"{prefix}{name} {entry['mean']:.0%} (n {entry['n']})" for name, entry in groups.items())
            table.add_row(label, " · ".join(cells))


def subject_table(record: RunRecord) -> Table | None:
    subjects = record.summary.get("by_subject") or {}
    if len(subjects) < 2:
        return None
    rubric = record.task_kind == "rubric"
    table = Table(title="by subject")
    table.add_column("subject")
    table.add_column(
        "rubric score" if rubric else "field score" if record.task_kind == "extract" else "accuracy"
    )
    for subject, entry in subjects.items():
        table.add_row(subject, _rubric_mean(entry) if rubric else fmt_rate(entry))
    return table


def runs_table(records: Sequence[RunRecord]) -> Table:
    table = Table(title=f"{len(records)} run(s)")
    for column in ("run", "tag", "benchmark", "model", "status", "n", "accuracy", "when"):
        table.add_column(column)
    for record in records:
        accuracy = record.summary.get("accuracy")
        table.add_row(
            record.run_id,
            record.tag,
            record.benchmark,
            record.endpoint.model or "?",
            _status_text(record, short=True),
            f"{record.summary.get('complete', 0)}/{len(record.sample_ids)}",
            fmt_rate(accuracy) if accuracy else "–",
            dt.datetime.fromtimestamp(record.created_at).strftime("%Y-%m-%d %H:%M"),
        )
    return table


def samples_table(results: Sequence[SampleResult], limit: int) -> Table:
    table = Table(title=f"samples (first {min(limit, len(results))} of {len(results)})")
    for column in ("sample", "subject", "answer", "gold", "result", "rule / error"):
        table.add_column(column, overflow="fold")
    for result in results[:limit]:
        score = result.score
        outcome = {True: "[green]correct[/]", False: "[red]wrong[/]", None: "–"}[score.correct]
        if score.error_kind.value in ("infra", "rejected"):
            outcome = f"[red]{score.error_kind.value}[/]"
        table.add_row(
            result.sample_id,
            result.subject or "",
            score.extracted or "–",
            score.gold or "",
            outcome,
            Text(score.error or str(score.details.get("rule", ""))),
        )
    return table


def sample_detail(result: SampleResult) -> Panel:
    lines: list[Any] = []
    if result.transcript is not None:
        for message in result.transcript.messages:
            lines.append(Text(f"[{message['role']}]", style="bold"))
            lines.append(Text(str(message.get("content") or "")))
            for call in message.get("tool_calls") or []:
                function = call.get("function", {})
                lines.append(Text(f"→ {function.get('name')}({function.get('arguments')})", style="cyan"))
        for completion in result.transcript.completions:
            if completion.reasoning:
                lines.append(Text("[reasoning]", style="bold dim"))
                lines.append(Text(completion.reasoning, style="dim"))
            lines.append(Text("[assistant]", style="bold"))
            lines.append(Text(completion.content))
            for call in completion.tool_calls:
                function = call.get("function", {})
                lines.append(Text(f"→ {function.get('name')}({function.get('arguments')})", style="cyan"))
            timings = completion.timings
            lines.append(
                Text(
                    f"finish {completion.finish_reason} · e2e {timings.e2e or 0:.3f} s · "
                    f"ttft {_ms(timings.ttft)} · tokens {completion.usage.completion_tokens}",
                    style="dim",
                )
            )
    score = result.score
    lines.append(
        Text(
            f"extracted {score.extracted} · gold {score.gold} · correct {score.correct} · "
            f"{score.error_kind.value} · {score.error or score.details.get('rule', '')}",
            style="bold",
        )
    )
    return Panel(Group(*lines), title=f"sample {result.sample_id}", expand=False)


def comparison_report(comparison: Comparison) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    a, b = comparison.a, comparison.b
    table.add_row("A", f"{a.tag} ({a.run_id}) · {a.model} · accuracy {_pct(a.accuracy)}")
    table.add_row("B", f"{b.tag} ({b.run_id}) · {b.model} · accuracy {_pct(b.accuracy)}")
    table.add_row("paired questions", str(comparison.n_pairs))
    table.add_row(
        "agreement",
        f"both right {comparison.both_correct} · only A right {comparison.only_a} · "
        f"only B right {comparison.only_b} · both wrong {comparison.both_wrong}",
    )
    table.add_row(
        "difference B − A",
        f"{comparison.difference:+.1%} [{comparison.ci_low:+.1%}, {comparison.ci_high:+.1%}] (95%, Newcombe)",
    )
    verdict = "[green]significant[/]" if comparison.significant else "not significant"
    table.add_row("exact McNemar", f"p = {comparison.p_value:.4g} · {verdict} at 0.05")
    if comparison.power_note:
        table.add_row("power", comparison.power_note)
    for note in comparison.notes:
        table.add_row("note", Text(note, style="yellow"))
    return Panel(table, title=f"paired comparison · {comparison.benchmark}", expand=False)


def doctor_report(reports: Sequence[ServerReport]) -> Group:
    panels: list[Any] = []
    for report in reports:
        if not report.reachable:
            panels.append(Text(f"✗ {report.url}: nothing answering", style="dim"))
            continue
        table = Table.grid(padding=(0, 2))
        table.add_column()
        table.add_column(style="bold")
        table.add_column()
        for check in report.checks:
            mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[yellow]?[/]"}[check.ok]
            table.add_row(mark, check.name, Text(check.detail))
        title = f"{report.url} · {report.kind}{f' {report.version}' if report.version else ''}"
        header = Text(f"models: {', '.join(report.models)}")
        panels.append(Panel(Group(header, table), title=title, expand=False))
    if not any(report.reachable for report in reports):
        panels.append(
            Text(
                "No server found. Start one (e.g. `benchlab serve --smoke`, `llama-server -m model.gguf`, "
                "`ollama serve`) or pass its URL: `benchlab doctor http://host:port`.",
                style="yellow",
            )
        )
    return Group(*panels)


def _opinion_rows(table: Table, summary: dict[str, Any]) -> None:
    """`--llm-judge` / `--visual-judge`: a second opinion, printed apart from the score."""
    for key, label in (("llm_judge", "judge opinion"), ("visual_judge", "visual judge")):
        opinion = summary.get(key)
        if not isinstance(opinion, dict):
            continue
        mean = opinion.get("mean") or {}
        agreement = opinion.get("agreement") or {}
        failures = opinion.get("failures") or {}
        parts = [
            "n/a"
            if mean.get("mean") is None
            else f"mean {mean['mean']:.2f} [{_number(mean.get('ci_low'))}–{_number(mean.get('ci_high'))}] "
            f"over {mean['n']} ({opinion.get('scale')}; bootstrap 95%)",
            f"Spearman {_number(agreement.get('spearman'))} · kappa {_number(agreement.get('kappa'))}",
            f"judge failures: {failures.get('infra', 0)} unreachable, {failures.get('rejected', 0)} refused, "
            f"{failures.get('parse', 0)} unreadable · {opinion.get('skipped', 0)} skipped",
        ]
        table.add_row(label, " · ".join(parts))


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _rubric_mean(entry: dict[str, Any]) -> str:
    """A rubric mean: points achieved over possible, not an accuracy (bootstrap interval)."""
    if entry.get("mean") is None:
        return "n/a"
    return (
        f"{entry['mean']:.1%} [{entry['ci_low']:.1%}–{entry['ci_high']:.1%}] over {entry['n']} "
        "conversation(s) (rubric mean, not an accuracy; bootstrap 95%)"
    )


def _pct_cell(entry: dict[str, Any]) -> str:
    return "n/a" if entry.get("rate") is None else f"{entry['rate']:.0%} ({entry['k']}/{entry['n']})"


def _interval(entry: dict[str, Any]) -> str:
    """A bootstrap-interval estimate (pass@k over several samples per problem)."""
    if entry.get("rate") is None:
        return "n/a"
    return f"{entry['rate']:.1%} [{entry['ci_low']:.1%}–{entry['ci_high']:.1%}] (bootstrap 95%)"


def _status_text(record: RunRecord, *, short: bool = False) -> str:
    colour = {
        RunStatus.FINISHED: "green",
        RunStatus.RUNNING: "cyan",
        RunStatus.INTERRUPTED: "yellow",
        RunStatus.INVALID: "red",
        RunStatus.FAILED: "red",
    }[record.status]
    text = f"[{colour}]{record.status.value}[/]"
    if record.status_reason and not short:
        text += f" — {record.status_reason}"
    return text


def _think(value: bool | None) -> str:
    return "server default" if value is None else ("on" if value else "off")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
