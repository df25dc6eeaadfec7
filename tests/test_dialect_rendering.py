"""Rendering tools and tool-calling history for the prompt dialects, and reading it back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchlab.endpoints.dialects import DIALECTS, UnknownDialect, parse_reply, with_dialect
from benchlab.endpoints.dialects.render import render_call, render_messages, system_prompt
from benchlab.types import Completion, GenerationParams

PROMPT_DIALECTS = [d for d in DIALECTS if d != "raw"]
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
HISTORY: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Weather in Berlin and Tokyo for 2 days?"},
    {
        "role": "assistant",
        "content": "Checking both.",
        "tool_calls": [
            {
                "id": "a1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Berlin", "days": 2}'},
            },
            {
                "id": "a2",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Tokyo", "days": 2}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "a1", "content": '{"high_c": 14}'},
    {"role": "tool", "tool_call_id": "a2", "content": "rain, 19 C"},
]


@pytest.mark.parametrize("dialect", PROMPT_DIALECTS)
def test_tools_join_the_existing_system_message(dialect: str) -> None:
    rendered = render_messages(dialect, HISTORY, [WEATHER])
    system = rendered[0]
    assert system["role"] == "system"
    assert system["content"].startswith("You are a terse assistant.\n\n")
    assert "<tools>\n" + json.dumps(WEATHER["function"]) + "\n</tools>" in system["content"]
    assert sum(1 for message in rendered if message["role"] == "system") == 1


@pytest.mark.parametrize("dialect", PROMPT_DIALECTS)
def test_a_system_message_is_added_when_there_is_none(dialect: str) -> None:
    rendered = render_messages(dialect, [{"role": "user", "content": "Hi"}], [WEATHER])
    assert [m["role"] for m in rendered] == ["system", "user"]
    assert rendered[0]["content"] == system_prompt(dialect, [WEATHER])


def test_system_content_parts_get_one_more_part() -> None:
    messages = [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}]
    rendered = render_messages("hermes", messages, [WEATHER])
    assert rendered[0]["content"][0] == {"type": "text", "text": "Be brief."}
    assert rendered[0]["content"][1]["text"] == system_prompt("hermes", [WEATHER])


def test_each_dialect_explains_its_own_format() -> None:
    assert "<tool_call>\n{" in system_prompt("hermes", [WEATHER])
    assert "<function=function_name>" in system_prompt("qwen", [WEATHER])
    pi = system_prompt("pi", [WEATHER])
    assert "<think>" in pi and "<tool_call>\n{" in pi


@pytest.mark.parametrize("dialect", PROMPT_DIALECTS)
def test_history_becomes_plain_chat(dialect: str) -> None:
    rendered = render_messages(dialect, HISTORY, [WEATHER])
    assert [m["role"] for m in rendered] == ["system", "user", "assistant", "user"]
    assert all("tool_calls" not in m and "tool_call_id" not in m for m in rendered)
    assistant = rendered[2]["content"]
    assert assistant.startswith("Checking both.\n<tool_call>")
    results = rendered[3]["content"]
    assert results.count("<tool_response>") == 2 and results.count("</tool_response>") == 2
    assert results.index("14") < results.index("rain, 19 C")  # in the order they were given


def test_hermes_results_name_the_function_they_answer() -> None:
    results = render_messages("hermes", HISTORY, [WEATHER])[3]["content"]
    blocks = [json.loads(b.split("</tool_response>")[0]) for b in results.split("<tool_response>")[1:]]
    assert blocks == [
        {"name": "get_weather", "content": {"high_c": 14}},
        {"name": "get_weather", "content": "rain, 19 C"},
    ]


def test_qwen_results_are_the_raw_tool_output() -> None:
    results = render_messages("qwen", HISTORY, [WEATHER])[3]["content"]
    assert (
        results
        == '<tool_response>\n{"high_c": 14}\n</tool_response>\n<tool_response>\nrain, 19 C\n</tool_response>'
    )


def test_results_lead_a_following_user_message_instead_of_making_two_user_turns() -> None:
    history = [*HISTORY, {"role": "user", "content": "Also, which is warmer?"}]
    rendered = render_messages("hermes", history, [WEATHER])
    assert [m["role"] for m in rendered] == ["system", "user", "assistant", "user"]
    assert rendered[3]["content"].endswith("</tool_response>\n\nAlso, which is warmer?")


def test_history_without_tools_keeps_the_system_message_alone() -> None:
    rendered = render_messages("hermes", HISTORY, None)
    assert rendered[0] == HISTORY[0]
    assert "<tool_call>" in rendered[2]["content"]


def test_unreadable_recorded_arguments_are_shown_not_dropped() -> None:
    history = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "z", "function": {"name": "f", "arguments": "oops"}}],
        },
    ]
    assistant = render_messages("hermes", history, None)[1]["content"]
    assert json.loads(assistant.split("\n")[1]) == {"name": "f", "arguments": {"_raw": "oops"}}


@pytest.mark.parametrize("dialect", PROMPT_DIALECTS)
def test_a_rendered_history_reads_back_as_the_same_calls(dialect: str) -> None:
    assistant = render_messages(dialect, HISTORY, [WEATHER])[2]["content"]
    parsed = parse_reply(dialect, assistant, [WEATHER])
    assert parsed.error is None
    assert [(c.name, c.arguments) for c in parsed.calls] == [
        ("get_weather", {"city": "Berlin", "days": 2}),
        ("get_weather", {"city": "Tokyo", "days": 2}),
    ]
    assert parsed.prose == "Checking both."


# Values a model may pass. `<` and `>` are left out of text: the XML form of qwen cannot carry a
# closing tag inside a value, as in the format it copies.
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="<>"), max_size=20)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
_ARGUMENTS = st.dictionaries(_KEYS, _VALUES, max_size=5)


def _schema_for(arguments: dict[str, Any]) -> dict[str, Any]:
    """The schema a tool would declare for these values (qwen types its values by it)."""

    def type_of(value: Any) -> str:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "integer"
        if isinstance(value, float):
            return "number"
        if isinstance(value, str):
            return "string"
        return "array" if isinstance(value, list) else "object"

    properties = {key: {"type": type_of(value)} for key, value in arguments.items()}
    return {
        "type": "function",
        "function": {"name": "act", "parameters": {"type": "object", "properties": properties}},
    }


@pytest.mark.parametrize("dialect", PROMPT_DIALECTS)
@settings(max_examples=60, deadline=None)
@given(arguments=_ARGUMENTS)
def test_any_call_survives_render_then_parse(dialect: str, arguments: dict[str, Any]) -> None:
    text = "Some prose.\n" + render_call(dialect, "act", arguments)
    parsed = parse_reply(dialect, text, [_schema_for(arguments)])
    assert parsed.error is None
    assert [(c.name, c.arguments) for c in parsed.calls] == [("act", arguments)]
    assert parsed.prose == "Some prose."


_FRAGMENTS = st.sampled_from(
    ["<tool_call>", "</tool_call>", "<function=f>", "</function>", "<parameter=k>", "</parameter>",
     "<think>", "</think>", "<function_call>", "{", "}", "[", "]", '"name"', '"arguments"', ":", ",",
     "'", '"', "f", "1", "true", " ", "\n", "```json\n", "```"]
)  # fmt: skip


@pytest.mark.parametrize("dialect", PROMPT_DIALECTS)
@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(_FRAGMENTS, max_size=30))
def test_no_reply_makes_a_reader_raise(dialect: str, pieces: list[str]) -> None:
    parsed = parse_reply(dialect, "".join(pieces), [WEATHER])
    for call in parsed.calls:
        assert isinstance(call.name, str) and call.name
        assert isinstance(call.arguments, dict)
        json.dumps(call.arguments)


def test_unknown_dialects_are_refused_with_the_choices() -> None:
    async def chat(messages: list[dict[str, Any]], params: GenerationParams, **_: Any) -> Completion:
        return Completion()

    with pytest.raises(UnknownDialect, match="choose one of raw, hermes, qwen, pi"):
        with_dialect(chat, "chatml")
