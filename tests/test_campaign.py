"""Campaigns: plans validated and expanded, replicas sharing jobs, comparisons, and a killed
campaign resumed against real llama.cpp servers without asking a finished sample again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchlab.campaign.plan import CompareSpec, PlanError, jobs, load_plan, pairs
from benchlab.cli import app
from benchlab.testing.scripted_server import Pacing, ScriptedServer
from conftest import make_mcq_file
from scripted import answering

runner = CliRunner()


def write_plan(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_plan_expands_into_tagged_jobs_and_pairs(tmp_path: Path) -> None:
    plan = load_plan(
        write_plan(
            tmp_path / "plan.toml",
            """
name = "quants"
benchmarks = ["sample", "q.jsonl"]
[[endpoints]]
name = "q8"
urls = ["http://a:1", "http://b:1"]
[[endpoints]]
name = "q4"
urls = ["http://c:1"]
[grid]
think = [false, true]
[[compare]]
by = "endpoint"
[[compare]]
by = "think"
""",
        )
    )
    assert plan.benchmarks[1] == str(tmp_path / "q.jsonl")  # relative to the plan
    expanded = jobs(plan)
    assert len(expanded) == 2 * 2 * 2
    assert expanded[0].tag("quants") == "quants/q8/sample/think=false"
    by_endpoint = pairs(plan, CompareSpec(by="endpoint"))
    assert len(by_endpoint) == 4 and all(a.endpoint == "q8" and b.endpoint == "q4" for a, b in by_endpoint)
    by_think = pairs(plan, CompareSpec(by="think", baseline=True))
    assert len(by_think) == 4
    assert all(a.setting("think") is True and b.setting("think") is False for a, b in by_think)
    assert all(a.endpoint == b.endpoint and a.benchmark == b.benchmark for a, b in by_think)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('name = "x"\nbenchmarks = ["sample"]\nendpoints = []', "endpoints"),
        ('name = "x"\nbenchmarks = ["sample"]\n[[endpoints]]\nname = "a"\n', "exactly one of `urls`"),
        (
            'name = "x"\nbenchmarks = ["sample"]\n[[endpoints]]\nname = "a"\nurls = ["http://a"]\n'
            "[grid]\ncolour = [1]",
            "grid key 'colour' is not a run setting",
        ),
        (
            'name = "x"\nbenchmarks = ["sample"]\n[[endpoints]]\nname = "a"\nurls = ["http://a"]\n'
            '[[compare]]\nby = "think"',
            "not `endpoint` and not a grid key",
        ),
        ("name = [", "not valid TOML"),
    ],
)
def test_bad_plans_name_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(PlanError, match=r"plan\.toml") as raised:
        load_plan(write_plan(tmp_path / "plan.toml", text))
    assert problem in str(raised.value)


def test_replicas_share_the_jobs_and_the_comparison_is_exact(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 20)
    slow = Pacing(latency=0.01)
    with (
        ScriptedServer(answering(lambda i: True), pacing=slow) as right_1,
        ScriptedServer(answering(lambda i: True), pacing=slow) as right_2,
        ScriptedServer(answering(lambda i: i % 4 != 0), pacing=slow) as flawed,
    ):
        plan = write_plan(
            tmp_path / "plan.toml",
            f"""
name = "replicas"
benchmarks = ["{data}"]
concurrency = 2
[[endpoints]]
name = "good"
urls = ["{right_1.base_url}", "{right_2.base_url}"]
[[endpoints]]
name = "flawed"
urls = ["{flawed.base_url}"]
[grid]
seed = [1, 2, 3, 4]
[[compare]]
by = "endpoint"
""",
        )
        result = runner.invoke(app, ["campaign", str(plan), "--json"])
    report = json.loads(result.stdout)
    statuses = [(job["tag"], job["error"] or job["run"]["status"], job["run"] and job["run"]["status_reason"])
                for job in report["jobs"]]  # fmt: skip
    assert result.exit_code == 0, statuses
    good_jobs = [job for job in report["jobs"] if job["endpoint"] == "good"]
    assert len(good_jobs) == 4 and all(job["run"]["status"] == "finished" for job in good_jobs)
    assert {job["replica"] for job in good_jobs} == {right_1.base_url, right_2.base_url}  # load shared
    assert {job["run"]["endpoint"]["base_url"] for job in good_jobs} == {right_1.base_url, right_2.base_url}
    comparisons = report["comparisons"]
    assert len(comparisons) == 4
    for pair in comparisons:
        c = pair["comparison"]
        assert (c["n_pairs"], c["only_a"], c["only_b"]) == (20, 5, 0)  # questions 0, 4, 8, 12, 16
        assert c["p_value"] == pytest.approx(2 * 0.5**5)


def test_a_job_that_fails_is_reported_and_the_rest_run(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 5)
    with ScriptedServer(answering(lambda i: True)) as server:
        plan = write_plan(
            tmp_path / "plan.toml",
            f"""
name = "partial"
benchmarks = ["{data}", "no_such_benchmark"]
[[endpoints]]
name = "only"
urls = ["{server.base_url}"]
""",
        )
        result = runner.invoke(app, ["campaign", str(plan), "--json"])
    assert result.exit_code == 1
    outcomes = {job["benchmark"]: job for job in json.loads(result.stdout)["jobs"]}
    assert outcomes[str(data)]["run"]["status"] == "finished"
    assert "unknown benchmark 'no_such_benchmark'" in outcomes["no_such_benchmark"]["error"]


def _recorded(database: Path) -> dict[tuple[str, str], float]:
    if not database.exists():
        return {}
    try:
        with sqlite3.connect(database) as connection:
            rows = connection.execute("SELECT run_id, sample_id, finished_at FROM samples").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {(run_id, sample_id): finished for run_id, sample_id, finished in rows}


@pytest.mark.llamacpp
def test_two_real_replicas_share_a_killed_campaign_that_resumes(tmp_path: Path) -> None:
    pytest.importorskip(
        "xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'"
    )
    from benchlab.endpoints.managed import ServerProcess, free_port

    home = tmp_path / "home"
    env = {**os.environ, "BENCHLAB_HOME": str(home)}
    with (
        ServerProcess(smoke=True, port=free_port(), parallel=2, env=env) as one,
        ServerProcess(smoke=True, port=free_port(), parallel=2, env=env) as two,
    ):
        plan = write_plan(
            tmp_path / "plan.toml",
            f"""
name = "smoke"
benchmarks = ["sample"]
n = 16
concurrency = 2
[[endpoints]]
name = "smoke"
urls = ["{one.base_url}", "{two.base_url}"]
[grid]
seed = [1, 2]
[[compare]]
by = "seed"
""",
        )
        command = [sys.executable, "-m", "benchlab", "campaign", str(plan), "--json"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        database = home / "benchlab.db"
        deadline = time.monotonic() + 120
        while len(_recorded(database)) < 6 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        before = _recorded(database)
        assert 6 <= len(before) < 32, "the campaign should be killed midway"

        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    report = json.loads(finished.stdout)
    statuses = [(job["tag"], job["error"] or job["run"]["status"], job["run"] and job["run"]["status_reason"])
                for job in report["jobs"]]  # fmt: skip
    assert finished.returncode == 0, statuses
    assert [job["run"]["status"] for job in report["jobs"]] == ["finished", "finished"]
    assert {job["replica"] for job in report["jobs"]} <= {one.base_url, two.base_url}
    after = _recorded(database)
    assert len(after) == 32  # 16 questions × 2 seeds, no duplicates
    assert all(after[key] == when for key, when in before.items())  # nothing finished was asked again
    (pair,) = report["comparisons"]
    assert pair["comparison"]["n_pairs"] == 16 and pair["error"] is None
