"""The chart scorer on hand-made charts: exact scores per criterion (docs/chart-tasks.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchlab.tasks.chart import ChartTask, render_penalties
from benchlab.tasks.chart_criteria import colours_in, label_present, numbers_in
from benchlab.tasks.chart_markup import parse_chart, recover_html, strip_js_comments
from benchlab.tasks.chart_spec import ChartSpec, RowError
from benchlab.types import Completion, ErrorKind, Sample, Score, Transcript
from chart_fixtures import (
    BROKEN,
    CANVAS,
    CDN_SCRIPT,
    COMMENT_ONLY,
    HEAD,
    OFF_TOKENS,
    PERFECT_SVG,
    SCRIPTED_SVG,
    TAIL,
    fenced,
    sample,
    svg_bars,
)

FULL = {
    "data_present": 30.0,
    "valid_markup": 20.0,
    "design_tokens": 20.0,
    "chart_type": 10.0,
    "banned_absent": 10.0,
    "interactivity": 10.0,
}


def score(reply: str, task_sample: Sample | None = None, *, task: ChartTask | None = None) -> Score:
    transcript = Transcript(messages=[], completions=[Completion(content=reply, finish_reason="stop")])
    return (task or ChartTask()).score(task_sample or sample(), transcript)


def test_a_perfect_svg_bar_chart_scores_100() -> None:
    result = score(fenced(PERFECT_SVG))
    assert result.details["criteria"] == FULL
    assert result.value == 1.0 and result.correct is True and result.error_kind is ErrorKind.NONE
    assert result.details["why"]["chart_type"]["evidence"] == "4 <rect> marks (≥ 4)"
    assert result.details["why"]["interactivity"]["evidence"] == "4 SVG <title> tooltips"


def test_data_only_in_a_comment_earns_no_data_points() -> None:
    result = score(fenced(COMMENT_ONLY))
    why = result.details["why"]["data_present"]
    assert result.details["criteria"] == {**FULL, "data_present": 0.0, "interactivity": 0.0}
    assert result.value == 0.6
    assert why["found"] == 0 and why["missing_values"] == [12, 5, 31, 18]


def test_the_wrong_chart_type_loses_the_type_points() -> None:
    result = score(fenced(PERFECT_SVG), sample(chart_type="line"))
    assert result.details["criteria"] == {**FULL, "chart_type": 0.0}
    assert result.value == 0.9 and result.details["why"]["chart_type"]["evidence"] is None


def test_missing_design_tokens_lose_the_token_points() -> None:
    result = score(fenced(OFF_TOKENS))
    assert result.details["criteria"] == {**FULL, "design_tokens": 0.0}
    assert result.details["why"]["design_tokens"]["parts"] == {
        "palette": 0.0,
        "background": 0.0,
        "text": 0.0,
        "font": 0.0,
        "radius": 0.0,
    }


def test_a_partial_palette_earns_its_share() -> None:
    result = score(fenced(PERFECT_SVG.replace("#bf3989", "#999999")))
    assert result.details["criteria"]["design_tokens"] == round(8 * 2 / 3 + 12, 2) == 17.33
    assert result.details["why"]["design_tokens"]["palette_missing"] == ["#bf3989"]


def test_a_cdn_script_is_a_banned_pattern() -> None:
    result = score(fenced(CDN_SCRIPT))
    assert result.details["criteria"] == {**FULL, "banned_absent": 0.0}
    assert result.details["why"]["banned_absent"]["found"] == [
        "external_resources: <script src='https://cdn.example.com/charts.min.js'>"
    ]


@pytest.mark.parametrize(
    ("snippet", "pattern"),
    [
        ("<script>eval('1+1')</script>", "eval"),
        ("<script>setTimeout('draw()', 10)</script>", "eval"),
        ("<script>document.write('<p>hi</p>')</script>", "document_write"),
        ('<button onclick="go()">go</button>', "inline_handlers"),
        ("<script>fetch('/data.json')</script>", "external_resources"),
        ('<img src="//images.example.net/logo.png">', "external_resources"),
        ("<style>@import url('https://fonts.example.org/inter.css');</style>", "external_resources"),
    ],
)
def test_each_banned_pattern_is_caught(snippet: str, pattern: str) -> None:
    result = score(fenced(PERFECT_SVG.replace("</body>", snippet + "</body>")))
    assert result.details["criteria"]["banned_absent"] == 0.0
    assert result.details["why"]["banned_absent"]["found"][0].startswith(pattern + ":")


def test_a_banned_word_inside_a_comment_or_string_data_is_not_a_violation() -> None:
    quiet = "<!-- never use eval( or document.write( here --><script>// eval('x')\nconst note = 1;</script>"
    result = score(fenced(PERFECT_SVG.replace("</body>", quiet + "</body>")))
    assert result.details["criteria"]["banned_absent"] == 10.0


def test_broken_markup_loses_the_parse_points() -> None:
    result = score(fenced(BROKEN))
    why = result.details["why"]["valid_markup"]
    assert result.details["criteria"] == {**FULL, "valid_markup": 10.0}
    assert why["root"] == "svg" and "eof-in-attribute-value-no-quotes" in why["parse_errors"]


def test_a_canvas_chart_with_its_data_in_a_js_array_scores_100() -> None:
    result = score(fenced(CANVAS))
    assert result.details["criteria"] == FULL
    assert result.details["why"]["valid_markup"]["root"] == "canvas"
    assert result.details["why"]["chart_type"]["evidence"] == "canvas rectangles (fillRect/rect/roundRect)"
    assert result.details["why"]["interactivity"]["evidence"] == "hover handlers (mousemove)"


def test_a_js_array_that_is_commented_out_does_not_count() -> None:
    hidden = CANVAS.replace('const rows = [["Jan", 12], ["Feb", 5], ["Mar", 31], ["Apr", 18]];', "").replace(
        "<script>", '<script>\n  /* const rows = [["Jan", 12], ["Feb", 5], ["Mar", 31], ["Apr", 18]]; */\n'
    )
    result = score(fenced(hidden))
    assert result.details["criteria"]["data_present"] == 0.0


def test_a_value_is_matched_as_a_whole_number_only() -> None:
    # "5" must not be found in "15", "150" or "#55aa55"; "12" not in "12.5".
    assert 5.0 not in numbers_in("15 150 #55aa55 x5 12.5")
    assert numbers_in("−340 and -$1,250.50") >= {-340.0, -1250.5}
    assert {100.0, 200.0, 100200.0} <= numbers_in("[100,200]")
    chart = PERFECT_SVG.replace(">5<", ">15<").replace("Feb: 5 trades", "Feb: 15 trades")
    why = score(fenced(chart)).details["why"]["data_present"]
    assert why["missing_values"] == [5] and why["found"] == 7
    assert score(fenced(chart)).details["criteria"]["data_present"] == 26.25


def test_labels_are_matched_as_whole_phrases() -> None:
    assert label_present("ops", "devops team") is False
    assert label_present("dev ops", "the dev   ops team".replace("   ", " ")) is True
    assert label_present("/v1/users", "get /v1/users, 200") is True


def test_colours_are_normalised() -> None:
    assert colours_in("fill:#FFF; stroke: rgb(31, 111, 235); color:#1f6feb80") == {
        "#ffffff",
        "#1f6feb",
    }


def test_series_names_are_required_for_several_series() -> None:
    stacked = sample(
        chart_type="stacked_bar",
        data={"columns": ["Month", "Long", "Short"], "rows": [["Jan", 12, 7], ["Feb", 5, 9]]},
    )
    rects = "".join(
        f'<rect x="{x}" y="40" width="30" height="60" fill="#1f6feb"><title>{t}</title></rect>'
        for x, t in [(10, "Jan Long 12"), (50, "Jan Short 7"), (90, "Feb Long 5"), (130, "Feb Short 9")]
    )
    svg = f'<svg width="300" height="200">{rects}<text x="200" y="20">Long</text></svg>'
    why = score(fenced(HEAD + svg + TAIL), stacked).details["why"]
    # 2 labels + 4 values + 2 series names ("Short" appears in the tooltips).
    assert why["data_present"]["required"] == 8 and why["data_present"]["found"] == 8
    without = svg.replace("Short", "S")
    assert score(fenced(HEAD + without + TAIL), stacked).details["why"]["data_present"]["missing_labels"] == [
        "Short"
    ]


@pytest.mark.parametrize(
    ("kind", "marks", "expected"),
    [
        ("line", '<polyline points="0,0 10,10 20,5" fill="none" stroke="#1f6feb"/>', 10.0),
        ("area", '<path d="M0 100 L10 40 L20 60 L20 100 Z" fill="#1f6feb"/>', 10.0),
        ("area", '<polyline points="0,0 10,10" fill="none"/>', 0.0),
        ("pie", '<path d="M50 50 L50 0 A50 50 0 0 1 100 50 Z" fill="#1f6feb"/>', 10.0),
        ("donut", '<path d="M50 50 L50 0 A50 50 0 0 1 100 50 Z" fill="#1f6feb"/>', 0.0),
        ("donut", '<circle r="40" cx="50" cy="50" fill="none" stroke-dasharray="60 200"/>', 10.0),
        ("scatter", "".join(f'<circle cx="{x}" cy="{x}" r="4"/>' for x in (10, 20, 30, 40)), 10.0),
        ("scatter", '<circle cx="10" cy="10" r="4"/>', 0.0),
    ],
)
def test_chart_type_evidence(kind: str, marks: str, expected: float) -> None:
    extra: dict[str, object] = {"chart_type": kind}
    if kind == "scatter":
        extra["data"] = {
            "columns": ["Trade", "Hours", "Return"],
            "rows": [["T1", 1, 2], ["T2", 3, 4], ["T3", 5, 6], ["T4", 7, 8]],
        }
    svg = f'<svg width="200" height="200">{marks}</svg>'
    assert score(fenced(HEAD + svg + TAIL), sample(**extra)).details["criteria"]["chart_type"] == expected


def test_a_heatmap_may_be_a_table_of_coloured_cells() -> None:
    heat = sample(
        chart_type="heatmap",
        data={"columns": ["Team", "Mon", "Tue"], "rows": [["Core", 3, 4], ["Edge", 1, 0]]},
    )
    cells = "".join(
        f"<tr><th>{team}</th>" + "".join(f'<td style="background:#1f6feb">{v}</td>' for v in values) + "</tr>"
        for team, values in [("Core", (3, 4)), ("Edge", (1, 0))]
    )
    table = f"<table><tr><th></th><th>Mon</th><th>Tue</th></tr>{cells}</table>"
    result = score(fenced(HEAD + table + TAIL), heat)
    assert result.details["why"]["valid_markup"]["root"] == "table"
    assert result.details["criteria"]["chart_type"] == 10.0
    assert result.details["criteria"]["data_present"] == 30.0


@pytest.mark.parametrize(
    ("asked", "html", "expected"),
    [
        ("hover", PERFECT_SVG.replace("</style>", "rect:hover { opacity: .8; }</style>"), 10.0),
        ("hover", PERFECT_SVG, 0.0),
        ("click", CANVAS.replace('"mousemove"', '"click"'), 10.0),
        ("click", CANVAS, 0.0),
        ("none", COMMENT_ONLY, 10.0),
        ("tooltip", HEAD + svg_bars(titles=False) + TAIL, 0.0),
    ],
)
def test_interactivity_as_asked(asked: str, html: str, expected: float) -> None:
    result = score(fenced(html), sample(interactivity=asked))
    assert result.details["criteria"]["interactivity"] == expected


def test_no_html_is_a_model_error_scored_zero() -> None:
    result = score("I am sorry, I cannot draw charts.")
    assert result.error_kind is ErrorKind.MODEL and result.value == 0.0
    assert result.error == "no HTML found in the reply"
    assert result.details["criteria"] == dict.fromkeys(FULL, 0.0)


def test_markup_without_a_chart_is_a_model_error() -> None:
    result = score(fenced(HEAD + "<div><p>Jan 12, Feb 5, Mar 31, Apr 18</p></div>" + TAIL))
    assert result.error_kind is ErrorKind.MODEL and result.value == 0.0
    assert result.error is not None and result.error.startswith("no chart:")


def test_html_is_recovered_from_a_fence_or_the_whole_reply() -> None:
    assert recover_html(fenced(PERFECT_SVG)).rule == "fence-markup"
    assert recover_html("```\n" + PERFECT_SVG + "```").rule == "fence-untagged"
    whole = recover_html("Sure! " + PERFECT_SVG + " Enjoy.")
    assert whole.rule == "whole-reply" and whole.html is not None and whole.html.startswith("<!DOCTYPE")
    thought = recover_html("<think>```html\n<svg><rect/></svg>\n```</think>" + fenced(CANVAS))
    assert thought.html is not None and "canvas" in thought.html
    assert score("Sure! " + PERFECT_SVG).value == 1.0


def test_js_comments_go_but_strings_stay() -> None:
    source = 'const u = "http://x//y"; // gone 12\n/* gone 31 */ const v = `a//b`;'
    assert strip_js_comments(source) == 'const u = "http://x//y"; \n  const v = `a//b`;'


def test_every_chart_is_saved_with_its_path_in_the_details(tmp_path: Path) -> None:
    task = ChartTask(artifacts=tmp_path)
    result = score(fenced(PERFECT_SVG), sample("trading/bar 1"), task=task)
    path = Path(result.details["html_path"])
    assert path.parent == tmp_path / "charts" and path.name.startswith("trading_bar_1-")
    assert path.read_text(encoding="utf-8") == PERFECT_SVG.strip()
    again = score(fenced(PERFECT_SVG), sample("trading/bar 1"), task=task)
    assert again.details["html_path"] == str(path) and len(list(path.parent.iterdir())) == 1


@pytest.mark.parametrize(
    ("render", "withheld"),
    [
        ({"status": "rendered", "page_errors": ["x"], "blank": False}, ["valid_markup"]),
        ({"status": "rendered", "blank": True}, ["data_present", "chart_type"]),
        ({"status": "timeout"}, ["valid_markup", "data_present", "chart_type"]),
        ({"status": "rendered", "blocked": ["http://a"]}, ["banned_absent"]),
        ({"status": "stale"}, []),
    ],
)
def test_render_penalties(render: dict[str, object], withheld: list[str]) -> None:
    assert render_penalties(render) == withheld


def test_a_malformed_row_names_the_field_and_the_fix() -> None:
    bad = Sample(
        id="bad-1", data={**sample().data, "tokens": {**sample().data["tokens"], "palette": ["blue"]}}
    )
    with pytest.raises(RowError, match=r"'bad-1' is malformed \(tokens\.palette: .*not #rrggbb.*fix the row"):
        ChartSpec.of(bad)
    ragged = sample(data={"columns": ["Month", "Trades"], "rows": [["Jan", 1], ["Feb"]]})
    with pytest.raises(RowError, match="row 1 has 1 cells for 2 columns"):
        ChartSpec.of(ragged)


def test_parse_chart_keeps_comment_tails() -> None:
    parsed = parse_chart("<svg><text>A<!-- hidden 7 -->B 9</text><rect/></svg>")
    assert "hidden" not in parsed.evidence() and "B 9" in parsed.evidence()


def test_the_svg_namespace_is_not_data() -> None:
    year = sample(data={"columns": ["Year", "Trades"], "rows": [["Before", 1999], ["After", 2000]]})
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200">'
        '<rect x="10" y="10" width="30" height="60"/><rect x="50" y="10" width="30" height="60"/>'
        "<text>Before 1999</text><text>After</text></svg>"
    )
    why = score(fenced(HEAD + svg + TAIL), year).details["why"]["data_present"]
    assert why["missing_values"] == [2000]


def test_an_svg_built_by_a_script_is_read_from_the_script() -> None:
    result = score(fenced(SCRIPTED_SVG))
    assert result.details["criteria"] == FULL
    assert result.details["why"]["valid_markup"]["root"] == "svg (scripted)"
    assert result.details["why"]["chart_type"]["evidence"] == "script-built <rect> marks"
    assert (
        score(
            fenced(SCRIPTED_SVG),
            sample(
                chart_type="scatter",
                data={
                    "columns": ["Trade", "Hours", "Return"],
                    "rows": [["T1", 1, 2], ["T2", 3, 4]],
                },
            ),
        ).details["criteria"]["chart_type"]
        == 0.0
    )


def test_a_heatmap_needs_equal_cells_not_bars() -> None:
    heat = sample(
        chart_type="heatmap",
        data={"columns": ["Team", "Mon", "Tue"], "rows": [["Core", 3, 4], ["Edge", 1, 0]]},
    )
    bars = "".join(
        f'<rect x="{10 * i}" y="0" width="8" height="{h}"/>' for i, h in enumerate((30, 40, 10, 2))
    )
    cells = "".join(
        f'<rect x="{20 * (i % 2)}" y="{20 * (i // 2)}" width="20" height="20" fill="#1f6feb"/>'
        for i in range(4)
    )
    as_bars = score(fenced(HEAD + f"<svg>{bars}</svg>" + TAIL), heat)
    as_cells = score(fenced(HEAD + f"<svg>{cells}</svg>" + TAIL), heat)
    assert as_bars.details["criteria"]["chart_type"] == 0.0
    assert as_cells.details["why"]["chart_type"]["evidence"] == "4 equal-sized <rect> cells (≥ 4)"


@given(
    value=st.integers(min_value=-(10**9), max_value=10**9), style=st.sampled_from(["plain", "grouped", "usd"])
)
def test_any_written_integer_is_read_back(value: int, style: str) -> None:
    digits = f"{abs(value):,}" if style == "grouped" else str(abs(value))
    text = ("-" if value < 0 else "") + ("$" if style == "usd" else "") + digits
    assert value in numbers_in(f"<text>{text}</text>")


@given(value=st.integers(min_value=0, max_value=10**6), prefix=st.integers(min_value=1, max_value=9))
def test_a_number_is_never_found_inside_a_longer_one(value: int, prefix: int) -> None:
    assert value not in numbers_in(f"{prefix}{value}") and value not in numbers_in(f"{value}{prefix}")


def test_script_built_tooltips_count() -> None:
    quiet = SCRIPTED_SVG.replace(
        'bar.addEventListener("mouseover", () => { svg.dataset.hover = label + ": " + value; });', ""
    )
    assert score(fenced(quiet)).details["criteria"]["interactivity"] == 0.0
    titled = quiet.replace(
        "svg.append(bar, name);",
        'const tip = document.createElementNS(ns, "title");\n    tip.textContent = label;\n'
        "    bar.append(tip);\n    svg.append(bar, name);",
    )
    result = score(fenced(titled))
    assert result.details["why"]["interactivity"]["evidence"] == "script-built SVG <title> tooltips"
