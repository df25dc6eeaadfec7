"""The scripted test server: endpoints, streaming format, pacing, slots and every fault kind."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest

from benchlab.testing.scripted_server import Fault, Pacing, Reply, ScriptedServer, by_substring

QUESTION = {"messages": [{"role": "user", "content": "What is 2 + 2? Answer with a letter."}]}


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, None


async def _post(
    server: ScriptedServer, body: dict[str, Any], deadline: float = 5.0, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=deadline)) as session,
        session.post(f"{server.v1_url}/chat/completions", json=body, headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.read()


def _events(raw: bytes) -> list[str]:
    """The data payloads of an SSE body, in order."""
    return [block[len("data: ") :] for block in raw.decode().split("\n\n") if block.startswith("data: ")]


def _assemble(raw: bytes) -> dict[str, Any]:
    """Join a streamed reply back together the way a client does."""
    events = _events(raw)
    assert events[-1] == "[DONE]"
    out: dict[str, Any] = {"content": "", "reasoning": "", "calls": {}, "finish": None, "usage": None}
    for event in events[:-1]:
        chunk = json.loads(event)
        if chunk.get("usage"):
            out["usage"] = chunk["usage"]
        for choice in chunk["choices"]:
            delta = choice["delta"]
            out["content"] += delta.get("content") or ""
            out["reasoning"] += delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls", []):
                slot = out["calls"].setdefault(call["index"], {"name": "", "arguments": "", "id": None})
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] += call.get("function", {}).get("name", "")
                slot["arguments"] += call.get("function", {}).get("arguments", "")
            out["finish"] = choice["finish_reason"] or out["finish"]
    return out


# ----------------------------------------------------------------------------- endpoints


def test_models_health_and_props_follow_the_server_kind() -> None:
    with ScriptedServer(model="tiny-q4", server_kind="llama.cpp", slots=3) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and not server.base_url.endswith("/v1")
        status, models = _get(server.v1_url + "/models")
        assert status == 200 and models["data"][0]["id"] == "tiny-q4"
        assert models["data"][0]["owned_by"] == "llamacpp"
        assert _get(server.base_url + "/health") == (200, {"status": "ok"})
        status, props = _get(server.base_url + "/props")
        assert status == 200 and props["total_slots"] == 3 and props["build_info"]
    with ScriptedServer() as server:
        assert _get(server.base_url + "/props")[0] == 404
        assert _get(server.base_url + "/models")[0] == 404  # only llama.cpp serves un-prefixed aliases
    with ScriptedServer(server_kind="vllm", server_version="0.6.3") as server:
        assert _get(server.base_url + "/version") == (200, {"version": "0.6.3"})


async def test_plain_reply_records_requests_and_headers() -> None:
    async with ScriptedServer(Reply.text("The answer is D")) as server:
        status, _, raw = await _post(server, {**QUESTION, "temperature": 0}, Authorization="Bearer sk-x")
    body = json.loads(raw)
    assert status == 200
    assert body["object"] == "chat.completion" and body["model"] == "scripted-model"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "The answer is D"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 4 and body["usage"]["prompt_tokens"] >= 1
    assert server.requests == [{**QUESTION, "temperature": 0}]
    assert server.headers[0]["authorization"] == "Bearer sk-x"
    assert not server.running


async def test_responder_sees_the_request_and_may_be_async() -> None:
    async def respond(body: dict[str, Any]) -> str:
        await asyncio.sleep(0)
        return "B" if "2 + 2" in body["messages"][-1]["content"] else "A"

    async with ScriptedServer(respond) as server:
        assert json.loads((await _post(server, QUESTION))[2])["choices"][0]["message"]["content"] == "B"
    table = by_substring({"capital": "Paris", "2 + 2": Reply.text("4")}, default="?")
    async with ScriptedServer(table) as server:
        assert json.loads((await _post(server, QUESTION))[2])["choices"][0]["message"]["content"] == "4"


async def test_a_failing_responder_is_a_500_and_is_kept() -> None:
    def respond(body: dict[str, Any]) -> Reply:
        raise KeyError("no such question")

    async with ScriptedServer(respond) as server:
        status, _, raw = await _post(server, QUESTION)
    assert status == 500 and "no such question" in json.loads(raw)["error"]["message"]
    assert isinstance(server.errors[0], KeyError)


async def test_api_key_and_context_length_rejections() -> None:
    async with ScriptedServer(api_key="sk-right", context_length=5) as server:
        assert (await _post(server, QUESTION, Authorization="Bearer sk-wrong"))[0] == 401
        status, _, raw = await _post(server, QUESTION, Authorization="Bearer sk-right")
    assert status == 400 and json.loads(raw)["error"]["type"] == "exceed_context_size_error"
    assert server.counts == {"unauthorized": 1, "exceed_context": 1}


# ----------------------------------------------------------------------------- streaming


async def test_stream_carries_reasoning_then_content_then_tool_calls() -> None:
    reply = Reply(
        content="Calling the tool now.",
        reasoning="The user wants weather",
        tool_calls=[{"name": "get_weather", "arguments": {"city": "New York", "unit": "C"}}],
        timings={"predicted_per_second": 42.0},
    )
    body = {**QUESTION, "stream": True, "stream_options": {"include_usage": True}}
    async with ScriptedServer(reply) as server:
        status, headers, raw = await _post(server, body)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = _events(raw)
    assert json.loads(events[0])["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    kinds = [next(iter(json.loads(e)["choices"][0]["delta"]), None) for e in events[1:-3]]
    assert kinds == sorted(kinds, key=["reasoning_content", "content", "tool_calls"].index)
    usage_chunk = json.loads(events[-2])
    assert usage_chunk["choices"] == [] and usage_chunk["timings"] == {"predicted_per_second": 42.0}
    out = _assemble(raw)
    assert out["content"] == reply.content and out["reasoning"] == reply.reasoning
    call = out["calls"][0]
    assert call["name"] == "get_weather" and call["id"].startswith("call_")
    assert json.loads(call["arguments"]) == {"city": "New York", "unit": "C"}
    assert out["finish"] == "tool_calls"
    assert out["usage"]["completion_tokens"] == 4 + 4 + (1 + 5)
    assert out["usage"]["completion_tokens_details"] == {"reasoning_tokens": 4}


async def test_stream_without_usage_request_and_with_grouped_tokens() -> None:
    pacing = Pacing(tokens_per_chunk=3, role_chunk=False)
    async with ScriptedServer(Reply.text("one two three four five"), pacing=pacing) as server:
        _, _, raw = await _post(server, {**QUESTION, "stream": True})
    events = _events(raw)
    first = json.loads(events[0])["choices"][0]["delta"]
    assert first == {"role": "assistant", "content": "one two three "}
    assert json.loads(events[1])["choices"][0]["delta"] == {"content": "four five"}
    assert _assemble(raw)["usage"] is None and len(events) == 4  # 2 content, finish, [DONE]


async def test_max_tokens_cuts_the_reply_with_finish_reason_length() -> None:
    async with ScriptedServer(Reply.text("a b c d e f")) as server:
        body = json.loads((await _post(server, {**QUESTION, "max_tokens": 2}))[2])
        streamed = _assemble((await _post(server, {**QUESTION, "max_tokens": 2, "stream": True}))[2])
    assert body["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "a b "},
        "finish_reason": "length",
    }
    assert (streamed["content"], streamed["finish"]) == ("a b ", "length")


async def test_ttft_delays_the_first_content_chunk_but_not_the_role_chunk() -> None:
    async with (
        ScriptedServer(Reply.text("x y"), pacing=Pacing(ttft=0.2, gap=0.05)) as server,
        aiohttp.ClientSession() as session,
    ):
        sent = time.monotonic()
        body = {**QUESTION, "stream": True}
        async with session.post(f"{server.v1_url}/chat/completions", json=body) as response:
            arrivals = []
            async for line in response.content:
                if line.startswith(b"data: "):
                    arrivals.append((time.monotonic() - sent, line))
    # The role chunk is flushed at once; only then does the server wait out the ttft.
    assert b'"role"' in arrivals[0][1] and b'"content": "x ' in arrivals[1][1]
    assert arrivals[1][0] - arrivals[0][0] >= 0.2
    assert arrivals[2][0] - arrivals[1][0] >= 0.04


# ----------------------------------------------------------------------------- slots


async def test_slots_limit_concurrency() -> None:
    pacing = Pacing(latency=0.2)
    async with ScriptedServer(pacing=pacing, slots=2) as server:
        start = time.monotonic()
        await asyncio.gather(*(_post(server, QUESTION) for _ in range(4)))
        limited = time.monotonic() - start
    async with ScriptedServer(pacing=pacing) as server:
        start = time.monotonic()
        await asyncio.gather(*(_post(server, QUESTION) for _ in range(4)))
        unlimited = time.monotonic() - start
    assert limited >= 0.4
    assert unlimited < 0.4


# ----------------------------------------------------------------------------- faults


async def test_status_fault_with_retry_after_fires_times_then_answers() -> None:
    faults = [
        Fault("status", status=429, retry_after=2, times=2),
        Fault("status", status=503, retry_after=0.05),
    ]
    async with ScriptedServer(Reply.text("A"), faults=faults) as server:
        results = [await _post(server, QUESTION) for _ in range(4)]
    assert [status for status, _, _ in results] == [429, 429, 503, 200]
    assert results[0][1]["Retry-After"] == "2" and results[2][1]["Retry-After"] == "0.05"
    assert json.loads(results[0][2])["error"]["type"] == "rate_limit_error"
    assert server.counts["status"] == 3 and len(server.requests) == 4


async def test_faults_match_on_the_last_user_message() -> None:
    fault = Fault("status", status=500, match="capital", times=None)
    other = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}
    async with ScriptedServer(faults=[fault]) as server:
        assert (await _post(server, QUESTION))[0] == 200
        assert (await _post(server, other))[0] == 500
        assert (await _post(server, other))[0] == 500  # times=None: every time
        assert (await _post(server, QUESTION))[0] == 200
        server.reset()
        assert server.requests == [] and not server.counts


async def test_responder_may_return_a_fault() -> None:
    def respond(body: dict[str, Any]) -> Reply | Fault:
        return Fault("status", status=400, message="bad seed") if body.get("seed") == 13 else Reply.text("A")

    async with ScriptedServer(respond) as server:
        status, _, raw = await _post(server, {**QUESTION, "seed": 13})
        assert (status, json.loads(raw)["error"]["message"]) == (400, "bad seed")
        assert (await _post(server, {**QUESTION, "seed": 1}))[0] == 200


async def test_disconnect_closes_without_a_response() -> None:
    async with ScriptedServer(faults=[Fault("disconnect")]) as server:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await _post(server, QUESTION)
        assert (await _post(server, QUESTION))[0] == 200
    assert server.counts["disconnect"] == 1


async def test_cut_stream_ends_without_done() -> None:
    async with (
        ScriptedServer(Reply.text("one two three four"), faults=[Fault("cut", times=2)]) as server,
        aiohttp.ClientSession() as session,
    ):
        received = b""
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.post(
                f"{server.v1_url}/chat/completions", json={**QUESTION, "stream": True}
            ) as r:
                async for chunk in r.content.iter_any():
                    received += chunk
        assert len(_events(received)) == 2 and b"[DONE]" not in received
        with pytest.raises(aiohttp.ClientPayloadError):  # non-streamed: half of the promised body
            await _post(server, QUESTION)
        assert (
            _assemble((await _post(server, {**QUESTION, "stream": True}))[2])["content"]
            == "one two three four"
        )


async def test_malformed_bodies() -> None:
    async with ScriptedServer(faults=[Fault("malformed", times=2)]) as server:
        status, _, raw = await _post(server, QUESTION)
        assert status == 200
        with pytest.raises(ValueError):
            json.loads(raw)
        events = _events((await _post(server, {**QUESTION, "stream": True}))[2])
        json.loads(events[0])
        with pytest.raises(ValueError):
            json.loads(events[1])
        assert events[-1] == "[DONE]"


async def test_stream_error_after_the_headers() -> None:
    async with ScriptedServer(faults=[Fault("stream_error", times=2, message="slot crashed")]) as server:
        events = _events((await _post(server, {**QUESTION, "stream": True}))[2])
        assert json.loads(events[-1])["error"]["message"] == "slot crashed" and "[DONE]" not in events
        status, _, raw = await _post(server, QUESTION)
        assert status == 200 and json.loads(raw)["error"]["message"] == "slot crashed"


async def test_stall_times_out_the_client_and_stop_releases_it() -> None:
    server = await ScriptedServer(faults=[Fault("stall", times=None)]).__aenter__()
    try:
        with pytest.raises(asyncio.TimeoutError):
            await _post(server, QUESTION, deadline=0.2)
        # A request still stalled when the server stops is dropped at once.
        pending = asyncio.ensure_future(_post(server, {**QUESTION, "stream": True}, deadline=10))
        await asyncio.sleep(0.1)
    finally:
        start = time.monotonic()
        await server.__aexit__(None, None, None)
    assert time.monotonic() - start < 1.0
    with pytest.raises(aiohttp.ClientError):
        await pending
    assert server.counts["stall"] == 2


async def test_short_stall_mid_stream_then_a_normal_reply() -> None:
    fault = Fault("stall", seconds=0.15, after_chunks=1)
    async with ScriptedServer(Reply.text("fine"), faults=[fault]) as server:
        start = time.monotonic()
        out = _assemble((await _post(server, {**QUESTION, "stream": True}))[2])
    assert out["content"] == "fine" and time.monotonic() - start >= 0.15


def test_stop_then_start_on_the_same_port() -> None:
    server = ScriptedServer(Reply.text("A")).start()
    port = server.port
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.base_url + "/health", timeout=2)
    server.start()
    try:
        assert server.port == port and _get(server.base_url + "/health")[0] == 200
    finally:
        server.stop()
    assert not any(t.name == "scripted-server" for t in threading.enumerate())


def test_fault_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")  # type: ignore[arg-type]
