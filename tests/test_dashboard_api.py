"""The dashboard's read API and setup over the real store: paging and filters, drill-down, exports,
the compare card (the same numbers as `benchlab compare --json`), the live feed's resume, baselines."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette", reason="needs the dashboard extra: pip install 'benchlab[dashboard]'")

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from benchlab import api
from benchlab.cli import app as cli_app
from benchlab.surfaces.dashboard.app import plan_launch
from benchlab.surfaces.dashboard.queries import DashboardQueries
from benchlab.testing.synthetic_runs import write_run
from benchlab.types import RunStatus
from dashboard_support import client_for, two_runs


@pytest.fixture
def runs(tmp_path: Path):  # type: ignore[no-untyped-def]
    return two_runs(tmp_path)


def csrf_headers(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    page = client.get("/").text
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    return {"X-CSRF-Token": token, "Origin": str(client.base_url).rstrip("/")}


def test_runs_are_filtered_and_paged(runs) -> None:  # type: ignore[no-untyped-def]
    run_a, run_b = runs
    write_run(
        api.open_store(), samples=5, model="other-model", benchmark="synthetic", status=RunStatus.INTERRUPTED
    )
    with client_for(plan_launch(port=8050)) as client:
        everything = client.get("/api/runs").json()
        assert everything["total"] == 3
        assert [run["tag"] for run in client.get("/api/runs?tag=a").json()["runs"]] == ["a"]
        interrupted = client.get("/api/runs?status=interrupted").json()["runs"]
        assert [run["model"] for run in interrupted] == ["other-model"]
        page = client.get("/api/runs?limit=2&offset=2").json()
        assert page["total"] == 3 and len(page["runs"]) == 1
        newer = client.get(f"/api/runs?since={run_b.created_at}").json()["runs"]
        assert [run["run_id"] for run in newer] == [run["run_id"] for run in everything["runs"][:2]]
        facets = client.get("/api/runs/facets").json()
        assert facets["tag"][:2] == ["a", "b"] and set(facets["model"]) == {"scripted-model", "other-model"}
        bad = client.get("/api/runs?limit=zero")
        assert bad.status_code == 400 and "limit" in bad.json()["error"]
        row = next(run for run in everything["runs"] if run["run_id"] == run_a.run_id)
        assert row["accuracy"]["k"] == 16 and row["recorded"] == 24 and row["planned"] == 24


def test_samples_filter_by_outcome_and_search(runs) -> None:  # type: ignore[no-untyped-def]
    run_a, _ = runs
    base = f"/api/runs/{run_a.run_id}/samples"
    with client_for(plan_launch(port=8050)) as client:
        wrong = client.get(f"{base}?outcome=wrong&limit=500").json()
        assert wrong["total"] == 8  # i % 3 == 0 for i in 0..23
        assert {row["sample_id"] for row in wrong["samples"]} == {f"q{i:03d}" for i in range(0, 24, 3)}
        assert client.get(f"{base}?outcome=correct").json()["total"] == 16
        found = client.get(f"{base}?q=q01").json()
        assert sorted(row["sample_id"] for row in found["samples"]) == [f"q01{i}" for i in range(10)]
        assert all(row["latency"] > 0 for row in found["samples"])
        paged = client.get(f"{base}?limit=5&offset=20").json()
        assert [row["seq"] for row in paged["samples"]] == [20, 21, 22, 23]
        unknown = client.get(f"{base}?outcome=maybe")
        assert unknown.status_code == 400 and "correct" in unknown.json()["error"]


def test_sample_drill_down_carries_messages_and_score_details(runs) -> None:  # type: ignore[no-untyped-def]
    run_a, _ = runs
    with client_for(plan_launch(port=8050)) as client:
        sample = client.get(f"/api/runs/{run_a.run_id}/samples/q004").json()
        assert "Question number 4?" in sample["transcript"]["messages"][0]["content"]
        assert sample["transcript"]["completions"][0]["content"].startswith("Answer: ")
        assert sample["score"]["correct"] is True and sample["score"]["details"]["rule"]
        assert client.get(f"/api/runs/{run_a.run_id}/samples/nope").status_code == 404


def test_exports_hold_every_sample(runs) -> None:  # type: ignore[no-untyped-def]
    run_a, _ = runs
    with client_for(plan_launch(port=8050)) as client:
        response = client.get(f"/api/runs/{run_a.run_id}/export.csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 24 and sum(row["correct"] == "1" for row in rows) == 16
        exported = json.loads(client.get(f"/api/runs/{run_a.run_id}/export.json").text)
        assert exported["run"]["run_id"] == run_a.run_id and len(exported["samples"]) == 24
        assert exported["samples"][0]["transcript"]["messages"]


def test_compare_card_equals_cli_json(runs) -> None:  # type: ignore[no-untyped-def]
    cli = CliRunner().invoke(cli_app, ["compare", "a", "b", "--json"])
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.stdout)
    with client_for(plan_launch(port=8050)) as client:
        page = client.get("/api/compare?a=a&b=b").json()
    assert page["card"] == expected
    # A right on 16 (i % 3 != 0), B right on the 12 odd i: only A = even and not multiple of 3.
    assert expected["only_a"] == 8 and expected["only_b"] == 4
    assert [row["name"] for row in page["by_benchmark"]] == ["q"]
    assert page["by_benchmark"][0]["p_value"] == expected["p_value"]
    assert page["by_subject"][0]["n_pairs"] == 24


def test_compare_explains_a_refusal(runs) -> None:  # type: ignore[no-untyped-def]
    run_a, _ = runs
    with client_for(plan_launch(port=8050)) as client:
        response = client.get(f"/api/compare?a={run_a.run_id}&b=a")
    assert response.status_code == 422 and "same run" in response.json()["error"]


def test_live_feed_resumes_after_last_event_id(runs) -> None:  # type: ignore[no-untyped-def]
    run_a, _ = runs
    with client_for(plan_launch(port=8050)) as client:
        response = client.get(f"/api/live/{run_a.run_id}/events", headers={"Last-Event-ID": "19"})
    events = [block for block in response.text.split("\n\n") if block.startswith("event:")]
    ids = [int(line[4:]) for block in events for line in block.splitlines() if line.startswith("id: ")]
    assert ids == [20, 21, 22, 23]
    names = [block.splitlines()[0][len("event: ") :] for block in events]
    # The runner stores the host samples with the run: they come as one `metrics` event.
    assert names[-4:] == ["stats", "metrics", "status", "end"]
    stats = json.loads(events[-4].splitlines()[-1][len("data: ") :])
    assert stats["recorded"] == 24 and stats["accuracy"]["k"] == 16
    metrics = json.loads(events[-3].splitlines()[-1][len("data: ") :])
    assert list(metrics) == ["host_samples"] and metrics["host_samples"]["samples"][0]["cpu_percent"] >= 0


def test_baselines_are_overridden_by_label_and_validated() -> None:
    with client_for(plan_launch(port=8050)) as client:
        headers = csrf_headers(client)
        shipped = client.get("/api/setup").json()["baselines"]
        mmlu = next(b for b in shipped if b["benchmark"] == "mmlu" and b["label"] == "GPT-4 (reported)")
        assert mmlu["origin"] == "shipped" and mmlu["source"] and mmlu["date"]
        mine = {**{k: mmlu[k] for k in ("label", "benchmark", "source", "date")}, "value": 0.5}
        saved = client.put("/api/setup", json={"title": "<b>Lab</b>", "baselines": [mine]}, headers=headers)
        assert saved.status_code == 200
        merged = [
            b for b in saved.json()["baselines"] if b["label"] == mine["label"] and b["benchmark"] == "mmlu"
        ]
        assert merged == [{**mine, "origin": "user"}]
        assert "<title>&lt;b&gt;Lab&lt;/b&gt;</title>" in client.get("/").text
        bad = client.put("/api/setup", json={"baselines": [{**mine, "value": 1.5}]}, headers=headers)
        assert bad.status_code == 400 and "baselines.0.value" in bad.json()["error"]
        assert client.get("/api/leaderboard").json()["title"] == "<b>Lab</b>"


def test_leaderboard_keeps_the_newest_finished_run_per_model_and_benchmark(runs) -> None:  # type: ignore[no-untyped-def]
    _, run_b = runs
    with client_for(plan_launch(port=8050)) as client:
        entries = client.get("/api/leaderboard").json()["entries"]
    assert [(e["model"], e["benchmark"], e["run_id"]) for e in entries] == [
        ("scripted-model", "q", run_b.run_id)
    ]
    assert entries[0]["accuracy"]["k"] == 12


def test_control_refuses_bad_requests_with_a_reason() -> None:
    with client_for(plan_launch(port=8050)) as client:
        headers = csrf_headers(client)
        bad_kind = client.post("/api/servers", json={"kind": "rocket"}, headers=headers)
        assert bad_kind.status_code == 400 and "smoke" in bad_kind.json()["error"]
        missing = client.post(
            "/api/servers", json={"kind": "gguf", "gguf": "/nowhere/model.gguf"}, headers=headers
        )
        assert missing.status_code == 422 and "not a file" in missing.json()["error"]
        bad_run = client.post("/api/launch", json={"benchmark": "x; rm -rf /"}, headers=headers)
        assert bad_run.status_code == 422
        not_json = client.post("/api/launch", content=b"{", headers=headers)
        assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
        assert client.post("/api/processes/run-9/stop", headers=headers).status_code == 404
        unknown = client.post("/api/fetch", json={"key": "no_such_benchmark"}, headers=headers)
        assert unknown.status_code == 422 and "no_such_benchmark" in unknown.json()["error"]


@pytest.mark.llamacpp
def test_start_chat_and_stop_the_smoke_server_from_the_dashboard() -> None:
    pytest.importorskip(
        "xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'"
    )
    with client_for(plan_launch(port=8050)) as client:
        headers = csrf_headers(client)
        started = client.post("/api/servers", json={"kind": "smoke", "parallel": 1}, headers=headers)
        assert started.status_code == 201, started.text
        server = started.json()
        assert server["running"] and server["url"].startswith("http://127.0.0.1:")
        try:
            chat = client.post(
                "/api/chat",
                json={
                    "server": server["url"],
                    "messages": [{"role": "user", "content": "Hello"}],
                    "max_tokens": 8,
                },
                headers=headers,
            )
            assert chat.status_code == 200, chat.text
            answer = chat.json()
            assert answer["model"] and isinstance(answer["content"], str) and answer["timings"]["e2e"] > 0
        finally:
            stopped = client.post(f"/api/processes/{server['id']}/stop", headers=headers)
        assert stopped.status_code == 200 and stopped.json()["running"] is False
        listed = client.get("/api/processes").json()["processes"]
        assert [p["running"] for p in listed if p["id"] == server["id"]] == [False]


def test_the_accuracy_trend_is_sampled_in_sql(runs) -> None:  # type: ignore[no-untyped-def]
    run_a, _ = runs
    with client_for(plan_launch(port=8050)) as client:
        points = client.get(f"/api/runs/{run_a.run_id}/trend").json()["points"]
    assert [p["recorded"] for p in points] == list(range(1, 25))
    assert points[-1]["accuracy"]["k"] == 16 and points[-1]["accuracy"]["n"] == 24
    flags = [r.score.correct for r in api.open_store().results(run_a.run_id)]  # in recorded order
    assert [p["accuracy"]["k"] for p in points] == [sum(flags[: i + 1]) for i in range(24)]
    sparse = DashboardQueries(api.open_store()).trend(run_a.run_id, points=5)
    assert [p["recorded"] for p in sparse] == [5, 10, 15, 20, 24]
