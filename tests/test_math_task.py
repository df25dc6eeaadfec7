"""Math: the numeric answer extraction rules, exact comparison on parsed numbers, the shipped
math_core suite, and whole runs against the scripted server with exact scores."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchlab.catalog.datasets import resolve
from benchlab.cli import app
from benchlab.tasks.math_extraction import RULES, extract_number, numbers_match, parse_number
from benchlab.tasks.math_task import MathRowError, MathTask, gold_of
from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task
from benchlab.testing.scripted_server import Reply, ScriptedServer, last_user_text
from benchlab.types import Completion, ErrorKind, Sample, Transcript


@pytest.mark.parametrize(
    ("reply", "value", "rule"),
    [
        ("So she has 15 apples left.\nFinal answer: 15", Fraction(15), "final-answer"),
        ("**Final answer:** $1,234.50", Fraction("1234.50"), "final-answer"),
        ("The final answer is 3/4 of the cake.", Fraction(3, 4), "final-answer"),
        ("Final answer:\n\n  12 km", Fraction(12), "final-answer"),
        ("We get $x = \\boxed{\\frac{7}{2}}$ hours.", Fraction(7, 2), "boxed"),
        ("Total is \\boxed{1{,}000} dollars. Final answer: 999", Fraction(1000), "boxed"),
        ("48 + 24 = 72\n#### 72", Fraction(72), "hashes"),
        ("#### -3.5", Fraction("-3.5"), "hashes"),
        ("The answer is 25%.", Fraction(25), "answer-is"),
        ("Answer: −7 degrees", Fraction(-7), "answer-is"),
        ("First 6 boxes, then 9 more, so 15 altogether.", Fraction(15), "last-number"),
        ("It costs 0.75 dollars", Fraction(3, 4), "last-number"),
        ("I am not sure.", None, "none"),
        ("", None, "empty"),
        ("<think>The answer is 42.</think>", None, "empty"),
    ],
)
def test_extraction_rules(reply: str, value: Fraction | None, rule: str) -> None:
    found = extract_number(reply)
    assert (found.value, found.rule) == (value, rule)
    assert rule in RULES


def test_numbers_are_whole_tokens_never_substrings() -> None:
    found = extract_number("Final answer: 15")
    assert found.value is not None and not numbers_match(found.value, Fraction(5))
    assert extract_number("Final answer: 5").value == 5
    assert extract_number("room x2 is free, answer: 8").value == 8  # "x2" is not the number 2
    assert parse_number("v1.2.3") is None  # a version string is not a number
    assert parse_number("3,5") is None  # a decimal comma is not guessed
    assert parse_number("1,000") == 1000 and parse_number("12,345,678.9") == Fraction("12345678.9")


def test_the_answer_only_inside_reasoning_does_not_count() -> None:
    assert extract_number("<think>so it is 42</think>I could not finish.").value is None
    assert extract_number("<think>Final answer: 42</think>Final answer: 41").value == 41
    assert extract_number("the template opened the block: 42</think>Answer: 7").value == 7


def test_the_last_marker_wins_and_final_beats_weaker_markers() -> None:
    reply = "The answer is 10 if we ignore the tax.\nWith the tax, the answer is 12."
    assert extract_number(reply).value == 12
    assert extract_number("Final answer: 30. (The answer is not 40.)").value == 30
    assert extract_number("Final answer: see below\n20 minutes").value == 20


def test_comparison_is_exact_or_within_the_rows_tolerance() -> None:
    assert numbers_match(Fraction("3.50"), Fraction("3.5"))
    assert numbers_match(Fraction(3, 4), Fraction("0.75"))
    assert not numbers_match(Fraction("0.333"), Fraction(1, 3))
    assert numbers_match(Fraction("39.785"), Fraction("39.78"), 0.01)
    assert not numbers_match(Fraction("39.80"), Fraction("39.78"), 0.01)


def sample(answer: Any, **extra: Any) -> Sample:
    return Sample(id="m1", data={"question": "How many?", "answer": answer, **extra})


def transcript(content: str, *, reasoning: str = "", finish: str = "stop") -> Transcript:
    completion = Completion(content=content, reasoning=reasoning, finish_reason=finish)
    return Transcript(messages=[], completions=[completion])


def test_scores() -> None:
    task = MathTask()
    right = task.score(sample("15"), transcript("5 + 10 = 15\nFinal answer: 15"))
    assert (right.value, right.correct, right.extracted, right.gold) == (1.0, True, "15", "15")
    wrong = task.score(sample("5"), transcript("Final answer: 15"))
    assert (wrong.value, wrong.correct, wrong.error_kind) == (0.0, False, ErrorKind.NONE)
    hidden = task.score(sample("42"), transcript("I am not sure.", reasoning="Final answer: 42"))
    assert hidden.error_kind is ErrorKind.MODEL and "no number could be read" in (hidden.error or "")
    cut = task.score(sample("42"), transcript("Let me think about", finish="length"))
    assert cut.error_kind is ErrorKind.MODEL and "token limit" in (cut.error or "")
    tolerant = task.score(sample("880", tolerance=1), transcript("Final answer: 879.6 metres"))
    assert tolerant.correct is True and tolerant.extracted == "879.6"
    fraction = task.score(sample("1/2"), transcript("Final answer: 0.5"))
    assert fraction.correct is True


def test_bad_rows_name_the_row_and_the_fix() -> None:
    with pytest.raises(MathRowError, match=r"'m1'.*not a number.*digits"):
        gold_of(sample("about twelve"))
    with pytest.raises(MathRowError, match=r"tolerance.*non-negative"):
        gold_of(sample("12", tolerance="small"))
    assert gold_of(sample(12)) == (Fraction(12), None)


def test_the_prompt_asks_for_steps_a_final_line_and_the_unit() -> None:
    task = MathTask()
    prompt = task.messages(sample("3", unit="hours"))[0]["content"]
    assert "step by step" in prompt and '"Final answer: <number>"' in prompt
    assert "Give the answer in hours." in prompt and prompt.rstrip().endswith("How many?")


def test_factory_refuses_options() -> None:
    assert build_task("math", TaskSettings()).kind == "math"
    with pytest.raises(TaskSettingsError, match="math takes no --option"):
        build_task("math", TaskSettings(options={"constrained": True}))
    with pytest.raises(TaskSettingsError, match="--samples applies to code"):
        build_task("math", TaskSettings(samples=5))


def test_every_math_core_answer_parses_and_reads_back() -> None:
    dataset = resolve("math_core")
    assert dataset.kind == "math" and len(dataset) >= 30
    assert len({s.subject for s in dataset.samples}) >= 5
    tolerances = units = 0
    for item in dataset.samples:
        gold, tolerance = gold_of(item)
        tolerances += tolerance is not None
        units += bool(item.data.get("unit"))
        stated = f"Final answer: {item.data['answer']} {item.data.get('unit', '')}"
        assert extract_number(stated).value == gold, item.id
        assert extract_number(f"\\boxed{{{item.data['answer']}}}").value == gold, item.id
    assert tolerances >= 3 and units >= 10


# ---------------------------------------------------------------------------------------------------
# Whole runs against the scripted server


def _by_question() -> dict[str, Sample]:
    return {str(s.data["question"]): s for s in resolve("math_core").samples}


def test_a_math_core_run_through_the_cli_scores_exactly(tmp_path: Path) -> None:
    questions = _by_question()
    wrong = {"bus-seats": "Final answer: 15", "stadium-rows": "Final answer: 2,477"}  # 5 is not in 15
    hidden = {"clock-gain"}  # the answer only in the reasoning

    def respond(body: dict[str, Any]) -> Reply:
        text = last_user_text(body)
        item = next(s for q, s in questions.items() if q in text)
        if item.id in wrong:
            return Reply.text(wrong[item.id])
        if item.id in hidden:
            return Reply.text("I ran out of time.", reasoning=f"Final answer: {item.data['answer']}")
        return Reply.text(
            f"Working it out...\n\n**Final answer:** {item.data['answer']} {item.data.get('unit', '')}"
        )

    with ScriptedServer(respond) as server:
        result = CliRunner().invoke(app, ["run", "math_core", "--server", server.base_url, "--json"])
        assert result.exit_code == 0, result.stderr
        record = json.loads(result.stdout)["run"]
        assert all(r["max_tokens"] == 4096 for r in server.requests)
        shown = CliRunner().invoke(app, ["run", "math_core", "--server", server.base_url, "-n", "3"])
        assert shown.exit_code == 0 and "accuracy" in shown.stdout and "unparseable" in shown.stdout
    summary = record["summary"]
    total = len(questions)
    assert record["task_kind"] == "math" and summary["scored"] == total
    assert summary["accuracy"]["k"] == total - 3 and summary["accuracy"]["n"] == total
    assert summary["accuracy"]["ci_low"] < (total - 3) / total < summary["accuracy"]["ci_high"]
    assert summary["unparseable"]["k"] == 1
    assert summary["rules"] == {"final-answer": total - 1, "none": 1}
    assert set(summary["by_subject"]) == {s.subject for s in questions.values()}


def test_a_summary_of_nothing_scored_has_empty_entries() -> None:
    summary = MathTask().summarize([])
    assert summary["accuracy"]["n"] == 0 and summary["accuracy"]["rate"] is None and summary["rules"] == {}
