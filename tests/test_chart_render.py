"""Charts rendered in real headless Chromium (Playwright), offline: what a render adds to a score."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchlab import settings
from benchlab.api import results as api_results
from benchlab.catalog.datasets import Dataset
from benchlab.engine.runner import RunRequest, run_benchmark
from benchlab.store.db import Store
from benchlab.tasks.chart import ChartTask
from benchlab.tasks.chart_render import DEFAULT_BROWSER, RenderUnavailable, check_render_ready
from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task
from benchlab.testing.scripted_server import Reply, ScriptedServer, last_user_text
from benchlab.types import Completion, Endpoint, GenerationParams, Score, Transcript
from chart_fixtures import BLANK_CANVAS, CANVAS, PERFECT_SVG, SCRIPT_ERROR, SCRIPTED_SVG, fenced, sample

try:
    check_render_ready(DEFAULT_BROWSER)
    MISSING = ""
except RenderUnavailable as error:
    MISSING = str(error)

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"chart rendering unavailable: {MISSING}")


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartTask]:
    """One task, hence one browser, for the whole module (as in a run)."""
    chart_task = ChartTask(render=True, artifacts=tmp_path_factory.mktemp("artifacts"), render_timeout_s=3)
    yield chart_task
    chart_task.close()


def solve_and_score(task: ChartTask, html: str, sample_id: str, **changes: Any) -> tuple[Transcript, Score]:
    async def chat(messages: list[dict[str, Any]], params: GenerationParams, **_: Any) -> Completion:
        return Completion(content=fenced(html), finish_reason="stop")

    chart_sample = sample(sample_id, **changes)
    transcript = asyncio.run(task.solve(chart_sample, chat, GenerationParams()))
    return transcript, task.score(chart_sample, transcript)


def test_a_good_chart_renders_and_keeps_its_score(task: ChartTask) -> None:
    for name, html in (("svg", PERFECT_SVG), ("canvas", CANVAS), ("scripted", SCRIPTED_SVG)):
        transcript, result = solve_and_score(task, html, f"good-{name}")
        render = result.details["render"]
        assert render["status"] == "rendered" and render["blank"] is False, render
        assert render["page_errors"] == [] and render["console_errors"] == [] and render["blocked"] == []
        assert render["painted"] >= {"svg": 12, "canvas": 1, "scripted": 8}[name]
        screenshot = Path(render["screenshot"])
        assert screenshot == Path(result.details["html_path"]).with_suffix(".png")
        assert screenshot.read_bytes().startswith(b"\x89PNG")
        assert result.value == 1.0 and result.details["withheld"] == []
        assert transcript.state["render"]["html_sha256"] == result.details["html_sha256"]


def test_a_script_error_withholds_valid_markup(task: ChartTask) -> None:
    _, result = solve_and_score(task, SCRIPT_ERROR, "script-error")
    render = result.details["render"]
    assert any("drawLegend" in error for error in render["page_errors"]), render
    assert result.details["withheld"] == ["valid_markup"]
    assert result.details["criteria"]["valid_markup"] == 0.0 and result.value == 0.8


def test_a_blank_chart_is_detected(task: ChartTask) -> None:
    _, result = solve_and_score(task, BLANK_CANVAS, "blank")
    render = result.details["render"]
    assert render["blank"] is True and render["single_colour"] is True and render["painted"] == 0
    assert result.details["withheld"] == ["data_present", "chart_type"]
    assert result.value == 0.6  # the markup alone would earn 100


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it receives."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"[1, 2, 3]")

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_network_requests_are_blocked(task: ChartTask, listener: tuple[str, list[str]]) -> None:
    url, hits = listener
    leaky = PERFECT_SVG.replace(
        "</body>",
        f'<img src="{url}/pixel.png" alt="">\n'
        f"<script>fetch('{url}/data.json').then((r) => r.json()).catch(() => null);</script>\n</body>",
    )
    _, result = solve_and_score(task, leaky, "leaky")
    render = result.details["render"]
    assert set(render["blocked"]) == {f"{url}/pixel.png", f"{url}/data.json"}, render
    assert hits == []  # nothing reached the server
    assert result.details["withheld"] == ["banned_absent"]  # our own blocking is not a script error
    assert result.details["criteria"]["banned_absent"] == 0.0


def test_render_refuses_a_missing_browser_before_any_request(tmp_path: Path) -> None:
    settings = TaskSettings(
        render=True, artifacts=tmp_path, options={"browser": str(tmp_path / "no-chromium")}
    )
    with pytest.raises(TaskSettingsError, match="apt install chromium"):
        build_task("chart", settings)
    assert isinstance(build_task("chart", TaskSettings(render=True, artifacts=tmp_path)), ChartTask)


def test_local_files_stay_out_of_the_page(task: ChartTask, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for charts")
    prying = PERFECT_SVG.replace(
        "</body>", f'<iframe src="{secret.as_uri()}"></iframe><img src="{secret.as_uri()}">\n</body>'
    )
    _, result = solve_and_score(task, prying, "prying")
    render = result.details["render"]
    assert render["blocked"] == [secret.as_uri()], render
    assert render["console_errors"] == [] and result.details["withheld"] == ["banned_absent"]


def test_a_table_heatmap_counts_as_painted(task: ChartTask) -> None:
    cells = "".join(
        f"<tr><th>{team}</th>" + "".join(f'<td style="background:#1f6feb">{v}</td>' for v in values) + "</tr>"
        for team, values in (("Core", (3, 4)), ("Edge", (1, 0)))
    )
    table = f"<table><tr><th></th><th>Mon</th><th>Tue</th></tr>{cells}</table>"
    data = {"columns": ["Team", "Mon", "Tue"], "rows": [["Core", 3, 4], ["Edge", 1, 0]]}
    _, result = solve_and_score(task, table, "table-heatmap", chart_type="heatmap", data=data)
    assert result.details["render"]["painted"] == 4 and result.details["render"]["blank"] is False


def test_a_chart_that_never_finishes_times_out(task: ChartTask) -> None:
    endless = PERFECT_SVG.replace("</body>", "<script>while (true) {}</script>\n</body>")
    _, result = solve_and_score(task, endless, "endless")
    assert result.details["render"]["status"] == "timeout", result.details["render"]
    assert result.details["withheld"] == ["valid_markup", "data_present", "chart_type"]
    assert result.value == 0.4


def test_a_rendered_run_through_the_engine(task: ChartTask) -> None:
    # Last in the module: the run's summary closes the module's browser.
    samples = [sample(name, title=f"{name.title()} desk trades") for name in ("good", "blank", "broken")]
    replies = {"Good desk": PERFECT_SVG, "Blank desk": BLANK_CANVAS, "Broken desk": SCRIPT_ERROR}

    def respond(body: dict[str, Any]) -> Reply:
        text = last_user_text(body)
        return Reply.text(fenced(next(html for key, html in replies.items() if key in text)))

    dataset = Dataset(key="chart-render", kind="chart", samples=samples, sha256="0" * 64, path="chart-render")
    with ScriptedServer(respond) as server:
        request = RunRequest(dataset=dataset, task=task, endpoint=Endpoint(base_url=server.base_url))
        record = asyncio.run(run_benchmark(request, Store(settings.database_path())))
    assert not task.renderer().running  # closed by the run's summary
    summary = record.summary
    assert record.task_options["render"] is True
    assert summary["score"]["rate"] == pytest.approx((1.0 + 0.6 + 0.8) / 3)
    assert summary["render"]["rendered"] == 3 and summary["render"]["failures"]["k"] == 2
    assert summary["render"]["by_kind"] == {
        "script_errors": 1,
        "blank": 1,
        "timeout_or_crash": 0,
        "blocked": 0,
    }
    assert task.artifacts is not None
    for result in api_results(record.run_id):
        html = Path(result.score.details["html_path"])
        assert html.parent == task.artifacts / "charts" and html.with_suffix(".png").is_file()
