"""How fast charts are scored and rendered, on the built-in chart suite.

For every task of `chart_core` a plain chart is written here (one bar per value, every label and
value as text, the task's colours, font and radius, an SVG tooltip per bar), then scored: this
times the scorer (parse + six criteria) and shows what such a generic chart earns per requested
type (bar tasks: 100; other types lose the chart-type points). With `--render N` the first N charts
are also rendered in headless Chromium, two pages at a time, as a `--render` run does.

    python bench/chart_speed.py             # scoring only, a few seconds
    python bench/chart_speed.py --render 16 # also render 16 charts (needs the `render` extra and Chromium)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _support import say, table
from benchlab.api import load
from benchlab.tasks.chart import ChartTask
from benchlab.tasks.chart_render import ChartRenderer, check_render_ready
from benchlab.tasks.chart_spec import ChartSpec
from benchlab.types import Completion, Sample, Transcript


def plain_chart(spec: ChartSpec) -> str:
    tokens = spec.tokens
    marks: list[str] = []
    top = max(abs(v) for v in spec.data.values) or 1.0
    for index, row in enumerate(spec.data.rows):
        for column, value in enumerate(row[1:]):
            colour = tokens.palette[column % len(tokens.palette)]
            x = 20 + index * 60 + column * 14
            height = max(2, round(120 * abs(float(value)) / top))
            marks.append(
                f'<rect x="{x}" y="{160 - height}" width="12" height="{height}" rx="{tokens.radius}" '
                f'fill="{colour}">'
                f"<title>{row[0]} {spec.data.columns[column + 1]}: {value}</title></rect>"
            )
        marks.append(f'<text x="{20 + index * 60}" y="180">{row[0]}</text>')
        marks.append(f'<text x="{20 + index * 60}" y="30">{" / ".join(str(v) for v in row[1:])}</text>')
    legend = "".join(f"<text y='200'>{name}</text>" for name in spec.data.series)
    return (
        f"<!DOCTYPE html><html><head><style>body {{ background: {tokens.background}; color: {tokens.text}; "
        f"font-family: '{tokens.font}', sans-serif; }}</style></head><body>"
        f'<svg width="{spec.width}" height="{spec.height}">{"".join(marks)}{legend}</svg></body></html>'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", type=int, default=0, metavar="N", help="also render N charts")
    args = parser.parse_args()

    samples: list[Sample] = load("chart_core").samples
    task = ChartTask()
    charts = {s.id: plain_chart(ChartSpec.of(s)) for s in samples}
    scores: dict[str, list[float]] = defaultdict(list)
    rounds = 5
    started = time.perf_counter()
    for _ in range(rounds):
        for s in samples:
            transcript = Transcript(messages=[], completions=[Completion(content=charts[s.id])])
            scores[s.data["chart_type"]].append(task.score(s, transcript).value)
    elapsed = time.perf_counter() - started
    scored = rounds * len(samples)
    say(f"scoring: {scored} charts in {elapsed:.2f} s = {scored / elapsed:.0f} charts/s")
    rows = [
        (kind, len(values) // rounds, f"{statistics.fmean(values) * 100:.1f}")
        for kind, values in scores.items()
    ]
    say(table(["requested type", "tasks", "plain chart's mean score"], rows))

    if args.render:
        check_render_ready()
        folder = Path(tempfile.mkdtemp(prefix="benchlab-chart-bench-"))
        paths = []
        for s in samples[: args.render]:
            path = folder / f"{s.id}.html"
            path.write_text(charts[s.id], encoding="utf-8")
            paths.append(path)
        renderer = ChartRenderer()
        try:
            started = time.perf_counter()
            first = renderer.render_sync(paths[0], paths[0].with_suffix(".png"))
            start_up = time.perf_counter() - started

            async def rest() -> list[dict[str, object]]:
                return await asyncio.gather(*(renderer.render(p, p.with_suffix(".png")) for p in paths[1:]))

            started = time.perf_counter()
            records = [first, *asyncio.run(rest())]
            elapsed = time.perf_counter() - started
        finally:
            renderer.close()
        statuses = sorted({str(r["status"]) for r in records})
        blank = sum(1 for r in records if r.get("blank"))
        say(
            f"render: first chart {start_up:.2f} s (includes starting Chromium); the other {len(paths) - 1} "
            f"in {elapsed:.2f} s = {elapsed / max(1, len(paths) - 1):.2f} s each; statuses {statuses}, "
            f"blank {blank}"
        )


if __name__ == "__main__":
    main()
