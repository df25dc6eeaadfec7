"""What a program's run came to: its status, the record kept of it, and the summary figure of a
mean of per-problem estimates."""

from __future__ import annotations

from typing import Any

from benchlab.analysis.stats import bootstrap_mean
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


def bootstrap_rate(values: list[float]) -> dict[str, Any]:
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
