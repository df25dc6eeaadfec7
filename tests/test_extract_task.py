"""Structured extraction: JSON recovery, value normalisation, per-field scores on hand-made outputs,
the shipped extract_core suite, and whole runs against the scripted server with exact scores."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from benchlab.catalog.datasets import resolve
from benchlab.cli import app
from benchlab.tasks.extract import ExtractRowError, ExtractTask, check_row
from benchlab.tasks.extract_scoring import score_fields, violations
from benchlab.tasks.field_values import MISSING, values_match
from benchlab.tasks.json_recovery import recover_json
from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task
from benchlab.testing.scripted_server import Reply, ScriptedServer, last_user_text
from benchlab.types import Completion, ErrorKind, Sample, Transcript

# ---------------------------------------------------------------------------------------------------
# Recovery


def test_a_fence_with_prose_around_it() -> None:
    reply = (
        'Sure! Here is the data:\n\n```json\n{"total": 12, "note": "a {brace} inside"}\n```\n'
        "Hope it helps {x}."
    )
    found = recover_json(reply)
    assert found.value == {"total": 12, "note": "a {brace} inside"} and found.where == "fence"


def test_a_bare_object_in_prose_and_the_first_balanced_one_wins() -> None:
    found = recover_json('The object is {"a": {"b": 1}} and not {"a": 2}.')
    assert found.value == {"a": {"b": 1}} and found.where == "reply"
    assert recover_json('Use {curly} braces: {"a": 1}').value == {
        "a": 1
    }  # a span that does not parse is skipped


def test_a_trailing_comma_is_the_models_error_with_the_parsers_message() -> None:
    found = recover_json('```json\n{"a": {"b": 1}, "c": 2,}\n```')
    assert found.value is None  # the nested {"b": 1} is never taken for the answer
    assert found.error is not None and "invalid JSON" in found.error and "comma" in found.error
    assert "line 1 column" in found.error


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("", "empty reply"),
        ('<think>{"a": 1}</think>I don\'t know.', "no JSON object"),
        ("Nothing to extract here.", "no JSON object"),
        ('{"a": 1, "b": [1, 2', "not closed"),
        ("{'a': 1}", "invalid JSON"),
    ],
)
def test_unrecoverable_replies(reply: str, message: str) -> None:
    found = recover_json(reply)
    assert found.value is None and message in (found.error or "")


# ---------------------------------------------------------------------------------------------------
# Normalisation

DATE = {"type": "string", "format": "date"}
NUMBER = {"type": "number"}


@pytest.mark.parametrize(
    "written",
    [
        "2024-03-05",
        "5 March 2024",
        "March 5, 2024",
        "Mar 5 2024",
        "05.03.2024",
        "2024/03/05",
        "Tuesday, 5th March 2024",
        "5-Mar-2024",
        "2024-03-05T09:00:00",
    ],
)
def test_dates_in_common_formats(written: str) -> None:
    assert values_match(written, "2024-03-05", DATE)


def test_dates_that_are_wrong_or_ambiguous_do_not_match() -> None:
    assert not values_match("2024-05-03", "2024-03-05", DATE)
    assert not values_match("03/05/2024", "2024-03-05", DATE)  # day or month first: not guessed
    assert values_match("25/03/2024", "2024-03-25", DATE) and values_match("03/25/2024", "2024-03-25", DATE)
    assert not values_match("31 February 2024", "2024-02-29", DATE)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1,000", 1000),
        ("1,234.50", 1234.5),
        ("$1.2k", 1200),
        ("€ 3.5M", 3_500_000),
        ("12%", 12),
        ("-40", -40),
    ],
)
def test_numbers_from_strings_when_the_schema_says_number(written: str, expected: float) -> None:
    assert values_match(written, expected, NUMBER)


def test_numbers_are_exact_unless_the_schema_gives_a_tolerance() -> None:
    assert not values_match(15, 5, NUMBER) and not values_match("15", 5, NUMBER)
    assert not values_match(1234.51, 1234.5, NUMBER)
    assert values_match(1234.51, 1234.5, {"type": "number", "x-tolerance": 0.01})
    assert not values_match("three", 3, NUMBER)


def test_strings_times_booleans_lists_and_nulls() -> None:
    assert values_match("  CORNER   crumb bakery. ", "Corner Crumb Bakery", {"type": "string"})
    assert not values_match("Corner Crumb", "Corner Crumb Bakery", {"type": "string"})
    assert values_match(55021, "55021", {"type": "string"})  # judged by its text; the type is a violation
    time = {"type": "string", "format": "time"}
    assert values_match("2:45 pm", "14:45", time) and not values_match("2:45 am", "14:45", time)
    assert values_match("2pm", "14:00", time) and not values_match("14", "14:00", time)
    moment = {"type": "string", "format": "date-time"}
    assert values_match("2025-01-28 09:14 UTC", "2025-01-28T09:14:00+00:00", moment)
    assert values_match("2025-01-28T10:14:00+01:00", "2025-01-28T09:14:00Z", moment)
    assert not values_match("2025-01-28T09:15:00Z", "2025-01-28T09:14:00Z", moment)
    assert values_match("false", False, {"type": "boolean"}) and not values_match(
        "no", False, {"type": "boolean"}
    )
    bag = {"type": "array", "items": {"type": "string"}}
    assert values_match(["bo", "Ana", "chidi"], ["Ana", "Bo", "Chidi"], bag)
    assert not values_match(["Ana", "Bo"], ["Ana", "Bo", "Chidi"], bag)
    assert not values_match(["Ana", "Ana", "Bo"], ["Ana", "Bo", "Bo"], bag)  # a multiset, not a set
    ordered = {**bag, "x-ordered": True}
    assert not values_match(["Bo", "Ana"], ["Ana", "Bo"], ordered) and values_match(
        ["ana", "bo"], ["Ana", "Bo"], ordered
    )
    assert (
        values_match(None, None, {}) and values_match(MISSING, None, {}) and not values_match("x", None, {})
    )


# ---------------------------------------------------------------------------------------------------
# Per-field scores on hand-made outputs

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string"},
        "issued": {"type": "string", "format": "date"},
        "total": {"type": "number"},
        "quantity": {"type": "integer"},
        "customer": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "city": {"type": ["string", "null"]}},
            "required": ["name", "city"],
            "additionalProperties": False,
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["invoice_number", "issued", "total", "quantity", "customer", "tags"],
    "additionalProperties": False,
}
EXPECTED = {
    "invoice_number": "INV-7",
    "issued": "2024-03-05",
    "total": 1000,
    "quantity": 3,
    "customer": {"name": "Ada Lovelace", "city": None},
    "tags": ["urgent", "paper"],
}
ROW = Sample(id="x1", subject="easy", data={"text": "An invoice.", "schema": SCHEMA, "expected": EXPECTED})


def score(content: str, *, finish: str = "stop") -> Any:
    completion = Completion(content=content, finish_reason=finish)
    return ExtractTask().score(ROW, Transcript(messages=[], completions=[completion]))


def test_the_expected_object_scores_one_and_is_schema_valid() -> None:
    result = score(json.dumps(EXPECTED))
    assert (result.value, result.correct, result.details["schema_valid"]) == (1.0, True, True)
    assert sorted(result.details["right"]) == [
        "customer.city",
        "customer.name",
        "invoice_number",
        "issued",
        "quantity",
        "tags",
        "total",
    ]


def test_normalised_values_count_and_their_type_violations_are_recorded() -> None:
    output = {
        **EXPECTED,
        "issued": "March 5, 2024",
        "total": "1,000",
        "quantity": "three",
        "customer": {"name": "ADA LOVELACE"},
        "tags": ["paper", "Urgent"],
    }
    reply = f"Here you go:\n```json\n{json.dumps(output)}\n```\nAnything else?"
    result = score(reply)
    # 7 fields: quantity ("three" for an integer) is wrong; a missing nullable city matches null.
    assert result.value == pytest.approx(6 / 7) and result.correct is False
    assert result.details["wrong"] == {"quantity": "three"}
    violations = result.details["violations"]
    assert set(violations) == {"issued", "total", "quantity", "customer.city"}
    assert (
        "is not a 'date'" in violations["issued"][0] and "is not of type 'number'" in violations["total"][0]
    )
    assert violations["customer.city"] == ["required but missing"]
    assert result.details["schema_valid"] is False and result.details["where"] == "fence"


def test_a_wrong_type_and_a_wrong_nested_value_lose_their_fields() -> None:
    output = {
        **EXPECTED,
        "total": [1000],
        "customer": {"name": "Ada Byron", "city": None},
        "tags": "urgent, paper",
    }
    result = score(json.dumps(output))
    assert result.value == pytest.approx(4 / 7)
    assert set(result.details["wrong"]) == {"total", "customer.name", "tags"}
    assert {"total", "tags"} <= set(result.details["violations"])


def test_15_is_not_5_and_extra_fields_are_violations_not_points() -> None:
    result = score(json.dumps({**EXPECTED, "quantity": 13, "vendor": "Acme"}))
    assert result.value == pytest.approx(6 / 7)
    assert "" in result.details["violations"]  # additionalProperties, on the object itself


ACTIONS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "actions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"owner": {"type": "string"}, "due": {"type": "string", "format": "date"}},
            },
        },
        "legs": {"type": "array", "x-ordered": True, "items": {"type": "object"}},
    },
}


def test_arrays_of_objects_are_paired_by_best_match_and_scored_per_item_field() -> None:
    want = {"actions": [{"owner": "Rafa", "due": "2024-10-21"}, {"owner": "Mei", "due": "2024-10-25"}]}
    swapped = {
        "actions": [{"owner": "mei", "due": "25 October 2024"}, {"owner": "Rafa", "due": "2024-10-22"}]
    }
    fields = score_fields(swapped, want, ACTIONS)
    assert sorted(fields.right) == ["actions.0.owner", "actions.1.due", "actions.1.owner", "actions.length"]
    assert fields.wrong == {"actions.0.due": "2024-10-22"}
    extra = score_fields(
        {"actions": [*want["actions"], {"owner": "Oskar", "due": "2024-10-28"}]}, want, ACTIONS
    )
    assert fields.total == extra.total == 5 and extra.wrong == {"actions.length": 3}
    missing = score_fields({"actions": "none"}, want, ACTIONS)
    assert missing.value == 0.0 and missing.total == 5


def test_ordered_arrays_of_objects_are_compared_position_by_position() -> None:
    want = {"legs": [{"to": "AMS"}, {"to": "LHR"}]}
    assert score_fields({"legs": [{"to": "LHR"}, {"to": "AMS"}]}, want, ACTIONS).right == ["legs.length"]
    assert score_fields({"legs": [{"to": "ams"}]}, want, ACTIONS).right == ["legs.0.to"]


def test_no_usable_json_is_a_model_error_with_the_parse_message() -> None:
    broken = score('{"invoice_number": "INV-7", "total": 1000,}')
    assert broken.error_kind is ErrorKind.MODEL and broken.value == 0.0
    assert broken.error is not None and "invalid JSON" in broken.error and "column" in broken.error
    cut = score('{"invoice_number": "INV-7", "total"', finish="length")
    assert cut.error_kind is ErrorKind.MODEL and "token limit" in (cut.error or "")
    assert cut.details["fields"] == 7


def test_violations_are_filed_under_dotted_paths() -> None:
    found = violations({"customer": {"name": 5, "city": None}}, SCHEMA)
    assert "customer.name" in found and "invoice_number" in found and "tags" in found


def test_bad_rows_name_the_row_and_the_fix() -> None:
    with pytest.raises(ExtractRowError, match=r"'bad'.*'text'"):
        check_row(Sample(id="bad", data={"text": "", "schema": SCHEMA, "expected": {}}))
    with pytest.raises(ExtractRowError, match="schema is not valid"):
        check_row(Sample(id="bad", data={"text": "t", "schema": {"type": "whatever"}, "expected": {}}))


def test_factory_reads_the_constrained_option() -> None:
    assert build_task("extract", TaskSettings()).options() == {"constrained": False}
    assert build_task("extract", TaskSettings(options={"constrained": True})).options() == {
        "constrained": True
    }
    with pytest.raises(TaskSettingsError, match="constrained takes true or false"):
        build_task("extract", TaskSettings(options={"constrained": "yes"}))
    with pytest.raises(TaskSettingsError, match="not strict"):
        build_task("extract", TaskSettings(options={"strict": True}))
    with pytest.raises(TaskSettingsError, match="--samples applies to code"):
        build_task("extract", TaskSettings(samples=3))


# ---------------------------------------------------------------------------------------------------
# The shipped suite


def test_every_extract_core_task_validates_against_its_own_schema() -> None:
    dataset = resolve("extract_core")
    assert dataset.kind == "extract" and len(dataset) >= 30
    subjects = [s.subject for s in dataset.samples]
    assert {subject: subjects.count(subject) for subject in set(subjects)} == {
        "easy": 11,
        "medium": 11,
        "hard": 11,
    }
    assert len({s.data["domain"] for s in dataset.samples}) >= 15
    for item in dataset.samples:
        _, schema, expected = check_row(item)
        Draft202012Validator.check_schema(schema)
        assert violations(expected, schema) == {}, item.id
        fields = score_fields(expected, expected, schema)
        assert fields.value == 1.0 and fields.total >= 4, item.id


# ---------------------------------------------------------------------------------------------------
# Whole runs against the scripted server


def _tasks() -> list[Sample]:
    return list(resolve("extract_core").samples)


def _responder(replies: dict[str, str]) -> Any:
    tasks = _tasks()

    def respond(body: dict[str, Any]) -> Reply:
        prompt = last_user_text(body)
        item = next(s for s in tasks if s.data["text"] in prompt)
        default = f"Here is the object:\n```json\n{json.dumps(item.data['expected'])}\n```"
        return Reply.text(replies.get(item.id, default))

    return respond


def test_an_extract_core_run_through_the_cli_scores_exactly(tmp_path: Path) -> None:
    tasks = {s.id: s for s in _tasks()}
    receipt = copy.deepcopy(tasks["receipt-bakery"].data["expected"])
    receipt["total"] = 70.0  # one of five fields wrong
    replies = {
        "receipt-bakery": json.dumps(receipt),
        "log-timeout": "Sorry, I cannot read logs.",
        "book-listing": '{"title": "The Salt Roads of Orvieto",}',
    }
    with ScriptedServer(_responder(replies)) as server:
        result = CliRunner().invoke(app, ["run", "extract_core", "--server", server.base_url, "--json"])
        assert result.exit_code == 0, result.stderr
        assert all("response_format" not in r for r in server.requests)
        printed = CliRunner().invoke(app, ["run", "extract_core", "-n", "4", "--server", server.base_url])
    record = json.loads(result.stdout)["run"]
    summary = record["summary"]
    n = len(tasks)
    assert record["task_kind"] == "extract" and summary["scored"] == n
    assert summary["field_score"]["rate"] == pytest.approx((n - 3 + 4 / 5) / n)
    assert (
        summary["field_score"]["ci_low"]
        <= summary["field_score"]["rate"]
        <= summary["field_score"]["ci_high"]
    )
    assert summary["accuracy"] == summary["field_score"]
    assert (summary["exact"]["k"], summary["unparseable"]["k"], summary["schema_valid"]["k"]) == (
        n - 3,
        2,
        n - 2,
    )
    assert summary["most_missed"] == {"total": 1}
    assert set(summary["by_subject"]) == {"easy", "medium", "hard"}
    assert printed.exit_code == 0
    for label in ("field score", "all fields right", "schema valid", "no usable JSON", "bootstrap 95%"):
        assert label in printed.stdout


def test_constrained_mode_sends_the_schema_as_response_format() -> None:
    with ScriptedServer(_responder({})) as server:
        result = CliRunner().invoke(
            app,
            [
                "run",
                "extract_core",
                "-n",
                "3",
                "--server",
                server.base_url,
                "--option",
                "constrained=true",
                "--json",
            ],
        )
        assert result.exit_code == 0, result.stderr
        requests = list(server.requests)
    record = json.loads(result.stdout)["run"]
    assert record["task_options"]["constrained"] is True and record["summary"]["constrained"] is True
    assert record["summary"]["field_score"]["rate"] == 1.0
    tasks = _tasks()
    for body in requests:
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema"
        item = next(s for s in tasks if s.data["text"] in last_user_text(body))
        assert fmt["json_schema"]["schema"] == item.data["schema"]


def test_a_summary_of_nothing_scored_has_empty_entries() -> None:
    summary = ExtractTask().summarize([])
    assert summary["field_score"]["n"] == 0 and summary["field_score"]["rate"] is None
    assert summary["exact"]["n"] == 0 and summary["fields"] == {"right": 0, "expected": 0}
