"""Each run kind on the dashboard's HTTP API: the headline (label, value, unit), the rows that explain it,
the long-context grid, the leaderboard and runs table that carry it, chart artifacts with their
screenshot, and host samples as a run's metrics."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from benchlab import api, settings
from benchlab.analysis.summary import rate
from benchlab.surfaces.dashboard.app import plan_launch
from benchlab.surfaces.dashboard.headline import grid, headline, kind_rows
from benchlab.testing.synthetic_runs import write_run
from benchlab.types import RunRecord, SampleResult
from dashboard_support import client_for

# A 1×1 transparent PNG, the smallest picture a browser decodes.
PNG_PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


def mean_entry(mean: float, low: float, high: float, n: int) -> dict[str, Any]:
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": n, "method": "bootstrap"}


def bootstrap_rate(value: float, low: float, high: float, n: int) -> dict[str, Any]:
    return {"k": value * n, "n": n, "rate": value, "ci_low": low, "ci_high": high, "method": "bootstrap"}


def test_a_rubric_mean_is_labelled_as_such_never_as_an_accuracy() -> None:
    summary = {"metric": "rubric_score", "rubric_score": mean_entry(0.4, 0.3, 0.5, 12)}
    figure = headline("rubric", summary)
    assert figure is not None
    assert (figure["label"], figure["metric"], figure["unit"]) == ("rubric mean", "rubric_score", "share")
    assert (figure["value"], figure["low"], figure["high"], figure["n"]) == (0.4, 0.3, 0.5, 12)
    rows = dict(kind_rows("rubric", summary))
    assert (
        rows["rubric mean"].startswith("40.0% [30.0%–50.0%] (n 12)")
        and "not an accuracy" in rows["rubric mean"]
    )
    assert "accuracy" not in rows


@pytest.mark.parametrize(
    ("kind", "summary", "label", "metric"),
    [
        ("mcq", {"accuracy": rate(3, 4)}, "accuracy", "accuracy"),
        ("math", {"accuracy": rate(1, 4)}, "accuracy", "accuracy"),
        ("longcontext", {"accuracy": rate(2, 4)}, "accuracy", "accuracy"),
        ("code", {"pass@1": rate(2, 4), "accuracy": rate(2, 4)}, "pass@1", "pass@1"),
        (
            "instruct",
            {"accuracy": rate(1, 4), "prompt_strict": rate(1, 4)},
            "prompt-level strict",
            "prompt_strict",
        ),
        (
            "toolcall",
            {"score": bootstrap_rate(0.7, 0.5, 0.9, 10), "accuracy": rate(5, 10)},
            "weighted score",
            "score",
        ),
        (
            "agent",
            {"score": bootstrap_rate(0.6, 0.4, 0.8, 10), "accuracy": rate(5, 10)},
            "weighted score",
            "score",
        ),
        ("extract", {"field_score": bootstrap_rate(0.8, 0.7, 0.9, 10)}, "field score", "field_score"),
        (
            "chart",
            {"score": bootstrap_rate(0.55, 0.4, 0.7, 5), "accuracy": rate(1, 5)},
            "chart score",
            "score",
        ),
    ],
)
def test_every_kind_names_its_own_headline(
    kind: str, summary: dict[str, Any], label: str, metric: str
) -> None:
    figure = headline(kind, summary)
    assert figure is not None and figure["label"] == label and figure["metric"] == metric
    assert figure["value"] == summary[metric]["rate"] and figure["unit"] == "share"


def test_partial_credit_kinds_do_not_take_their_all_or_nothing_accuracy() -> None:
    # toolcall's `accuracy` is "full marks": a different, lower figure than its weighted score.
    summary = {"score": bootstrap_rate(0.7, 0.5, 0.9, 10), "accuracy": rate(5, 10)}
    figure = headline("toolcall", summary)
    assert figure is not None and figure["value"] == 0.7
    rows = dict(kind_rows("toolcall", summary))
    assert rows["full marks"].startswith("50.0%") and rows["weighted score"].startswith("70.0%")


def test_speed_and_imported_runs_have_their_own_units() -> None:
    concurrency = {"headline": {"output_tok_s": 412.5, "decode_tok_s": 55.0}, "requests": 30}
    assert headline("speed", concurrency) == {
        "metric": "output_tok_s",
        "label": "output tok/s (best)",
        "unit": "tok/s",
        "value": 412.5,
        "low": None,
        "high": None,
        "n": 30,
        "interval": None,
    }
    quick = headline("speed", {"headline": {"decode_tok_s": 48.0, "output_tok_s": None}})
    assert quick is not None and quick["label"] == "decode tok/s (p50)" and quick["value"] == 48.0
    assert headline("speed", {"headline": {}}) is None
    imported = {
        "metric": "exact_match,strict-match",
        "lm_eval_metrics": {"exact_match,strict-match": {"value": 0.25, "stderr": 0.05}},
    }
    figure = headline("lm-eval", imported)
    assert figure is not None and figure["label"] == "exact_match (lm-eval)"
    assert figure["low"] == pytest.approx(0.152) and figure["high"] == pytest.approx(0.348)


def test_the_long_context_grid_is_laid_out_by_length_and_depth() -> None:
    summary = {"grid": {"4096": {"10": rate(1, 2), "90": rate(0, 2)}, "1024": {"10": rate(2, 2)}}}
    laid = grid(summary)
    assert laid is not None
    assert laid["lengths"] == ["1024", "4096"] and laid["depths"] == ["10", "90"]
    assert laid["rates"] == [[1.0, None], [0.5, 0.0]]
    assert laid["counts"][1] == [[1, 2], [0, 2]]
    assert grid({"accuracy": rate(1, 2)}) is None


def rubric_record(record: RunRecord) -> RunRecord:
    """A synthetic run copied as a newer, finished rubric run with a mean and no accuracy."""
    summary = {"metric": "rubric_score", "rubric_score": mean_entry(0.42, 0.31, 0.53, 24)}
    update = {
        "run_id": record.run_id + "-rubric",
        "created_at": record.created_at + 1,
        "task_kind": "rubric",
        "summary": summary,
    }
    return record.model_copy(update=update)


def test_leaderboard_and_runs_carry_each_kind_s_headline() -> None:
    store = api.open_store()
    mcq = write_run(store, samples=20, accuracy=0.5, model="m1", benchmark="quiz")
    rubric = rubric_record(write_run(store, samples=24, model="m1", benchmark="rubric_core", seed=3))
    store.save_run(rubric)
    with client_for(plan_launch(port=8050)) as client:
        board = client.get("/api/leaderboard").json()
        runs = client.get("/api/runs").json()["runs"]
        detail = client.get(f"/api/runs/{mcq.run_id}").json()
    by_benchmark = {entry["benchmark"]: entry["headline"] for entry in board["entries"]}
    assert (
        by_benchmark["rubric_core"]["label"] == "rubric mean" and by_benchmark["rubric_core"]["value"] == 0.42
    )
    assert by_benchmark["quiz"]["label"] == "accuracy"
    assert by_benchmark["quiz"]["value"] == mcq.summary["accuracy"]["rate"]
    labels = {run["run_id"]: run["headline"]["label"] for run in runs}
    assert labels[rubric.run_id] == "rubric mean" and labels[mcq.run_id] == "accuracy"
    assert detail["headline"]["label"] == "accuracy" and detail["kind_rows"][0][0] == "accuracy"


def saved_chart_run(chart: Path, screenshot: Path) -> str:
    def with_files(index: int, result: SampleResult) -> SampleResult:
        details = {**result.score.details, "html_path": str(chart)}
        state = {"render": {"html_sha256": "0" * 64, "screenshot": str(screenshot), "painted": 12}}
        return result.model_copy(
            update={
                "score": result.score.model_copy(update={"details": details}),
                "transcript": result.transcript.model_copy(update={"state": state}),
            }
        )

    return write_run(api.open_store(), samples=1, tweak=with_files).run_id


def test_a_chart_and_its_screenshot_are_served_from_the_artifacts_folder_only(tmp_path: Path) -> None:
    charts = settings.ensure_home() / "artifacts" / "charts"
    charts.mkdir(parents=True)
    chart, screenshot = charts / "s00000-abc.html", charts / "s00000-abc.png"
    chart.write_text("<!doctype html><svg><rect width='4' height='4'/></svg>")
    screenshot.write_bytes(PNG_PIXEL)
    inside = saved_chart_run(chart, screenshot)
    outside_png = tmp_path / "elsewhere.png"
    outside_png.write_bytes(PNG_PIXEL)
    outside = saved_chart_run(chart, outside_png)
    with client_for(plan_launch(port=8050)) as client:
        sample = client.get(f"/api/runs/{inside}/samples/s00000").json()
        assert sample["artifacts"] == [
            {"key": "html_path", "kind": "page"},
            {"key": "screenshot", "kind": "image"},
        ]
        page = client.get(f"/artifact/{inside}/s00000/html_path")
        image = client.get(f"/artifact/{inside}/s00000/screenshot")
        refused = client.get(f"/artifact/{outside}/s00000/screenshot")
        unknown = client.get(f"/artifact/{inside}/s00000/render")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("sandbox allow-scripts;")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == PNG_PIXEL and "sandbox" in image.headers["content-security-policy"]
    assert refused.status_code == 403 and "BENCHLAB_HOME/artifacts" in refused.json()["error"]
    assert unknown.status_code == 404


def test_host_samples_are_the_metrics_a_run_page_gets() -> None:
    store = api.open_store()
    run = write_run(store, samples=3)
    samples = [{"t": 0.5 * i, "cpu_percent": 10.0 * i, "memory_used_bytes": 2**30 + i} for i in range(4)]
    store.add_event(run.run_id, "host_samples", {"samples": samples})
    store.add_event(run.run_id, "run_finished", {"status": "finished"})
    store.add_event(run.run_id, "server_metrics", {"tokens": 7})
    with client_for(plan_launch(port=8050)) as client:
        metrics = client.get(f"/api/runs/{run.run_id}").json()["metrics"]
    assert metrics == {"host_samples": {"samples": samples}, "server_metrics": {"tokens": 7}}
