"""The dialect readers against a table of model replies (tests/data/dialect_outputs.json).

Each case says which calls, which remaining prose and which parse error (a fragment of it, or none)
the reader must produce. Prompt-dialect cases run through `with_dialect` over a chat function that
plays the server, so the OpenAI shaping of the calls is checked too; raw cases check that a native
reply's text is never turned into calls.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchlab.endpoints.dialects import with_dialect
from benchlab.types import Completion, GenerationParams

TABLE = json.loads((Path(__file__).parent / "data" / "dialect_outputs.json").read_text())
TOOLS: list[dict[str, Any]] = TABLE["tools"]
CASES: list[dict[str, Any]] = TABLE["cases"]


def test_the_table_has_forty_cases_per_prompt_dialect() -> None:
    counts = Counter(case["dialect"] for case in CASES)
    assert all(counts[dialect] >= 40 for dialect in ("hermes", "qwen", "pi")), counts
    assert counts["raw"] >= 10
    for dialect in ("hermes", "qwen", "pi"):
        cases = [case for case in CASES if case["dialect"] == dialect]
        assert sum(1 for case in cases if case["error"]) >= 6, f"{dialect}: too few broken replies"
        assert sum(1 for case in cases if not case["calls"] and not case["error"]) >= 3, dialect
        assert sum(1 for case in cases if len(case["calls"]) >= 2) >= 3, dialect


def serving(content: str, reasoning: str = "") -> Any:
    """A chat function that answers like a server without tool support, recording what it got."""
    seen: dict[str, Any] = {}

    async def chat(
        messages: list[dict[str, Any]],
        params: GenerationParams,
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Completion:
        seen.update(messages=messages, tools=tools)
        return Completion(content=content, reasoning=reasoning, finish_reason="stop")

    chat.seen = seen  # type: ignore[attr-defined]
    return chat


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
async def test_reply_reads_as_expected(case: dict[str, Any]) -> None:
    server = serving(case["text"], case.get("reasoning_in", ""))
    chat = with_dialect(server, case["dialect"])
    completion = await chat([{"role": "user", "content": "Help me."}], GenerationParams(), tools=TOOLS)

    expected_calls = [(call["name"], call["arguments"]) for call in case["calls"]]
    got_calls = [
        (call["function"]["name"], json.loads(call["function"]["arguments"]))
        for call in completion.tool_calls
    ]
    assert got_calls == expected_calls
    assert completion.content == case["prose"]
    if case["error"] is None:
        assert completion.tool_parse_error is None
    else:
        assert completion.tool_parse_error is not None
        assert case["error"] in completion.tool_parse_error
    if case["dialect"] == "pi":
        assert completion.reasoning == case["reasoning"]
    if case["dialect"] == "raw":
        assert server.seen["tools"] == TOOLS  # raw hands tools to the server natively
    else:
        assert server.seen["tools"] is None


@pytest.mark.parametrize("case", [c for c in CASES if c["calls"]], ids=lambda c: c["id"])
async def test_calls_are_openai_shaped(case: dict[str, Any]) -> None:
    chat = with_dialect(serving(case["text"], case.get("reasoning_in", "")), case["dialect"])
    history = [{"role": "user", "content": "Go."}, {"role": "assistant", "content": "Working on it."}]
    completion = await chat(history, GenerationParams(), tools=TOOLS)
    for index, call in enumerate(completion.tool_calls):
        assert set(call) == {"id", "type", "function"}
        assert call["type"] == "function"
        assert call["id"] == f"call_1_{index}"  # one assistant turn before: unique within the conversation
        assert set(call["function"]) == {"name", "arguments"}
        assert isinstance(call["function"]["arguments"], str)
    assert completion.finish_reason == "tool_calls"
