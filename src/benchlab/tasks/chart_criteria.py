"""The six criteria a chart is scored on (DESIGN §5 chart), each a pure function of the parsed
markup and the task. docs/chart-tasks.md states every rule below for users.

| criterion       | points | how it is earned                                                        |
|-----------------|-------:|-------------------------------------------------------------------------|
| data present    |     30 | share of the table's labels, values (and series names) on the chart |
| valid markup    |     20 | 10 a chart element (svg + shapes, canvas + script, table); 10 no parse errors |
| design tokens   |     20 | palette 8 (share of colours used), background 3, text 3, font 3, radius 3 |
| chart type      |     10 | evidence of the requested type (bars, lines, arcs, points, cells…)     |
| banned absent   |     10 | none of the task's banned patterns present                              |
| interactivity   |     10 | what the task asks: tooltips, hover or click handling (or nothing)      |
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchlab.tasks.chart_markup import ParsedChart
from benchlab.tasks.chart_spec import ChartSpec

WEIGHTS: dict[str, float] = {
    "data_present": 30,
    "valid_markup": 20,
    "design_tokens": 20,
    "chart_type": 10,
    "banned_absent": 10,
    "interactivity": 10,
}
SHAPES = ("rect", "path", "circle", "ellipse", "line", "polyline", "polygon")


@dataclass
class Criterion:
    points: float
    detail: dict[str, Any] = field(default_factory=dict)


# --- data present ---------------------------------------------------------------------------------

# A number as charts write it: optional sign (ASCII or Unicode minus), optional currency, digits
# with or without thousands separators, optional decimals. The look-behind keeps "5" out of "15"
# and out of colour codes ("#1f6feb"); both readings of "100,200" (one number, or two) are kept.
_NUMBER = re.compile(r"(?<![\w.])([-−]?)[$€£]?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\d])")
_PLAIN = re.compile(r"(?<![\w.])([-−]?)[$€£]?(\d+)(\.\d+)?(?![\d])")


def numbers_in(text: str) -> set[float]:
    found: set[float] = set()
    for pattern in (_NUMBER, _PLAIN):
        for match in pattern.finditer(text):
            sign, digits, decimals = match.groups()
            value = float(digits.replace(",", "") + (decimals or ""))
            found.add(-value if sign else value)
    return found


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold()).strip()


def label_present(label: str, evidence: str) -> bool:
    """The label as a whole phrase (case and spacing ignored): "Ops" is not found in "DevOps"."""
    pattern = r"(?<![0-9a-z])" + re.escape(_squash(label)) + r"(?![0-9a-z])"
    return re.search(pattern, evidence) is not None


def data_present(parsed: ParsedChart, spec: ChartSpec) -> Criterion:
    evidence = parsed.evidence()
    squashed = _squash(evidence)
    numbers = numbers_in(evidence)
    table = spec.data
    labels = list(table.labels) + (list(table.series) if len(table.series) > 1 else [])
    missing_labels = [label for label in labels if not label_present(label, squashed)]
    values = table.values
    missing_values = [v for v in values if not any(abs(v - n) <= 1e-9 * max(1.0, abs(v)) for n in numbers)]
    required = len(labels) + len(values)
    found = required - len(missing_labels) - len(missing_values)
    return Criterion(
        round(WEIGHTS["data_present"] * found / required, 2),
        {
            "found": found,
            "required": required,
            "missing_labels": missing_labels[:10],
            "missing_values": [_plain(v) for v in missing_values[:10]],
        },
    )


def _plain(value: float) -> int | float:
    return int(value) if value.is_integer() else value


# --- valid markup ---------------------------------------------------------------------------------


_SCRIPTED_SHAPE = re.compile(r"[\"'`](rect|path|circle|ellipse|line|polyline|polygon)[\"'`]")


def scripted_shapes(parsed: ParsedChart) -> set[str]:
    """SVG shapes a script creates (`createElementNS(ns, "rect")`, d3's `.append("rect")`): a chart
    built at run time has no shapes in its markup, only in its script."""
    script = parsed.script
    if "createElementNS" not in script and not re.search(r"\.append\s*\(", script):
        return set()
    return set(_SCRIPTED_SHAPE.findall(script))


def chart_root(parsed: ParsedChart, spec: ChartSpec) -> str | None:
    """Which element carries the chart: `svg` (shapes in the markup), `svg (scripted)` (shapes a
    script creates), `canvas` (with a script that draws on it) or, for a heatmap, `table`; None when
    there is no chart at all."""
    if parsed.count("svg") and parsed.count(*SHAPES, svg=True):
        return "svg"
    if (parsed.count("svg") or "createElementNS" in parsed.script) and scripted_shapes(parsed):
        return "svg (scripted)"
    if parsed.count("canvas") and "getContext" in parsed.script:
        return "canvas"
    cells = len(spec.data.rows) * len(spec.data.series)
    if spec.chart_type == "heatmap" and parsed.count("td", "th", svg=False) >= cells:
        return "table"
    return None


def valid_markup(parsed: ParsedChart, spec: ChartSpec) -> Criterion:
    root = chart_root(parsed, spec)
    errors = parsed.serious_errors
    points = (10.0 if root else 0.0) + (10.0 if not errors else 0.0)
    return Criterion(points, {"root": root, "parse_errors": errors[:8]})


# --- design tokens --------------------------------------------------------------------------------

_HEX_COLOUR = re.compile(r"#([0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{4}|[0-9a-fA-F]{3})(?![0-9a-fA-F])")
_RGB = re.compile(r"rgba?\(\s*(\d{1,3})\s*[, ]\s*(\d{1,3})\s*[, ]\s*(\d{1,3})")


def colours_in(text: str) -> set[str]:
    """Every colour literal as `#rrggbb` (short and alpha forms expanded, rgb() converted)."""
    found: set[str] = set()
    for match in _HEX_COLOUR.finditer(text):
        digits = match.group(1).lower()
        if len(digits) in (3, 4):
            digits = "".join(c * 2 for c in digits[:3])
        found.add("#" + digits[:6])
    for match in _RGB.finditer(text):
        channels = [int(c) for c in match.groups()]
        if all(c <= 255 for c in channels):
            found.add("#" + "".join(f"{c:02x}" for c in channels))
    return found


def _radius_pattern(radius: int) -> re.Pattern[str]:
    number = rf"{radius}(?:\.0+)?(?:px)?(?![\d.])"
    return re.compile(
        rf"(?:\brx|\bry|radius)[\"'`]?\s*[:=,]\s*[\"'`]?\s*{number}"
        rf"|roundRect\([^)]*,\s*\[?\s*{number}\s*\]?\s*\)",
        re.IGNORECASE,
    )


def design_tokens(parsed: ParsedChart, spec: ChartSpec) -> Criterion:
    tokens = spec.tokens
    source = "\n".join([parsed.css, parsed.attribute_text(), parsed.script])
    colours = colours_in(source)
    used = [c for c in tokens.palette if c.lower() in colours]
    font = re.search(r"font[^;{}\n]{0,120}?" + re.escape(tokens.font), source, re.IGNORECASE) is not None
    radius = _radius_pattern(tokens.radius).search(source) is not None
    parts = {
        "palette": 8 * len(used) / len(tokens.palette),
        "background": 3.0 if tokens.background.lower() in colours else 0.0,
        "text": 3.0 if tokens.text.lower() in colours else 0.0,
        "font": 3.0 if font else 0.0,
        "radius": 3.0 if radius else 0.0,
    }
    return Criterion(
        round(sum(parts.values()), 2),
        {
            "parts": {name: round(value, 2) for name, value in parts.items()},
            "palette_missing": [c for c in tokens.palette if c not in used],
        },
    )


# --- chart type -----------------------------------------------------------------------------------

_ARC = re.compile(r"[Aa]\s*[-\d.]")
_LINE_COMMANDS = re.compile(r"[LlHhVvCcQqSsTt]")


def _paths(parsed: ParsedChart) -> list[str]:
    return [e.attrs.get("d", "") for e in parsed.elements if e.svg and e.tag == "path"]


def type_evidence(parsed: ParsedChart, spec: ChartSpec) -> str | None:
    """What shows the requested type (a short description), or None. Canvas charts are read from
    their drawing calls, since their marks exist only as pixels."""
    rows = len(spec.data.rows)
    series = len(spec.data.series)
    script = parsed.script
    paths = _paths(parsed)
    arcs = [d for d in paths if _ARC.search(d)]
    kind = spec.chart_type
    canvas = parsed.count("canvas") > 0
    made = scripted_shapes(parsed)
    if kind == "heatmap":
        cells = rows * series
        same_size = _largest_same_size(parsed)
        if same_size >= cells:
            return f"{same_size} equal-sized <rect> cells (≥ {cells})"
        if _coloured_cells(parsed) >= cells:
            return f"{_coloured_cells(parsed)} coloured table cells (≥ {cells})"
        if "rect" in made:
            return "script-built <rect> cells"
        if canvas and re.search(r"\b(?:fillRect|rect)\s*\(", script):
            return "canvas cells (fillRect/rect)"
        return None
    if kind in ("bar", "stacked_bar"):
        needed = rows * series if kind != "bar" else rows
        rects = parsed.count("rect", svg=True)
        if rects >= needed:
            return f"{rects} <rect> marks (≥ {needed})"
        if "rect" in made:
            return "script-built <rect> marks"
        if canvas and re.search(r"\b(?:fillRect|roundRect|rect)\s*\(", script):
            return "canvas rectangles (fillRect/rect/roundRect)"
        return None
    if kind in ("line", "area"):
        lines = parsed.count("polyline", svg=True) + sum(1 for d in paths if _LINE_COMMANDS.search(d))
        if kind == "area":
            closed = [d for d in paths if re.search(r"[Zz]\s*$", d.strip()) and _LINE_COMMANDS.search(d)]
            filled = parsed.count("polygon", svg=True) + len(closed)
            if filled:
                return f"{filled} closed filled shapes (<polygon>/<path … Z>)"
            if "polygon" in made or ("path" in made and re.search(r"[\"'`\s]Z[\"'`\s]", script)):
                return "script-built closed shapes (<polygon>/<path … Z>)"
            if canvas and "lineTo" in script and re.search(r"\bfill\s*\(", script):
                return "canvas filled path (lineTo + fill)"
            return None
        if lines:
            return f"{lines} line shapes (<polyline>/<path> with line commands)"
        if made & {"polyline", "path"}:
            return "script-built <polyline>/<path>"
        if canvas and "lineTo" in script and re.search(r"\bstroke\s*\(", script):
            return "canvas stroked path (lineTo + stroke)"
        return None
    if kind in ("pie", "donut"):
        dashed = [
            e for e in parsed.elements if e.svg and e.tag == "circle" and "stroke-dasharray" in _style(e)
        ]
        canvas_arcs = len(re.findall(r"\barc\s*\(", script)) if canvas else 0
        # A script-built path with an arc command ("A" in a string or template) is a slice; a
        # mention of an inner radius or a hole makes it a ring.
        scripted_arc = "path" in made and re.search(r"[\"'`\s]A[\"'`\s$]", script) is not None
        scripted_ring = scripted_arc and re.search(r"inner|hole", script, re.IGNORECASE) is not None
        if kind == "pie":
            if arcs or dashed:
                return f"{len(arcs)} arc paths, {len(dashed)} dashed circles"
            if scripted_arc:
                return "script-built arc paths"
            return "canvas arcs" if canvas_arcs else None
        hole = (
            dashed
            or any(len(_ARC.findall(d)) >= 2 for d in arcs)
            or (arcs and parsed.count("circle", svg=True))
            or canvas_arcs >= 2
            or (canvas_arcs and "destination-out" in script)
        )
        if hole and (arcs or dashed or canvas_arcs):
            return "arcs around a hole (ring segments)"
        return "script-built arc paths around an inner radius" if scripted_ring else None
    if kind == "scatter":
        points = [
            e
            for e in parsed.elements
            if e.svg and e.tag in ("circle", "ellipse", "use") and "stroke-dasharray" not in _style(e)
        ]
        if len(points) >= rows:
            return f"{len(points)} point marks (≥ {rows})"
        if made & {"circle", "ellipse"}:
            return "script-built <circle> points"
        if canvas and re.search(r"\barc\s*\(", script):
            return "canvas points (arc)"
        return None
    return None


def _style(element: Any) -> str:
    return " ".join(f"{k}:{v}" for k, v in element.attrs.items()) if element.attrs else ""


def _largest_same_size(parsed: ParsedChart) -> int:
    """How many SVG rects share one width and height: heatmap cells do, bars of a bar chart do not."""
    sizes = Counter(
        (e.attrs["width"], e.attrs["height"])
        for e in parsed.elements
        if e.svg and e.tag == "rect" and "width" in e.attrs and "height" in e.attrs
    )
    return max(sizes.values(), default=0)


def _coloured_cells(parsed: ParsedChart) -> int:
    return sum(
        1
        for e in parsed.elements
        if e.tag in ("td", "th")
        and ("bgcolor" in e.attrs or re.search(r"background", e.attrs.get("style", ""), re.I))
    )


def chart_type(parsed: ParsedChart, spec: ChartSpec) -> Criterion:
    evidence = type_evidence(parsed, spec)
    return Criterion(10.0 if evidence else 0.0, {"asked": spec.chart_type, "evidence": evidence})


# --- banned patterns ------------------------------------------------------------------------------

_RESOURCE_ATTRS = {"src", "href", "xlink:href", "data", "action", "poster", "srcset", "background"}
_REMOTE = re.compile(r"^\s*(?:(?:https?|ftp|wss?):)?//", re.IGNORECASE)
_NETWORK_CALLS = re.compile(
    r"\bfetch\s*\(|\bXMLHttpRequest\b|\bWebSocket\s*\(|\bEventSource\s*\(|\bsendBeacon\s*\("
    r"|\bimportScripts\s*\(|\bimport\s*\(\s*[\"'`](?:https?:)?//"
)
_SCRIPT_PATTERNS = {
    "eval": re.compile(r"(?<![\w.$])eval\s*\(|\bnew\s+Function\s*\(|\bset(?:Timeout|Interval)\s*\(\s*[\"'`]"),
    "document_write": re.compile(r"\bdocument\s*\.\s*write(?:ln)?\s*\("),
    "inner_html": re.compile(r"\.\s*(?:inner|outer)HTML\s*\+?=(?!=)|\binsertAdjacentHTML\s*\("),
}


def banned_found(parsed: ParsedChart, banned: list[str]) -> list[str]:
    """Each banned pattern the markup contains, as `pattern: what was seen`."""
    found: list[str] = []
    script = parsed.script
    if "external_resources" in banned:
        for e in parsed.elements:
            if e.tag == "script" and "src" in e.attrs:
                found.append(f"external_resources: <script src={e.attrs['src']!r}>")
                continue
            for name, value in e.attrs.items():
                if name in _RESOURCE_ATTRS and e.tag != "a" and _REMOTE.match(value):
                    found.append(f"external_resources: <{e.tag} {name}={value!r}>")
        css = parsed.css
        if re.search(r"@import\b|url\(\s*[\"']?\s*(?:https?:)?//", css, re.IGNORECASE):
            found.append("external_resources: remote CSS (@import or url(//…))")
        network = _NETWORK_CALLS.search(script)
        if network:
            found.append(f"external_resources: network call {network.group(0).strip()!r}")
    if "inline_handlers" in banned:
        for e in parsed.elements:
            handlers = [name for name in e.attrs if re.fullmatch(r"on[a-z]+", name)]
            if handlers:
                found.append(f"inline_handlers: <{e.tag} {handlers[0]}=…>")
            if any(value.strip().lower().startswith("javascript:") for value in e.attrs.values()):
                found.append(f"inline_handlers: javascript: URL on <{e.tag}>")
    for name, pattern in _SCRIPT_PATTERNS.items():
        if name in banned:
            match = pattern.search(script)
            if match:
                found.append(f"{name}: {match.group(0).strip()!r}")
    return list(dict.fromkeys(found))


def banned_absent(parsed: ParsedChart, spec: ChartSpec) -> Criterion:
    found = banned_found(parsed, list(spec.banned))
    return Criterion(0.0 if found else 10.0, {"found": found[:8]})


# --- interactivity --------------------------------------------------------------------------------

HOVER_EVENTS = {"mouseover", "mouseenter", "mousemove", "pointerover", "pointerenter", "pointermove"}
CLICK_EVENTS = {"click", "pointerdown", "mousedown", "pointerup", "mouseup"}


def listened_events(parsed: ParsedChart) -> set[str]:
    """Events the chart handles: addEventListener("x"), `.on("x", …)` (d3 style), `el.onx = …`
    and inline `onx=` attributes (which may themselves be banned)."""
    script = parsed.script
    events = {m.lower() for m in re.findall(r"addEventListener\s*\(\s*[\"'`](\w+)", script)}
    events |= {m.lower() for m in re.findall(r"\.on\s*\(\s*[\"'`](\w+)", script)}
    events |= {m.lower() for m in re.findall(r"\.on(\w+)\s*=(?!=)", script)}
    events |= {name[2:] for e in parsed.elements for name in e.attrs if re.fullmatch(r"on[a-z]+", name)}
    return events


def interactivity(parsed: ParsedChart, spec: ChartSpec) -> Criterion:
    asked = spec.interactivity
    events = listened_events(parsed)
    rows = len(spec.data.rows)
    titles = parsed.count("title", svg=True)
    title_attrs = sum(1 for e in parsed.elements if "title" in e.attrs or "data-tooltip" in e.attrs)
    hover = sorted(events & HOVER_EVENTS)
    evidence: str | None
    if asked == "none":
        evidence = "nothing asked"
    elif asked == "tooltip":
        if titles >= rows:
            evidence = f"{titles} SVG <title> tooltips"
        elif title_attrs >= rows:
            evidence = f"{title_attrs} title attributes"
        elif re.search(r"(?:createElementNS\s*\([^,()]*,|\.append\s*\()\s*[\"'`]title[\"'`]", parsed.script):
            evidence = "script-built SVG <title> tooltips"
        else:
            evidence = f"hover handlers ({', '.join(hover)})" if hover else None
    elif asked == "hover":
        if hover:
            evidence = f"hover handlers ({', '.join(hover)})"
        else:
            evidence = "CSS :hover rule" if re.search(r":hover\b", parsed.css) else None
    else:
        clicks = sorted(events & CLICK_EVENTS)
        evidence = f"click handlers ({', '.join(clicks)})" if clicks else None
    return Criterion(10.0 if evidence else 0.0, {"asked": asked, "evidence": evidence})


CRITERIA = {
    "data_present": data_present,
    "valid_markup": valid_markup,
    "design_tokens": design_tokens,
    "chart_type": chart_type,
    "banned_absent": banned_absent,
    "interactivity": interactivity,
}

__all__ = [
    "CRITERIA",
    "WEIGHTS",
    "Criterion",
    "banned_found",
    "chart_root",
    "colours_in",
    "label_present",
    "listened_events",
    "numbers_in",
    "type_evidence",
]
