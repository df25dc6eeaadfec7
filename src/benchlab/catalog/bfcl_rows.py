"""BFCL rows (the `bfcl-eval` wheel's question and possible-answer files) in benchlab's `bfcl` shape.

BFCL keeps a category's questions and its possible answers in two JSON-lines files with the same
name (`data/BFCL_v4_multiple.json`, `data/possible_answer/BFCL_v4_multiple.json`). A definition
reads both with one glob; `join_answers` pairs each question with its answer row by `id` before the
per-row hook `bfcl` turns the pair into:

    {id, subject, domain, messages, tools, names, expected}

- `subject` and `domain`: the category (`simple_python`, `multiple`, `parallel`,
  `parallel_multiple`, `irrelevance`), read from the id;
- `messages`: the single turn's chat messages;
- `tools`: OpenAI-style tool specs whose parameters are valid JSON Schema (mapping below);
- `names`: tool name sent to the model → BFCL's function name. OpenAI-compatible servers accept
  only `[A-Za-z0-9_-]` in names, so `math.factorial` is offered as `math_factorial`;
- `expected`: `[{name, args: {param: [acceptable values…]}}]` with BFCL's `""` (the parameter may
  be left out) kept as given; empty for irrelevance (the right answer is no call).

Type mapping from BFCL's Python-flavoured docs to JSON Schema: `dict` → `object`, `float` →
`number`, `tuple` → `array`, `any` → no `type` (any value); `integer`, `string`, `boolean`,
`array` stay. BFCL's `optional` flag is dropped (what is optional is what `required` leaves out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from benchlab.catalog.errors import MappingError

TYPE_MAP = {
    "dict": "object",
    "float": "number",
    "tuple": "array",
    "integer": "integer",
    "string": "string",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
    "number": "number",
}
_DROPPED = {"optional"}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


def json_schema(doc: Any, where: str) -> dict[str, Any]:
    """One BFCL parameter doc as JSON Schema (recursively through properties and items)."""
    if not isinstance(doc, dict):
        raise MappingError(f"{where}: a parameter description must be an object, not {doc!r}")
    schema: dict[str, Any] = {}
    for key, value in doc.items():
        if key in _DROPPED:
            continue
        if key == "type":
            if value == "any":
                continue
            if value not in TYPE_MAP:
                raise MappingError(f"{where}: unknown parameter type {value!r}; known: {', '.join(TYPE_MAP)}")
            schema["type"] = TYPE_MAP[value]
        elif key == "properties" and isinstance(value, dict):
            schema["properties"] = {name: json_schema(sub, f"{where}.{name}") for name, sub in value.items()}
        elif key == "items" and isinstance(value, dict):
            schema["items"] = json_schema(value, f"{where}[]")
        else:
            schema[key] = value
    return schema


def tool_name(name: str) -> str:
    return _UNSAFE_NAME.sub("_", name)


def _tools(functions: Any, row_id: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    if not isinstance(functions, list) or not functions:
        raise MappingError(f"{row_id}: `function` must list function docs", field="function")
    tools: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for function in functions:
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise MappingError(f"{row_id}: every function doc needs a `name`", field="function")
        original = function["name"]
        offered = tool_name(original)
        if offered in names:
            raise MappingError(f"{row_id}: two functions are both offered as {offered!r}", field="function")
        names[offered] = original
        parameters = json_schema(function.get("parameters") or {"type": "dict", "properties": {}}, original)
        try:
            Draft202012Validator.check_schema(parameters)
        except SchemaError as error:
            raise MappingError(f"{row_id}: {original}: not valid JSON Schema ({error.message})") from None
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": offered,
                    "description": str(function.get("description", "")),
                    "parameters": parameters,
                },
            }
        )
    return tools, names


def _expected(ground_truth: Any, row_id: str, names: dict[str, str]) -> list[dict[str, Any]]:
    if not isinstance(ground_truth, list):
        raise MappingError(f"{row_id}: `ground_truth` must be a list of calls", field="ground_truth")
    known = set(names.values())
    calls = []
    for entry in ground_truth:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise MappingError(f"{row_id}: each ground-truth call is one {{name: {{param: [values]}}}}")
        ((name, args),) = entry.items()
        if name not in known or not isinstance(args, dict):
            raise MappingError(f"{row_id}: ground truth calls {name!r}, which the row does not offer")
        for param, accepted in args.items():
            if not isinstance(accepted, list) or not accepted:
                raise MappingError(f"{row_id}: {name}.{param}: possible answers must be a non-empty list")
        calls.append({"name": name, "args": args})
    return calls


def category(row_id: str) -> str:
    """`parallel_multiple_12` → `parallel_multiple`."""
    head, _, tail = row_id.rpartition("_")
    if not head or not tail.isdigit():
        raise MappingError(f"id {row_id!r} is not BFCL's `<category>_<number>`", field="id")
    return head


def bfcl(row: dict[str, Any]) -> dict[str, Any]:
    """One joined BFCL row (question, function docs, ground truth) in the `bfcl` shape."""
    row_id = row.get("id")
    if not isinstance(row_id, str):
        raise MappingError("field 'id' is not text", field="id")
    group = category(row_id)
    turns = row.get("question")
    if not isinstance(turns, list) or len(turns) != 1 or not isinstance(turns[0], list) or not turns[0]:
        raise MappingError(f"{row_id}: `question` must hold exactly one turn (single-turn categories)")
    messages = []
    for message in turns[0]:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise MappingError(f"{row_id}: every message needs a text `content`", field="question")
        messages.append({"role": str(message.get("role", "user")), "content": message["content"]})
    tools, names = _tools(row.get("function"), row_id)
    if "ground_truth" in row:
        expected = _expected(row["ground_truth"], row_id, names)
    elif group == "irrelevance":
        expected = []
    else:
        raise MappingError(
            f"{row_id}: no possible answer; the source's path must match the question file and "
            "data/possible_answer/ (e.g. `bfcl_eval/data/*BFCL_v4_simple_python.json`)",
            field="ground_truth",
        )
    return {
        "id": row_id,
        "subject": group,
        "domain": group,
        "messages": messages,
        "tools": tools,
        "names": names,
        "expected": expected,
    }


def join_answers(rows: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """Question rows with their possible-answer row merged in, matched by `id`, in question order.
    Answer rows carry `ground_truth` and no `question`; an answer without a question is an error."""
    questions: list[tuple[str, dict[str, Any]]] = []
    answers: dict[str, Any] = {}
    for where, row in rows:
        if not isinstance(row, dict):
            raise MappingError(f"{where}: expected an object, got {type(row).__name__}")
        if "question" in row:
            questions.append((where, row))
        elif "ground_truth" in row:
            answers[str(row.get("id"))] = row["ground_truth"]
        else:
            raise MappingError(f"{where}: neither a question (`question`) nor an answer (`ground_truth`)")
    asked = {str(row.get("id")) for _, row in questions}
    orphans = sorted(set(answers) - asked)
    if orphans:
        raise MappingError(f"possible answers for ids no question has: {', '.join(orphans[:5])}")
    for where, row in questions:
        key = str(row.get("id"))
        yield where, ({**row, "ground_truth": answers[key]} if key in answers else row)
