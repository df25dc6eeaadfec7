"""Code benchmarks (DESIGN §5 "code"): HumanEval- and MBPP-style problems, scored by running the
model's code against the problem's tests in the sandbox.

The pieces, in the order a sample meets them (docs/code-tasks.md tells the same story for users):

* **Prompt.** HumanEval rows (`style = "completion"`) show the function's signature and docstring
  and ask for the whole function; MBPP rows (`style = "instruction"`) show the task and the first
  of its asserts, so the model knows the function's name and signature.
* **Extraction** (`extract_code`, pure): a documented rule list takes the code from fenced blocks,
  or from the whole reply, after removing reasoning. A reply without code is the model's failure
  ("no code found"), counted apart from wrong code.
* **Program** (`build_program`, pure): the solution and the tests become one Python program that
  runs the solution as a module named `solution` (so `if __name__ == "__main__":` demos and
  `unittest.main()` do not run), then the tests in a namespace of their own (so a helper the model
  calls `check` is not replaced by HumanEval's `check`). It fails when either calls `exit()`, and
  passes only when it wrote its completion mark after the last test (`judge`), so a program that
  ends itself with status 0 before its tests ran does not pass.
* **Execution** happens in `solve()`, not in `score()`: running programs is slow and impure, while
  the protocol wants `score()` pure, synchronous and cheap. `solve()` runs every completion's
  program in the sandbox (bounded to one program per usable core) and records each outcome in
  `Transcript.state["executions"]`, together with the SHA-256 of the program it ran. `score()` then
  re-derives the programs and reads the outcomes; a program that no longer matches its record (the
  extraction rules or the options changed) is reported, and `execute()` re-runs a stored transcript.
* **Timeout**: `max(floor, factor × reference run time)`, capped; the reference solution is run
  once per problem (lazily, cached on the task) so slow problems are not failed for being slow.
* **Score**: `value` is the unbiased pass@1 estimate `c / n` (n completions, c passed), `correct`
  says whether any completion passed; `details["pass_at_k"]` has the unbiased pass@k.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import math
import os
import re
import textwrap
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from benchlab.analysis.stats import bootstrap_mean, pass_at_k
from benchlab.analysis.summary import count_summary, rate
from benchlab.tasks.base import ChatFn
from benchlab.tasks.mcq_extraction import strip_reasoning
from benchlab.tasks.sandbox import (
    ExecutionResult,
    IsolationMode,
    Limits,
    SandboxUnavailable,
    isolation_available,
    require_execution_allowed,
    run_python_async,
)
from benchlab.types import (
    Completion,
    ErrorKind,
    GenerationParams,
    Sample,
    SampleResult,
    Score,
    Transcript,
)

# Token budgets when the user gives none. A function is a few hundred tokens; reasoning models get
# far more so that the budget is not what decides the score.
DEFAULT_MAX_TOKENS = {False: 2048, None: 8192, True: 16384}

# For k > 1 completions the samples must differ: the user's temperature when they set one, else
# 0.8 (Chen et al. 2021 drew their pass@10/pass@100 samples at 0.8), and one seed per completion.
DEFAULT_SAMPLING_TEMPERATURE = 0.8

PASS_AT = (1, 5, 10)  # the k reported in summaries, where k <= samples
STDERR_TAIL = 2000  # characters of a program's stderr kept with its outcome
OUTCOMES = ("passed", "failed", "timeout", "crashed", "error")

COMPLETION_PROMPT = """Complete the following Python function.

```python
{prompt}
```

Reply with the complete function — its signature, body and any imports or helpers it needs — in a \
single ```python code block."""

INSTRUCTION_PROMPT = """{text}

Your code should pass tests like this one:

```python
{example}
```

Reply with the complete solution — the function `{entry_point}` and any imports or helpers it \
needs — in a single ```python code block."""


# ---------------------------------------------------------------------------------------------------
# Extraction

#: Every rule `extract_code` can report, in the order they are tried (docs/code-tasks.md).
EXTRACTION_RULES: dict[str, str] = {
    "empty": "Nothing is left once reasoning is removed, or only empty code blocks: no code.",
    "fence-only": (
        "Exactly one fenced Python block (```python, ```py, ```python3 or an untagged ```; "
        "also ~~~ fences, indented fences and a fence left open at the end): that block, dedented."
    ),
    "fence-entry-point": (
        "Several fenced Python blocks, and one or more define the entry point at top level: the last "
        "of those (a reply that revises its answer ends with the revision)."
    ),
    "fence-longest": "Several fenced Python blocks, none defining the entry point: the longest.",
    "fence-other-language": "Only fenced blocks of another language (```bash, ```text…): no code.",
    "whole-reply": "No fence, and the whole reply is Python (it parses and is more than a word).",
    "continuation": (
        "No fence, and the reply is a function body that parses as a continuation of the "
        "HumanEval prompt (completion-style reply)."
    ),
    "prose-trimmed": (
        "No fence, prose around code: from the first line that starts a definition or an import "
        "(`def`, `class`, `import`, `from … import`, `@`) to the longest stretch that parses."
    ),
    "code-unparsed": (
        "No fence, a line that starts a definition or import but nothing that parses: from that "
        "line to the end (the program then fails with the syntax error, as wrong code)."
    ),
    "none": "No fence and nothing that looks like Python: no code.",
}

_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "ipython"}
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_FENCE_CLOSE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*$")
_CODE_START = re.compile(
    r"^(?:(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(|class[ \t]+\w+[ \t]*[:(]|import[ \t]+[\w.]+"
    r"|from[ \t]+[\w.]+[ \t]+import\b|@[\w.]+)"
)
_FUTURE = re.compile(r"^from[ \t]+__future__[ \t]+import[^\n]*\n?", re.MULTILINE)


@dataclass(frozen=True)
class Extraction:
    """The code read from one reply (`None`: no code found) and the rule that decided."""

    code: str | None
    rule: str
    detail: str = ""


@dataclass(frozen=True)
class _Block:
    info: str
    code: str
    closed: bool

    @property
    def python(self) -> bool:
        tag = self.info.split()[0].strip("{}.").lower() if self.info.split() else ""
        return tag in _PYTHON_TAGS


def _fenced_blocks(text: str) -> list[_Block]:
    """Markdown fenced blocks (``` or ~~~, any indentation), in order. A block left open at the end
    of the reply (cut at the token limit, or never closed) runs to the end."""
    blocks: list[_Block] = []
    opened: tuple[str, str] | None = None
    body: list[str] = []
    for line in text.splitlines():
        if opened is None:
            match = _FENCE_OPEN.match(line)
            if match:
                opened, body = (match.group("fence"), match.group("info")), []
            continue
        close = _FENCE_CLOSE.match(line)
        fence = opened[0]
        if close and close.group("fence")[0] == fence[0] and len(close.group("fence")) >= len(fence):
            blocks.append(_Block(opened[1], textwrap.dedent("\n".join(body)).strip("\n"), closed=True))
            opened = None
            continue
        body.append(line)
    if opened is not None:
        blocks.append(_Block(opened[1], textwrap.dedent("\n".join(body)).strip("\n"), closed=False))
    return blocks


def defines(code: str, name: str) -> bool:
    """Whether `code` defines function `name` at top level (column 0, after dedenting)."""
    return re.search(rf"^(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.MULTILINE) is not None


def _parse(code: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like are not our concern here
            return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _is_python(code: str) -> bool:
    """Parses, and is more than a bare word or literal ("Sorry" parses as a name)."""
    tree = _parse(code)
    if tree is None or not tree.body:
        return False
    return any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.Name | ast.Attribute))
        for node in tree.body
    )


def _body_indent(prompt: str) -> str:
    """The indentation of a completion prompt's function body: that of its last non-blank line (the
    docstring's closing quotes in every HumanEval prompt)."""
    for line in reversed(prompt.splitlines()):
        if line.strip():
            return line[: len(line) - len(line.lstrip())] or "    "
    return "    "


def continue_prompt(prompt: str, body: str) -> str:
    """The prompt continued with a function body. A body that lost its indentation (column 0, as
    many chat replies give it) is re-indented to the prompt's; one that parses as given is kept."""
    body = body.strip("\n")
    indent = _body_indent(prompt)
    joined = prompt.rstrip("\n") + "\n"
    as_given = joined + body + "\n"
    reindented = joined + textwrap.indent(textwrap.dedent(body), indent, lambda line: True) + "\n"
    first = next((line for line in body.splitlines() if line.strip()), "")
    if first.startswith(indent) and _parse(as_given) is not None:
        return as_given
    if _parse(reindented) is not None:
        return reindented
    return as_given


def _prose_trimmed(text: str) -> Extraction | None:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return None
    # Candidate ends: the end of the reply, and every line back at column 0 (where prose resumes).
    ends = [len(lines)] + [
        i for i in range(len(lines) - 1, start, -1) if lines[i].strip() and not lines[i][0].isspace()
    ]
    for end in ends:
        code = "\n".join(lines[start:end]).strip("\n")
        if _is_python(code):
            return Extraction(code, "prose-trimmed", f"lines {start + 1}–{end}")
    return Extraction("\n".join(lines[start:]).strip("\n"), "code-unparsed", f"from line {start + 1}")


def extract_code(reply: str, *, entry_point: str | None = None, prompt: str | None = None) -> Extraction:
    """The code in a model's reply, by the first rule of `EXTRACTION_RULES` that applies.

    `entry_point` lets the rule pick the block that defines the function under test; `prompt` (the
    HumanEval prompt, for completion-style rows) lets a bare function body count as code. Pure and
    deterministic: scoring calls it again on stored transcripts.
    """
    text = strip_reasoning(reply or "").strip("\n")
    if not text.strip():
        return Extraction(None, "empty")
    blocks = _fenced_blocks(text)
    if blocks:
        python = [block for block in blocks if block.python and block.code.strip()]
        if not python and any(block.python for block in blocks):
            return Extraction(None, "empty", "only empty code blocks")
        if not python:
            tags = ", ".join(sorted({block.info.split()[0] for block in blocks if block.info.split()}))
            return Extraction(None, "fence-other-language", tags or "empty blocks")
        note = "" if all(block.closed for block in python) else "unclosed fence"
        if len(python) == 1:
            return Extraction(python[0].code, "fence-only", note)
        detail = f"{len(python)} blocks; {note}".strip("; ")
        defining = [b for b in python if entry_point and defines(b.code, entry_point)]
        if defining:
            return Extraction(defining[-1].code, "fence-entry-point", detail)
        longest = max(python, key=lambda block: len(block.code))  # max keeps the first of equals
        return Extraction(longest.code, "fence-longest", detail)
    whole = textwrap.dedent(text).strip("\n")
    if _is_python(whole):
        return Extraction(whole, "whole-reply")
    if prompt is not None and _parse(whole) is None and _CODE_START.match(whole) is None:
        continued = continue_prompt(prompt, text)
        if _parse(continued) is not None and continued.strip() != prompt.strip():
            return Extraction(text, "continuation")
    trimmed = _prose_trimmed(whole)
    if trimmed is not None:
        return trimmed
    return Extraction(None, "none")


# ---------------------------------------------------------------------------------------------------
# Programs

# The last thing a program writes when its tests ran to the end, on a copy of the original stdout:
# the program's own output goes to /dev/null, so an exit with status 0 before the tests finished
# (`os._exit(0)`) cannot pass for a pass.
DONE_MARK = "benchlab: tests completed"

_RUNNER = """\
import linecache as _linecache
import os as _os
import sys as _sys
import traceback as _traceback
import types as _types

_SOLUTION = {solution!r}
_TESTS = {tests!r}

_sys.stdout.flush()
_report = _os.dup(1)
_os.set_inheritable(_report, False)
_quiet = _os.open(_os.devnull, _os.O_WRONLY)
_os.dup2(_quiet, 1)
_os.close(_quiet)


def _run(source, filename, namespace):
    # Registered so that tracebacks show the failing line, not only its number.
    _linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        exec(compile(source, filename, "exec"), namespace)
    except SystemExit as stop:
        _sys.stderr.write(
            "benchlab: %s called exit(%r) before the tests finished\\n" % (filename, stop.code)
        )
        _sys.stderr.flush()
        _sys.exit(3)
    except BaseException as error:
        # Printed here, from the cache above and without this runner's own frame.
        _traceback.print_exception(type(error), error, error.__traceback__.tb_next)
        _sys.stderr.flush()
        _sys.exit(1)


_solution = _types.ModuleType("solution")
_solution.__file__ = "solution.py"
_sys.modules["solution"] = _solution
_run(_SOLUTION, "solution.py", _solution.__dict__)
_tests = dict(_solution.__dict__)
_tests["__name__"] = "tests"
_run(_TESTS, "tests.py", _tests)
_sys.stdout.flush()
_os.write(_report, {mark!r}.encode() + b"\\n")
"""


def _hoist_future(source: str) -> str:
    """`from __future__` imports must open a file; move any the model wrote below the prompt."""
    futures = _FUTURE.findall(source)
    if not futures:
        return source
    return "".join(line if line.endswith("\n") else line + "\n" for line in futures) + _FUTURE.sub("", source)


def solution_source(sample: Sample, code: str) -> str:
    """The solution as it runs. Completion style: the prompt first (its imports and helper functions,
    which replies often leave out), then the model's function, which replaces the prompt's stub; or,
    when the reply is a bare body, the prompt continued with it. Instruction style: the code as is."""
    data = sample.data
    if data.get("style") != "completion":
        return code
    prompt: str = data["prompt"]
    if defines(code, data["entry_point"]):
        return _hoist_future(prompt.rstrip("\n") + "\n\n\n" + code.strip("\n") + "\n")
    return continue_prompt(prompt, code)


def checks_source(sample: Sample, *, challenge_tests: bool = True) -> str:
    """The tests of a row: HumanEval's `check` and its call; MBPP's setup and asserts, followed by
    its challenge asserts where the row has them (and `challenge_tests` is on)."""
    tests: str = sample.data["tests"]
    extra = sample.data.get("challenge_tests") or ""
    if challenge_tests and extra.strip():
        tests = tests.rstrip("\n") + "\n" + extra
    return tests


def build_program(sample: Sample, code: str, *, challenge_tests: bool = True) -> str:
    """One program: the solution run as module `solution`, then the tests in a copy of its
    namespace. Exits 0 only when both ran to the end (the sandbox's definition of "passed")."""
    return _RUNNER.format(
        mark=DONE_MARK,
        solution=solution_source(sample, code),
        tests=checks_source(sample, challenge_tests=challenge_tests),
    )


def program_digest(program: str) -> str:
    return hashlib.sha256(program.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------------
# Timeouts


@dataclass(frozen=True)
class TimeoutRule:
    """Wall limit per problem: `max(floor_s, factor × reference run time)`, at most `ceiling_s`.

    The reference run time is that of the row's reference solution with its tests, through the same
    program builder and sandbox (interpreter start-up included). `factor = 0` skips measuring and
    gives every problem the floor. A reference that does not pass gets the ceiling (and one the
    sandbox could not start is measured again the next time, instead of failing the run: the
    model's programs then meet the same sandbox and are recorded as infra errors if it is broken).
    """

    floor_s: float = 5.0
    factor: float = 10.0
    ceiling_s: float = 120.0

    def __post_init__(self) -> None:
        if self.floor_s <= 0 or self.ceiling_s < self.floor_s or self.factor < 0:
            raise ValueError(f"need 0 < floor_s <= ceiling_s and factor >= 0, not {self!r}")

    def wall_seconds(self, reference_seconds: float | None) -> float:
        if reference_seconds is None:
            return self.floor_s
        return min(self.ceiling_s, max(self.floor_s, self.factor * reference_seconds))

    def describe(self) -> str:
        if self.factor == 0:
            return f"{self.floor_s:g} s for every problem"
        return f"max({self.floor_s:g} s, {self.factor:g} × reference run time), at most {self.ceiling_s:g} s"


@dataclass(frozen=True)
class ProblemLimits:
    """The limits one problem's programs run under, and how they were derived."""

    limits: Limits
    reference_seconds: float | None
    reference_status: str  # passed · failed · timeout · crashed · error · not measured · no reference

    def record(self) -> dict[str, Any]:
        return {
            "wall_seconds": self.limits.wall_seconds,
            "cpu_seconds": self.limits.cpu_seconds,
            "reference_seconds": self.reference_seconds,
            "reference_status": self.reference_status,
        }


# ---------------------------------------------------------------------------------------------------
# The task


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def judge(result: ExecutionResult) -> tuple[str, str]:
    """(status, reason) of a program: the sandbox's, except that a program that exited 0 without
    reaching the end of its tests (`DONE_MARK` missing) failed."""
    if result.status == "passed" and DONE_MARK not in result.stdout:
        return "failed", "exit status 0 before the tests finished (the program ended itself)"
    return result.status, result.reason


def _outcome(result: ExecutionResult, digest: str, wall: float) -> dict[str, Any]:
    """What is kept of one execution: enough to score, and to show why it failed."""
    status, reason = judge(result)
    return {
        "status": status,
        "passed": status == "passed",
        "exit_code": result.exit_code,
        "duration": round(result.duration, 4),
        "reason": reason,
        "stderr": result.stderr[-STDERR_TAIL:],
        "wall_seconds": wall,
        "program_sha256": digest,
        "isolation": result.isolation,
    }


@dataclass(eq=False)
class CodeTask:
    """Executed code benchmarks (HumanEval, MBPP): `samples` completions per problem, each run
    against the problem's tests in the sandbox.

    `limits` sets the memory, file-size, process and output limits of every program; its wall and
    CPU limits are replaced per problem by `timeout` (`TimeoutRule`). `workers` bounds how many
    programs run at once (default: one per usable core), `isolation` is the sandbox mode, and
    `challenge_tests` adds MBPP's challenge asserts where a row has them.
    """

    samples: int = 1
    limits: Limits | None = None
    timeout: TimeoutRule = field(default_factory=TimeoutRule)
    challenge_tests: bool = True
    workers: int | None = None
    isolation: IsolationMode = "auto"
    kind: str = "code"
    _reference: dict[str, ProblemLimits] = field(default_factory=dict, init=False, repr=False)
    _measuring: dict[str, asyncio.Future[ProblemLimits]] = field(default_factory=dict, init=False, repr=False)
    _gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be at least 1, not {self.samples}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")

    # -- settings ----------------------------------------------------------------------------------

    @property
    def base_limits(self) -> Limits:
        return self.limits or Limits()

    def isolation_summary(self) -> str:
        """The isolation programs get here (probed once per interpreter and cached by the sandbox)."""
        try:
            return isolation_available().summary
        except SandboxUnavailable as error:
            return f"unavailable: {error}"

    def options(self) -> dict[str, Any]:
        limits = asdict(self.base_limits)
        limits.pop("wall_seconds")
        limits.pop("cpu_seconds")
        return {
            "samples": self.samples,
            "sampling": (
                "greedy (the run's parameters)"
                if self.samples == 1
                else f"temperature = the run's if > 0, else {DEFAULT_SAMPLING_TEMPERATURE}; seed + i"
            ),
            "isolation": self.isolation_summary(),
            "isolation_mode": self.isolation,
            "limits": limits,
            "timeout": {**asdict(self.timeout), "rule": self.timeout.describe()},
            "challenge_tests": self.challenge_tests,
        }

    def check_ready(self) -> str:
        """Call before a run starts: raises `CodeExecutionDisabled` (with the sandbox's message) unless
        `BENCHLAB_ALLOW_CODE_EXEC=1`, `SandboxUnavailable` when programs cannot run here; returns the
        isolation summary to record and show."""
        require_execution_allowed()
        return isolation_available().summary

    # -- asking ------------------------------------------------------------------------------------

    def messages(self, sample: Sample) -> list[dict[str, Any]]:
        data = sample.data
        if data.get("style") == "completion":
            text = COMPLETION_PROMPT.format(prompt=data["prompt"].strip("\n"))
        else:
            examples = data.get("test_list") or [
                line for line in str(data.get("tests", "")).splitlines() if line.startswith("assert")
            ]
            text = INSTRUCTION_PROMPT.format(
                text=str(data["prompt"]).strip(),
                example=(examples[0] if examples else "").strip(),
                entry_point=data["entry_point"],
            )
        return [{"role": "user", "content": text}]

    def sampling(self, params: GenerationParams) -> list[GenerationParams]:
        """One parameter set per completion: the run's own for k = 1 (greedy by default); for k > 1 a
        temperature above 0 and seeds `seed, seed + 1, …` so the completions differ reproducibly."""
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        if self.samples == 1:
            return [params]
        temperature = params.temperature if params.temperature > 0 else DEFAULT_SAMPLING_TEMPERATURE
        base = params.seed if params.seed is not None else 1234
        return [
            params.model_copy(update={"temperature": temperature, "seed": base + index})
            for index in range(self.samples)
        ]

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        """Ask for `samples` completions (one request at a time, so the run's concurrency stays the
        number of requests in flight) and run each one's program as soon as it arrives."""
        require_execution_allowed()  # before the first request: nothing is asked that cannot be scored
        messages = self.messages(sample)
        plans = self.sampling(params)
        problem = asyncio.ensure_future(self.problem_limits(sample))
        runs: list[asyncio.Future[dict[str, Any] | None]] = []
        completions: list[Completion] = []
        try:
            for plan in plans:
                completion = await chat(messages, plan)
                completions.append(completion)
                runs.append(asyncio.ensure_future(self._execute_reply(sample, completion.content, problem)))
            executions = list(await asyncio.gather(*runs))
            limits = await problem
        finally:
            waiting: list[asyncio.Future[Any]] = [problem, *runs]
            for pending in waiting:
                if not pending.done():
                    pending.cancel()
        state: dict[str, Any] = {
            "style": sample.data.get("style"),
            "executions": executions,
            "limits": limits.record(),
            "isolation": self._isolation_of(executions),
        }
        if self.samples > 1:
            state["sampling"] = {"temperature": plans[0].temperature, "seeds": [p.seed for p in plans]}
        return Transcript(messages=messages, completions=completions, state=state)

    async def execute(self, sample: Sample, transcript: Transcript) -> Transcript:
        """Run a stored transcript's completions again (after a change of extraction rules, options
        or sandbox) and return it with fresh outcomes; `score()` of the result is then current."""
        require_execution_allowed()
        problem = asyncio.ensure_future(self.problem_limits(sample))
        try:
            executions = list(
                await asyncio.gather(
                    *(self._execute_reply(sample, c.content, problem) for c in transcript.completions)
                )
            )
            limits = await problem
        finally:
            if not problem.done():
                problem.cancel()
        state = {
            **transcript.state,
            "style": sample.data.get("style"),
            "executions": executions,
            "limits": limits.record(),
            "isolation": self._isolation_of(executions),
        }
        return transcript.model_copy(update={"state": state})

    # -- running -----------------------------------------------------------------------------------

    def extract(self, sample: Sample, reply: str) -> Extraction:
        prompt = sample.data["prompt"] if sample.data.get("style") == "completion" else None
        return extract_code(reply, entry_point=sample.data.get("entry_point"), prompt=prompt)

    def program(self, sample: Sample, code: str) -> str:
        return build_program(sample, code, challenge_tests=self.challenge_tests)

    def _gate(self) -> asyncio.Semaphore:
        """One program per usable core, across every sample of the run (per event loop, because a
        semaphore belongs to the loop it was first used on)."""
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.workers or _usable_cores())
        return gate

    async def run_program(self, program: str, limits: Limits) -> ExecutionResult:
        async with self._gate():
            return await run_python_async(program, limits=limits, isolation=self.isolation)

    async def _execute_reply(
        self, sample: Sample, reply: str, problem: asyncio.Future[ProblemLimits]
    ) -> dict[str, Any] | None:
        extraction = self.extract(sample, reply)
        if extraction.code is None:
            return None
        program = self.program(sample, extraction.code)
        limits = (await asyncio.shield(problem)).limits
        result = await self.run_program(program, limits)
        return _outcome(result, program_digest(program), limits.wall_seconds)

    def _limits(self, wall: float) -> Limits:
        return replace(self.base_limits, wall_seconds=wall, cpu_seconds=max(1, math.ceil(wall)))

    async def problem_limits(self, sample: Sample) -> ProblemLimits:
        """The limits for one problem's programs, measuring the reference solution the first time
        the problem is seen (cached on the task; concurrent callers share one measurement)."""
        reference = sample.data.get("reference")
        if self.timeout.factor == 0 or not isinstance(reference, str) or not reference.strip():
            status = "not measured" if self.timeout.factor == 0 else "no reference"
            return ProblemLimits(self._limits(self.timeout.wall_seconds(None)), None, status)
        program = self.program(sample, reference)
        key = program_digest(program)
        if key in self._reference:
            return self._reference[key]
        loop = asyncio.get_running_loop()
        pending = self._measuring.get(key)
        if pending is None or pending.get_loop() is not loop or pending.cancelled():
            pending = self._measuring[key] = asyncio.ensure_future(self._measure(program))
        try:
            measured = await asyncio.shield(pending)
        finally:
            if pending.done():
                self._measuring.pop(key, None)
        if measured.reference_status != "error":  # a sandbox hiccup is measured again next time
            self._reference[key] = measured
        return measured

    async def _measure(self, program: str) -> ProblemLimits:
        result = await self.run_program(program, self._limits(self.timeout.ceiling_s))
        seconds = round(result.duration, 4)
        status, _ = judge(result)
        if status != "passed":
            return ProblemLimits(self._limits(self.timeout.ceiling_s), seconds, status)
        return ProblemLimits(self._limits(self.timeout.wall_seconds(seconds)), seconds, "passed")

    def _isolation_of(self, executions: Sequence[dict[str, Any] | None]) -> str:
        seen = {e["isolation"] for e in executions if e is not None and e.get("isolation")}
        return " | ".join(sorted(seen)) if seen else self.isolation_summary()

    # -- scoring -----------------------------------------------------------------------------------

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        """Pure: re-extracts each completion's code, rebuilds its program and reads the recorded
        outcome of exactly that program. Never runs anything."""
        executions: list[dict[str, Any] | None] = list(transcript.state.get("executions") or [])
        completions = transcript.completions
        n = len(completions)
        extractions = [self.extract(sample, c.content) for c in completions]
        statuses: list[str] = []
        stale = 0
        for index, extraction in enumerate(extractions):
            if extraction.code is None:
                statuses.append("no code")
                continue
            record = executions[index] if index < len(executions) else None
            expected = program_digest(self.program(sample, extraction.code))
            if record is None or record.get("program_sha256") != expected:
                statuses.append("not executed")
                stale += 1
                continue
            statuses.append(str(record["status"]))
        c = statuses.count("passed")
        details: dict[str, Any] = {
            "n": n,
            "c": c,
            "statuses": statuses,
            "rules": [e.rule for e in extractions],
            "pass_at_k": {str(k): pass_at_k(n, c, k) for k in sorted({*PASS_AT, n}) if k <= n} if n else {},
            "finish_reasons": [completion.finish_reason for completion in completions],
            "limits": transcript.state.get("limits"),
            "isolation": transcript.state.get("isolation"),
        }
        failure = next(
            (e for e in executions if e is not None and e.get("status") not in ("passed", None)), None
        )
        if failure is not None:
            details["first_failure"] = {"status": failure["status"], "reason": failure.get("reason")}
            details["stderr_tail"] = str(failure.get("stderr", ""))[-600:]
        codes = [e.code for e in extractions if e.code is not None]
        passing = [e.code for e, s in zip(extractions, statuses, strict=True) if s == "passed"]
        extracted = passing[0] if passing else (codes[0] if codes else None)
        if n == 0:
            return Score(error_kind=ErrorKind.MODEL, error="no completion to score", details=details)
        if stale:
            return Score(
                error_kind=ErrorKind.INFRA,
                error=(
                    f"{stale} of {n} programs have no recorded outcome (the transcript was not executed, "
                    "or the extraction rules or task options changed since); re-run them with "
                    "CodeTask.execute(sample, transcript)"
                ),
                extracted=extracted,
                details=details,
            )
        if "error" in statuses:
            reason = next((e.get("reason") for e in executions if e and e.get("status") == "error"), "")
            return Score(
                error_kind=ErrorKind.INFRA,
                error=f"the sandbox could not run the program: {reason}",
                extracted=extracted,
                details=details,
            )
        if not codes:
            cut = any(completion.finish_reason == "length" for completion in completions)
            why = " (the reply was cut at the token limit)" if cut else ""
            return Score(
                value=0.0,
                correct=False,
                error_kind=ErrorKind.MODEL,
                error=f"no code found{why} ({extractions[-1].rule})",
                details=details,
            )
        return Score(value=c / n, correct=c > 0, extracted=extracted, details=details)

    # -- summarizing -------------------------------------------------------------------------------

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]:
        summary = count_summary(results)
        scored = [r for r in results if r.score.error_kind in (ErrorKind.NONE, ErrorKind.MODEL)]
        counts = [(int(r.score.details.get("n", 0)), int(r.score.details.get("c", 0))) for r in scored]
        counts = [(n, c) for n, c in counts if n > 0]
        summary["problems"] = len(counts)
        summary["samples_per_problem"] = sorted({n for n, _ in counts})
        single = all(n == 1 for n, _ in counts)
        pass_at: dict[str, Any] = {}
        smallest = min((n for n, _ in counts), default=0)
        for k in PASS_AT:
            if k > smallest:
                continue
            if single:
                entry = {**rate(sum(c for _, c in counts), len(counts)), "method": "wilson"}
            else:
                entry = _bootstrap_entry([pass_at_k(n, c, k) for n, c in counts])
            pass_at[str(k)] = entry
        summary["pass_at_k"] = pass_at
        summary["pass@1"] = pass_at.get("1") or rate(0, 0)
        summary["accuracy"] = summary["pass@1"]  # the field every surface prints first
        statuses: dict[str, int] = {name: 0 for name in (*OUTCOMES, "no code")}
        truncated = 0
        isolation: set[str] = set()
        for result in scored:
            for status in result.score.details.get("statuses", []):
                statuses[status] = statuses.get(status, 0) + 1
            truncated += sum(1 for f in result.score.details.get("finish_reasons", []) if f == "length")
            if result.score.details.get("isolation"):
                isolation.add(str(result.score.details["isolation"]))
        programs = sum(statuses.values())
        summary["outcomes"] = statuses
        summary["no_code"] = rate(statuses["no code"], programs)  # over completions
        summary["unparseable"] = rate(  # problems where no completion had any code
            sum(1 for r in scored if r.score.error_kind is ErrorKind.MODEL), len(scored)
        )
        summary["truncated"] = truncated
        walls = sorted(
            float(r.score.details["limits"]["wall_seconds"])
            for r in scored
            if isinstance(r.score.details.get("limits"), dict)
        )
        summary["timeout_s"] = {"min": walls[0], "max": walls[-1]} if walls else None
        summary["isolation"] = " | ".join(sorted(isolation)) if isolation else self.isolation_summary()
        return summary


def _bootstrap_entry(values: list[float]) -> dict[str, Any]:
    """A mean of per-problem estimates with its bootstrap interval, in the shape of `rate()`."""
    if not values:
        return {"k": 0, "n": 0, "rate": None, "ci_low": 0.0, "ci_high": 1.0, "method": "bootstrap"}
    interval = bootstrap_mean(values)
    return {
        "k": round(sum(values), 3),
        "n": len(values),
        "rate": interval.estimate,
        "ci_low": interval.low,
        "ci_high": interval.high,
        "method": "bootstrap",
    }


__all__ = [
    "DEFAULT_SAMPLING_TEMPERATURE",
    "DONE_MARK",
    "EXTRACTION_RULES",
    "CodeTask",
    "Extraction",
    "ProblemLimits",
    "TimeoutRule",
    "build_program",
    "checks_source",
    "continue_prompt",
    "defines",
    "extract_code",
    "judge",
    "program_digest",
    "solution_source",
]
