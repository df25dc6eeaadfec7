"""The generated smoke model, on its own and behind the real llama.cpp server (xllamacpp).

Greedy text differs between engines and builds, so the server tests assert structure, determinism
and lengths, never exact text.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("xllamacpp", reason="needs the 'serve' extra")
pytest.importorskip("gguf", reason="needs the 'serve' extra")

from gguf import GGUFReader

from benchlab.endpoints.managed import ServerProcess
from benchlab.endpoints.smoke_model import (
    SMOKE_CONTEXT,
    SMOKE_FORMAT_VERSION,
    SMOKE_MODEL_ID,
    default_smoke_model_path,
    write_smoke_model,
)

pytestmark = pytest.mark.llamacpp

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["location"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search_web",
        "description": "Search the web",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer briefly."}]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def field_value(reader: GGUFReader, key: str) -> Any:
    value = reader.fields[key]
    part = value.parts[value.data[0]]
    return bytes(part).decode() if value.types[0].name == "STRING" else part[0]


# -- the file -----------------------------------------------------------------------------------


def test_small_fast_and_deterministic(tmp_path: Path) -> None:
    started = time.perf_counter()
    first = write_smoke_model(tmp_path / "a.gguf")
    elapsed = time.perf_counter() - started
    again = write_smoke_model(tmp_path / "b.gguf")
    other = write_smoke_model(tmp_path / "c.gguf", seed=1)

    assert first.stat().st_size < 1_000_000
    assert elapsed < 1.0
    assert sha256(first) == sha256(again)
    assert sha256(first) != sha256(other)


def test_metadata_describes_a_chatml_llama_with_tool_markup(tmp_path: Path) -> None:
    reader = GGUFReader(write_smoke_model(tmp_path / "m.gguf"))
    tokens = [
        bytes(reader.fields["tokenizer.ggml.tokens"].parts[i]).decode()
        for i in reader.fields["tokenizer.ggml.tokens"].data
    ]
    template = field_value(reader, "tokenizer.chat_template")

    assert field_value(reader, "general.architecture") == "llama"
    assert field_value(reader, "general.name") == SMOKE_MODEL_ID
    assert field_value(reader, "llama.block_count") == 2
    assert field_value(reader, "llama.embedding_length") == 64
    assert field_value(reader, "llama.context_length") == SMOKE_CONTEXT
    assert field_value(reader, "tokenizer.ggml.model") == "gpt2"
    assert tokens[field_value(reader, "tokenizer.ggml.eos_token_id")] == "<|im_end|>"
    assert tokens[field_value(reader, "tokenizer.ggml.bos_token_id")] == "<|endoftext|>"
    assert {"<|im_start|>", "<tool_call>", "</tool_call>", "<tools>", "<tool_response>"} <= set(tokens)
    assert len(tokens) > 256
    assert "<tool_call>" in template and "<tools>" in template and "add_generation_prompt" in template


def test_default_path_is_written_once_and_reused(tmp_path: Path) -> None:
    path = default_smoke_model_path(tmp_path / "cache")
    stamp = path.stat().st_mtime_ns

    assert path.name == f"{SMOKE_MODEL_ID}-v{SMOKE_FORMAT_VERSION}.gguf"
    assert default_smoke_model_path(tmp_path / "cache") == path
    assert path.stat().st_mtime_ns == stamp
    assert sha256(path) == sha256(write_smoke_model(tmp_path / "fresh.gguf"))
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left


# -- behind the real server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    with ServerProcess(
        smoke=True, parallel=2, cache_dir=home / "cache", env={"BENCHLAB_HOME": str(home)}
    ) as running:
        yield running.base_url


def call(base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def chat(base_url: str, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {"model": SMOKE_MODEL_ID, "messages": messages, "temperature": 0, "seed": 7, "max_tokens": 48}
    reply: dict[str, Any] = call(base_url, "/v1/chat/completions", {**body, **extra})
    return reply


def stream_chunks(base_url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        base_url + "/v1/chat/completions",
        data=json.dumps({**body, "stream": True}).encode(),
        headers={"Content-Type": "application/json"},
    )
    chunks = []
    with urllib.request.urlopen(request, timeout=60) as response:
        for raw in response:
            line = raw.decode().strip()
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[len("data: ") :]))
    return chunks


def test_models_lists_the_alias(server: str) -> None:
    assert [model["id"] for model in call(server, "/v1/models")["data"]] == [SMOKE_MODEL_ID]


def test_text_answer_is_printable_deterministic_and_ends(server: str) -> None:
    first = chat(server, QUESTION)
    second = chat(server, QUESTION)
    text = first["choices"][0]["message"]["content"]

    assert text and text.isprintable()
    assert text == second["choices"][0]["message"]["content"]
    assert 0 < first["usage"]["completion_tokens"] <= 48
    long = chat(server, QUESTION, max_tokens=200)
    assert long["choices"][0]["finish_reason"] == "stop"  # it ends on its own, well before the limit
    assert long["usage"]["completion_tokens"] < 120


def test_max_tokens_is_respected(server: str) -> None:
    reply = chat(server, QUESTION, max_tokens=5)
    assert reply["usage"]["completion_tokens"] == 5
    assert reply["choices"][0]["finish_reason"] == "length"


def test_different_prompts_get_different_answers(server: str) -> None:
    answers = {
        chat(server, [{"role": "user", "content": f"Question {n}: pick one.\nA. x\nB. y\nC. z\nD. w"}])[
            "choices"
        ][0]["message"]["content"]
        for n in range(6)
    }
    assert len(answers) > 1


def test_streaming_with_usage_and_timings(server: str) -> None:
    body = {"messages": QUESTION, "temperature": 0, "seed": 7, "max_tokens": 48}
    chunks = stream_chunks(server, {**body, "stream_options": {"include_usage": True}})
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    usage = [c["usage"] for c in chunks if c.get("usage")]

    assert text == chat(server, QUESTION)["choices"][0]["message"]["content"]
    assert usage and usage[-1]["completion_tokens"] > 0 and usage[-1]["prompt_tokens"] > 0
    assert any("timings" in c for c in chunks)


def test_timings_in_a_plain_reply(server: str) -> None:
    timings = chat(server, QUESTION)["timings"]
    assert timings["predicted_n"] > 0 and timings["prompt_n"] > 0


def test_offered_tools_get_a_parseable_call(server: str) -> None:
    offered = [WEATHER, SEARCH]
    names = {tool["function"]["name"] for tool in offered}
    reply = chat(
        server, [{"role": "user", "content": "What is the weather in Paris?"}], tools=offered, max_tokens=96
    )
    again = chat(
        server, [{"role": "user", "content": "What is the weather in Paris?"}], tools=offered, max_tokens=96
    )
    choice = reply["choices"][0]
    calls = choice["message"]["tool_calls"]

    assert choice["finish_reason"] == "tool_calls"
    assert len(calls) == 1 and calls[0]["function"]["name"] in names
    assert isinstance(json.loads(calls[0]["function"]["arguments"]), dict)
    assert [c["function"] for c in again["choices"][0]["message"]["tool_calls"]] == [calls[0]["function"]]


def test_tool_call_streams(server: str) -> None:
    body = {
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
        "tools": [WEATHER],
        "temperature": 0,
    }
    chunks = stream_chunks(server, {**body, "max_tokens": 96})
    deltas = [d for c in chunks if c.get("choices") for d in c["choices"][0]["delta"].get("tool_calls") or []]
    finish = [
        c["choices"][0]["finish_reason"]
        for c in chunks
        if c.get("choices") and c["choices"][0]["finish_reason"]
    ]

    assert deltas and deltas[0]["function"]["name"] == "get_weather"
    assert json.loads("".join(d["function"].get("arguments") or "" for d in deltas)) is not None
    assert finish == ["tool_calls"]


def test_native_call_follows_the_template_format(server: str) -> None:
    """Without llama.cpp's tool grammar (raw completion of the templated prompt) the model still writes
    the whole call itself, naming the first tool."""
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    prompt = call(server, "/apply-template", {"messages": messages, "tools": [WEATHER, SEARCH]})["prompt"]
    text = call(server, "/completion", {"prompt": prompt, "temperature": 0, "n_predict": 64})["content"]

    assert text.startswith("<tool_call>\n") and text.rstrip().endswith("</tool_call>")
    payload = json.loads(text.removeprefix("<tool_call>\n").rstrip().removesuffix("</tool_call>"))
    assert payload["name"] == "get_weather" and isinstance(payload["arguments"], dict)


def test_first_tool_name_sits_where_the_circuit_expects_it(server: str) -> None:
    """The copy circuit assumes the first tool name starts exactly 6 tokens after `<tools>`."""
    prompt = call(server, "/apply-template", {"messages": QUESTION, "tools": [WEATHER]})["prompt"]
    pieces = [
        t["piece"]
        for t in call(server, "/tokenize", {"content": prompt, "add_special": True, "with_pieces": True})[
            "tokens"
        ]
    ]
    start = pieces.index("<tools>") + 6
    assert "".join(pieces[start : start + 11]) == "get_weather"
    assert pieces[start - 4 : start] == ['{"', "name", '":', ' "']


def test_a_tool_result_gets_a_text_answer(server: str) -> None:
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call-1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps({"location": "Paris"})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call-1", "content": json.dumps({"temperature_c": 21})},
    ]
    reply = chat(server, messages, tools=[WEATHER, SEARCH], max_tokens=96)
    message = reply["choices"][0]["message"]

    assert not message.get("tool_calls")
    assert message["content"] and message["content"].isprintable()
    assert reply["choices"][0]["finish_reason"] == "stop"
