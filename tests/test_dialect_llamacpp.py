"""Prompt dialects against the real llama.cpp server (xllamacpp) serving the smoke model.

The smoke model is a null model: it copies the first tool's name out of a tools block into a
hermes-style call and answers in text once a tool result is in the prompt. So these tests assert
structure — what went on the wire, that the reply was read into OpenAI-shaped calls — not quality.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'")

from benchlab.endpoints.client import ChatClient
from benchlab.endpoints.dialects import with_dialect
from benchlab.endpoints.managed import ServerProcess, free_port
from benchlab.types import Completion, Endpoint, GenerationParams

pytestmark = pytest.mark.llamacpp

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Forecast for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PARAMS = GenerationParams(max_tokens=32)
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def smoke_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    with ServerProcess(smoke=True, port=free_port(), parallel=2, env={"BENCHLAB_HOME": str(home)}) as server:
        yield server.base_url


class Recording:
    """The real client's chat, noting what the dialect layer hands it."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.sent: list[dict[str, Any]] = []

    async def __call__(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Completion:
        self.sent.append({"messages": messages, "tools": tools})
        return await self.client.chat(messages, params, tools=tools, response_format=response_format)


def assert_openai_shaped(calls: list[dict[str, Any]]) -> None:
    for call in calls:
        assert call["type"] == "function" and call["id"].startswith("call_")
        assert isinstance(json.loads(call["function"]["arguments"]), dict)


async def test_hermes_loop_against_the_real_server(smoke_server: str, benchlab_home: Path) -> None:
    async with ChatClient(Endpoint(base_url=smoke_server)) as client:
        wire = Recording(client)
        chat = with_dialect(wire, "hermes")
        first = await chat(QUESTION, PARAMS, tools=[WEATHER])
        assert wire.sent[0]["tools"] is None  # no native `tools` field: the schema is in the prompt
        assert wire.sent[0]["messages"][0]["role"] == "system"
        assert '{"name": "get_weather"' in wire.sent[0]["messages"][0]["content"]
        assert first.tool_parse_error is None
        assert [c["function"]["name"] for c in first.tool_calls] == ["get_weather"]
        assert_openai_shaped(first.tool_calls)

        history = [
            *QUESTION,
            {"role": "assistant", "content": first.content, "tool_calls": first.tool_calls},
            {
                "role": "tool",
                "tool_call_id": first.tool_calls[0]["id"],
                "content": '{"sky": "clear", "high_c": 21}',
            },
        ]
        second = await chat(history, PARAMS, tools=[WEATHER])
    rendered = wire.sent[1]["messages"]
    assert [m["role"] for m in rendered] == ["system", "user", "assistant", "user"]
    assert "<tool_call>" in rendered[2]["content"] and "<tool_response>" in rendered[3]["content"]
    assert second.tool_calls == []  # the smoke model answers in text once it has a result


async def test_qwen_reads_the_call_the_real_server_sends_back(smoke_server: str, benchlab_home: Path) -> None:
    async with ChatClient(Endpoint(base_url=smoke_server)) as client:
        wire = Recording(client)
        completion = await with_dialect(wire, "qwen")(QUESTION, PARAMS, tools=[WEATHER])
    assert wire.sent[0]["tools"] is None
    assert "<function=function_name>" in wire.sent[0]["messages"][0]["content"]
    # The smoke model only knows the JSON form; the qwen reader accepts it inside <tool_call>.
    assert completion.tool_parse_error is None
    assert [c["function"]["name"] for c in completion.tool_calls] == ["get_weather"]
    assert_openai_shaped(completion.tool_calls)
