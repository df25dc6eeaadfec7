"""The built-in sample multiple-choice questions are well formed."""

from __future__ import annotations

import json
import string
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "benchlab" / "catalog" / "builtin" / "sample_mcq.jsonl"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    with SAMPLE.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _gold_letter(row: dict[str, Any]) -> str:
    answer = row["answer_idx"]
    return answer if isinstance(answer, str) else string.ascii_uppercase[answer]


def test_enough_rows_with_unique_ids_and_questions(rows: list[dict[str, Any]]) -> None:
    assert len(rows) >= 60
    ids = [row["id"] for row in rows]
    assert len(set(ids)) == len(ids)
    questions = [" ".join(row["question"].lower().split()) for row in rows]
    assert len(set(questions)) == len(questions)


def test_fields_and_options(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        assert set(row) == {"id", "subject", "question", "options", "answer_idx"}, row["id"]
        assert row["question"].strip() and row["subject"].strip()
        options = row["options"]
        assert 4 <= len(options) <= 10, row["id"]
        assert list(options) == list(string.ascii_uppercase[: len(options)]), row["id"]
        texts = [text.strip() for text in options.values()]
        assert all(texts) and len(set(texts)) == len(texts), row["id"]
        for text in texts:  # no "A) ..." or "B. ..." prefixes inside the options
            assert not (len(text) > 2 and text[0] in string.ascii_uppercase and text[1] in ").:"), row["id"]


def test_answers_are_valid_in_both_forms(rows: list[dict[str, Any]]) -> None:
    forms = Counter()
    for row in rows:
        answer, options = row["answer_idx"], row["options"]
        if isinstance(answer, str):
            forms["letter"] += 1
            assert answer in options, row["id"]
        else:
            assert isinstance(answer, int) and not isinstance(answer, bool), row["id"]
            forms["index"] += 1
            assert 0 <= answer < len(options), row["id"]
    assert forms["letter"] > 0 and forms["index"] > 0


def test_mix_of_subjects_and_option_counts(rows: list[dict[str, Any]]) -> None:
    assert len({row["subject"] for row in rows}) >= 8
    sizes = Counter(len(row["options"]) for row in rows)
    assert sum(n for size, n in sizes.items() if size >= 5) >= 10
    assert sizes[10] >= 4


def test_gold_letters_are_spread_out(rows: list[dict[str, Any]]) -> None:
    letters = Counter(_gold_letter(row) for row in rows)
    four_way = [letters[letter] for letter in "ABCD"]
    assert min(four_way) >= len(rows) // 8, letters
