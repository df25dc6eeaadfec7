"""Processes the dashboard starts and stops: model servers and benchmark runs.

A run is a `python -m benchlab run … --json` child with the dashboard's BENCHLAB_HOME, so it writes
to the same store and the live page follows it like any run started from a terminal; stopping it
sends SIGTERM, which the run handles by recording itself as interrupted. A server is either the
embedded llama.cpp engine (smoke model or a GGUF file, via `ServerProcess`) or any command line.
What the browser gets back is redacted: no environment, and secret-looking arguments masked.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlab.endpoints.managed import ServerProcess

_SECRET_FLAG = re.compile(r"^--?[\w-]*(key|token|secret|password)[\w-]*$", re.IGNORECASE)
_SECRET_ASSIGNMENT = re.compile(r"^([\w.-]*(key|token|secret|password)[\w.-]*=)(.+)$", re.IGNORECASE)
_BENCHMARK_NAME = re.compile(r"^[\w.@:/~+-]+$")


class ControlError(ValueError):
    """A start or stop request that cannot be carried out; the message says why."""


def redact(argv: list[str]) -> list[str]:
    """The command line with the values of secret-looking flags and assignments masked."""
    shown: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            shown.append("***")
            hide_next = False
            continue
        flag, equals, _ = arg.partition("=")
        if _SECRET_FLAG.match(flag):
            if equals:
                shown.append(f"{flag}=***")
            else:
                shown.append(arg)
                hide_next = True
            continue
        assignment = _SECRET_ASSIGNMENT.match(arg)
        shown.append(f"{assignment.group(1)}***" if assignment else arg)
    return shown


@dataclass
class Child:
    """One process the dashboard started, with its output kept in a temporary file."""

    id: str
    kind: str  # "run" or "server"
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    managed: ServerProcess | None = None
    log_path: Path | None = None
    started_at: float = field(default_factory=time.time)
    url: str | None = None
    label: str = ""

    def returncode(self) -> int | None:
        if self.managed is not None:
            process = self.managed.process
            return None if process is not None and process.poll() is None else 0
        return None if self.process is None else self.process.poll()

    def output_tail(self, limit: int = 4000) -> str:
        if self.log_path is None:
            return self.managed.log_tail() if self.managed is not None else ""
        try:
            return self.log_path.read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError:
            return ""

    def describe(self) -> dict[str, Any]:
        code = self.returncode()
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "command": shlex.join(redact(self.argv)),
            "started_at": self.started_at,
            "running": code is None,
            "returncode": code,
            "url": self.url,
            "output": self.output_tail(),
        }


class ProcessControl:
    """Starts, lists and stops the dashboard's children; all of them stop when the dashboard does."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._children: dict[str, Child] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def _next_id(self, kind: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{kind}-{self._counter}"

    def list(self) -> list[dict[str, Any]]:
        return [child.describe() for child in self._children.values()]

    def get(self, child_id: str) -> Child:
        child = self._children.get(child_id)
        if child is None:
            raise ControlError(f"no process {child_id!r} was started by this dashboard.")
        return child

    # ---- runs ----------------------------------------------------------------------------------

    def start_run(
        self,
        benchmark: str,
        *,
        server: str | None,
        n: int | None = None,
        tag: str | None = None,
        model: str | None = None,
        concurrency: str | None = None,
    ) -> Child:
        if not benchmark or not _BENCHMARK_NAME.match(benchmark):
            raise ControlError(f"benchmark {benchmark!r} is not a catalog key or a file path.")
        argv = [sys.executable, "-m", "benchlab", "run", benchmark, "--json"]
        for flag, value in (("--server", server), ("--tag", tag), ("--model", model)):
            if value:
                argv += [flag, value]
        if n is not None:
            if n < 1:
                raise ControlError("-n must be a positive number of questions.")
            argv += ["-n", str(n)]
        if concurrency:
            argv += ["--concurrency", concurrency]
        child = Child(id=self._next_id("run"), kind="run", argv=argv, label=benchmark)
        self._spawn(child)
        return child

    # ---- servers -------------------------------------------------------------------------------

    def start_server(
        self,
        *,
        smoke: bool = False,
        gguf: str | None = None,
        command: str | None = None,
        port: int | None = None,
        parallel: int = 2,
    ) -> Child:
        """Start a server and wait until it answers (the embedded engine) or has been spawned."""
        if sum(bool(choice) for choice in (smoke, gguf, command)) != 1:
            raise ControlError("give exactly one of: the smoke model, a GGUF file, or a command line.")
        if command:
            try:
                argv = shlex.split(command)
            except ValueError as error:
                raise ControlError(f"cannot read the command line: {error}") from None
            if not argv:
                raise ControlError("the command line is empty.")
            child = Child(id=self._next_id("server"), kind="server", argv=argv, label=argv[0])
            self._spawn(child)
            return child
        model = None
        if gguf:
            model = Path(gguf).expanduser()
            if not model.is_file():
                raise ControlError(f"{model} is not a file; give the path of a .gguf model.")
        managed = ServerProcess(
            model,
            smoke=smoke,
            port=port,
            parallel=parallel,
            env={"BENCHLAB_HOME": str(self.home)},
        )
        child = Child(
            id=self._next_id("server"),
            kind="server",
            argv=managed.command(),
            managed=managed,
            url=managed.base_url,
            label="smoke model" if smoke else str(model),
        )
        managed.start()  # blocks until /health answers; the route runs this in a worker thread
        self._children[child.id] = child
        return child

    # ---- shared --------------------------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        env = {**os.environ, "BENCHLAB_HOME": str(self.home)}
        if child.kind == "run":
            # The child imports the same benchlab as the dashboard, installed or from a checkout.
            package_root = str(Path(__file__).resolve().parents[3])
            env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        fd, log_path = tempfile.mkstemp(prefix=f"benchlab-{child.id}-", suffix=".log")
        child.log_path = Path(log_path)
        try:
            child.process = subprocess.Popen(
                child.argv,
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own group: a stop reaches the children it starts
            )
        except OSError as error:
            raise ControlError(f"cannot start {child.argv[0]!r}: {error.strerror}") from None
        finally:
            os.close(fd)
        self._children[child.id] = child

    def stop(self, child_id: str, *, grace: float = 10.0) -> Child:
        """SIGTERM (a run records itself as interrupted), then SIGKILL after `grace` seconds."""
        child = self.get(child_id)
        if child.managed is not None:
            child.managed.stop()
            return child
        process = child.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return child

    def shutdown(self) -> None:
        for child_id in list(self._children):
            with contextlib.suppress(Exception):
                self.stop(child_id, grace=5.0)
        for child in self._children.values():
            if child.log_path is not None:
                child.log_path.unlink(missing_ok=True)
