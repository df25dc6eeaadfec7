"""The OpenAI-compatible client against the scripted server: parsing, timings, retries, errors."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from pydantic import SecretStr

from benchlab.endpoints.client import ChatClient, RetryPolicy
from benchlab.endpoints.detect import detect_server, is_local_url
from benchlab.endpoints.errors import AuthError, InfraError, ModelNotFound, RejectedError, ServerUnreachable
from benchlab.testing.scripted_server import Fault, Pacing, Reply, ScriptedServer
from benchlab.types import Endpoint, GenerationParams, ServerKind

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
PARAMS = GenerationParams(max_tokens=64)
ASK = [{"role": "user", "content": "hello"}]


def client_for(server: ScriptedServer, **kwargs: object) -> ChatClient:
    endpoint = Endpoint(base_url=server.base_url, model=server.model, api_key=kwargs.pop("api_key", None))  # type: ignore[arg-type]
    return ChatClient(endpoint, retry=kwargs.pop("retry", FAST_RETRY), **kwargs)  # type: ignore[arg-type]


async def test_stream_splits_reasoning_field_and_counts_usage() -> None:
    reply = Reply.text("Answer: C is right", reasoning="first think about it")
    with ScriptedServer(reply, pacing=Pacing(ttft=0.05, gap=0.01)) as server:
        async with client_for(server) as client:
            completion = await client.chat(ASK, PARAMS)
    assert completion.content == "Answer: C is right"
    assert completion.reasoning == "first think about it"
    assert completion.finish_reason == "stop"
    assert not completion.usage.approximate
    assert completion.usage.completion_tokens == 8  # words, as the scripted server counts
    assert completion.timings.ttft is not None and completion.timings.ttft >= 0.05
    # the answer starts after the reasoning words: 4 reasoning chunks, 10 ms apart
    assert (
        completion.timings.ttfot is not None and completion.timings.ttfot >= completion.timings.ttft + 0.035
    )
    body = server.requests[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.0 and body["seed"] == 1234 and body["max_tokens"] == 64


async def test_inline_think_blocks_are_reasoning() -> None:
    with ScriptedServer(Reply.text("<think> the answer is A </think> Answer: B")) as server:
        async with client_for(server) as client:
            completion = await client.chat(ASK, PARAMS)
    assert completion.content == "Answer: B"
    assert completion.reasoning == "the answer is A"


async def test_non_streamed_mode_parses_the_body() -> None:
    with ScriptedServer(Reply.text("plain answer", reasoning="why")) as server:
        async with client_for(server, stream=False) as client:
            completion = await client.chat(ASK, PARAMS)
    assert (completion.content, completion.reasoning) == ("plain answer", "why")
    assert "stream_options" not in server.requests[0]
    assert completion.timings.ttft is None and completion.timings.e2e is not None


async def test_tool_call_deltas_are_stitched() -> None:
    reply = Reply.tool("get_weather", {"city": "Berlin", "unit": "celsius"})
    with ScriptedServer(reply) as server:
        async with client_for(server) as client:
            completion = await client.chat(ASK, PARAMS)
    assert len(completion.tool_calls) == 1
    call = completion.tool_calls[0]["function"]
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Berlin", "unit": "celsius"}


async def test_llamacpp_timings_are_kept() -> None:
    timings = {"prompt_n": 12, "predicted_n": 3, "predicted_per_second": 50.0}
    with ScriptedServer(Reply(content="one two three", timings=timings)) as server:
        async with client_for(server) as client:
            completion = await client.chat(ASK, PARAMS)
    assert completion.server_timings == timings


async def test_429_honours_retry_after() -> None:
    with ScriptedServer("ok", faults=[Fault("status", status=429, retry_after=0.3)]) as server:
        async with client_for(server) as client:
            started = time.perf_counter()
            completion = await client.chat(ASK, PARAMS)
            elapsed = time.perf_counter() - started
    assert completion.content == "ok" and completion.attempts == 2
    assert len(completion.retry_reasons) == 1 and "HTTP 429" in completion.retry_reasons[0]
    assert elapsed >= 0.3  # the backoff alone would have waited at most 0.01 s
    assert server.counts["status"] == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=500, times=2),
        Fault("status", status=503, times=1),
        Fault("disconnect", times=2),
        Fault("cut", times=1),
        Fault("malformed", times=1),
    ],
    ids=["500x2", "503", "disconnect", "cut", "malformed"],
)
async def test_transport_faults_are_retried(fault: Fault) -> None:
    with ScriptedServer("recovered", faults=[fault]) as server:
        async with client_for(server) as client:
            completion = await client.chat(ASK, PARAMS)
    assert completion.content == "recovered"
    assert completion.attempts == (fault.times or 0) + 1


async def test_persistent_fault_raises_infra_error_after_all_attempts() -> None:
    with ScriptedServer("never", faults=[Fault("cut", times=None)]) as server:
        async with client_for(server) as client:
            with pytest.raises(InfraError, match="stream") as caught:
                await client.chat(ASK, PARAMS)
    assert caught.value.attempts == 3
    assert server.request_count == 3


async def test_stall_past_timeout_is_an_infra_error() -> None:
    with ScriptedServer("late", faults=[Fault("stall", times=1)]) as server:
        async with client_for(server, timeout=0.3) as client:
            started = time.perf_counter()
            completion = await client.chat(ASK, PARAMS)
    assert completion.content == "late" and completion.attempts == 2
    assert 0.3 <= time.perf_counter() - started < 3


async def test_stream_error_after_200_is_retried() -> None:
    with ScriptedServer("fine", faults=[Fault("stream_error", times=1)]) as server:
        async with client_for(server) as client:
            completion = await client.chat(ASK, PARAMS)
    assert completion.content == "fine"


async def test_context_overflow_is_rejected_without_retry() -> None:
    long_prompt = [{"role": "user", "content": "word " * 400}]
    with ScriptedServer("x", context_length=50) as server:
        async with client_for(server) as client:
            with pytest.raises(RejectedError, match="context"):
                await client.chat(long_prompt, PARAMS)
    assert server.request_count == 1


async def test_api_key_is_sent_but_never_shown() -> None:
    secret = "sk-test-very-secret"
    with ScriptedServer("ok", api_key=secret) as server:
        async with client_for(server, api_key=SecretStr(secret)) as client:
            await client.chat(ASK, PARAMS)
            assert secret not in client.endpoint.model_dump_json()
            assert secret not in repr(client.endpoint)
        assert server.headers[0]["authorization"] == f"Bearer {secret}"
        async with client_for(server, api_key=SecretStr("sk-wrong-key")) as client:
            with pytest.raises(AuthError) as caught:
                await client.chat(ASK, PARAMS)
    assert "sk-wrong-key" not in str(caught.value)
    assert "BENCHLAB_API_KEY" in str(caught.value)


async def test_unknown_model_lists_available_ids() -> None:
    with ScriptedServer("ok", model="alpha-7b") as server:
        async with client_for(server) as client:
            assert (await client.resolve_model(None))[0] == "alpha-7b"
            with pytest.raises(ModelNotFound, match="alpha-7b"):
                await client.resolve_model("beta-3b")


async def test_unreachable_server_points_to_doctor() -> None:
    server = ScriptedServer("ok").start()
    server.stop()  # the port is now closed: connections are refused
    async with client_for(server) as client:
        with pytest.raises(ServerUnreachable, match="benchlab doctor"):
            await client.models()


async def test_refused_connections_are_retried_until_the_server_returns() -> None:
    server = ScriptedServer("back again").start()
    server.stop()
    restart = threading.Timer(0.4, server.start)
    restart.start()
    try:
        retry = RetryPolicy(attempts=6, base_delay=0.1, max_delay=0.4)
        async with client_for(server, retry=retry) as client:
            completion = await client.chat(ASK, PARAMS)
        assert completion.content == "back again" and completion.attempts > 1
    finally:
        restart.join()
        server.stop()


@pytest.mark.parametrize(
    ("kind", "expected", "slots"),
    [
        ("llama.cpp", ServerKind.LLAMACPP, 3),
        ("vllm", ServerKind.VLLM, None),
        ("ollama", ServerKind.OLLAMA, None),
    ],
)
async def test_server_kind_detection(kind: str, expected: ServerKind, slots: int | None) -> None:
    with ScriptedServer("ok", server_kind=kind, slots=slots) as server:  # type: ignore[arg-type]
        async with client_for(server) as client:
            info = await detect_server(client)
    assert info.kind is expected
    assert info.version
    if slots:
        assert info.slots == slots


async def test_generic_local_server_is_unknown() -> None:
    with ScriptedServer("ok") as server:
        async with client_for(server) as client:
            assert (await detect_server(client)).kind is ServerKind.UNKNOWN


def test_local_and_remote_urls() -> None:
    assert is_local_url("http://127.0.0.1:8080")
    assert is_local_url("http://localhost:1234/v1")
    assert is_local_url("http://192.168.1.20:8000")
    assert not is_local_url("https://api.openai.com/v1")


def test_endpoint_roots() -> None:
    assert Endpoint(base_url="http://h:1/v1/").api_root == "http://h:1/v1"
    assert Endpoint(base_url="http://h:1").api_root == "http://h:1/v1"
    assert Endpoint(base_url="http://h:1/v1").server_root == "http://h:1"


async def test_many_concurrent_requests_share_one_pool() -> None:
    with ScriptedServer("ok", slots=8) as server:
        async with client_for(server) as client:
            results = await asyncio.gather(*(client.chat(ASK, PARAMS) for _ in range(64)))
    assert all(r.content == "ok" for r in results)
    assert server.request_count == 64
