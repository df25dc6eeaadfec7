"""Exact scores of the single-turn tool-call rubric on hand-made transcripts.

Rubric per expected call: selection 25, required 25, optional 20, types 15, order 15; an unpaired
model call adds 100 to the maximum; a no-call task is worth 100 for making no call.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from benchlab.tasks.tools.calculator import CalculatorError, evaluate
from benchlab.tasks.tools.toolcall import ToolCallTask, pick_variant
from benchlab.types import Completion, ErrorKind, Sample, SampleResult, Score, Transcript

VARIANTS = {"1": "weather berlin", "5": "What's the weather in Berlin?", "10": "Get the weather for Berlin."}
ONE_CITY = {
    "domain": "general",
    "difficulty": "easy",
    "tools": ["get_weather", "get_stock_price", "calculate"],
    "variants": VARIANTS,
    "expected": [{"name": "get_weather", "args": {"city": ["Berlin"], "unit": [None, "celsius"]}}],
    "ordered": False,
}
TWO_CITIES = {
    **ONE_CITY,
    "difficulty": "hard",
    "expected": [
        {"name": "get_weather", "args": {"city": ["Berlin"], "unit": [None, "celsius"]}},
        {"name": "get_weather", "args": {"city": ["Tokyo"], "unit": [None, "celsius"]}},
    ],
}
CHAIN = {
    "domain": "trading",
    "difficulty": "hard",
    "tools": ["close_trade", "add_journal_note", "get_quote"],
    "variants": VARIANTS,
    "expected": [
        {"name": "close_trade", "args": {"trade_id": ["T-1011"], "exit_price": [197.25]}},
        {"name": "add_journal_note", "args": {"trade_id": ["T-1011"], "text": [{"contains": ["target"]}]}},
    ],
    "ordered": True,
}
NO_CALL = {**ONE_CITY, "difficulty": "medium", "expected": []}


def call(name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": f"c-{name}", "type": "function", "function": {"name": name, "arguments": text}}


def score(data: dict[str, Any], *calls: dict[str, Any], parse_error: str | None = None) -> Score:
    completion = Completion(content="", tool_calls=list(calls), tool_parse_error=parse_error)
    transcript = Transcript(messages=[], completions=[completion], state={"quality": 10})
    return ToolCallTask().score(Sample(id="t", data=data), transcript)


def test_right_call_earns_everything() -> None:
    result = score(ONE_CITY, call("get_weather", {"city": "Berlin"}))
    assert (result.value, result.correct, result.error_kind) == (1.0, True, ErrorKind.NONE)
    assert result.details["calls"][0] | {"points": 100.0} == {
        "name": "get_weather",
        "matched": True,
        "position": 0,
        "points": 100.0,
        "selection": 25.0,
        "required": 25.0,
        "optional": 20.0,
        "types": 15.0,
        "order": 15.0,
    }


def test_matching_is_normalised_but_types_are_checked() -> None:
    assert score(ONE_CITY, call("get_weather", {"city": "  berlin ", "unit": "celsius"})).value == 1.0
    # "Celsius" is the acceptable value once normalised, but not a member of the schema's enum:
    # optional credit stays, half the type points go (1 of 2 arguments valid).
    assert score(ONE_CITY, call("get_weather", {"city": "Berlin", "unit": "Celsius"})).value == 0.925
    chain = score(
        CHAIN,
        call("close_trade", {"trade_id": "T-1011", "exit_price": "197.25"}),  # right value, wrong type
        call("add_journal_note", {"trade_id": "T-1011", "text": "Reached TARGET"}),
    )
    assert chain.details["calls"][0]["required"] == 25.0 and chain.details["calls"][0]["types"] == 7.5
    assert chain.value == pytest.approx((92.5 + 100) / 200)


def test_wrong_argument() -> None:
    # 25 selection + 0 required + 20 optional (unit may be omitted) + 15 types + 15 order.
    assert score(ONE_CITY, call("get_weather", {"city": "Munich"})).value == pytest.approx(0.75)
    # Right city, an invalid unit: 25 + 25 + 0 optional + 7.5 types (1 of 2 valid) + 15.
    wrong_type = score(ONE_CITY, call("get_weather", {"city": "Berlin", "unit": 5}))
    assert wrong_type.value == pytest.approx(0.725) and not wrong_type.correct


def test_hallucinated_argument_costs_optional_and_type_points() -> None:
    # `country` is not declared: an unasked optional argument (0 of 2 optional: unit omitted is fine,
    # so 1 of 2) and an undeclared one (1 of 2 valid types): 25 + 25 + 10 + 7.5 + 15.
    result = score(ONE_CITY, call("get_weather", {"city": "Berlin", "country": "DE"}))
    assert result.value == pytest.approx(0.825)


def test_extra_hallucinated_tool_doubles_the_maximum() -> None:
    result = score(ONE_CITY, call("get_weather", {"city": "Berlin"}), call("book_flight", {"to": "Berlin"}))
    assert result.value == 0.5 and result.details["maximum"] == 200.0
    assert result.details["hallucinated_tools"] == ["book_flight"]


def test_missing_required_call_and_berlin_does_not_cover_tokyo() -> None:
    assert score(TWO_CITIES, call("get_weather", {"city": "Berlin"})).value == 0.5
    twice = score(
        TWO_CITIES, call("get_weather", {"city": "Berlin"}), call("get_weather", {"city": "Berlin"})
    )
    # Both model calls pair by name; the second Berlin earns Tokyo's 25 + 0 + 20 + 15 + 15.
    assert twice.value == pytest.approx((100 + 75) / 200)
    both = score(TWO_CITIES, call("get_weather", {"city": "Tokyo"}), call("get_weather", {"city": "Berlin"}))
    assert both.value == 1.0  # not an ordered chain: parallel calls in any order


def test_calls_out_of_order_lose_the_order_points() -> None:
    note = call("add_journal_note", {"trade_id": "T-1011", "text": "hit the target"})
    close = call("close_trade", {"trade_id": "T-1011", "exit_price": 197.25})
    assert score(CHAIN, close, note).value == 1.0
    swapped = score(CHAIN, note, close)
    assert swapped.value == pytest.approx(185 / 200)
    assert [entry["order"] for entry in swapped.details["calls"]] == [15.0, 0.0]


def test_no_call_case() -> None:
    right = score(NO_CALL)
    assert (right.value, right.correct, right.extracted) == (1.0, True, "(no call)")
    wrong = score(NO_CALL, call("get_weather", {"city": "Berlin"}))
    assert (wrong.value, wrong.correct) == (0.0, False)
    unreadable = score(NO_CALL, parse_error="no closing </tool_call>")
    assert (unreadable.value, unreadable.error_kind) == (0.0, ErrorKind.MODEL)
    assert unreadable.details["schema_adherent"] is False


def test_unreadable_output_is_a_model_error_not_a_crash() -> None:
    broken = score(ONE_CITY, call("get_weather", '{"city": "Berlin"'))
    # Only selection and order can be credited: 25 + 15.
    assert broken.value == pytest.approx(0.4) and broken.error_kind is ErrorKind.MODEL
    assert "not valid JSON" in (broken.error or "")
    dialect_failure = score(ONE_CITY, parse_error="unbalanced braces in <tool_call>")
    assert (dialect_failure.value, dialect_failure.error_kind) == (0.0, ErrorKind.MODEL)
    assert "could not be parsed" in (dialect_failure.error or "")


def test_quality_variant_choice() -> None:
    assert pick_variant(VARIANTS, 10) == (10, VARIANTS["10"])
    assert pick_variant(VARIANTS, 7) == (5, VARIANTS["5"])
    assert pick_variant(VARIANTS, 1) == (1, VARIANTS["1"])
    level, messages = ToolCallTask(quality=4).messages(Sample(id="t", data=ONE_CITY))
    assert level == 1 and messages[-1]["content"] == VARIANTS["1"]


def _result(value: float, difficulty: str, parse_error: str | None = None) -> SampleResult:
    weight = {"easy": 1.0, "medium": 1.5, "hard": 2.5, "expert": 4.0}[difficulty]
    completion = Completion(tool_parse_error=parse_error)
    return SampleResult(
        sample_id=f"{difficulty}-{value}",
        score=Score(
            value=value,
            correct=value == 1.0,
            details={"weight": weight, "difficulty": difficulty, "domain": "general", "irrelevance": False},
        ),
        transcript=Transcript(messages=[], completions=[completion]),
        finished_at=time.time(),
    )


def test_summary_weights_difficulties_and_reports_schema_adherence() -> None:
    results = [_result(1.0, "easy"), _result(0.0, "expert", parse_error="bad"), _result(0.5, "hard")]
    summary = ToolCallTask().summarize(results)
    assert summary["score"]["rate"] == pytest.approx((1.0 * 1 + 0.0 * 4 + 0.5 * 2.5) / 7.5)
    assert summary["score"]["ci_low"] <= summary["score"]["rate"] <= summary["score"]["ci_high"]
    assert summary["mean_score"]["rate"] == pytest.approx(0.5)
    assert (summary["schema_adherence"]["k"], summary["schema_adherence"]["n"]) == (2, 3)
    assert list(summary["by_difficulty"]) == ["easy", "hard", "expert"]
    assert summary["accuracy"]["k"] == 1


def test_calculator_is_safe_and_bounded() -> None:
    assert evaluate("(1499 - 1199) / 1499 * 100") == pytest.approx(20.0133, abs=1e-4)
    assert evaluate("2 ^ 10 + sqrt(16) - abs(-3)") == 1025.0
    for hostile in ("__import__('os')", "9 ** 9 ** 9", "10 ** 20", "[1] * 5", "1 / 0", "x + 1", "9" * 300):
        with pytest.raises(CalculatorError):
            evaluate(hostile)


def test_every_call_goes_through_the_dialect(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from benchlab.tasks.tools import agent, toolcall
    from benchlab.types import GenerationParams

    wrapped: list[str] = []

    def fake_with_dialect(chat: Any, dialect: str) -> Any:
        wrapped.append(dialect)

        async def speak(
            messages: list[dict[str, Any]], params: GenerationParams, **kwargs: Any
        ) -> Completion:
            assert kwargs["tools"], "the task's tools are handed to the dialect"
            return Completion(content="<tool_call>{broken", tool_parse_error="unterminated JSON")

        return speak

    monkeypatch.setattr(toolcall, "with_dialect", fake_with_dialect)
    monkeypatch.setattr(agent, "with_dialect", fake_with_dialect)
    single = toolcall.ToolCallTask(dialect="hermes")
    sample = Sample(id="t", data=ONE_CITY)
    transcript = asyncio.run(single.solve(sample, None, GenerationParams()))  # type: ignore[arg-type]
    assert single.score(sample, transcript).error_kind is ErrorKind.MODEL
    loop = agent.AgentTask(dialect="pi")
    row = {
        **ONE_CITY,
        "prompt": "Weather in Berlin?",
        "reference": [[]],
        "answer": {"type": "text", "accept": ["x"]},
    }
    episode = asyncio.run(loop.solve(Sample(id="a", data=row), None, GenerationParams()))  # type: ignore[arg-type]
    assert episode.state["stop"] == "parse_error" and len(episode.completions) == 1
    assert wrapped == ["hermes", "pi"]
