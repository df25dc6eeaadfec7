"""Hand-made charts for the chart scorer, renderer and end-to-end tests (all written for benchlab).

One task (`SPEC_DATA`: trades per month, a bar chart with tooltips) and charts that earn known
scores against it. Bar geometry is chosen so that no coordinate equals a data value: a chart only
earns "data present" by showing the data.
"""

from __future__ import annotations

import copy
from typing import Any

from benchlab.types import Sample

SPEC_DATA: dict[str, Any] = {
    "title": "Trades per month",
    "request": "Compare how many trades were taken in each month of the first quarter.",
    "chart_type": "bar",
    "data": {"columns": ["Month", "Trades"], "rows": [["Jan", 12], ["Feb", 5], ["Mar", 31], ["Apr", 18]]},
    "tokens": {
        "palette": ["#1f6feb", "#2da44e", "#bf3989"],
        "background": "#ffffff",
        "text": "#1b1f24",
        "font": "Inter",
        "radius": 6,
    },
    "banned": ["external_resources", "eval", "document_write", "inline_handlers"],
    "interactivity": "tooltip",
}


def sample(sample_id: str = "bar-1", **changes: Any) -> Sample:
    data = copy.deepcopy(SPEC_DATA)
    data.update(changes)
    return Sample(id=sample_id, data=data, subject="trading")


HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Trades per month</title>
<style>
  body { margin: 0; background: #ffffff; color: #1b1f24; font-family: Inter, sans-serif; }
  .card { border-radius: 6px; padding: 16px; }
</style>
</head>
<body>
"""
TAIL = "</body>\n</html>\n"

# (label, value, x, y, height, colour): heights are value × 8 so they differ from the values.
BARS = [
    ("Jan", 12, 40, 204, 96, "#1f6feb"),
    ("Feb", 5, 130, 260, 40, "#2da44e"),
    ("Mar", 31, 220, 52, 248, "#bf3989"),
    ("Apr", 18, 310, 156, 144, "#1f6feb"),
]


def svg_bars(*, titles: bool = True, texts: bool = True, radius: bool = True) -> str:
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400" viewBox="0 0 640 400">']
    for label, value, x, y, height, colour in BARS:
        rx = ' rx="6"' if radius else ""
        title = f"<title>{label}: {value} trades</title>" if titles else ""
        parts.append(
            f'  <rect x="{x}" y="{y}" width="70" height="{height}"{rx} fill="{colour}">{title}</rect>'
        )
        if texts:
            parts.append(f'  <text x="{x + 35}" y="330" text-anchor="middle">{label}</text>')
            parts.append(f'  <text x="{x + 35}" y="{y - 8}" text-anchor="middle">{value}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


PERFECT_SVG = HEAD + '<div class="card">\n' + svg_bars() + "</div>\n" + TAIL

# The same chart with every label and value moved into an HTML comment (and no tooltips).
COMMENT_ONLY = (
    HEAD
    + "<!-- data: Jan 12, Feb 5, Mar 31, Apr 18 -->\n"
    + '<div class="card">\n'
    + svg_bars(titles=False, texts=False)
    + "</div>\n"
    + TAIL
)

# Off-brand: other colours, another font, no corner radius.
OFF_TOKENS = (
    PERFECT_SVG.replace("#1f6feb", "#777777")
    .replace("#2da44e", "#888888")
    .replace("#bf3989", "#999999")
    .replace("#ffffff", "#fafafa")
    .replace("#1b1f24", "#333333")
    .replace("Inter", "Georgia")
    .replace(' rx="6"', "")
    .replace("border-radius: 6px; ", "")
)

CDN_SCRIPT = PERFECT_SVG.replace(
    "</head>", '<script src="https://cdn.example.com/charts.min.js"></script>\n</head>'
)

# Cut off inside a tag after all the data was written (a reply stopped at the token limit).
BROKEN = PERFECT_SVG.split("</svg>")[0] + '<rect x="400" y='

CANVAS = (
    HEAD
    + """<div class="card"><canvas id="chart" width="640" height="400"></canvas></div>
<div id="tip" hidden></div>
<script>
  const rows = [["Jan", 12], ["Feb", 5], ["Mar", 31], ["Apr", 18]];
  const colours = ["#1f6feb", "#2da44e", "#bf3989"];
  const canvas = document.getElementById("chart");
  const ctx = canvas.getContext("2d");
  ctx.font = "13px Inter";
  const boxes = [];
  rows.forEach(([label, value], i) => {
    const h = value * 8, x = 40 + i * 90, y = 300 - h;
    ctx.fillStyle = colours[i % colours.length];
    ctx.beginPath();
    ctx.roundRect(x, y, 70, h, 6);
    ctx.fill();
    ctx.fillStyle = "#1b1f24";
    ctx.fillText(label, x + 20, 320);
    boxes.push({ x, y, h, label, value });
  });
  const tip = document.getElementById("tip");
  canvas.addEventListener("mousemove", (event) => {
    const hit = boxes.find((b) => event.offsetX >= b.x && event.offsetX <= b.x + 70);
    tip.hidden = !hit;
    if (hit) tip.textContent = hit.label + ": " + hit.value;
  });
</script>
"""
    + TAIL
)

# A canvas chart whose drawing loop never runs: valid-looking source, nothing on screen.
BLANK_CANVAS = CANVAS.replace("rows.forEach(", "rows.slice(0, 0).forEach(")

# A chart that throws while drawing (after the bars are in place).
SCRIPT_ERROR = PERFECT_SVG.replace("</body>", "<script>drawLegend(document.body);</script>\n</body>")


def fenced(html: str, *, before: str = "Here is the chart.", after: str = "") -> str:
    return f"{before}\n\n```html\n{html}```\n{after}"


# An SVG chart built at run time by a script: no shapes in the markup, only in the script.
SCRIPTED_SVG = (
    HEAD
    + """<div class="card"><svg id="chart" width="640" height="400"></svg></div>
<script>
  const rows = [["Jan", 12], ["Feb", 5], ["Mar", 31], ["Apr", 18]];
  const colours = ["#1f6feb", "#2da44e", "#bf3989"];
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.getElementById("chart");
  rows.forEach(([label, value], i) => {
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", 40 + i * 90);
    bar.setAttribute("y", 300 - value * 8);
    bar.setAttribute("width", 70);
    bar.setAttribute("height", value * 8);
    bar.setAttribute("rx", 6);
    bar.setAttribute("fill", colours[i % colours.length]);
    bar.addEventListener("mouseover", () => { svg.dataset.hover = label + ": " + value; });
    const name = document.createElementNS(ns, "text");
    name.setAttribute("x", 60 + i * 90);
    name.setAttribute("y", 330);
    name.textContent = label;
    svg.append(bar, name);
  });
</script>
"""
    + TAIL
)
