"""Charts of a speed run, saved as PNG or SVG with matplotlib (the optional `plots` extra).

- concurrency: aggregate output throughput against requests in flight (the knee marked), and
  TTFT/E2E percentiles against the same axis;
- context: TTFT and prefill rate (client and server) against prompt length;
- quick: TTFT and E2E percentiles per prompt size;
- rate: TTFT/E2E percentiles against the offered request rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchlab.types import RunRecord


class PlotsUnavailable(ImportError):
    """matplotlib is missing; the message says how to install it."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        raise PlotsUnavailable("plots need matplotlib: pip install 'benchlab[plots]'") from error
    matplotlib.use("Agg")  # files only: never open a window
    import matplotlib.pyplot as plt

    return plt


def save_plots(record: RunRecord, folder: Path, *, fmt: str = "png") -> list[Path]:
    """Every chart the run's profile has, written to `folder`; returns the files written."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"plot format must be png or svg, not {fmt!r}")
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    summary = record.summary
    profile = summary.get("profile")
    stem = f"{record.run_id}-{profile}"
    charts: list[tuple[str, Any]] = []
    if profile == "concurrency" and summary.get("levels"):
        charts += [
            ("throughput", _throughput),
            ("latency", _latency_by("levels", "level", "requests in flight")),
        ]
    elif profile == "rate" and summary.get("rates"):
        charts.append(("latency", _latency_by("rates", "rate", "offered requests per second")))
    elif profile == "context" and summary.get("lengths"):
        charts.append(("context", _context))
    elif profile == "quick" and summary.get("sizes"):
        charts.append(("latency", _quick_latency))
    written = []
    for name, draw in charts:
        figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
        draw(axes, summary)
        axes.grid(True, alpha=0.3)
        figure.suptitle(f"{record.endpoint.model} · {record.benchmark} · {record.tag}", fontsize=9)
        figure.tight_layout()
        path = folder / f"{stem}-{name}.{fmt}"
        figure.savefig(path, format=fmt)
        plt.close(figure)
        written.append(path)
    return written


def _p(entry: dict[str, Any] | None, key: str) -> float | None:
    return None if not entry else entry.get(key)


def _throughput(axes: Any, summary: dict[str, Any]) -> None:
    levels = summary["levels"]
    x = [entry["level"] for entry in levels]
    axes.plot(x, [entry["output_tok_s"] for entry in levels], marker="o", label="output tokens/s")
    knee = summary.get("knee")
    if knee is not None:
        axes.axvline(knee, color="tab:red", linestyle="--", label=f"knee at {knee}")
    axes.set_xscale("log", base=2)
    axes.set_xlabel("requests in flight")
    axes.set_ylabel("aggregate output tokens/s")
    axes.legend()


def _latency_by(section: str, key: str, label: str) -> Any:
    def draw(axes: Any, summary: dict[str, Any]) -> None:
        entries = summary[section]
        x = [entry[key] for entry in entries]
        for metric, name in (("ttft_s", "TTFT"), ("e2e_s", "E2E")):
            for percentile, style in (("p50", "-"), ("p90", "--"), ("p99", ":")):
                y = [_p(entry[metric], percentile) for entry in entries]
                axes.plot(x, y, style, marker=".", label=f"{name} {percentile}")
        axes.set_xlabel(label)
        axes.set_ylabel("seconds")
        axes.legend(fontsize=8, ncol=2)

    return draw


def _context(axes: Any, summary: dict[str, Any]) -> None:
    lengths = summary["lengths"]
    x = [entry["prompt_tokens"] or entry["target_tokens"] for entry in lengths]
    axes.plot(
        x, [_p(entry["ttft_s"], "p50") for entry in lengths], marker="o", color="tab:blue", label="TTFT p50"
    )
    axes.set_xlabel("prompt tokens")
    axes.set_ylabel("TTFT (s)", color="tab:blue")
    rates = axes.twinx()
    server = [(entry.get("server") or {}).get("prefill_rate") for entry in lengths]
    if any(value is not None for value in server):
        rates.plot(x, server, marker="s", color="tab:orange", label="server prefill tok/s")
    naive = [entry.get("naive_client_prefill_tok_s") for entry in lengths]
    rates.plot(x, naive, marker="^", linestyle="--", color="tab:green", label="prompt tokens / TTFT")
    rates.set_ylabel("prefill tokens/s")
    handles, labels = axes.get_legend_handles_labels()
    more_handles, more_labels = rates.get_legend_handles_labels()
    rates.legend(handles + more_handles, labels + more_labels, loc="upper center", fontsize=8)


def _quick_latency(axes: Any, summary: dict[str, Any]) -> None:
    names = list(summary["sizes"])
    for metric, label in (("ttft_s", "TTFT"), ("e2e_s", "E2E")):
        for percentile in ("p50", "p90"):
            axes.plot(
                names,
                [_p(summary["sizes"][name][metric], percentile) for name in names],
                marker="o",
                label=f"{label} {percentile}",
            )
    axes.set_xlabel("prompt size")
    axes.set_ylabel("seconds")
    axes.legend(fontsize=8)
