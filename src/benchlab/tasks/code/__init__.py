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

The package's modules follow that order: `prompts`, `extraction`, `program`, `limits` (timeouts),
`outcomes` (what a run came to) and `task` (the `CodeTask` itself).
"""

from benchlab.tasks.code.extraction import (
    EXTRACTION_RULES,
    Extraction,
    continue_prompt,
    defines,
    extract_code,
)
from benchlab.tasks.code.limits import ProblemLimits, TimeoutRule
from benchlab.tasks.code.outcomes import judge
from benchlab.tasks.code.program import (
    DONE_MARK,
    build_program,
    checks_source,
    program_digest,
    solution_source,
)
from benchlab.tasks.code.prompts import DEFAULT_SAMPLING_TEMPERATURE
from benchlab.tasks.code.task import CodeTask

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
