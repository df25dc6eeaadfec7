"""Campaigns on Ray: a local Ray cluster started here runs the jobs as actors near their endpoints,
results come back as envelopes into the driver's one store, comparisons match the local executor,
and a campaign whose driver was killed resumes on Ray without asking a stored sample again."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchlab import api
from benchlab.campaign.plan import EndpointPlan, PlanError, load_plan
from benchlab.cli import app
from benchlab.testing.scripted_server import Pacing, ScriptedServer
from conftest import make_mcq_file
from scripted import answering

ray = pytest.importorskip("ray", reason="needs the `ray` extra: pip install 'benchlab[ray]'")

from benchlab.campaign.on_ray import RayUnavailable, catalog_files, placement, run_on_ray  # noqa: E402
from benchlab.campaign.ray_worker import JobOrder, ReplicaWorker  # noqa: E402
from benchlab.exchange import envelope  # noqa: E402

runner = CliRunner()
SRC = str(Path(__file__).resolve().parents[1] / "src")
TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, float]]:
    """A local two-CPU Ray cluster with a custom resource standing for "the node near gpu-a".

    Its workers inherit this environment, so they import this checkout of benchlab and keep their
    (shared) dataset cache in a temporary home, never the user's."""
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "BENCHLAB_HOME")}
    os.environ["PYTHONPATH"] = os.pathsep.join([SRC, TESTS, *filter(None, [saved["PYTHONPATH"]])])
    os.environ["BENCHLAB_HOME"] = str(tmp_path_factory.mktemp("ray-workers-home"))
    ray.init(
        num_cpus=2,
        resources={"gpu-a": 1},
        include_dashboard=False,
        logging_level="error",
        log_to_driver=False,
    )
    try:
        yield ray.cluster_resources()
    finally:
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _plan(path: Path, data: Path, good: list[str], flawed: str, extra: str = "") -> Path:
    urls = ", ".join(f'"{url}"' for url in good)
    path.write_text(
        f"""
name = "onray"
benchmarks = ["{data}"]
concurrency = 2
{extra}
[[endpoints]]
name = "good"
urls = [{urls}]
ray_resources = {{"gpu-a" = 0.5}}
[[endpoints]]
name = "flawed"
urls = ["{flawed}"]
[grid]
seed = [1, 2]
[[compare]]
by = "endpoint"
"""
    )
    return path


def _samples(database: Path) -> dict[tuple[str, str], tuple[str, int | None, int]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT r.tag, s.sample_id, s.error_kind, s.correct, s.attempts "
            "FROM samples s JOIN runs r USING (run_id)"
        ).fetchall()
    return {(tag, sample): (kind, correct, attempts) for tag, sample, kind, correct, attempts in rows}


def test_a_campaign_on_ray_lands_exact_results_in_the_drivers_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ray_cluster: dict[str, float]
) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 12)
    pace = Pacing(latency=0.01)
    with (
        ScriptedServer(answering(lambda i: True), pacing=pace) as right_1,
        ScriptedServer(answering(lambda i: True), pacing=pace) as right_2,
        ScriptedServer(answering(lambda i: i % 3 != 0), pacing=pace) as flawed,
    ):
        plan = _plan(tmp_path / "plan.toml", data, [right_1.base_url, right_2.base_url], flawed.base_url)
        local_home, ray_home = tmp_path / "local-home", tmp_path / "ray-home"
        monkeypatch.setenv("BENCHLAB_HOME", str(local_home))
        local = runner.invoke(app, ["campaign", str(plan), "--json"])
        asked_locally = len(right_1.requests) + len(right_2.requests), len(flawed.requests)
        for server in (right_1, right_2, flawed):
            server.requests.clear()
        monkeypatch.setenv("BENCHLAB_HOME", str(ray_home))
        on_ray = runner.invoke(app, ["campaign", str(plan), "--ray", "auto", "--json"])
        asked_on_ray = len(right_1.requests) + len(right_2.requests), len(flawed.requests)
    assert local.exit_code == 0, local.stderr
    assert on_ray.exit_code == 0, on_ray.stderr
    assert asked_locally == asked_on_ray == (24, 24)  # every question once per job, nothing twice
    local_report, ray_report = json.loads(local.stdout), json.loads(on_ray.stdout)

    good = [job for job in ray_report["jobs"] if job["endpoint"] == "good"]
    assert {job["replica"] for job in good} == {right_1.base_url, right_2.base_url}  # replicas shared it
    for mine, theirs in zip(ray_report["jobs"], local_report["jobs"], strict=True):
        assert mine["tag"] == theirs["tag"] and mine["run"]["status"] == "finished"
        assert mine["run"]["summary"]["accuracy"] == theirs["run"]["summary"]["accuracy"]
    assert [_without_run_ids(pair["comparison"]) for pair in ray_report["comparisons"]] == [
        _without_run_ids(pair["comparison"]) for pair in local_report["comparisons"]
    ]
    assert [(c["comparison"]["n_pairs"], c["comparison"]["only_a"]) for c in ray_report["comparisons"]] == [
        (12, 4),
        (12, 4),
    ]  # questions 0, 3, 6 and 9 are right only on `good`

    # Every sample, with its transcript, is in the driver's store exactly as a local run leaves it.
    assert _samples(ray_home / "benchlab.db") == _samples(local_home / "benchlab.db")
    results = api.open_store().results(good[0]["run"]["run_id"], with_transcripts=True)
    assert len(results) == 12 and all(result.transcript is not None for result in results)


def _without_run_ids(comparison: dict[str, Any]) -> dict[str, Any]:
    """A comparison's figures and tags; run ids differ between two stores by construction."""
    return {
        key: {k: v for k, v in value.items() if k != "run_id"} if key in ("a", "b") else value
        for key, value in comparison.items()
    }


def _number(body: dict[str, Any]) -> int:
    from scripted import question_number

    return question_number(body)


def test_a_killed_driver_resumes_on_ray_without_asking_a_stored_sample_again(
    tmp_path: Path, benchlab_home: Path, ray_cluster: dict[str, float]
) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 40)
    database = benchlab_home / "benchlab.db"
    with ScriptedServer(answering(lambda i: i % 5 != 0), pacing=Pacing(latency=0.05)) as server:
        plan_file = tmp_path / "plan.toml"
        plan_file.write_text(
            f'name = "killed"\nbenchmarks = ["{data}"]\nconcurrency = 1\nray = "auto"\n'
            f'[[endpoints]]\nname = "only"\nurls = ["{server.base_url}"]\n[grid]\nseed = [1, 2]\n'
        )
        # A second driver joins this test's cluster from its own process (`--ray` wins over the
        # plan's `ray`), and is killed midway.
        address = ray.get_runtime_context().gcs_address
        driver = subprocess.Popen(
            [sys.executable, "-m", "benchlab", "campaign", str(plan_file), "--ray", address, "--json"],
            env={**os.environ, "BENCHLAB_HOME": str(benchlab_home)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while _stored(database) < 6 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        _wait_until_quiet(server)  # the killed driver's workers are stopped by Ray
        before = _samples(database)
        assert 6 <= len(before) < 80, "the campaign should be killed midway"
        server.requests.clear()

        again = api.campaign(plan_file)  # the plan's `ray = "auto"`: this process's cluster
        asked = {
            (f"killed/only/{data}/seed={body['seed']}", f"q{_number(body):03d}") for body in server.requests
        }
    assert again.ok
    assert len(server.requests) == len(asked) == 80 - len(before)  # the missing ones, each once
    assert not asked & set(before)  # nothing the driver had stored was asked again
    after = _samples(database)
    assert len(after) == 80 and all(kind == "none" for kind, _, _ in after.values())
    assert [job.record.summary["accuracy"]["k"] for job in again.jobs if job.record] == [32, 32]


def _stored(database: Path) -> int:
    try:
        with sqlite3.connect(database) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
    except sqlite3.Error:
        return 0


def _wait_until_quiet(server: ScriptedServer, quiet: float = 1.0, limit: float = 20.0) -> None:
    end = time.monotonic() + limit
    count, since = server.request_count, time.monotonic()
    while time.monotonic() < end and time.monotonic() - since < quiet:
        time.sleep(0.1)
        if server.request_count != count:
            count, since = server.request_count, time.monotonic()


def test_an_endpoint_asks_for_its_resources_and_a_missing_one_is_refused(
    tmp_path: Path, ray_cluster: dict[str, float]
) -> None:
    near = EndpointPlan(name="a", urls=["http://a:1"], ray_resources={"gpu-a": 1, "CPU": 0.5, "GPU": 0})
    assert placement(near) == {
        "num_cpus": 0.5,
        "num_gpus": 0,
        "resources": {"gpu-a": 1},
        "max_concurrency": 1,
    }
    assert placement(EndpointPlan(name="b", urls=["http://b:1"])) == {"num_cpus": 0, "max_concurrency": 1}
    plan = load_plan(_plan(tmp_path / "plan.toml", tmp_path / "q.jsonl", ["http://a:1"], "http://b:1"))
    greedy = plan.model_copy(
        update={"endpoints": [plan.endpoints[0].model_copy(update={"ray_resources": {"gpu-b": 2}})]}
    )
    with pytest.raises(RayUnavailable, match=r"'good' asks for ray_resources gpu-b=2 .* offers 0"):
        run_on_ray(greedy, "auto", say=lambda _: None, command=None)


def test_an_address_where_no_cluster_listens_is_refused_at_once(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(
        'name = "x"\nbenchmarks = ["sample"]\n[[endpoints]]\nname = "a"\nurls = ["http://a"]\n'
    )
    started = time.monotonic()
    result = runner.invoke(app, ["campaign", str(plan_file), "--ray", f"127.0.0.1:{port}"])
    assert result.exit_code == 1 and time.monotonic() - started < 10
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in result.stderr
    assert "ray start --head" in result.stderr


def test_endpoints_served_by_benchlab_are_refused_on_ray(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text('name = "x"\nbenchmarks = ["sample"]\n[[endpoints]]\nname = "s"\nsmoke = true\n')
    with pytest.raises(PlanError, match=r"endpoints s are served by benchlab itself.*list their `urls`"):
        run_on_ray(load_plan(plan_file), "auto", say=lambda _: None, command=None)


def test_without_ray_installed_the_message_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(
        'name = "x"\nbenchmarks = ["sample"]\n[[endpoints]]\nname = "a"\nurls = ["http://a"]\n'
    )
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    result = runner.invoke(app, ["campaign", str(plan_file), "--ray", "auto"])
    assert result.exit_code != 0
    assert "pip install 'benchlab[ray]'" in result.stderr


def test_a_worker_without_the_drivers_disk_runs_the_shipped_file_in_a_private_home(
    tmp_path: Path, benchlab_home: Path
) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 6)
    order = JobOrder(tag="t/a/q", benchmark="/nowhere/on/this/worker/q.jsonl", dataset=data.read_bytes())
    batches = ListSink()
    with ScriptedServer(answering(lambda i: i < 4)) as server:
        done = ReplicaWorker(server.base_url, flush_every=0.01).run(order, None, batches)
    assert done.error is None and done.envelope is not None
    record, _ = envelope.read(done.envelope)
    assert (record.benchmark, record.tag, record.status.value) == ("q", "t/a/q", "finished")
    assert record.summary["accuracy"]["k"] == 4
    streamed = [result for batch in batches for result in envelope.read(batch)[1]]
    assert sorted(result.sample_id for result in streamed) == [f"q{i:03d}" for i in range(6)]
    assert os.environ["BENCHLAB_HOME"] == str(benchlab_home)  # the private home was only for the job
    assert not (benchlab_home / "benchlab.db").exists()  # the worker never wrote the driver's store


class ListSink(list[dict[str, Any]]):
    def put(self, item: dict[str, Any]) -> None:
        self.append(item)


class BrokenSink:
    def put(self, item: dict[str, Any]) -> None:
        raise ConnectionError("the queue's node went away")


def test_when_the_sink_fails_the_final_envelope_carries_every_sample(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 5)
    order = JobOrder(tag="t/b/q", benchmark=str(data), dataset=data.read_bytes())
    with ScriptedServer(answering(lambda i: True)) as server:
        done = ReplicaWorker(server.base_url, flush_every=0.01).run(order, None, BrokenSink())
    assert done.error is None and done.envelope is not None
    record, samples = envelope.read(done.envelope)
    assert record.status.value == "finished" and len(samples) == 5
    assert all(sample.transcript is not None for sample in samples)


def test_a_worker_resolves_the_drivers_own_benchmark_definitions(benchlab_home: Path) -> None:
    definitions = benchlab_home / "benchmarks"
    definitions.mkdir(parents=True)
    (definitions / "house_mcq.toml").write_text(
        'key = "house_mcq"\nname = "house questions"\ndomain = "test"\ntier = "current"\nkind = "mcq"\n'
        'fit = "accuracy"\nlicense = "MIT"\ncitation = "benchlab tests"\n'
        '[[sources]]\ntype = "builtin"\nname = "sample_mcq.jsonl"\n'
    )
    shipped = catalog_files()
    assert set(shipped) == {"benchmarks/house_mcq.toml"}
    with ScriptedServer("Answer: A") as server:
        worker = ReplicaWorker(server.base_url, flush_every=0.01)
        blind = worker.run(JobOrder(tag="t/c/blind", benchmark="house_mcq", n=3), None, ListSink())
        seeing = worker.run(
            JobOrder(tag="t/c/seeing", benchmark="house_mcq", n=3, home_files=shipped), None, ListSink()
        )
    assert blind.error is not None and "house_mcq" in blind.error  # a private home alone cannot see it
    assert seeing.error is None and seeing.envelope is not None
    record, _ = envelope.read(seeing.envelope)
    assert (record.benchmark, len(record.sample_ids), record.status.value) == ("house_mcq", 3, "finished")
