"""The declarative row mapping on small hand-made rows: every `options.from` and `answer.from`,
dotted paths, templates, patterns, and errors that name the definition, the source and the field.
Also the code/math hooks, the canonical order of normalized rows, and the file readers."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest

from benchlab.catalog.errors import MappingError
from benchlab.catalog.hooks import gsm8k, humaneval, mbpp
from benchlab.catalog.mapping import Mapping, apply_mapping, snake
from benchlab.catalog.normalize import finalize, iter_rows, normalize, normalize_row
from benchlab.catalog.readers import infer_format, read_records
from benchlab.catalog.registry import validate_definition
from benchlab.catalog.sources import Pin, RawData, RawFile


def mapping(**fields: Any) -> Mapping:
    return Mapping.model_validate({"question": "question", **fields})


def test_options_list_answer_index() -> None:
    m = mapping(options={"from": "list", "field": "choices"}, answer={"from": "index", "field": "answer"})
    row = {"question": "2+2?", "choices": ["3", "4", "5"], "answer": 1}
    assert apply_mapping(m, row) == {
        "question": "2+2?",
        "options": {"A": "3", "B": "4", "C": "5"},
        "answer_idx": 1,
    }


def test_options_dict_drops_nulls_answer_letter() -> None:
    m = mapping(options={"from": "dict", "field": "options"}, answer={"from": "letter", "field": "label"})
    row = {"question": "q", "options": {"B": "two", "A": "one", "C": None}, "label": "B"}
    assert apply_mapping(m, row)["options"] == {"A": "one", "B": "two"}
    assert apply_mapping(m, row)["answer_idx"] == 1


def test_options_labeled_answer_key_uses_labels_letters_or_digits() -> None:
    m = mapping(
        options={"from": "labeled", "labels": "choices.label", "texts": "choices.text"},
        answer={"from": "answerKey", "field": "answerKey"},
    )
    digits = {
        "question": "q",
        "choices": {"label": ["1", "2", "3"], "text": ["a", "b", "c"]},
        "answerKey": "3",
    }
    letters = {"question": "q", "choices": {"label": ["A", "B"], "text": ["a", "b"]}, "answerKey": "B"}
    assert apply_mapping(m, digits)["answer_idx"] == 2
    assert apply_mapping(m, digits)["options"] == {"A": "a", "B": "b", "C": "c"}
    assert apply_mapping(m, letters)["answer_idx"] == 1
    no_labels = mapping(options={"from": "list", "field": "c"}, answer={"from": "answerKey", "field": "k"})
    assert apply_mapping(no_labels, {"question": "q", "c": ["x", "y"], "k": "2"})["answer_idx"] == 1
    assert apply_mapping(no_labels, {"question": "q", "c": ["x", "y"], "k": "A"})["answer_idx"] == 0


def test_options_keys_answer_match() -> None:
    m = mapping(
        options={"from": "keys", "fields": ["right", "wrong1", "wrong2"]},
        answer={"from": "match", "field": "right"},
    )
    row = {"question": "q", "right": "yes", "wrong1": "no", "wrong2": "maybe"}
    assert apply_mapping(m, row) == {
        "question": "q",
        "options": {"A": "yes", "B": "no", "C": "maybe"},
        "answer_idx": 0,
    }


def test_options_pair_answer_one_based_index() -> None:
    m = mapping(
        question="{sentence} Which fills _?",
        options={"from": "pair", "fields": ["option1", "option2"]},
        answer={"from": "index", "field": "answer", "offset": 1},
    )
    row = {"sentence": "Tom beat Ann so _ won.", "option1": "Tom", "option2": "Ann", "answer": "1"}
    assert apply_mapping(m, row) == {
        "question": "Tom beat Ann so _ won. Which fills _?",
        "options": {"A": "Tom", "B": "Ann"},
        "answer_idx": 0,
    }


def test_options_fixed_answer_map_and_list_join_in_template() -> None:
    m = mapping(
        id="pubid",
        question="{context.contexts}\n\nQuestion: {question}",
        options={"from": "fixed", "values": ["yes", "no", "maybe"]},
        answer={"from": "map", "field": "final_decision", "table": {"yes": "A", "no": "B", "maybe": 2}},
    )
    row = {
        "pubid": 7,
        "question": "Does it?",
        "context": {"contexts": ["P1.", "P2."]},
        "final_decision": "maybe",
    }
    mapped = apply_mapping(m, row)
    assert mapped["question"] == "P1.\n\nP2.\n\nQuestion: Does it?"
    assert mapped["answer_idx"] == 2 and mapped["id"] == "7"
    assert apply_mapping(m, {**row, "final_decision": "no"})["answer_idx"] == 1


def test_answer_flags_with_dotted_paths() -> None:
    m = mapping(
        options={"from": "list", "field": "mc1_targets.choices"},
        answer={"from": "flags", "field": "mc1_targets.labels"},
    )
    row = {"question": "q", "mc1_targets": {"choices": ["t", "f1", "f2"], "labels": [0, 1, 0]}}
    assert apply_mapping(m, row)["answer_idx"] == 1
    with pytest.raises(MappingError, match="exactly one flag"):
        apply_mapping(m, {**row, "mc1_targets": {"choices": ["t", "f"], "labels": [1, 1]}})


def test_patterns_unwrap_question_and_answer_and_subject_snake() -> None:
    m = mapping(
        question="query",
        question_pattern=r"^Question: (.*)\nAnswer:$",
        options={"from": "list", "field": "choices"},
        answer={"from": "letter", "field": "answer", "pattern": r"^([A-Z])\."},
        subject="topic",
        subject_format="snake",
    )
    row = {
        "query": "Question: Why?\nBecause.\nAnswer:",
        "choices": ["a", "b"],
        "answer": "B. b",
        "topic": "Formal Logic",
    }
    assert apply_mapping(m, row) == {
        "question": "Why?\nBecause.",
        "options": {"A": "a", "B": "b"},
        "answer_idx": 1,
        "subject": "formal_logic",
    }
    assert snake(" high school-us/history ") == "high_school_us_history"


def test_null_subject_is_no_subject() -> None:
    m = mapping(options={"from": "list", "field": "c"}, answer={"from": "index", "field": "a"}, subject="s")
    assert "subject" not in apply_mapping(m, {"question": "q", "c": ["x", "y"], "a": 0, "s": None})


@pytest.mark.parametrize(
    ("fields", "row", "expected"),
    [
        ({}, {"choices": ["a", "b"], "answer": 0}, "no field 'question'"),
        ({}, {"question": "q", "choices": "ab", "answer": 0}, "is str, not a list"),
        ({}, {"question": "q", "choices": ["a", "b"], "answer": 2}, "outside the 2 options"),
        ({}, {"question": "q", "choices": ["a", "b"], "answer": "x"}, "is not an integer"),
        ({}, {"question": "q", "choices": ["a", None], "answer": 0}, "choices[1]' is null"),
        ({"question": "{ctx.a}"}, {"ctx": {"b": 1}, "choices": ["a", "b"], "answer": 0}, "it has: b"),
    ],
)
def test_mapping_errors_name_the_field(fields: dict[str, Any], row: dict[str, Any], expected: str) -> None:
    m = mapping(
        options={"from": "list", "field": "choices"}, answer={"from": "index", "field": "answer"}, **fields
    )
    with pytest.raises(MappingError, match=expected.replace("[", r"\[").replace("(", r"\(")):
        apply_mapping(m, row)


def test_answer_match_refuses_ambiguous_and_missing_texts() -> None:
    m = mapping(options={"from": "keys", "fields": ["a", "b"]}, answer={"from": "match", "field": "gold"})
    with pytest.raises(MappingError, match="not the text of any option"):
        apply_mapping(m, {"question": "q", "a": "x", "b": "y", "gold": "z"})
    with pytest.raises(MappingError, match="ambiguous"):
        apply_mapping(m, {"question": "q", "a": "x", "b": "x", "gold": "x"})


SPEC = {
    "key": "toy",
    "name": "Toy",
    "domain": "test",
    "tier": "legacy",
    "kind": "mcq",
    "fit": "mcq (3)",
    "license": "MIT",
    "citation": "none",
    "mapping": {
        "id": "uid",
        "question": "question",
        "options": {"from": "list", "field": "choices"},
        "answer": {"from": "letter", "field": "gold"},
    },
    "sources": [{"type": "file", "path": "toy.jsonl", "exclude": {"gold": ["skip"]}}],
}


def raw_jsonl(rows: list[dict[str, Any]], name: str = "toy.jsonl") -> RawData:
    return RawData("file:toy.jsonl", [RawFile(name, "\n".join(json.dumps(r) for r in rows).encode())], Pin())


def test_normalize_errors_name_definition_source_record_and_field() -> None:
    spec = validate_definition(SPEC, "/defs/toy.toml")
    raw = raw_jsonl(
        [{"uid": 1, "question": "q", "choices": ["a", "b"], "gold": "A"}, {"uid": 2, "question": "q"}]
    )
    with pytest.raises(MappingError) as caught:
        normalize(spec, spec.sources[0], raw)
    message = str(caught.value)
    assert message.startswith("/defs/toy.toml: source file:toy.jsonl: toy.jsonl record 2: mapping:")
    assert "options" in message and caught.value.field == "options"


def test_normalized_rows_are_in_canonical_order_with_unique_ids() -> None:
    spec = validate_definition(SPEC, "/defs/toy.toml")
    rows = [
        {"uid": "q10", "question": "ten", "choices": ["a", "b"], "gold": "B"},
        {"uid": "q2", "question": "two", "choices": ["a", "b"], "gold": "A"},
        {"uid": "q2", "question": "two again", "choices": ["a", "b"], "gold": "A"},
        {"uid": "q3", "question": "dropped", "choices": ["a", "b"], "gold": "skip"},
    ]
    forward = normalize(spec, spec.sources[0], raw_jsonl(rows))
    backward = normalize(spec, spec.sources[0], raw_jsonl(rows[::-1]))
    assert [row["id"] for row in forward.rows] == ["q2", "q2~2", "q10"]
    assert forward.sha256 == backward.sha256  # order of the source does not matter
    assert forward.rows[0] == {
        "id": "q2",
        "question": "two again",
        "options": {"A": "a", "B": "b"},
        "answer": "A",
    }


def test_distinct_and_row_unwrap_mirror_records() -> None:
    source = {"type": "file", "path": "x.jsonl", "distinct": "doc_id", "row": "doc"}
    spec = validate_definition({**SPEC, "sources": [source]}, "/defs/toy.toml")
    doc = {"uid": "a", "question": "q", "choices": ["x", "y"], "gold": "A"}
    records = [
        {"doc_id": 0, "doc": doc},
        {"doc_id": 0, "doc": doc},
        {"doc_id": 1, "doc": {**doc, "uid": "b"}},
    ]
    rows = [row for _, row in iter_rows(spec.sources[0], raw_jsonl(records))]
    assert [row["uid"] for row in rows] == ["a", "b"]


def test_kind_checks_after_hooks() -> None:
    spec = validate_definition({**SPEC, "kind": "math", "mapping": None, "hook": "gsm8k"}, "/defs/toy.toml")
    with pytest.raises(MappingError, match="no '#### <number>' line"):
        normalize_row(spec, spec.sources[0], {"question": "q", "answer": "no final line"}, "r1")


def test_humaneval_hook() -> None:
    row = {
        "task_id": "HumanEval/0",
        "prompt": "def f(x):\n",
        "canonical_solution": "    return x\n",
        "test": "def check(candidate):\n    assert candidate(1) == 1\n",
        "entry_point": "f",
    }
    out = humaneval(row)
    assert out["id"] == "HumanEval/0" and out["style"] == "completion"
    assert out["reference"] == "def f(x):\n    return x\n"
    namespace: dict[str, Any] = {}
    exec(out["reference"] + "\n" + out["tests"], namespace)  # the reference passes its own tests


def test_mbpp_hook_reads_the_function_name_from_the_reference() -> None:
    row = {
        "task_id": 2,
        "text": "Write a function to find the shared elements.",
        "code": (
            "def helper(x):\n    return x\n\ndef similar_elements(a, b):\n    return tuple(set(a) & set(b))"
        ),
        "test_list": ["assert set(similar_elements((3, 4), (4, 5))) == set((4,))"],
        "test_setup_code": "",
        "challenge_test_list": [],
    }
    out = mbpp(row)
    assert out["entry_point"] == "similar_elements" and out["id"] == "2"
    assert out["challenge_tests"] == "" and out["style"] == "instruction"
    exec(out["reference"] + "\n" + out["tests"], {})


def test_gsm8k_hook_takes_the_final_number() -> None:
    out = gsm8k({"question": "How many?", "answer": "2 + 2 = <<2+2=4>>4\n#### 1,004"})
    assert out["answer"] == "1004" and out["solution"].startswith("2 + 2")
    assert out["id"] == gsm8k({"question": "How many?", "answer": "#### 1"})["id"]


def test_readers_for_every_format() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    jsonl = "\n".join(json.dumps(row) for row in rows).encode()
    assert read_records("x.jsonl", jsonl) == rows
    assert read_records("x.jsonl.gz", gzip.compress(jsonl)) == rows
    assert (
        read_records("x.json", json.dumps({"data": {"items": rows}}).encode(), records="data.items") == rows
    )
    assert read_records("x.csv", b"a,b\n1,x\n2,y\n") == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]
    table = pa.Table.from_pylist(rows)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    assert read_records("x.parquet", buffer.getvalue()) == rows
    stream = io.BytesIO()
    with pa.ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table)
    assert read_records("data-00000.arrow", stream.getvalue()) == rows
    assert infer_format("a/b/HumanEval.jsonl.gz") == "jsonl" and infer_format("README.md") is None


def test_finalize_hash_matches_the_mcq_loader(tmp_path: Any) -> None:
    from benchlab.catalog.datasets import load_mcq_jsonl

    rows = [{"id": "b", "question": "q", "options": {"A": "x", "B": "y"}, "answer": "B"}]
    normalized = finalize(rows)
    path = tmp_path / "rows.jsonl"
    path.write_text(normalized.text())
    assert load_mcq_jsonl(path, key="rows").sha256 == normalized.sha256
