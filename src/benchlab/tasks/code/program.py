"""Building the program that runs a solution against its tests (pure), and its digest."""

from __future__ import annotations

import hashlib
import re

from benchlab.tasks.code.extraction import continue_prompt, defines
from benchlab.types import Sample

_FUTURE = re.compile(r"^from[ \t]+__future__[ \t]+import[^\n]*\n?", re.MULTILINE)

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
