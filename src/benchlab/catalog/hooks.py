"""Python normalizers for the few sets whose rows a declarative mapping cannot describe.

A hook takes one upstream row (a dict) and returns the normalized row, `id` included. Code sets
need derived fields (the test script to run, the function under test), GSM8K needs its final
number cut out of a worked solution. Hooks are named in a definition (`hook = "humaneval"`) and
looked up here, so a definition never points at arbitrary code.

Normalized shapes (documented in docs/catalog.md):

- code: `{id, style, prompt, entry_point, tests, reference}` where `tests` is a Python script
  that raises when appended to a wrong solution and `reference` is a complete passing program;
  `style` is ``completion`` (the model continues `prompt`, HumanEval) or ``instruction`` (the
  model writes a function from a description, MBPP), plus MBPP's `test_list`,
  `challenge_tests` and `setup`.
- rubric: `{id, subject?, conversation: [{role, content}], rubric: [{criterion, points, tags?,
  rule?}]}` (see `tasks/rubric_rules.py` for the rule vocabulary).
- longcontext: `{id, length, depth, seed}`; the haystack is generated at run time.
- math: `{id, question, answer, solution}` with `answer` the final number as text, commas
  removed ("1,000" → "1000"), so a scorer can compare parsed numbers.
- instruct: `{id, prompt, instruction_id_list, kwargs}`, one kwargs object per instruction
  holding only the parameters that instruction takes (IFEval's hub copy fills every key, with
  nulls; they are dropped so its mirrors normalize to the same rows).
- bfcl: `{id, subject, domain, messages, tools, names, expected}` (see `catalog/bfcl_rows.py`).
"""

from __future__ import annotations

import ast
import hashlib
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from benchlab.catalog.bfcl_rows import bfcl, join_answers
from benchlab.catalog.errors import MappingError
from benchlab.catalog.mapping import get_path

Hook = Callable[[dict[str, Any]], dict[str, Any]]
# A join combines a source's upstream rows before the per-row hook, for sets that keep one
# sample's parts in several files (BFCL: questions and possible answers).
Join = Callable[[Iterable[tuple[str, Any]]], Iterator[tuple[str, Any]]]

# The fields every normalized row of a kind must carry, checked after the hook or mapping.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("id", "style", "prompt", "entry_point", "tests", "reference"),
    "math": ("id", "question", "answer"),
    "instruct": ("id", "prompt", "instruction_id_list", "kwargs"),
    "chart": ("id", "title", "request", "chart_type", "data", "tokens", "banned", "interactivity"),
    "rubric": ("id", "conversation", "rubric"),
    "longcontext": ("id", "length", "depth", "seed"),
    "extract": ("id", "text", "schema", "expected"),
    "toolcall": ("id", "domain", "difficulty", "tools", "variants", "expected"),
    "agent": ("id", "domain", "difficulty", "tools", "prompt", "reference"),
    "bfcl": ("id", "messages", "tools", "names"),
}


def _text(row: dict[str, Any], path: str) -> str:
    value = get_path(row, path)
    if not isinstance(value, str):
        raise MappingError(f"field {path!r} is {type(value).__name__}, not text", field=path)
    return value


def _strings(row: dict[str, Any], path: str) -> list[str]:
    value = get_path(row, path)
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise MappingError(f"field {path!r} is not a list of strings", field=path)
    return list(value)


def humaneval(row: dict[str, Any]) -> dict[str, Any]:
    """HumanEval: the model completes `prompt`; `check(entry_point)` runs the unit tests."""
    entry_point = _text(row, "entry_point")
    prompt = _text(row, "prompt")
    test = _text(row, "test")
    return {
        "id": _text(row, "task_id"),
        "style": "completion",
        "prompt": prompt,
        "entry_point": entry_point,
        "tests": f"{test}\n\ncheck({entry_point})\n",
        "reference": prompt + _text(row, "canonical_solution"),
    }


def mbpp(row: dict[str, Any]) -> dict[str, Any]:
    """MBPP: a description and three asserts; the function name is read from the reference code
    (the first function it defines that the asserts call), never guessed from the text."""
    code = _text(row, "code")
    test_list = _strings(row, "test_list")
    setup = row.get("test_setup_code") or ""
    challenge = row.get("challenge_test_list") or []
    task_id = get_path(row, "task_id")
    setup_block = f"{setup}\n" if setup else ""
    return {
        "id": str(task_id),
        "style": "instruction",
        "prompt": _text(row, "text"),
        "entry_point": _entry_point(code, test_list, task_id),
        "tests": setup_block + "\n".join(test_list) + "\n",
        "challenge_tests": (setup_block + "\n".join(challenge) + "\n") if challenge else "",
        "test_list": test_list,
        "setup": setup,
        "reference": code,
    }


def _entry_point(code: str, tests: list[str], task_id: Any) -> str:
    try:
        with warnings.catch_warnings():
            # Some reference solutions hold string escapes that newer Pythons warn about.
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(code)
    except SyntaxError as error:
        raise MappingError(f"task {task_id}: reference code does not parse ({error.msg})") from error
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    joined = "\n".join(tests)
    for name in names:
        if re.search(rf"\b{re.escape(name)}\s*\(", joined):
            return name
    if names:
        return names[0]
    raise MappingError(f"task {task_id}: the reference code defines no function")


_FINAL_NUMBER = re.compile(r"####\s*(.+?)\s*$", re.DOTALL)


def gsm8k(row: dict[str, Any]) -> dict[str, Any]:
    """GSM8K: the final answer is what follows `####` in the worked solution. The id is derived
    from the question text because the upstream rows carry none (mirrors number them differently)."""
    question = _text(row, "question")
    solution = _text(row, "answer")
    match = _FINAL_NUMBER.search(solution)
    if match is None:
        raise MappingError("answer: no '#### <number>' line in the solution", field="answer")
    answer = match.group(1).replace(",", "").strip()
    return {
        "id": hashlib.sha256(question.encode()).hexdigest()[:16],
        "question": question,
        "answer": answer,
        "solution": solution,
    }


def ifeval(row: dict[str, Any]) -> dict[str, Any]:
    """IFEval: `key` becomes the id; each instruction's kwargs lose their null entries."""
    key = get_path(row, "key")
    if not isinstance(key, int | str) or isinstance(key, bool):
        raise MappingError(f"field 'key' is {type(key).__name__}, not an id", field="key")
    ids = _strings(row, "instruction_id_list")
    kwargs = get_path(row, "kwargs")
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise MappingError(
            f"row {key}: kwargs must be a list with one object per instruction", field="kwargs"
        )
    cleaned = []
    for given in kwargs:
        if given is not None and not isinstance(given, dict):
            raise MappingError(f"row {key}: every kwargs entry must be an object", field="kwargs")
        cleaned.append({name: value for name, value in (given or {}).items() if value is not None})
    return {"id": str(key), "prompt": _text(row, "prompt"), "instruction_id_list": ids, "kwargs": cleaned}


def healthbench(row: dict[str, Any]) -> dict[str, Any]:
    """HealthBench: `prompt` is the conversation, `rubrics` the physician-written items; the
    subject is the row's `theme:` tag. The ideal completions and canary are left out."""
    conversation = get_path(row, "prompt")
    if not isinstance(conversation, list) or not conversation:
        raise MappingError("field 'prompt' is not a non-empty list of messages", field="prompt")
    turns = []
    for index, turn in enumerate(conversation):
        if not isinstance(turn, dict) or not isinstance(turn.get("content"), str) or "role" not in turn:
            raise MappingError(f"prompt[{index}] is not a {{role, content}} message", field="prompt")
        turns.append({"role": str(turn["role"]), "content": turn["content"]})
    rubric = []
    for index, item in enumerate(get_path(row, "rubrics") or []):
        if not isinstance(item, dict) or not isinstance(item.get("criterion"), str):
            raise MappingError(f"rubrics[{index}] has no text `criterion`", field="rubrics")
        points = item.get("points")
        if isinstance(points, bool) or not isinstance(points, int | float):
            raise MappingError(f"rubrics[{index}].points is not a number", field="rubrics")
        tags = list(item.get("tags") or [])
        rubric.append({"criterion": item["criterion"], "points": points, "tags": tags})
    if not rubric:
        raise MappingError("field 'rubrics' holds no items", field="rubrics")
    labels = [str(tag) for tag in row.get("example_tags") or []]
    theme = next((tag.split(":", 1)[1] for tag in labels if tag.startswith("theme:")), None)
    return {
        "id": _text(row, "prompt_id"),
        "subject": theme,
        "conversation": turns,
        "rubric": rubric,
        "tags": labels,
    }


HOOKS: dict[str, Hook] = {
    "humaneval": humaneval,
    "mbpp": mbpp,
    "gsm8k": gsm8k,
    "ifeval": ifeval,
    "healthbench": healthbench,
    "bfcl": bfcl,
}
JOINS: dict[str, Join] = {"bfcl": join_answers}


def get_hook(name: str) -> Hook:
    try:
        return HOOKS[name]
    except KeyError:
        raise MappingError(f"no hook named {name!r}; known hooks: {', '.join(sorted(HOOKS))}") from None
