"""The per-sample hot path: SSE read in network-sized blocks, batched store writes, in-memory summary."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from benchlab import api
from benchlab.endpoints.client import ChatClient, RetryPolicy
from benchlab.endpoints.errors import InfraError
from benchlab.store.db import SampleWriter, Store
from benchlab.tasks.mcq import McqTask
from benchlab.testing.scripted_server import Fault, Reply, ScriptedServer
from benchlab.types import Endpoint, GenerationParams, SampleResult, Score
from conftest import make_mcq_file
from scripted import answering, question_number

ASK = [{"role": "user", "content": "hi"}]
PARAMS = GenerationParams(max_tokens=32)


def _event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "m", **extra}
    chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"


STREAM = b"".join(
    [
        b": keep-alive comment\n\n",
        _event({"role": "assistant"}),
        _event({"reasoning_content": "think "}),
        _event({"content": "Answer: "}),
        _event({"content": "Ω B"}),  # a multi-byte character, split across reads below
        _event({"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "look", "arguments": '{"q"'}}]}),
        _event({"tool_calls": [{"index": 0, "function": {"arguments": ': "x"}'}}]}, "stop"),
        b"data: "
        + json.dumps(
            {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 4}, "timings": {"n": 1}}
        ).encode()
        + b"\n\n",
        b"data: [DONE]",  # no final newline: the last line is still read
    ]
)


def _pieces(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


async def _serve_pieces(pieces: list[bytes]) -> tuple[web.AppRunner, str]:
    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for piece in pieces:
            await response.write(piece)
            await asyncio.sleep(0.005)  # separate network reads
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def _chat_over(pieces: list[bytes]) -> Any:
    runner, url = await _serve_pieces(pieces)
    try:
        endpoint = Endpoint(base_url=url, model="m")
        async with ChatClient(endpoint, retry=RetryPolicy(attempts=1)) as client:
            return await client.chat(ASK, PARAMS)
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "cuts",
    [
        [],  # the whole stream in one read
        [3, 40, 41, 200],  # cuts inside `data:`, inside JSON, between CR and LF
        list(range(1, len(STREAM), 7)),  # many small reads, splitting the multi-byte character too
    ],
    ids=["one-read", "odd-cuts", "small-reads"],
)
async def test_stream_parses_the_same_however_the_bytes_arrive(cuts: list[int]) -> None:
    completion = await _chat_over(_pieces(STREAM, cuts))
    assert completion.content == "Answer: Ω B"
    assert completion.reasoning == "think"
    assert completion.finish_reason == "stop"
    assert completion.tool_calls == [
        {"id": "t1", "type": "function", "function": {"name": "look", "arguments": '{"q": "x"}'}}
    ]
    assert completion.usage.prompt_tokens == 5 and completion.usage.completion_tokens == 4
    assert not completion.usage.approximate
    assert completion.server_timings == {"n": 1}
    assert completion.model == "m"
    assert completion.timings.chunks == 5  # reasoning, two content, two tool-call chunks
    assert completion.timings.ttft is not None and completion.timings.ttfot is not None
    assert completion.timings.ttft <= completion.timings.ttfot <= (completion.timings.e2e or 0)


async def test_a_malformed_chunk_split_across_reads_is_an_infra_error() -> None:
    bad = _event({"content": "A"}) + b'data: {"choices": [\n\n' + b"data: [DONE]\n\n"
    with pytest.raises(InfraError, match="malformed stream chunk"):
        await _chat_over(_pieces(bad, [len(bad) - 20]))


async def test_a_stream_cut_before_its_end_is_an_infra_error() -> None:
    with pytest.raises(InfraError, match="ended before the answer was complete"):
        await _chat_over([_event({"content": "Answer: "})])


def _stored(path: Path, run_id: str) -> list[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT sample_id FROM samples WHERE run_id = ?", (run_id,))
        return [row[0] for row in rows]


def test_writer_commits_within_its_delay_without_being_closed(tmp_path: Path) -> None:
    store = Store(tmp_path / "b.db")
    with store.connect() as connection:  # the samples' run (a foreign key); its record is not read
        connection.execute(
            "INSERT INTO runs (run_id, tag, benchmark, task_kind, status, created_at, record)"
            " VALUES ('r1', 't', 'b', 'mcq', 'running', 0, '{}')"
        )
    writer = SampleWriter(store, "r1", max_delay=0.02)
    try:
        for index in range(3):
            writer.put(SampleResult(sample_id=f"s{index}", score=Score(value=1.0), finished_at=time.time()))
        deadline = time.monotonic() + 5.0
        while len(_stored(store.path, "r1")) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Durable while the writer is still open: a killed process would keep them.
        assert sorted(_stored(store.path, "r1")) == ["s0", "s1", "s2"]
        writer.put(SampleResult(sample_id="s3", score=Score(), finished_at=time.time()))
    finally:
        writer.close()
    assert writer.written == 4 and writer.error is None
    with sqlite3.connect(store.path) as connection:
        seqs = [row[0] for row in connection.execute("SELECT seq FROM samples ORDER BY sample_id")]
    assert seqs == [0, 1, 2, 3]


def _resummarized(run_id: str) -> dict[str, Any]:
    results = api.results(run_id, with_transcripts=True)
    return McqTask().summarize(results)


def test_summary_from_memory_equals_the_summary_of_the_stored_results(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 30)

    def respond(body: dict[str, Any]) -> Reply:
        number = question_number(body)
        if number % 7 == 0:
            return Reply.text("I cannot tell.")
        return answering(lambda i: i % 3 != 0)(body)

    with ScriptedServer(respond) as server:
        record = api.run(str(data), server=server.base_url, concurrency=4)
    again = _resummarized(record.run_id)
    assert record.summary["recorded"] == 30
    for key, value in again.items():
        assert record.summary[key] == value, key
    assert record.summary["tokens"]["completion"] > 0 and record.summary["latency_s"] is not None


def test_a_resumed_run_summarizes_every_stored_sample(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 12)
    broken = [Fault("status", status=500, times=None, match=f"number {i}?") for i in (2, 5)]
    with ScriptedServer(answering(lambda i: True), faults=broken) as server:
        first = api.run(str(data), server=server.base_url, retries=1, timeout=0.5)
        assert first.summary["infra_errors"]["k"] == 2
        server._armed.clear()  # the server is healthy again
        second = api.run(str(data), server=server.base_url, resume=first.run_id)
    assert second.run_id == first.run_id
    # Samples from both sessions: read back from the store, not only the two answered now.
    assert second.summary["recorded"] == 12 and second.summary["infra_errors"]["k"] == 0
    assert second.summary["accuracy"]["k"] == 12
    assert second.summary == {**second.summary, **_resummarized(second.run_id)}
