"""Running model-written programs so that they can be scored without trusting them (DESIGN §5 "code").

A program (the model's solution plus the task's tests, as asserts) passes when it exits 0 within its
limits. Everything here exists because the program is hostile until proven otherwise:

* Execution is off unless the user sets `BENCHLAB_ALLOW_CODE_EXEC=1`: running code is a decision the
  user makes, never a side effect of picking a benchmark.
* Every program runs in its own session and process group, in a fresh temporary folder, with a
  scrubbed environment (no API keys), kernel resource limits (CPU, address space, file size, process
  count, no core files) and a wall-clock timeout that kills the whole group.
* With bubblewrap (Linux), it also gets no network, only read-only system folders and the
  interpreter's own folders (no home, no `BENCHLAB_HOME`, no project files), a private size-limited
  /tmp, its own pid namespace (so every process it started dies with it) and, when benchlab runs as
  root, an unprivileged uid of its own.

Limits are applied by a tiny launcher (`launcher._LAUNCHER`) that runs inside the sandbox, sets them, drops
privileges and only then execs the program. It reports "limits in force" on a pipe closed on exec,
so a setup failure ("error", not the model's fault) can never be forged by the program itself.

docs/sandbox.md says what this protects against and, as importantly, what it does not.

The package's modules, one job each: `limits` (what a program may use, what came of it, the opt-in),
`host` (interpreter folders, uids), `launcher`, `bubblewrap` and `plan` (the command a program runs
with), `staging` (its working folder), `isolation` (what this machine can give) and `runner`.
"""

from benchlab.tasks.sandbox.isolation import isolation_available
from benchlab.tasks.sandbox.limits import (
    ALLOW_VARIABLE,
    CodeExecutionDisabled,
    ExecutionResult,
    Isolation,
    IsolationMode,
    Limits,
    SandboxUnavailable,
    Status,
    execution_allowed,
    require_execution_allowed,
)
from benchlab.tasks.sandbox.runner import run_many, run_many_async, run_python, run_python_async

__all__ = [
    "ALLOW_VARIABLE",
    "CodeExecutionDisabled",
    "ExecutionResult",
    "Isolation",
    "IsolationMode",
    "Limits",
    "SandboxUnavailable",
    "Status",
    "execution_allowed",
    "isolation_available",
    "require_execution_allowed",
    "run_many",
    "run_many_async",
    "run_python",
    "run_python_async",
]
