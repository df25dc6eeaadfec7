"""What the newer run kinds look like in a real browser (Playwright driving Debian's Chromium): a speed
run's page with its Plotly figures and the client/server gap, a rendered chart in the sandboxed frame
with its screenshot, a rubric run labelled as a rubric mean, host metrics on a run page, and campaign
and imported lm-eval runs that list and open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest

pytest.importorskip("starlette", reason="needs the dashboard extra: pip install 'benchlab[dashboard]'")
pytest.importorskip("playwright", reason="needs Playwright for Python: pip install 'benchlab[dev]'")

from playwright.sync_api import Browser, Page, expect, sync_playwright
from typer.testing import CliRunner

from benchlab import api, settings
from benchlab.analysis.summary import rate
from benchlab.catalog.datasets import Dataset
from benchlab.cli import app as cli_app
from benchlab.engine.runner import RunRequest, run_benchmark
from benchlab.surfaces.dashboard.background import BackgroundDashboard
from benchlab.tasks.chart import ChartTask
from benchlab.testing.scripted_server import Pacing, Reply, ScriptedServer
from benchlab.testing.synthetic_runs import write_run
from benchlab.types import Endpoint, RunRecord
from chart_fixtures import PERFECT_SVG, fenced, sample
from conftest import make_mcq_file
from scripted import answering

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
T = TypeVar("T")

# llama.cpp-style timings on every reply: 11 decoded tokens after the first in 220 ms = 50 tok/s.
SERVER_TIMINGS = {"prompt_n": 100, "prompt_ms": 50.0, "predicted_n": 12, "predicted_ms": 220.0}
WORDS = " ".join(f"w{i}" for i in range(12))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


def off_the_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Playwright's sync API keeps an event loop on this thread; runs need another thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def traces(page: Page, element_id: str) -> int:
    return int(page.evaluate(f"document.getElementById({json.dumps(element_id)}).data.length"))


def speed_run() -> RunRecord:
    reply = Reply(content=WORDS, timings=SERVER_TIMINGS)
    with ScriptedServer(
        reply, pacing=Pacing(ttft=0.05, gap=0.005), slots=2, server_kind="llama.cpp"
    ) as server:
        return api.speed("concurrency", server=server.base_url, levels=[1, 2], output_tokens=12, tag="sweep")


def test_a_speed_run_page_draws_its_figures_and_the_client_server_gap(page: Page) -> None:
    record = off_the_loop(speed_run)
    summary = record.summary
    assert record.task_kind == "speed" and [entry["level"] for entry in summary["levels"]] == [1, 2]
    with BackgroundDashboard() as dashboard:
        page.goto(f"{dashboard.url}/run/{record.run_id}")
        expect(page.locator("#speed .js-plotly-plot")).to_have_count(4, timeout=15_000)
        assert page.evaluate("typeof window.Plotly.newPlot") == "function"
        assert traces(page, "speed-ttft") == 3  # p50, p90, p99
        assert traces(page, "speed-latency") == 3
        assert traces(page, "speed-decode") == 4  # the client's three percentiles and the server's median
        assert traces(page, "speed-throughput") == 1
        plotted = page.evaluate("document.getElementById('speed-throughput').data[0].y")
        assert plotted == pytest.approx([entry["output_tok_s"] for entry in summary["levels"]])
        knee = page.evaluate("document.getElementById('speed-throughput').layout.shapes[0].x0")
        assert knee == summary["knee"]
        server_decode = page.evaluate("document.getElementById('speed-decode').data[3].y")
        assert server_decode == pytest.approx([50.0, 50.0])
        rows = page.locator("#speed-gap tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first.locator("td").nth(3)).to_have_text("50.0 tok/s")
        gap = summary["levels"][0]["decode_gap"]
        expect(rows.first.locator("td.gap")).to_have_text(f"{'+' if gap >= 0 else ''}{100 * gap:.1f}%")
        expect(page.locator("#headline-tile .label")).to_have_text("output tok/s (best)")
        expect(page.locator("#speed-headline [data-field=speed-score] .value")).to_have_text(
            f"{summary['speed_score']['value']:.0f}"
        )
        expect(page.locator("#host-chart.js-plotly-plot")).to_have_count(1)
        # Requests are not right or wrong: a finished request reads "done", never "wrong".
        expect(page.locator("#samples-table tbody tr").first).to_contain_text("✓ done")
        expect(page.locator("#samples-table")).not_to_contain_text("✗ wrong")
        page.goto(f"{dashboard.url}/live?run={record.run_id}")
        requests = len(record.sample_ids)  # the warm-up included: every request finished
        expect(page.locator("#live-tiles [data-field=requests-ok] .value")).to_have_text("100.0%")
        expect(page.locator("#live-tiles [data-field=requests-ok] .sub")).to_contain_text(
            f"{requests} of {requests}"
        )
        expect(page.locator("#live-tiles")).not_to_contain_text("accuracy")
        page.goto(f"{dashboard.url}/leaderboard")
        expect(page.locator("#leaderboard thead")).to_contain_text("output tok/s (best)")


def context_run() -> RunRecord:
    reply = Reply(content=WORDS, timings=SERVER_TIMINGS)
    with ScriptedServer(reply, pacing=Pacing(ttft=0.05, gap=0.005), server_kind="llama.cpp") as server:
        return api.speed("context", server=server.base_url, lengths=[64, 256], trials=1, output_tokens=12)


def test_a_context_sweep_draws_prefill_against_length_client_beside_server(page: Page) -> None:
    record = off_the_loop(context_run)
    lengths = record.summary["lengths"]
    with BackgroundDashboard() as dashboard:
        page.goto(f"{dashboard.url}/run/{record.run_id}")
        expect(page.locator("#speed .js-plotly-plot")).to_have_count(4, timeout=15_000)  # no throughput here
        assert traces(page, "speed-prefill") == 2
        prefill = page.evaluate("document.getElementById('speed-prefill').data")
        assert prefill[0]["x"] == [entry["prompt_tokens"] for entry in lengths]
        assert prefill[0]["y"] == pytest.approx([entry["naive_client_prefill_tok_s"] for entry in lengths])
        assert prefill[1]["y"] == pytest.approx([2000.0, 2000.0])  # 100 prompt tokens in 50 ms, as served
        assert page.evaluate("document.getElementById('speed-ttft').layout.xaxis.type") == "linear"
        expect(page.locator("#speed-prefill-gap")).to_contain_text("prefill by difference (server)")
        expect(page.locator("#speed-gap tbody tr")).to_have_count(2)


def chart_run() -> RunRecord:
    dataset = Dataset(
        key="chart-one", kind="chart", samples=[sample("bar-1")], sha256="0" * 64, path="chart-one"
    )
    task = ChartTask(
        render=True, artifacts=settings.home() / "artifacts", browser=CHROMIUM, render_timeout_s=10
    )
    with ScriptedServer(Reply.text(fenced(PERFECT_SVG))) as server:
        request = RunRequest(dataset=dataset, task=task, endpoint=Endpoint(base_url=server.base_url))
        return asyncio.run(run_benchmark(request, api.open_store()))


def test_a_chart_run_shows_the_saved_chart_sandboxed_and_its_screenshot(page: Page) -> None:
    record = off_the_loop(chart_run)
    result = api.results(record.run_id)[0]
    html_path = Path(result.score.details["html_path"])
    assert html_path.is_file() and html_path.with_suffix(".png").is_file()
    with BackgroundDashboard() as dashboard:
        page.goto(f"{dashboard.url}/run/{record.run_id}?sample=bar-1")
        frame_element = page.locator("iframe.artifact")
        expect(frame_element).to_have_count(1)
        sandbox = frame_element.get_attribute("sandbox") or ""
        assert sandbox == "allow-scripts" and "allow-same-origin" not in sandbox
        assert frame_element.get_attribute("src") == f"/artifact/{record.run_id}/bar-1/html_path"
        expect(page.frame_locator("iframe.artifact").locator("svg rect").first).to_be_attached()
        image = page.locator("img.artifact-image")
        expect(image).to_have_attribute("src", f"/artifact/{record.run_id}/bar-1/screenshot")
        page.wait_for_function("document.querySelector('img.artifact-image').naturalWidth > 0")
        expect(page.locator("#headline-tile .label")).to_have_text("chart score")
        expect(page.locator("#kind-figures")).to_contain_text("perfect charts")


RUBRIC_ROWS = [
    {
        "id": "repot",
        "subject": "gardening",
        "conversation": [{"role": "user", "content": "My basil wilts every afternoon. What should I check?"}],
        "rubric": [
            {
                "criterion": "Suggests checking the soil moisture.",
                "points": 4,
                "rule": {"kind": "must_mention", "terms": ["soil"]},
            },
            {
                "criterion": "Mentions afternoon sun or heat.",
                "points": 2,
                "rule": {"kind": "must_mention", "terms": ["shade", "heat"], "match": "any"},
            },
            {
                "criterion": "Recommends pesticide first.",
                "points": -3,
                "rule": {"kind": "must_mention", "terms": ["pesticide"]},
            },
            {
                "criterion": "Stays under sixty words.",
                "points": 2,
                "rule": {"kind": "max_words", "limit": 60},
            },
        ],
    },
]
# Meets soil (4) and the word limit (2) of 8 possible points: a rubric mean of 0.75.
RUBRIC_REPLY = "Feel the soil an inch down; if it is dry, water deeply in the morning."


def rubric_run(home: Path) -> RunRecord:
    folder = home / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "garden_rubric.jsonl").write_text("".join(json.dumps(row) + "\n" for row in RUBRIC_ROWS))
    (folder / "garden_rubric.toml").write_text(
        'key = "garden_rubric"\nname = "garden rubric"\ndomain = "test"\ntier = "current"\nkind = "rubric"\n'
        'fit = "rubric"\nlicense = "Apache-2.0"\ncitation = "test rows"\n\n'
        '[[sources]]\ntype = "file"\npath = "garden_rubric.jsonl"\n'
    )
    with ScriptedServer(Reply.text(RUBRIC_REPLY)) as server:
        return api.run("garden_rubric", server=server.base_url)


def test_a_rubric_run_is_labelled_a_rubric_mean(page: Page) -> None:
    record = off_the_loop(rubric_run, settings.ensure_home())
    assert record.summary["rubric_score"]["mean"] == pytest.approx(0.75)
    with BackgroundDashboard() as dashboard:
        page.goto(f"{dashboard.url}/run/{record.run_id}")
        tile = page.locator("#headline-tile")
        expect(tile.locator(".label")).to_have_text("rubric mean")
        expect(tile.locator(".value")).to_have_text("75.0% [75.0%–75.0%]")
        expect(page.locator("#kind-figures")).to_contain_text("not an accuracy")
        expect(page.locator("#kind-figures")).to_contain_text("4 by rule · 0 by the judge")
        assert "accuracy" not in (page.locator("#run-headline").text_content() or "").replace(
            "not an accuracy", ""
        )
        expect(page.locator("#by-subject thead")).to_contain_text("rubric mean (95% CI)")
        expect(page.locator("tr[data-sample='repot'] td.score")).to_have_text("0.75")
        page.goto(f"{dashboard.url}/live?run={record.run_id}")
        expect(page.locator("#live-tiles [data-field=rubric-mean] .value")).to_have_text("75.0%")
        expect(page.locator("#live-tiles")).not_to_contain_text("accuracy")
        page.goto(f"{dashboard.url}/runs")
        expect(page.locator(f"tr[data-run='{record.run_id}'] td.headline")).to_have_text(
            "rubric mean 75.0% [75.0%–75.0%]"
        )
        page.goto(f"{dashboard.url}/leaderboard")
        expect(page.locator("#leaderboard thead")).to_contain_text("rubric mean")
        expect(page.locator(f"#leaderboard td[data-run='{record.run_id}'] strong")).to_have_text("75.0%")


def mcq_run(folder: Path) -> RunRecord:
    data = make_mcq_file(folder / "q.jsonl", 12)
    with ScriptedServer(answering(lambda i: i % 2 == 0), pacing=Pacing(ttft=0.05)) as server:
        return api.run(str(data), server=server.base_url, tag="hosted")


def test_host_metrics_show_on_the_run_page_and_the_live_page(page: Page, tmp_path: Path) -> None:
    record = off_the_loop(mcq_run, tmp_path)
    host = record.summary["host"]
    assert host["samples"] >= 1
    with BackgroundDashboard() as dashboard:
        page.goto(f"{dashboard.url}/run/{record.run_id}")
        summary = page.locator("#host-summary")
        expect(summary).to_contain_text(f"of {host['cpu_count']} cores")
        expect(summary).to_contain_text(f"{host['samples']} every {host['interval_s']:g} s")
        expect(page.locator("#host-chart.js-plotly-plot")).to_have_count(1, timeout=15_000)
        assert traces(page, "host-chart") >= 2  # CPU and memory (and the server's, when it is visible)
        stored = api.open_store()
        with stored.connect() as connection:
            payload = connection.execute(
                "SELECT payload FROM events WHERE run_id = ? AND kind = 'host_samples'", (record.run_id,)
            ).fetchone()[0]
        cpu = [entry["cpu_percent"] for entry in json.loads(payload)["samples"]]
        assert page.evaluate("document.getElementById('host-chart').data[0].y") == pytest.approx(cpu)
        page.goto(f"{dashboard.url}/live?run={record.run_id}")
        expect(page.locator("#live-metrics #host-summary")).to_contain_text("CPU")
        expect(page.locator("#live-metrics #host-chart.js-plotly-plot")).to_have_count(1, timeout=15_000)


LM_EVAL_OUTPUT = Path(__file__).parent / "data" / "lm_eval"  # written by lm-eval against the smoke server


def campaign_runs(folder: Path) -> list[str]:
    data = make_mcq_file(folder / "q.jsonl", 10)
    plan = folder / "plan.toml"
    with ScriptedServer(answering(lambda i: i % 3 != 0)) as server:
        plan.write_text(
            f'name = "nightly"\nbenchmarks = ["{data}"]\n'
            f'[[endpoints]]\nname = "box"\nurls = ["{server.base_url}"]\n'
            '[grid]\nseed = [1, 2]\n[[compare]]\nby = "seed"\n'
        )
        result = CliRunner().invoke(cli_app, ["campaign", str(plan), "--json"])
    assert result.exit_code == 0, result.stderr
    return [job["tag"] for job in json.loads(result.stdout)["jobs"]]


def test_campaign_and_imported_runs_list_and_open(page: Page, tmp_path: Path) -> None:
    tags = off_the_loop(campaign_runs, tmp_path)
    (imported,) = api.import_results("lm-eval", LM_EVAL_OUTPUT)
    assert len(tags) == 2 and all(tag.startswith("nightly/box/") for tag in tags)
    with BackgroundDashboard() as dashboard:
        page.goto(f"{dashboard.url}/runs")
        expect(page.locator("#runs-table tbody tr")).to_have_count(3)
        page.locator("select[name=tag]").select_option(tags[0])
        expect(page.locator("#runs-table tbody tr")).to_have_count(1)
        page.locator("#runs-table tbody tr").first.click()
        expect(page.locator("#run-status")).to_have_text("finished")
        expect(page.locator("#headline-tile .label")).to_have_text("accuracy")
        expect(page.locator("#headline-tile .value")).to_contain_text("60.0%")  # wrong on 0, 3, 6, 9
        page.goto(f"{dashboard.url}/compare?a={quote(tags[0])}&b={quote(tags[1])}")
        expect(page.locator("#compare-card")).to_be_visible()
        page.goto(f"{dashboard.url}/run/{imported.run_id}")
        expect(page.locator("#run-status")).to_have_text("finished")
        expect(page.locator("#kind-figures")).to_contain_text("imported from")
        expect(page.locator("#headline-tile .label")).to_have_text(
            "accuracy"
            if "accuracy" in imported.summary
            else f"{imported.summary['metric'].split(',')[0]} (lm-eval)"
        )
        expect(page.locator("#samples-range")).to_contain_text(f"of {len(imported.sample_ids)}")


def test_a_long_context_run_shows_its_length_by_depth_grid(page: Page) -> None:
    store = api.open_store()
    base = write_run(store, samples=6, benchmark="needle")
    summary = {
        "accuracy": rate(4, 6),
        "unparseable": rate(0, 6),
        "grid": {"2048": {"10": rate(2, 2), "90": rate(1, 2)}, "8192": {"10": rate(1, 1), "90": rate(0, 1)}},
        "token_count_note": "no tokenizer endpoint: lengths are estimates",
    }
    store.save_run(base.model_copy(update={"task_kind": "longcontext", "summary": summary}))
    with BackgroundDashboard() as dashboard:
        page.goto(f"{dashboard.url}/run/{base.run_id}")
        grid = page.locator("#length-depth-grid")
        expect(grid.locator("thead th")).to_have_text(["length (tokens)", "depth 10%", "depth 90%"])
        expect(grid.locator("tbody tr").nth(0).locator("td")).to_have_text(
            ["2048", "100% (2/2)", "50% (1/2)"]
        )
        expect(grid.locator("tbody tr").nth(1).locator("td")).to_have_text(["8192", "100% (1/1)", "0% (0/1)"])
        expect(page.locator("#headline-tile .label")).to_have_text("accuracy")
        expect(page.locator("#kind-figures")).to_contain_text("lengths are estimates")
