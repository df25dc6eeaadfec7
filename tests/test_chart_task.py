"""The chart task end to end against the scripted server (exact scores), from the CLI, and the
built-in chart suite's data."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchlab import settings
from benchlab.api import load
from benchlab.catalog.datasets import Dataset
from benchlab.cli import app
from benchlab.engine.runner import RunRequest, run_benchmark
from benchlab.store.db import Store
from benchlab.tasks.chart import ChartTask
from benchlab.tasks.chart_criteria import colours_in
from benchlab.tasks.chart_spec import CHART_TYPES, ChartSpec
from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task
from benchlab.testing.scripted_server import Reply, ScriptedServer, last_user_text
from benchlab.types import Completion, Endpoint, ErrorKind, GenerationParams, RunStatus
from chart_fixtures import COMMENT_ONLY, PERFECT_SVG, fenced, sample

REPO = Path(__file__).resolve().parents[1]


def test_a_run_through_the_engine_scores_exactly(tmp_path: Path) -> None:
    samples = [
        sample("alpha", title="Alpha desk trades"),
        sample("bravo", title="Bravo desk trades"),
        sample("charlie", title="Charlie desk trades"),
    ]
    replies = {
        "Alpha desk": fenced(PERFECT_SVG),
        "Bravo desk": fenced(COMMENT_ONLY),
        "Charlie desk": "Sorry, I can only describe charts in words.",
    }

    def respond(body: dict[str, Any]) -> Reply:
        text = last_user_text(body)
        return Reply.text(next(reply for key, reply in replies.items() if key in text))

    dataset = Dataset(key="chart-mini", kind="chart", samples=samples, sha256="0" * 64, path="chart-mini")
    task = build_task("chart", TaskSettings(artifacts=tmp_path / "artifacts"))
    assert isinstance(task, ChartTask)
    with ScriptedServer(respond) as server:
        request = RunRequest(
            dataset=dataset, task=task, endpoint=Endpoint(base_url=server.base_url), concurrency=2
        )
        store = Store(settings.database_path())
        record = asyncio.run(run_benchmark(request, store))
        assert {body["max_tokens"] for body in server.requests} == {8192}
    assert record.status is RunStatus.FINISHED and record.task_kind == "chart"
    summary = record.summary
    assert summary["score"]["n"] == 3 and summary["score"]["rate"] == pytest.approx(1.6 / 3)
    assert summary["accuracy"] == summary["score"]
    assert summary["perfect"]["k"] == 1 and summary["unparseable"]["k"] == 1
    assert {name: entry["mean"] for name, entry in summary["criteria"].items()} == {
        "data_present": 10.0,
        "valid_markup": 13.33,
        "design_tokens": 13.33,
        "chart_type": 6.67,
        "banned_absent": 6.67,
        "interactivity": 3.33,
    }
    assert summary["render"] == {
        "enabled": False,
        "rendered": 0,
        "failures": summary["render"]["failures"],
        "by_kind": {"script_errors": 0, "blank": 0, "timeout_or_crash": 0, "blocked": 0},
    }
    by_id = {result.sample_id: result.score for result in store.results(record.run_id)}
    assert by_id["alpha"].value == 1.0 and by_id["bravo"].value == 0.6
    assert by_id["charlie"].error_kind is ErrorKind.MODEL
    saved = sorted((tmp_path / "artifacts" / "charts").iterdir())
    assert [path.name.split("-")[0] for path in saved] == ["alpha", "bravo"]
    assert by_id["alpha"].details["html_path"] == str(saved[0])


def test_the_cli_runs_the_builtin_suite_and_prints_the_chart_summary() -> None:
    with ScriptedServer(Reply.text(fenced(PERFECT_SVG))) as server:
        result = CliRunner().invoke(app, ["run", "chart_core", "-n", "4", "--server", server.base_url])
    assert result.exit_code == 0, result.stdout + result.stderr
    for line in ("mean score", "criteria", "data_present", "perfect charts", "no chart found"):
        assert line in result.stdout
    assert "render failures" not in result.stdout  # not asked for
    charts = list((settings.home() / "artifacts" / "charts").glob("chart-*.html"))
    assert len(charts) == 4


def test_chart_settings_are_checked() -> None:
    with pytest.raises(TaskSettingsError, match="--option browser=PATH"):
        build_task("chart", TaskSettings(options={"colour": "red"}))
    for bad in ("soon", -1, [5]):
        with pytest.raises(TaskSettingsError, match="render_timeout must be a positive number"):
            build_task("chart", TaskSettings(options={"render_timeout": bad}))
    task = build_task("chart", TaskSettings(options={"render_timeout": 4, "browser": "/opt/chromium"}))
    assert isinstance(task, ChartTask) and task.render_timeout_s == 4.0 and task.browser == "/opt/chromium"


# --- the built-in suite ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def suite() -> Dataset:
    return load("chart_core")


def test_the_builtin_suite_is_large_and_balanced(suite: Dataset) -> None:
    assert suite.kind == "chart" and len(suite.samples) >= 60
    assert len({s.id for s in suite.samples}) == len(suite.samples)
    domains = Counter(s.subject for s in suite.samples)
    assert set(domains) == {"trading", "devops", "hr", "gateway"} and min(domains.values()) >= 15
    for domain in domains:
        kinds = {s.data["chart_type"] for s in suite.samples if s.subject == domain}
        assert kinds == set(CHART_TYPES), domain
    assert {s.data["interactivity"] for s in suite.samples} == {"tooltip", "hover", "click", "none"}


def test_every_task_is_well_formed(suite: Dataset) -> None:
    for task_sample in suite.samples:
        spec = ChartSpec.of(task_sample)  # raises, naming the row and field, when malformed
        values = spec.data.values
        assert all(math.isfinite(v) for v in values), task_sample.id
        assert len(set(spec.tokens.palette)) == len(spec.tokens.palette), task_sample.id
        assert colours_in(" ".join(spec.tokens.palette)) == {c.lower() for c in spec.tokens.palette}
        assert spec.tokens.background != spec.tokens.text, task_sample.id
        if spec.chart_type in ("pie", "donut"):
            assert all(v > 0 for v in values), task_sample.id
        assert set(spec.data.labels).isdisjoint(spec.data.series) or spec.chart_type == "heatmap"
        prompt = ChartTask().messages(task_sample)[0]["content"]
        assert spec.title in prompt and spec.tokens.font in prompt
        assert all(str(cell) in prompt for row in spec.data.rows for cell in row), task_sample.id


def test_the_shipped_file_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_chart_tasks", REPO / "scripts" / "make_chart_tasks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = (REPO / "src" / "benchlab" / "catalog" / "builtin" / "chart_core.jsonl").read_text("utf-8")
    assert [json.loads(line) for line in shipped.splitlines()] == module.build()


def test_missing_parser_or_browser_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in ("benchlab.tasks.chart", "benchlab.tasks.chart_markup"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "html5lib", None)
    with pytest.raises(TaskSettingsError, match=r"need html5lib .*pip install 'benchlab\[chart\]'"):
        build_task("chart", TaskSettings())
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)
    with pytest.raises(TaskSettingsError, match=r"--render needs Playwright and Pillow .*benchlab\[render\]"):
        build_task("chart", TaskSettings(render=True))


def test_a_browser_that_cannot_start_is_an_infra_error_not_the_models(tmp_path: Path) -> None:
    task = ChartTask(render=True, artifacts=tmp_path, browser=str(tmp_path / "gone-chromium"))

    async def chat(messages: list[dict[str, Any]], params: GenerationParams, **_: Any) -> Completion:
        return Completion(content=fenced(PERFECT_SVG), finish_reason="stop")

    chart_sample = sample("infra")
    try:
        transcript = asyncio.run(task.solve(chart_sample, chat, GenerationParams()))
    finally:
        task.close()
    result = task.score(chart_sample, transcript)
    assert transcript.state["render"]["status"] == "unavailable"
    assert result.error_kind is ErrorKind.INFRA
    assert result.error is not None and "gone-chromium" in result.error
