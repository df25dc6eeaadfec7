"""Rich renderings of speed runs: the headline, a table per profile, the client/server gap, notes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from benchlab.speed.measure import RequestMeasure
from benchlab.types import RunRecord


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f} ms"


def _rate(value: float | None, unit: str = "tok/s") -> str:
    return "–" if value is None else f"{value:.1f} {unit}"


def _gap(value: float | None) -> str:
    return "" if value is None else f" (client {value:+.1%} vs server)"


def _pct(entry: dict[str, Any] | None, key: str, fmt: Callable[[float | None], str] = _ms) -> str:
    return fmt(None if not entry else entry.get(key))


def speed_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline rows of a speed run, for the run report that every run kind shares."""
    headline = summary.get("headline") or {}
    rows = [("profile", str(summary.get("profile")))]
    if headline.get("decode_tok_s") is not None:
        rows.append(("decode", _rate(headline["decode_tok_s"]) + "  (p50, one request at a time)"))
    if headline.get("ttft_s") is not None:
        rows.append(("TTFT", _ms(headline["ttft_s"]) + "  (p50)"))
    if headline.get("prefill_tok_s") is not None:
        rows.append(("prefill", _rate(headline["prefill_tok_s"]) + "  (slope of TTFT over prompt length)"))
    if headline.get("output_tok_s") is not None:
        rows.append(("throughput", _rate(headline["output_tok_s"]) + "  (best aggregate output)"))
    if summary.get("knee") is not None:
        rows.append(("knee", f"{summary['knee']} requests in flight"))
    if summary.get("saturated_at") is not None:
        rows.append(("stopped", f"latency ran away at {summary['saturated_at']}"))
    score = summary.get("speed_score")
    if score:
        short = {"decode_tok_s": "decode", "ttft_s": "TTFT", "prefill_tok_s": "prefill"}
        weights = ", ".join(f"{short[name]} {weight:.2f}" for name, weight in score["weights"].items())
        rows.append(
            ("speed score", f"{score['value']:.0f}  ({score['endpoint']} reference = 100; weights {weights})")
        )
    rows.append(
        (
            "requests",
            f"{summary.get('requests', 0)} measured · {summary.get('warmup', 0)} warm-up · "
            f"{summary.get('failures', 0)} failed",
        )
    )
    return rows


def _group_table(title: str, key: str, entries: list[tuple[Any, dict[str, Any]]]) -> Table:
    """One row per size, length, level or rate; tok/s columns are tokens per second."""
    table = Table(title=title, pad_edge=False, padding=(0, 1))
    table.add_column(key, no_wrap=True)
    loaded = any(entry.get("output_tok_s") is not None for _, entry in entries)
    columns = ["n", "fail", "prompt", "TTFT p50", "TTFT p99", "decode", "server", "E2E p99"]
    for column in [*columns, "out tok/s"] if loaded else columns:
        table.add_column(column, justify="right")
    for label, entry in entries:
        server = entry.get("server") or {}
        cells = [
            str(label),
            str(entry["requests"]),
            str(entry["failures"]),
            "–" if entry.get("prompt_tokens") is None else f"{entry['prompt_tokens']:.0f}",
            _pct(entry["ttft_s"], "p50"),
            _pct(entry["ttft_s"], "p99"),
            _pct(entry["decode_tok_s"], "p50", _number),
            _number(server.get("decode_rate")),
            _pct(entry["e2e_s"], "p99"),
        ]
        if loaded:
            cells.append(_number(entry.get("output_tok_s")))
        table.add_row(*cells)
    table.caption = "decode: client p50 tok/s · server: the server's own decode tok/s (median)"
    if loaded:
        table.caption += " · out tok/s: aggregate output throughput"
    return table


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def speed_report(record: RunRecord) -> Group:
    summary = record.summary
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row(
        "status", f"{record.status.value}" + (f": {record.status_reason}" if record.status_reason else "")
    )
    for name, value in speed_rows(summary):
        table.add_row(name, value)
    table.add_row("model", f"{record.endpoint.model} at {record.endpoint.base_url}")
    table.add_row(
        "server", f"{record.endpoint.server_kind.value} {record.endpoint.server_version or ''}".strip()
    )
    parts: list[Any] = [Panel(table, title=f"speed run {record.run_id} · tag {record.tag}", expand=False)]
    if summary.get("sizes"):
        parts.append(_group_table("prompt sizes", "size", list(summary["sizes"].items())))
    if summary.get("lengths"):
        parts.append(_group_table("context", "target", [(e["target_tokens"], e) for e in summary["lengths"]]))
        difference = summary.get("prefill_by_difference") or {}
        parts.append(
            Text(
                f"prefill from the TTFT slope: client {_rate(difference.get('client_tok_s'))}, "
                f"server {_rate(difference.get('server_tok_s'))}{_gap(difference.get('gap'))}"
            )
        )
    if summary.get("levels"):
        parts.append(_group_table("concurrency", "in flight", [(e["level"], e) for e in summary["levels"]]))
    if summary.get("rates"):
        parts.append(_group_table("Poisson arrivals", "req/s", [(e["rate"], e) for e in summary["rates"]]))
    parts.append(Text(host_line(summary.get("host") or {})))
    if summary.get("server_metrics"):
        moved = ", ".join(f"{name} +{value:g}" for name, value in summary["server_metrics"].items() if value)
        parts.append(Text(f"server /metrics during the run: {moved or 'no change'}"))
    for note in summary.get("notes") or []:
        parts.append(Text(f"note: {note}", style="yellow"))
    return Group(*parts)


def host_line(host: dict[str, Any]) -> str:
    if not host.get("samples"):
        return "host: not sampled"
    cpu = host.get("cpu_percent") or {}
    memory = host.get("memory_used_bytes") or {}
    line = (
        f"host: CPU mean {cpu.get('mean', 0):.0f}% (max {cpu.get('max', 0):.0f}%) · "
        f"memory max {memory.get('max', 0) / 2**30:.1f} GiB"
    )
    swap = host.get("swap_used_bytes") or {}
    if swap.get("max"):
        line += f" · swap max {swap['max'] / 2**30:.2f} GiB"
    rss = host.get("server_rss_bytes")
    if rss:
        line += f" · server RSS max {rss['max'] / 2**20:.0f} MiB"
    elif host.get("note"):
        line += f" · server memory unknown: {host['note']}"
    return line


class SpeedProgress:
    """One status line on stderr that counts finished requests per group."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.done = 0
        self.failed = 0

    def __call__(self, measure: RequestMeasure) -> None:
        self.done += 1
        self.failed += not measure.ok
        figures = "failed" if not measure.ok else f"TTFT {_ms(measure.ttft)} · {_rate(measure.decode_rate)}"
        self.console.print(
            f"[dim]{self.done:4d}[/] {measure.id:<14} {figures}" + (" (warm-up)" if measure.warmup else ""),
            highlight=False,
        )


def panel_report(panel: dict[str, Any]) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    value = panel.get("value")
    table.add_row("panel score", "–" if value is None else f"{value:.1f} / 100")
    for name, part in (panel.get("parts") or {}).items():
        table.add_row(name, f"{part:.3f} × weight {panel['weights'][name]:.2f}")
    for suite, accuracy in (panel.get("suites") or {}).items():
        table.add_row("  suite", f"{suite}: {accuracy:.3f}")
    if panel.get("formula"):
        table.add_row("formula", panel["formula"])
    return Panel(table, title="quality · speed · reliability", expand=False)
