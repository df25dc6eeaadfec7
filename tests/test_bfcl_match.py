"""BFCL-style matching with exact verdicts on hand-made calls, and the function-doc → JSON Schema
conversion the catalog hook applies."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from benchlab.catalog.bfcl_rows import bfcl, join_answers, json_schema
from benchlab.catalog.errors import MappingError
from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task
from benchlab.tasks.tools.bfcl import BfclTask
from benchlab.tasks.tools.bfcl_match import match_calls, same
from benchlab.tasks.tools.calls import ModelCall
from benchlab.types import Completion, ErrorKind, Sample, Score, Transcript

# A tiny made-up category in BFCL's layout: one function with required and optional parameters.
FARE = {
    "name": "transit.fare",
    "description": "Price of a ticket between two stops.",
    "parameters": {
        "type": "dict",
        "properties": {
            "origin": {"type": "string", "description": "Departure stop."},
            "destination": {"type": "string", "description": "Arrival stop."},
            "adults": {"type": "integer", "description": "Number of adult riders.", "default": 1},
            "discount": {"type": "float", "description": "Share off, 0 to 1."},
            "night": {"type": "boolean", "description": "Night service."},
        },
        "required": ["origin", "destination"],
    },
}
TIDE = {
    "name": "sea.tide_height",
    "description": "Tide height at a harbour at a given hour.",
    "parameters": {
        "type": "dict",
        "properties": {
            "harbour": {"type": "string", "description": "Harbour name."},
            "hour": {"type": "integer", "description": "Hour of day, 0-23."},
            "window": {"type": "tuple", "items": {"type": "integer"}, "description": "Hours span."},
            "extra": {"type": "any", "description": "Anything."},
        },
        "required": ["harbour"],
    },
}


def _row(functions: list[dict[str, Any]], truth: list[dict[str, Any]] | None, row_id: str) -> dict[str, Any]:
    question = {"id": row_id, "question": [[{"role": "user", "content": "…"}]], "function": functions}
    rows = [("q", question)] + ([("a", {"id": row_id, "ground_truth": truth})] if truth is not None else [])
    ((_, joined),) = list(join_answers(rows))
    return bfcl(joined)


def _verdict(row: dict[str, Any], *calls: tuple[str, dict[str, Any]]) -> tuple[bool, str]:
    made = [ModelCall(name, args) for name, args in calls]
    schemas = {row["names"][t["function"]["name"]]: t["function"]["parameters"] for t in row["tools"]}
    verdict = match_calls(made, row["expected"], schemas, row["names"])
    return verdict.correct, verdict.reason


SIMPLE = _row(
    [FARE],
    [
        {
            "transit.fare": {
                "origin": ["Harbour Gate"],
                "destination": ["Mill Lane", "Mill Ln"],
                "adults": [2, ""],
            }
        }
    ],
    "simple_python_7",
)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"origin": "Harbour Gate", "destination": "Mill Lane", "adults": 2}, (True, "ok")),
        (
            {"origin": "harbour-gate", "destination": "mill ln."},
            (True, "ok"),
        ),  # normalised, optional left out
        ({"origin": "Harbour Gate", "destination": "Mill Lane", "adults": 2.0}, (True, "ok")),  # 2.0 is 2
        ({"origin": "Harbour Gate", "destination": "Station Road"}, (False, "wrong_value")),
        ({"origin": "Harbour Gate", "destination": "Mill Lane", "adults": 3}, (False, "wrong_value")),
        ({"origin": "Harbour Gate"}, (False, "missing_required")),
        ({"origin": "Harbour Gate", "destination": "Mill Lane", "adults": "2"}, (False, "wrong_type")),
        # an optional parameter the possible answers do not list may not be added
        (
            {"origin": "Harbour Gate", "destination": "Mill Lane", "night": False},
            (False, "unexpected_parameter"),
        ),
        ({"origin": "Harbour Gate", "destination": "Mill Lane", "zone": 3}, (False, "unknown_parameter")),
    ],
)
def test_simple_call_verdicts(args: dict[str, Any], expected: tuple[bool, str]) -> None:
    assert _verdict(SIMPLE, ("transit_fare", args)) == expected


def test_the_original_dotted_name_is_read_back_and_a_wrong_name_is_wrong() -> None:
    right = {"origin": "Harbour Gate", "destination": "Mill Lane"}
    assert SIMPLE["names"] == {"transit_fare": "transit.fare"}
    assert _verdict(SIMPLE, ("transit.fare", right)) == (True, "ok")
    assert _verdict(SIMPLE, ("transit_price", right)) == (False, "wrong_name")
    assert _verdict(SIMPLE) == (False, "wrong_count")
    assert _verdict(SIMPLE, ("transit_fare", right), ("transit_fare", right)) == (False, "wrong_count")


def test_an_optional_parameter_is_allowed_when_listed_and_required_when_omission_is_not() -> None:
    row = _row(
        [FARE],
        [{"transit.fare": {"origin": ["A"], "destination": ["B"], "discount": [0.5], "night": ["", True]}}],
        "simple_python_8",
    )
    assert _verdict(row, ("transit_fare", {"origin": "A", "destination": "B", "discount": 0.5})) == (
        True,
        "ok",
    )
    assert _verdict(
        row, ("transit_fare", {"origin": "a", "destination": "b", "discount": 0.5, "night": True})
    ) == (
        True,
        "ok",
    )
    # `discount` has no "" among its answers: leaving it out is wrong even though it is optional
    assert _verdict(row, ("transit_fare", {"origin": "A", "destination": "B"})) == (
        False,
        "missing_parameter",
    )
    assert _verdict(
        row, ("transit_fare", {"origin": "A", "destination": "B", "discount": 0.5, "night": False})
    ) == (
        False,
        "wrong_value",
    )


PARALLEL = _row(
    [TIDE],
    [
        {"sea.tide_height": {"harbour": ["Port Elwin"], "hour": [6]}},
        {"sea.tide_height": {"harbour": ["Port Elwin"], "hour": [18]}},
        {"sea.tide_height": {"harbour": ["Calder Bay"], "hour": [6, ""]}},
    ],
    "parallel_3",
)


def test_parallel_calls_match_in_any_order_one_to_one() -> None:
    calls = [
        ("sea_tide_height", {"harbour": "Calder Bay"}),
        ("sea_tide_height", {"harbour": "Port Elwin", "hour": 18}),
        ("sea_tide_height", {"harbour": "Port Elwin", "hour": 6}),
    ]
    assert _verdict(PARALLEL, *calls) == (True, "ok")
    assert _verdict(PARALLEL, *reversed(calls)) == (True, "ok")
    # the same call twice cannot stand for two expected calls
    twice = [calls[0], calls[1], calls[1]]
    assert _verdict(PARALLEL, *twice) == (False, "wrong_value")
    assert _verdict(PARALLEL, *calls[:2]) == (False, "wrong_count")


def test_parallel_multiple_needs_each_function() -> None:
    row = _row(
        [FARE, TIDE],
        [
            {"transit.fare": {"origin": ["A"], "destination": ["B"]}},
            {"sea.tide_height": {"harbour": ["Port Elwin"], "window": [[6, 9]]}},
        ],
        "parallel_multiple_4",
    )
    fare = ("transit_fare", {"origin": "A", "destination": "B"})
    tide = ("sea_tide_height", {"harbour": "port elwin", "window": [6, 9]})
    assert _verdict(row, tide, fare) == (True, "ok")
    assert _verdict(row, fare, ("sea_tide_height", {"harbour": "Port Elwin", "window": [9, 6]})) == (
        False,
        "wrong_value",
    )  # lists keep their order
    assert _verdict(row, fare, fare) == (False, "no_pairing")


def test_irrelevance_is_right_only_without_a_call() -> None:
    row = _row([FARE], None, "irrelevance_11")
    assert row["expected"] == []
    assert _verdict(row) == (True, "ok")
    assert _verdict(row, ("transit_fare", {"origin": "A", "destination": "B"})) == (
        False,
        "irrelevance_called",
    )


def test_nested_object_answers_and_value_normalisation() -> None:
    assert same({"city": "Oslo", "days": 3}, {"city": ["oslo", "OSLO"], "days": [3], "units": ["", "metric"]})
    assert not same({"city": "Oslo"}, {"city": ["Oslo"], "days": [3]})
    assert not same({"city": "Oslo", "extra": 1}, {"city": ["Oslo"]})
    assert same(5, 5.0) and not same(True, 1) and not same("5", 5)
    assert same("San Francisco, CA", "sanfrancisco ca")


def test_bfcl_types_become_valid_json_schema() -> None:
    schema = json_schema(TIDE["parameters"], "sea.tide_height")
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["properties"]["window"] == {
        "type": "array",
        "items": {"type": "integer"},
        "description": "Hours span.",
    }
    assert "type" not in schema["properties"]["extra"]  # any
    assert json_schema({"type": "float"}, "x") == {"type": "number"}
    with pytest.raises(MappingError, match="unknown parameter type 'decimal'"):
        json_schema({"type": "dict", "properties": {"p": {"type": "decimal"}}}, "f")


def test_malformed_rows_are_refused_with_the_reason() -> None:
    with pytest.raises(MappingError, match="no possible answer"):
        _row([FARE], None, "simple_python_9")
    with pytest.raises(MappingError, match="does not offer"):
        _row([FARE], [{"transit.refund": {"origin": ["A"]}}], "simple_python_10")
    with pytest.raises(MappingError, match="no question has"):
        list(join_answers([("a", {"id": "simple_python_1", "ground_truth": []})]))


def test_bfcl_settings_are_checked_before_any_request() -> None:
    assert build_task("bfcl", TaskSettings(dialect="hermes")).options() == {"dialect": "hermes"}
    with pytest.raises(TaskSettingsError, match="BFCL takes no --option"):
        build_task("bfcl", TaskSettings(options={"quality": 3}))
    with pytest.raises(TaskSettingsError, match="dialect"):
        build_task("bfcl", TaskSettings(dialect="xml"))


def _score(completion: Completion) -> Score:
    sample = Sample(id="simple_python_7", subject="simple_python", data=dict(SIMPLE))
    return BfclTask().score(sample, Transcript(messages=[], completions=[completion]))


def test_the_task_records_malformed_calls_as_model_errors() -> None:
    right = _score(Completion(tool_calls=[_call('{"origin": "Harbour Gate", "destination": "Mill Ln"}')]))
    assert (right.value, right.correct, right.error_kind) == (1.0, True, ErrorKind.NONE)
    assert right.extracted == "transit.fare"
    broken = _score(Completion(tool_calls=[_call('{"origin": "Harbour Gate", ')]))
    assert (broken.value, broken.error_kind) == (0.0, ErrorKind.MODEL)
    assert broken.details["reason"] == "unreadable_arguments"
    unparsed = _score(Completion(content="<tool_call>{oops</tool_call>", tool_parse_error="not valid JSON"))
    assert (unparsed.value, unparsed.error_kind, unparsed.details["reason"]) == (
        0.0,
        ErrorKind.MODEL,
        "unparseable",
    )
    assert "could not be parsed" in (unparsed.error or "")
    wrong = _score(Completion(tool_calls=[_call('{"origin": "Harbour Gate", "destination": "Quay"}')]))
    assert (wrong.value, wrong.error_kind, wrong.details["reason"]) == (0.0, ErrorKind.NONE, "wrong_value")
    assert "'Quay' is not a possible answer" in wrong.details["why"]


def _call(arguments: str) -> dict[str, Any]:
    return {"id": "c1", "type": "function", "function": {"name": "transit_fare", "arguments": arguments}}
