import json
from pathlib import Path

import pytest

from benchlab.catalog.datasets import DatasetError, load_mcq_jsonl, resolve


def write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


GOOD = {"id": "q1", "question": "2+2?", "options": {"A": "3", "B": "4"}, "answer_idx": "B"}


def test_builtin_sample_loads_and_hashes_stably() -> None:
    first, second = resolve("sample"), resolve("sample")
    assert len(first) >= 60
    assert first.sha256 == second.sha256
    assert all(sample.data["answer"] in sample.data["options"] for sample in first.samples)


def test_integer_and_letter_answers_normalize_to_letters(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", [GOOD, {**GOOD, "id": "q2", "answer_idx": 0}])
    dataset = load_mcq_jsonl(path, key="d")
    assert [s.data["answer"] for s in dataset.samples] == ["B", "A"]


def test_hash_ignores_formatting_but_not_content(tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl", [GOOD])
    b = tmp_path / "b.jsonl"
    b.write_text(json.dumps(dict(reversed(list(GOOD.items()))), indent=None, separators=(",", ":")) + "\n\n")
    c = write(tmp_path / "c.jsonl", [{**GOOD, "question": "2+3?"}])
    assert load_mcq_jsonl(a, key="x").sha256 == load_mcq_jsonl(b, key="x").sha256
    assert load_mcq_jsonl(a, key="x").sha256 != load_mcq_jsonl(c, key="x").sha256


def test_ids_without_id_field_are_content_derived(tmp_path: Path) -> None:
    row = {k: v for k, v in GOOD.items() if k != "id"}
    other = {**row, "question": "3+3?"}
    forward = load_mcq_jsonl(write(tmp_path / "f.jsonl", [row, other]), key="f")
    backward = load_mcq_jsonl(write(tmp_path / "b.jsonl", [other, row]), key="b")
    assert {s.id for s in forward.samples} == {s.id for s in backward.samples}


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("{not json", ":2: not valid JSON"),
        ({**GOOD, "answer_idx": "E"}, "not one of the options A–B"),
        ({**GOOD, "answer_idx": 5}, "answer_idx 5 is outside the options"),
        ({**GOOD, "options": {"A": "x", "C": "y"}}, "consecutive from A"),
        ({**GOOD, "question": ""}, "missing 'question'"),
        ({k: v for k, v in GOOD.items() if k != "answer_idx"}, "missing 'answer_idx'"),
        ({**GOOD, "options": {"A": "only"}}, "at least two options"),
        ([1, 2], "expected a JSON object"),
        (GOOD, "id 'q1' already used on line 1"),
    ],
)
def test_bad_rows_name_file_line_and_fix(tmp_path: Path, row: object, expected: str) -> None:
    path = write(tmp_path / "bad.jsonl", [GOOD, row])
    with pytest.raises(DatasetError) as caught:
        load_mcq_jsonl(path, key="bad")
    message = str(caught.value)
    assert expected in message
    assert str(path) in message


def test_unknown_reference_lists_builtin_keys() -> None:
    with pytest.raises(DatasetError, match=r"built-in key .*sample"):
        resolve("no-such-benchmark")
