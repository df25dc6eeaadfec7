"""What a program's run came to: its status and the record kept of it."""

from __future__ import annotations

from typing import Any

from benchlab.tasks.code.program import DONE_MARK
from benchlab.tasks.sandbox import ExecutionResult

PASS_AT = (1, 5, 10)  # the k reported in summaries, where k <= samples
STDERR_TAIL = 2000  # characters of a program's stderr kept with its outcome
OUTCOMES = ("passed", "failed", "timeout", "crashed", "error")


def judge(result: ExecutionResult) -> tuple[str, str]:
    """(status, reason) of a program: the sandbox's, except that a program that exited 0 without
    reaching the end of its tests (`DONE_MARK` missing) failed."""
    if result.status == "passed" and DONE_MARK not in result.stdout:
        return "failed", "exit status 0 before the tests finished (the program ended itself)"
    return result.status, result.reason


def outcome_record(result: ExecutionResult, digest: str, wall: float) -> dict[str, Any]:
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
