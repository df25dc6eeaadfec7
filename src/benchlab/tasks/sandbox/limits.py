"""What a sandboxed program may use, what came of running it, and the user's permission to run it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

ALLOW_VARIABLE = "BENCHLAB_ALLOW_CODE_EXEC"
_TRUTHY = {"1", "true", "yes", "on"}

Status = Literal["passed", "failed", "timeout", "crashed", "error"]
IsolationMode = Literal["auto", "bubblewrap", "process"]


class CodeExecutionDisabled(RuntimeError):
    """Raised when model-written code would run but the user has not allowed it."""

    def __init__(self) -> None:
        super().__init__(
            "Running model-written code is turned off. Code benchmarks execute programs written by the "
            "model on this machine; the sandbox limits what they can do, but it is not a security "
            "boundary you should trust with secrets (see docs/sandbox.md), and without bubblewrap a "
            f"program can read your files and use the network. Set {ALLOW_VARIABLE}=1 to allow it."
        )


class SandboxUnavailable(RuntimeError):
    """Raised when the isolation asked for cannot be provided on this machine."""


@dataclass(frozen=True)
class Limits:
    """What one program may use. Every limit is enforced by the kernel except `wall_seconds` (the
    harness kills the group) and `output_bytes` (the harness keeps only that much of each stream).

    `memory_mb` is an address-space limit per process, `processes` counts every process and thread
    of the program, and `scratch_mb` sizes the in-memory /tmp that holds its working folder under
    bubblewrap (without bubblewrap the working folder is on disk and only `file_size_mb` applies).
    """

    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_mb: int = 1024
    file_size_mb: int = 16
    processes: int = 64
    output_bytes: int = 64_000
    scratch_mb: int = 64

    def __post_init__(self) -> None:
        for name in ("wall_seconds", "cpu_seconds", "memory_mb", "file_size_mb", "processes", "scratch_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive, not {getattr(self, name)!r}")
        if self.output_bytes < 0:
            raise ValueError(f"Limits.output_bytes must be >= 0, not {self.output_bytes!r}")


@dataclass(frozen=True)
class ExecutionResult:
    """How one program ended. `status` is what scoring needs; `reason` says why in words.

    `error` means the harness could not start the program in its sandbox (not the model's fault);
    `timeout` covers both the wall and the CPU limit; `crashed` means killed by a signal.
    """

    passed: bool
    status: Status
    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    isolation: str
    reason: str = ""


@dataclass(frozen=True)
class Isolation:
    """The isolation a program gets on this machine; `summary` goes into the record of a run."""

    kind: Literal["bubblewrap", "process"]
    version: str | None = None
    unprivileged: bool = False
    process_limit: bool = True
    note: str = ""

    @property
    def summary(self) -> str:
        common = "rlimits, process group, scrubbed env, wall timeout"
        if self.kind == "bubblewrap":
            who = "unprivileged uid" if self.unprivileged else "user namespace"
            return (
                f"bubblewrap {self.version or '?'} (no network, read-only system, no home, private /tmp, "
                f"pid namespace, {who}) + {common}"
            )
        parts = [common]
        if self.unprivileged:
            parts.append("unprivileged uid")
        if not self.process_limit:
            parts.append("process limit NOT enforced")
        text = f"process ({', '.join(parts)})"
        return f"{text}; {self.note}" if self.note else text

    @property
    def description(self) -> str:
        if self.kind == "bubblewrap":
            return (
                f"Programs run under bubblewrap {self.version or ''}: no network, read-only system and "
                "interpreter folders only (no home folder, no BENCHLAB_HOME, no project files), a private "
                "size-limited /tmp, their own pid namespace, "
                + ("an unprivileged uid of their own, " if self.unprivileged else "a user namespace, ")
                + "kernel limits on CPU, memory, file size and process count, and a wall timeout."
            )
        text = (
            "Programs run as plain processes: their own process group in a temporary folder, a scrubbed "
            "environment, kernel limits on CPU, memory and file size, and a wall timeout. They can use "
            "the network and read any file this user can read."
        )
        if self.unprivileged:
            text += " They run under an unprivileged uid of their own."
        if not self.process_limit:
            text += " The process-count limit is NOT enforced."
        return f"{text} {self.note}".strip()

    def __str__(self) -> str:
        return self.summary


# ---------------------------------------------------------------------------------------------------
# Permission


def execution_allowed(env: Mapping[str, str] | None = None) -> bool:
    """Whether the user allowed running model-written code (`BENCHLAB_ALLOW_CODE_EXEC=1`)."""
    value = (os.environ if env is None else env).get(ALLOW_VARIABLE, "")
    return value.strip().lower() in _TRUTHY


def require_execution_allowed(env: Mapping[str, str] | None = None) -> None:
    """Raise `CodeExecutionDisabled` unless execution is allowed; call it before a run starts."""
    if not execution_allowed(env):
        raise CodeExecutionDisabled()
