"""Dialects end to end over HTTP: the real client against the scripted server.

The scripted model answers in dialect text. A two-turn tool loop runs through `with_dialect`: the
request must go out without `tools`, with the schema in the system prompt, and the second request
must carry the first turn's calls and the tool results in the dialect's text form.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from benchlab.endpoints.client import ChatClient, RetryPolicy
from benchlab.endpoints.dialects import with_dialect
from benchlab.endpoints.dialects.render import render_call
from benchlab.endpoints.doctor import probe
from benchlab.testing.scripted_server import Reply, ScriptedServer, message_text
from benchlab.types import Endpoint, GenerationParams

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Forecast for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
FORECASTS = {"Berlin": {"high_c": 14}, "Tokyo": {"high_c": 22}}
PARAMS = GenerationParams(max_tokens=256)
QUESTION = [{"role": "user", "content": "Which is warmer over the next 2 days, Berlin or Tokyo?"}]


def client_for(server: ScriptedServer) -> ChatClient:
    endpoint = Endpoint(base_url=server.base_url, model=server.model)
    return ChatClient(endpoint, retry=RetryPolicy(attempts=1))


def scripted_model(dialect: str) -> Any:
    """Calls the tool for both cities, then answers from the results it was sent."""

    def respond(body: dict[str, Any]) -> Reply:
        turns = [m for m in body["messages"] if m["role"] != "system"]
        transcript = "\n".join(message_text(m.get("content")) for m in turns)
        if "<tool_response>" not in transcript:
            calls = "\n".join(render_call(dialect, "get_weather", {"city": c, "days": 2}) for c in FORECASTS)
            thinking = "<think>I need both forecasts.</think>\n" if dialect == "pi" else ""
            return Reply.text(f"{thinking}Let me look both up.\n{calls}")
        warmer = "Tokyo" if '"high_c": 22' in transcript else "unknown"
        return Reply.text(f"{warmer} is warmer.")

    return respond


@pytest.mark.parametrize("dialect", ["hermes", "qwen", "pi"])
async def test_a_tool_loop_runs_over_a_prompt_dialect(dialect: str) -> None:
    with ScriptedServer(scripted_model(dialect)) as server:
        async with client_for(server) as client:
            chat = with_dialect(client.chat, dialect)
            first = await chat(QUESTION, PARAMS, tools=[WEATHER])
            assert first.tool_parse_error is None
            assert first.content == "Let me look both up."
            assert first.finish_reason == "tool_calls"
            assert [json.loads(c["function"]["arguments"]) for c in first.tool_calls] == [
                {"city": "Berlin", "days": 2},
                {"city": "Tokyo", "days": 2},
            ]
            if dialect == "pi":
                assert first.reasoning == "I need both forecasts."
            history = [
                *QUESTION,
                {"role": "assistant", "content": first.content, "tool_calls": first.tool_calls},
                *(
                    {
                        "role": "tool",
                        "tool_call_id": call["id"],
                        "content": json.dumps(FORECASTS[json.loads(call["function"]["arguments"])["city"]]),
                    }
                    for call in first.tool_calls
                ),
            ]
            second = await chat(history, PARAMS, tools=[WEATHER])
        requests = list(server.requests)

    assert second.content == "Tokyo is warmer."
    assert second.tool_calls == [] and second.tool_parse_error is None
    assert len(requests) == 2
    for body in requests:
        assert "tools" not in body
        assert body["stop"] == ["<tool_response>"]  # the model may not invent the tool's result
        assert body["messages"][0]["role"] == "system"
        assert '"name": "get_weather"' in body["messages"][0]["content"]
    wire = requests[1]["messages"]
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "user"]
    assert all(set(m) == {"role", "content"} for m in wire)  # nothing tool-shaped reaches the server
    assert wire[2]["content"].count("get_weather") == 2
    assert wire[3]["content"].count("<tool_response>") == 2
    assert [c["id"] for c in first.tool_calls] == ["call_0_0", "call_0_1"]


async def test_a_broken_call_is_a_recorded_error_not_an_exception() -> None:
    broken = '<tool_call>\n{"name": "get_weather", "arguments": {"city": Berlin}}\n</tool_call>'
    with ScriptedServer(Reply.text(broken)) as server:
        async with client_for(server) as client:
            completion = await with_dialect(client.chat, "hermes")(QUESTION, PARAMS, tools=[WEATHER])
    assert completion.tool_calls == []
    assert completion.tool_parse_error is not None and "not valid JSON" in completion.tool_parse_error


async def test_without_tools_a_prompt_dialect_leaves_the_reply_alone() -> None:
    text = '<tool_call>{"name": "get_weather", "arguments": {"city": "Berlin"}}</tool_call>'
    with ScriptedServer(Reply.text(text)) as server:
        async with client_for(server) as client:
            completion = await with_dialect(client.chat, "hermes")(QUESTION, PARAMS)
        body = server.requests[0]
    assert completion.content == text and completion.tool_calls == []
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert "stop" not in body


async def test_raw_sends_tools_natively_and_keeps_native_calls() -> None:
    with ScriptedServer(Reply.tool("get_weather", {"city": "Berlin"})) as server:
        async with client_for(server) as client:
            completion = await with_dialect(client.chat, "raw")(QUESTION, PARAMS, tools=[WEATHER])
        body = server.requests[0]
    assert body["tools"] == [WEATHER]
    assert body["messages"] == QUESTION
    assert "stop" not in body
    assert [json.loads(c["function"]["arguments"]) for c in completion.tool_calls] == [{"city": "Berlin"}]
    assert completion.tool_parse_error is None


async def test_raw_keeps_call_markup_the_server_did_not_parse_as_text() -> None:
    text = 'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Berlin"}}\n</tool_call>'
    with ScriptedServer(Reply.text(text)) as server:
        async with client_for(server) as client:
            completion = await with_dialect(client.chat, "raw")(QUESTION, PARAMS, tools=[WEATHER])
    assert completion.tool_calls == []
    assert completion.content == text
    assert completion.tool_parse_error is not None and "--dialect hermes" in completion.tool_parse_error


async def test_doctor_says_which_prompt_dialects_the_model_follows() -> None:
    def respond(body: dict[str, Any]) -> Reply:
        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
        if "<function=function_name>" in system:
            return Reply.text(
                "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>"
            )
        if "<think>" in system:
            return Reply.text(
                '<think>Paris.</think>\n<tool_call>{"name": "get_weather", "arguments": {city: Paris}}'
            )
        return Reply.text("It is probably mild in Paris.")

    with ScriptedServer(respond) as server:
        report = await probe(server.base_url, api_key=None)
    checks = {check.name: check for check in report.checks}
    dialects = checks["prompt dialects"]
    assert dialects.ok is True
    assert dialects.detail == "hermes: answered in text; qwen: called 'get_weather'; pi: unreadable call"


async def test_the_result_stop_joins_the_tasks_own_stops() -> None:
    with ScriptedServer(Reply.text("Fine.")) as server:
        async with client_for(server) as client:
            params = GenerationParams(max_tokens=16, stop=["END"])
            await with_dialect(client.chat, "qwen")(QUESTION, params, tools=[WEATHER])
        body = server.requests[0]
    assert body["stop"] == ["END", "<tool_response>"]
