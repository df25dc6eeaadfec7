"""Per-request speed figures against a scripted server with known pacing: every figure is asserted
to within clock tolerance, plus the refused-field fallback and the server's own figures."""

from __future__ import annotations

import pytest

from benchlab.endpoints.client import ChatClient
from benchlab.endpoints.errors import RejectedError
from benchlab.speed import server_truth
from benchlab.testing.scripted_server import Pacing, Reply, ScriptedServer
from benchlab.types import Endpoint, GenerationParams, ServerKind

TOLERANCE = 0.03  # seconds: scheduling jitter on a shared, loaded machine
MESSAGES = [{"role": "user", "content": "go"}]
REASONING = "r1 r2 r3 r4 r5 r6"  # 6 tokens: 2 chunks of 3
CONTENT = "c1 c2 c3 c4 c5 c6 c7 c8 c9"  # 9 tokens: 3 chunks of 3
PACING = Pacing(ttft=0.2, gap=0.05, tokens_per_chunk=3, role_chunk=True)


async def chat(server: ScriptedServer, params: GenerationParams | None = None, **client_args: object):
    async with ChatClient(Endpoint(base_url=server.v1_url, model="scripted-model"), **client_args) as client:
        completion = await client.chat(MESSAGES, params or GenerationParams())
        return completion, client


async def test_every_figure_of_a_paced_stream() -> None:
    with ScriptedServer(Reply.text(CONTENT, reasoning=REASONING), pacing=PACING) as server:
        tries = [(await chat(server))[0] for _ in range(3)]
    # The server never sends early, so the paced times are lower bounds on every try...
    for each in tries:
        assert each.timings.ttft is not None and each.timings.ttft >= 0.2
        assert each.timings.e2e is not None and each.timings.e2e >= 0.4
    # ...and the least disturbed try (a busy machine can stall any one of them) meets them exactly.
    completion = min(tries, key=lambda each: each.timings.e2e or 0.0)
    timings, usage = completion.timings, completion.usage
    # The role-only chunk arrives at once and must not count: the first reasoning chunk comes at ttft.
    assert timings.ttft == pytest.approx(0.2, abs=TOLERANCE)
    # Chunks at 0.20, 0.25 (reasoning), 0.30, 0.35, 0.40 (content): the first answer token at 0.30.
    assert timings.ttfot == pytest.approx(0.30, abs=TOLERANCE)
    assert timings.decode_span == pytest.approx(0.20, abs=TOLERANCE)
    assert timings.e2e == pytest.approx(0.40, abs=TOLERANCE)
    assert timings.chunks == 5
    assert timings.reasoning_chunks == 2
    assert timings.inter_chunk is not None
    for key in ("p50", "p90", "p99", "max"):
        assert timings.inter_chunk[key] == pytest.approx(0.05, abs=TOLERANCE)
    assert usage.completion_tokens == 15 and usage.reasoning_tokens == 6 and not usage.approximate
    # (15 - 1) tokens over the measured span: exactly the definition, and near 14 / 0.2 = 70 tok/s.
    assert timings.decode_rate == pytest.approx(14 / timings.decode_span, rel=1e-9)
    assert timings.decode_rate == pytest.approx(70, rel=0.15)
    assert completion.content == CONTENT and completion.reasoning == REASONING


async def test_a_server_without_usage_gives_flagged_chunk_counts() -> None:
    with ScriptedServer(
        Reply.text(CONTENT, reasoning=REASONING), pacing=PACING, refuse_fields=["stream_options"]
    ) as server:
        completion, client = await chat(server)
        assert server.counts["refused_field"] == 1
        assert "stream_options" not in server.requests[-1]
    usage = completion.usage
    assert usage.approximate
    assert usage.completion_tokens == 5  # chunks, not tokens: a lower bound, flagged
    assert usage.reasoning_tokens == 2
    assert "stream_options" in client.dropped
    assert any("stream_options" in note for note in client.notes)


async def test_refused_fields_are_dropped_once_and_never_sent_again() -> None:
    params = GenerationParams(max_tokens=4, extra_body={"ignore_eos": True})
    with ScriptedServer(Reply.text(CONTENT), refuse_fields=["ignore_eos"]) as server:
        async with ChatClient(Endpoint(base_url=server.v1_url, model="scripted-model")) as client:
            first = await client.chat(MESSAGES, params)
            second = await client.chat(MESSAGES, params)
        assert server.counts["refused_field"] == 1  # the second request left it out from the start
        assert [("ignore_eos" in body) for body in server.requests] == [True, False, False]
    assert first.attempts == 1 and second.attempts == 1  # a dropped field is not a transport retry
    assert first.usage.completion_tokens == 4
    assert list(client.dropped) == ["ignore_eos"]


async def test_a_refusal_that_names_no_droppable_field_stays_a_rejection() -> None:
    with ScriptedServer(Reply.text(CONTENT), refuse_fields=["temperature"]) as server:
        with pytest.raises(RejectedError, match="temperature"):
            await chat(server)
        assert server.counts["refused_field"] == 1


async def test_a_cloud_endpoint_never_gets_ignore_eos() -> None:
    with ScriptedServer(Reply.text(CONTENT)) as server:
        endpoint = Endpoint(base_url=server.v1_url, model="scripted-model", server_kind=ServerKind.CLOUD)
        async with ChatClient(endpoint) as client:
            await client.chat(MESSAGES, GenerationParams(extra_body={"ignore_eos": True}))
        assert "ignore_eos" not in server.requests[0]
        assert "ignore_eos" in client.dropped


LLAMACPP_TIMINGS = {
    "cache_n": 3,
    "prompt_n": 200,
    "prompt_ms": 100.0,
    "predicted_n": 41,
    "predicted_ms": 400.0,
    "predicted_per_second": 102.5,
}


async def test_llamacpp_timings_travel_with_the_completion() -> None:
    reply = Reply(content=CONTENT, timings=LLAMACPP_TIMINGS)
    with ScriptedServer(reply, server_kind="llama.cpp") as server:
        completion, _ = await chat(server)
    figures = server_truth.normalize(completion.server_timings)
    assert figures is not None
    assert figures["source"] == "llama.cpp timings"
    assert figures["prefill_rate"] == pytest.approx(2000.0)
    assert figures["decode_rate"] == pytest.approx(100.0)  # (41 - 1) tokens over 0.4 s: the client's span
    assert figures["reported_decode_rate"] == 102.5
    assert figures["cached_tokens"] == 3


def test_ollama_and_lmstudio_figures_are_normalized() -> None:
    ollama = server_truth.normalize(
        {
            "eval_count": 50,
            "eval_duration": 500_000_000,
            "prompt_eval_count": 300,
            "prompt_eval_duration": 150_000_000,
        }
    )
    assert ollama is not None
    assert ollama["decode_rate"] == pytest.approx(100.0)
    assert ollama["prefill_rate"] == pytest.approx(2000.0)
    assert ollama["prompt_ms"] == pytest.approx(150.0)
    lmstudio = server_truth.normalize({"tokens_per_second": 42.0, "time_to_first_token": 0.25})
    assert lmstudio is not None and lmstudio["decode_rate"] == 42.0 and lmstudio["prompt_ms"] == 250.0
    assert server_truth.normalize({"unrelated": 1}) is None
    assert server_truth.relative_gap(105.0, 100.0) == pytest.approx(0.05)


async def test_prometheus_counters_are_scraped_and_differenced() -> None:
    with ScriptedServer(Reply.text(CONTENT), server_kind="vllm") as server:
        async with ChatClient(Endpoint(base_url=server.v1_url, model="scripted-model")) as client:
            before = await server_truth.scrape(client.session, server.base_url)
            await client.chat(MESSAGES, GenerationParams())
            await client.chat(MESSAGES, GenerationParams())
            after = await server_truth.scrape(client.session, server.base_url)
    delta = server_truth.counter_delta(before, after)
    assert delta is not None
    assert delta["vllm:generation_tokens_total"] == 18.0  # two replies of nine words
    assert delta["vllm:request_success_total"] == 2.0


async def test_no_metrics_page_is_none() -> None:
    with ScriptedServer(Reply.text(CONTENT)) as server:
        async with ChatClient(Endpoint(base_url=server.v1_url)) as client:
            assert await server_truth.scrape(client.session, server.base_url) is None
