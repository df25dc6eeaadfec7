"""The dashboard in a real browser (Playwright driving Debian's Chromium): the live feed during a
real llama.cpp run, drill-down, the compare card against the CLI, launching and stopping a run,
model output rendered as text, and a chart's script locked out of the dashboard's origin."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("starlette", reason="needs the dashboard extra: pip install 'benchlab[dashboard]'")
pytest.importorskip("playwright", reason="needs Playwright for Python: pip install 'benchlab[dev]'")

from playwright.sync_api import Browser, Page, expect, sync_playwright
from typer.testing import CliRunner

from benchlab import api, settings
from benchlab.cli import app as cli_app
from benchlab.endpoints.managed import free_port
from benchlab.store.db import SampleWriter
from benchlab.surfaces.dashboard.background import BackgroundDashboard as LiveDashboard
from benchlab.testing.scripted_server import Pacing, ScriptedServer
from benchlab.testing.synthetic_runs import write_run
from benchlab.types import RunStatus, SampleResult, Score
from dashboard_support import two_runs

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
T = TypeVar("T")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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


def off_the_loop(function: Callable[..., T], *args: Any) -> T:
    """Playwright's sync API keeps an event loop on this thread; asyncio.run needs another thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def run_status(run_id: str) -> str:
    with sqlite3.connect(settings.database_path()) as connection:
        return str(connection.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0])


def wait_for_run(timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if settings.database_path().exists():
            try:
                with sqlite3.connect(settings.database_path()) as connection:
                    row = connection.execute("SELECT run_id FROM runs ORDER BY created_at DESC").fetchone()
            except sqlite3.OperationalError:
                row = None
            if row:
                return str(row[0])
        time.sleep(0.1)
    raise AssertionError("no run was recorded")


@pytest.mark.llamacpp
def test_live_feed_grows_during_a_real_llamacpp_run(page: Page, benchlab_home: Path) -> None:
    pytest.importorskip(
        "xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'"
    )
    from benchlab.endpoints.managed import ServerProcess, free_port

    env = {**os.environ, "BENCHLAB_HOME": str(benchlab_home)}
    with (
        ServerProcess(
            smoke=True, port=free_port(), parallel=2, env={"BENCHLAB_HOME": str(benchlab_home)}
        ) as server,
        LiveDashboard() as dashboard,
    ):
        command = [sys.executable, "-m", "benchlab", "run", "sample", "-n", "30", "--server", server.base_url]
        command += ["--no-think", "--max-tokens", "8", "--json"]  # prefill-bound: keeps the test short
        run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            run_id = wait_for_run()
            page.goto(f"{dashboard.url}/live?run={run_id}")
            feed = page.locator("#feed tr")
            expect(feed.first).to_be_visible(timeout=60_000)
            first = feed.count()
            assert first < 30
            expect(feed).not_to_have_count(first, timeout=60_000)  # rows only ever arrive
            assert feed.count() > first
            assert page.locator("#live-status").text_content() == "running"
            row = feed.first
            assert row.locator("td").nth(2).text_content().startswith("The following is a multiple-choice")
            assert row.locator("td").nth(6).text_content().endswith("ms")
            expect(page.locator("[data-field=accuracy] .sub")).to_contain_text("95% CI")
            expect(page.locator("#model-note")).to_contain_text("chance by design")
            run.send_signal(signal.SIGTERM)  # the run records itself as interrupted; the page follows
            out, err = run.communicate(timeout=60)
            assert json.loads(out)["run"]["status"] == "interrupted", err
            expect(page.locator("#live-status")).to_have_text("interrupted", timeout=15_000)
            with sqlite3.connect(settings.database_path()) as connection:
                stored = connection.execute(
                    "SELECT COUNT(*) FROM samples WHERE run_id = ?", (run_id,)
                ).fetchone()[0]
            expect(feed).to_have_count(stored, timeout=10_000)
            recorded = page.locator("[data-field=recorded] .value").text_content()
            assert recorded == f"{stored} / 30"
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()


def test_run_drill_down(page: Page, tmp_path: Path) -> None:
    run_a, _ = off_the_loop(two_runs, tmp_path)
    with LiveDashboard() as dashboard:
        page.goto(f"{dashboard.url}/runs")
        page.locator(f"tr[data-run='{run_a.run_id}']").click()
        expect(page.locator("#run-status")).to_have_text("finished")
        expect(page.locator("#provenance")).to_contain_text(run_a.provenance.dataset_sha256)
        page.locator("select[name=outcome]").select_option("wrong")
        expect(page.locator("#samples-range")).to_have_text("1–8 of 8")
        page.locator("tr[data-sample='q003']").click()
        detail = page.locator("#sample-detail")
        expect(detail).to_contain_text("Question number 3?")
        expect(detail.locator(".message.user pre")).to_contain_text("wrong-3-")
        expect(page.locator("#score-table")).to_contain_text("✗ wrong")
        expect(page.locator("#score-details")).to_contain_text("answer-marker")
        expect(detail.locator(".completion-content")).to_contain_text("Answer: ")
        href = page.locator("#export-csv").get_attribute("href")
        assert href == f"/api/runs/{run_a.run_id}/export.csv"


def test_compare_card_shows_the_numbers_of_the_cli(page: Page, tmp_path: Path) -> None:
    off_the_loop(two_runs, tmp_path)
    cli = off_the_loop(CliRunner().invoke, cli_app, ["compare", "a", "b", "--json"])
    expected = json.loads(cli.stdout)
    with LiveDashboard() as dashboard:
        page.goto(f"{dashboard.url}/compare")
        page.locator("input[name=a]").fill("a")
        page.locator("input[name=b]").fill("b")
        page.get_by_role("button", name="Compare").click()
        card = page.locator("#compare-card")
        expect(card).to_be_visible()
        shown = {
            field: card.locator(f"[data-field={field}]").get_attribute("data-value")
            for field in (
                "n_pairs",
                "only_a",
                "only_b",
                "both_correct",
                "both_wrong",
                "difference",
                "ci_low",
                "ci_high",
                "p_value",
            )
        }
        assert {field: float(value) for field, value in shown.items()} == {
            field: float(expected[field]) for field in shown
        }
        assert (
            float(card.locator("[data-field=accuracy_a]").get_attribute("data-value"))
            == expected["a"]["accuracy"]
        )
        expect(card).to_contain_text(
            "not significant" if not expected["significant"] else "significant at 5%"
        )
        if expected["power_note"]:
            expect(card).to_contain_text(expected["power_note"])
        expect(page.locator("#by-subject")).to_be_visible()


def test_launch_and_stop_a_run_from_the_control_page(page: Page) -> None:
    slow = ScriptedServer("Answer: A", pacing=Pacing(latency=0.4), slots=1)
    with slow, LiveDashboard() as dashboard:
        page.goto(f"{dashboard.url}/control")
        page.locator("select[name=run-benchmark]").select_option("sample")
        page.locator("input[name=run-server]").fill(slow.base_url)
        page.locator("input[name=run-n]").fill("30")
        page.locator("input[name=run-tag]").fill("from-the-page")
        page.get_by_role("button", name="Launch run").click()
        row = page.locator("tr[data-process='run-1']")
        expect(row).to_have_attribute("data-running", "true", timeout=10_000)
        run_id = wait_for_run()
        deadline = time.monotonic() + 60
        while api.open_store().results(run_id) == [] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert api.open_store().results(run_id), "the launched run never recorded a sample"
        row.locator("button.stop").click()
        expect(row).to_have_attribute("data-running", "false", timeout=20_000)
        assert run_status(run_id) == RunStatus.INTERRUPTED.value
        record = api.get_run("from-the-page")
        assert 0 < len(api.results(record.run_id)) < 30
        page.goto(f"{dashboard.url}/runs")
        expect(page.locator(f"tr[data-run='{run_id}']")).to_contain_text("interrupted")


HOSTILE_ANSWER = "<script>window.__owned = 1</script>"
HOSTILE_CONTENT = '<img src=x onerror="window.__owned = 2"> Answer: B'


def test_model_output_renders_as_text(page: Page) -> None:
    def hostile(index: int, result):  # type: ignore[no-untyped-def]
        score = result.score.model_copy(update={"extracted": HOSTILE_ANSWER})
        completion = result.transcript.completions[0].model_copy(update={"content": HOSTILE_CONTENT})
        transcript = result.transcript.model_copy(update={"completions": [completion]})
        return result.model_copy(update={"score": score, "transcript": transcript})

    run_id = write_run(api.open_store(), samples=3, tweak=hostile).run_id
    with LiveDashboard() as dashboard:
        page.goto(f"{dashboard.url}/run/{run_id}")
        answer = page.locator("tr[data-sample='s00001'] td.answer")
        expect(answer).to_have_text(HOSTILE_ANSWER)
        page.locator("tr[data-sample='s00001']").click()
        expect(page.locator("#sample-detail .completion-content")).to_have_text(HOSTILE_CONTENT)
        expect(page.locator("#score-table")).to_contain_text(HOSTILE_ANSWER)
        page.goto(f"{dashboard.url}/live?run={run_id}")
        expect(page.locator("#feed tr")).to_have_count(3)
        expect(page.locator("#feed tr").first.locator("td.answer")).to_have_text(HOSTILE_ANSWER)
        assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
        assert page.evaluate("window.__owned") is None


CHART = """<!doctype html><html><body><div id="result">pending</div><script>
const out = [];
try { out.push("parent:" + parent.document.title); parent.__owned = 1; }
catch (e) { out.push("parent:blocked"); }
try { out.push("cookie:" + document.cookie); } catch (e) { out.push("cookie:blocked"); }
document.getElementById("result").textContent = out.join(" ");
fetch("/api/runs").then(r => r.text()).then(
  t => { document.getElementById("result").textContent = out.join(" ") + " fetch:" + t.slice(0, 40); },
  () => { document.getElementById("result").textContent = out.join(" ") + " fetch:blocked"; });
</script></body></html>"""


def test_a_charts_script_cannot_reach_the_dashboard(page: Page) -> None:
    folder = settings.ensure_home() / "artifacts"
    folder.mkdir()
    chart = folder / "chart.html"
    chart.write_text(CHART)

    def with_chart(index: int, result):  # type: ignore[no-untyped-def]
        details = {**result.score.details, "chart_path": str(chart)}
        return result.model_copy(update={"score": result.score.model_copy(update={"details": details})})

    run_id = write_run(api.open_store(), samples=1, tweak=with_chart).run_id
    with LiveDashboard(token="page-secret-token") as dashboard:
        page.goto(f"{dashboard.url}/run/{run_id}?sample=s00000&token=page-secret-token")
        assert any(cookie["value"] == "page-secret-token" for cookie in page.context.cookies())
        frame = page.frame_locator("iframe.artifact")
        expect(frame.locator("#result")).to_contain_text("fetch:", timeout=15_000)
        text = frame.locator("#result").text_content() or ""
        assert "parent:blocked" in text and "cookie:blocked" in text and "fetch:blocked" in text, text
        assert page.locator("iframe.artifact").get_attribute("sandbox") == "allow-scripts"
        assert page.evaluate("window.__owned") is None


def test_an_agent_runs_tool_calls_and_results_show_in_order(page: Page) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "lookup_order", "arguments": '{"id": 42}'},
    }
    messages = [
        {"role": "system", "content": "You help with orders."},
        {"role": "user", "content": "Where is order 42?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
        {"role": "assistant", "content": "Order 42 has shipped."},
    ]

    def agent(index: int, result):  # type: ignore[no-untyped-def]
        transcript = result.transcript.model_copy(update={"messages": messages})
        return result.model_copy(update={"transcript": transcript})

    run_id = write_run(api.open_store(), samples=1, tweak=agent).run_id
    with LiveDashboard() as dashboard:
        page.goto(f"{dashboard.url}/run/{run_id}?sample=s00000")
        conversation = page.locator("#sample-detail .split > div").first.locator(".message")
        expect(conversation).to_have_count(5 + 1)  # five messages, then the completion
        roles = [conversation.nth(i).locator(".role").first.text_content() or "" for i in range(5)]
        assert [role.split(" ")[0] for role in roles] == ["system", "user", "assistant", "tool", "assistant"]
        expect(conversation.nth(2).locator(".tool-call")).to_contain_text("lookup_order")
        expect(conversation.nth(2).locator(".tool-call pre")).to_have_text('{"id": 42}')
        expect(conversation.nth(3)).to_contain_text("result of call_1")
        expect(conversation.nth(3).locator("pre")).to_have_text('{"status": "shipped"}')
        page.goto(f"{dashboard.url}/live?run={run_id}")
        expect(page.locator("#feed tr").first.locator("td").nth(2)).to_have_text("Where is order 42?")


def test_the_live_feed_reconnects_after_a_drop_without_duplicates(page: Page) -> None:
    store = api.open_store()
    record = write_run(store, samples=5, status=RunStatus.RUNNING)
    port = free_port()
    with LiveDashboard(port=port) as dashboard:
        page.goto(f"{dashboard.url}/live?run={record.run_id}")
        expect(page.locator("#feed tr")).to_have_count(5)
    # The dashboard is gone (the browser's stream dropped); samples keep arriving meanwhile.
    writer = SampleWriter(store, record.run_id)
    for index in range(3):
        score = Score(value=1.0, correct=True, extracted="A", gold="A")
        writer.put(SampleResult(sample_id=f"late{index}", score=score, finished_at=time.time()))
    writer.close()
    with LiveDashboard(port=port):
        expect(page.locator("#feed tr")).to_have_count(8, timeout=20_000)
        seqs = [page.locator("#feed tr").nth(i).get_attribute("data-seq") for i in range(8)]
        assert sorted(int(seq or -1) for seq in seqs) == list(range(8))
        expect(page.locator("[data-field=recorded] .value")).to_have_text("8 / 5")


def test_the_chat_box_talks_to_the_model_and_shows_its_reply_as_text(page: Page) -> None:
    with ScriptedServer(HOSTILE_CONTENT) as server, LiveDashboard() as dashboard:
        page.goto(f"{dashboard.url}/control")
        page.locator("input[name=chat-server]").fill(server.base_url)
        page.locator("textarea[name=chat-input]").fill("Which option?")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#chat-log .chat-answer")).to_have_text(HOSTILE_CONTENT)
        expect(page.locator("#chat-log .message.assistant .role")).to_contain_text("scripted-model")
        assert page.locator("#chat-log img").count() == 0 and page.evaluate("window.__owned") is None
        page.locator("textarea[name=chat-input]").fill("And why?")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#chat-log .chat-answer")).to_have_count(2)
        # The conversation so far goes with every message.
        assert [m["role"] for m in server.requests[-1]["messages"]] == ["user", "assistant", "user"]
