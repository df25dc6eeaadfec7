"""Whole runs against the scripted server: exact scores, faults, resume, the store's guarantees."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from benchlab import api, settings
from benchlab.engine.runner import RunError
from benchlab.testing.scripted_server import Fault, Pacing, Reply, ScriptedServer
from benchlab.types import ErrorKind, RunStatus
from conftest import make_mcq_file
from scripted import answering, question_number

FAST = {"retries": 3, "timeout": 0.5}


def stored_ids(run_id: str) -> list[str]:
    with sqlite3.connect(settings.database_path()) as connection:
        rows = connection.execute("SELECT sample_id FROM samples WHERE run_id = ?", (run_id,)).fetchall()
    return [row[0] for row in rows]


def test_exact_scores_and_provenance(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 20)
    with ScriptedServer(answering(lambda i: i % 4 != 0), server_kind="llama.cpp", slots=3) as server:
        record = api.run(str(data), server=server.base_url)
    summary = record.summary
    assert record.status is RunStatus.FINISHED
    assert summary["accuracy"]["k"] == 15 and summary["accuracy"]["n"] == 20
    assert summary["accuracy"]["ci_low"] < 0.75 < summary["accuracy"]["ci_high"]
    assert summary["unparseable"]["k"] == 0 and summary["infra_errors"]["k"] == 0
    assert record.endpoint.server_kind.value == "llama.cpp" and record.endpoint.slots == 3
    assert record.endpoint.model == "scripted-model"
    provenance = record.provenance
    assert provenance.dataset_rows == 20 and len(provenance.dataset_sha256) == 64
    assert provenance.benchlab_version and provenance.python and provenance.host["cpu_count"]
    assert sorted(stored_ids(record.run_id)) == [f"q{i:03d}" for i in range(20)]


def test_options_are_shuffled_per_question_and_gold_is_remapped(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 12)
    with ScriptedServer(answering(lambda i: True)) as server:
        record = api.run(str(data), server=server.base_url)
        results = api.results(record.run_id)
        assert record.summary["accuracy"]["k"] == 12
        orders = {r.score.details["order"] for r in results}
        assert len(orders) > 1  # not every question keeps the original order
        assert {r.score.gold for r in results} != {"A"}  # the right answer moved
        plain = api.run(str(data), server=server.base_url, shuffle=False, tag="plain")
    assert {r.score.gold for r in api.results(plain.run_id)} == {"A"}


def test_unparseable_replies_are_counted_not_scored_right(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 10)

    def respond(body: dict) -> Reply:
        number = question_number(body)
        if number < 3:
            return Reply.text("A common cause is unclear; I cannot say.")
        if number < 5:
            return Reply.text("<think>Answer: B</think>")  # an answer only in the reasoning
        return answering(lambda i: True)(body)

    with ScriptedServer(respond) as server:
        record = api.run(str(data), server=server.base_url)
    assert record.summary["unparseable"]["k"] == 5
    assert record.summary["accuracy"]["k"] == 5 and record.summary["accuracy"]["n"] == 10


def test_faults_are_retried_and_counted_exactly(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 20)
    faults = [
        Fault("status", status=429, retry_after=0.05, match="number 1?"),
        Fault("status", status=500, times=2, match="number 2?"),
        Fault("disconnect", match="number 3?"),
        Fault("cut", match="number 4?"),
        Fault("stall", match="number 5?"),
        Fault("malformed", match="number 6?"),
        Fault("status", status=502, times=None, match="number 7?"),  # never recovers
    ]
    with ScriptedServer(answering(lambda i: i < 10), faults=faults) as server:
        record = api.run(str(data), server=server.base_url, **FAST)  # type: ignore[arg-type]
    summary = record.summary
    assert summary["infra_errors"]["k"] == 1  # question 7 only
    assert summary["accuracy"]["n"] == 19 and summary["accuracy"]["k"] == 9  # 0..9 right, minus 7
    assert summary["retries"] == 1 + 2 + 1 + 1 + 1 + 1 + 2
    assert record.status is RunStatus.FINISHED  # 1/20 = 5% is not above the limit
    assert len(stored_ids(record.run_id)) == 20


def test_too_many_infra_errors_mark_the_run_invalid_and_resume_retries_them(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 10)
    broken = [Fault("status", status=500, times=None, match=f"number {i}?") for i in (1, 2)]
    with ScriptedServer(answering(lambda i: True), faults=broken) as server:
        record = api.run(str(data), server=server.base_url, **FAST)  # type: ignore[arg-type]
        assert record.status is RunStatus.INVALID
        assert "not trustworthy" in (record.status_reason or "")
        server.reset()
        server._armed.clear()  # the server is healthy again
        resumed = api.run(str(data), server=server.base_url, resume=record.run_id)
        assert server.request_count == 2  # only the two infra failures are asked again
    assert resumed.run_id == record.run_id and resumed.status is RunStatus.FINISHED
    assert resumed.summary["accuracy"]["k"] == 10 and resumed.summary["infra_errors"]["k"] == 0
    assert sorted(stored_ids(record.run_id)) == sorted(set(stored_ids(record.run_id)))
    assert len(stored_ids(record.run_id)) == 10


def test_rejected_requests_are_reported_not_scored(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 6)
    too_long = Fault(
        "status", status=400, times=None, match="number 2?", message="prompt exceeds the context size"
    )
    with ScriptedServer(answering(lambda i: True), faults=[too_long]) as server:
        record = api.run(str(data), server=server.base_url, **FAST)  # type: ignore[arg-type]
        assert server.counts["status"] == 1  # not retried
    assert record.summary["rejected"] == 1
    assert "context size" in record.summary["rejected_messages"][0]
    assert record.summary["accuracy"]["n"] == 5 and record.summary["accuracy"]["k"] == 5


def test_same_tag_resumes_and_never_duplicates(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 8)
    with ScriptedServer(answering(lambda i: True)) as server:
        first = api.run(str(data), server=server.base_url, tag="nightly")
        second = api.run(str(data), server=server.base_url, tag="nightly")
        assert server.request_count == 8  # the second call found nothing left to ask
    assert second.run_id == first.run_id
    assert len(stored_ids(first.run_id)) == 8


def test_a_server_that_dies_stops_the_run_and_keeps_what_was_recorded(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 60)
    server = ScriptedServer(answering(lambda i: True), pacing=Pacing(latency=0.02), slots=2).start()
    killer = threading.Timer(0.25, server.stop)
    killer.start()
    try:
        record = api.run(str(data), server=server.base_url, concurrency=2, retries=2, timeout=0.5)
    finally:
        killer.join()
        server.stop()
    assert record.status is RunStatus.FAILED
    assert "stopped answering" in (record.status_reason or "")
    results = api.results(record.run_id)
    answered = [r for r in results if r.score.error_kind is ErrorKind.NONE]
    assert 0 < len(answered) < 60
    assert all(r.score.correct for r in answered)  # nothing scored as an empty answer
    assert record.summary["accuracy"]["k"] == len(answered)


def test_sampling_n_is_seeded(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 30)
    with ScriptedServer(answering(lambda i: True)) as server:
        a = api.run(str(data), server=server.base_url, n=7, tag="a")
        b = api.run(str(data), server=server.base_url, n=7, tag="b")
        c = api.run(str(data), server=server.base_url, n=7, tag="c", sample_seed=99)
    assert len(a.sample_ids) == 7 and a.sample_ids == b.sample_ids
    assert a.sample_ids != c.sample_ids


def test_resume_refuses_different_data(tmp_path: Path) -> None:
    first = make_mcq_file(tmp_path / "q.jsonl", 5)
    with ScriptedServer(answering(lambda i: True)) as server:
        record = api.run(str(first), server=server.base_url, tag="t")
        make_mcq_file(first, 6)  # the file changed under the same name
        with pytest.raises(RunError, match="different data"):
            api.run(str(first), server=server.base_url, resume=record.run_id)


def test_an_embedding_programs_sigterm_handler_survives_a_run(tmp_path: Path) -> None:
    import signal

    def handler(signum: int, frame: object) -> None:
        pass

    data = make_mcq_file(tmp_path / "q.jsonl", 3)
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with ScriptedServer(answering(lambda i: True)) as server:
            api.run(str(data), server=server.base_url)
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_resumed_samples_keep_their_order(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 6)
    broken = Fault("status", status=500, times=None, match="number 2?")
    with ScriptedServer(answering(lambda i: True), faults=[broken]) as server:
        record = api.run(str(data), server=server.base_url, concurrency=1, **FAST)  # type: ignore[arg-type]
        server._armed.clear()
        api.run(str(data), server=server.base_url, resume=record.run_id)
    with sqlite3.connect(settings.database_path()) as connection:
        rows = connection.execute("SELECT seq, sample_id FROM samples ORDER BY seq").fetchall()
    assert [seq for seq, _ in rows] == list(range(6))  # one number per sample, none reused
    assert dict((sid, seq) for seq, sid in rows)["q002"] == 2  # the retried sample kept its place
