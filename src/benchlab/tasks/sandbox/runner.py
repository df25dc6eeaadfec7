"""Running programs: one at a time or many across the cores, killed whole at their wall-clock limit,
their output captured up to a cap and their end classified."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from benchlab.tasks.sandbox.host import usable_cores
from benchlab.tasks.sandbox.isolation import prepare
from benchlab.tasks.sandbox.launcher import LAUNCH_OK
from benchlab.tasks.sandbox.limits import (
    ExecutionResult,
    Isolation,
    IsolationMode,
    Limits,
    Status,
    require_execution_allowed,
)
from benchlab.tasks.sandbox.plan import make_plan
from benchlab.tasks.sandbox.staging import remove_tree, stage_program

T = TypeVar("T")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class _Capture:
    """Keeps the first `cap` bytes of a stream and counts the rest. The pipe is always drained, so a
    chatty program never blocks on it, and its output is truncated rather than its run."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept += data[:room]

    def text(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        if self.total > len(self.kept):
            text += f"\n[benchlab: output truncated, {self.total - len(self.kept)} more bytes]"
        return text


class _Watch(asyncio.SubprocessProtocol):
    """Output and exit of one program. The exit is seen apart from the pipes closing: processes the
    program left behind may hold the pipes open, and must not stretch its run to the wall limit."""

    def __init__(self, cap: int) -> None:
        loop = asyncio.get_running_loop()
        self.streams = {1: _Capture(cap), 2: _Capture(cap)}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self.streams[fd].add(data.encode() if isinstance(data, str) else data)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _classify(
    returncode: int | None, launch: bytes, timed_out: bool, bubblewrap: bool, limits: Limits
) -> tuple[Status, int | None, str]:
    if timed_out:
        return "timeout", None, f"killed at the {limits.wall_seconds:g} s wall limit"
    # Only the launcher writes here, and only before the program exists; whatever else the
    # program might manage to write can come after that mark, never instead of it.
    if not launch.startswith(LAUNCH_OK):
        return "error", returncode, "the sandbox could not start the program (see stderr)"
    if returncode == 0:
        return "passed", 0, "exit status 0"
    code = returncode
    # bubblewrap reports a child killed by signal N as exit status 128 + N.
    if bubblewrap and code is not None and 128 < code <= 128 + 64:
        code = -(code - 128)
    if code is not None and code < 0:
        name = _signal_name(-code)
        if -code == signal.SIGXCPU:
            return "timeout", code, f"exceeded the {limits.cpu_seconds} s CPU limit ({name})"
        return "crashed", code, f"killed by {name}"
    return "failed", code, f"exit status {code}"


async def _execute(program: str, limits: Limits, python: str, isolation: Isolation) -> ExecutionResult:
    loop = asyncio.get_running_loop()
    staging = tempfile.mkdtemp(prefix="benchlab-sandbox-")
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    pipe_ends = [read_end, write_end]
    watch = _Watch(limits.output_bytes)
    transport: asyncio.SubprocessTransport | None = None
    try:
        stage_program(staging, program)
        plan = make_plan(isolation, python, limits, staging, staging, ready=write_end)
        started = time.monotonic()
        try:
            transport, _ = await loop.subprocess_exec(
                lambda: watch,
                *plan.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=plan.env,
                cwd=plan.cwd,
                start_new_session=True,
                pass_fds=(write_end,),
                user=plan.user,
                group=plan.user,
                extra_groups=None if plan.user is None else [],
            )
        except OSError as error:
            return ExecutionResult(
                passed=False,
                status="error",
                exit_code=None,
                stdout="",
                stderr=f"benchlab sandbox: could not start {plan.argv[0]}: {error}",
                duration=time.monotonic() - started,
                isolation=isolation.summary,
                reason="the sandbox could not start the program",
            )
        finally:
            # Only the launcher may hold the write end from here on.
            os.close(write_end)
            pipe_ends.remove(write_end)
        timed_out = False
        try:
            try:
                await asyncio.wait_for(asyncio.shield(watch.exited), timeout=limits.wall_seconds)
            except TimeoutError:
                timed_out = True
            duration = time.monotonic() - started
        finally:
            # Always, also when cancelled: the program is gone, but what it started may not be.
            _kill_group(transport.get_pid())
            await watch.exited
            # The pipes closing means every process that inherited them has died too; one that
            # escaped its group (possible without bubblewrap) is not waited for long.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(watch.closed), timeout=2.0)
        launch = b""
        with contextlib.suppress(OSError):
            launch = os.read(read_end, 16)
        status, exit_code, reason = _classify(
            transport.get_returncode(), launch, timed_out, isolation.kind == "bubblewrap", limits
        )
        return ExecutionResult(
            passed=status == "passed",
            status=status,
            exit_code=exit_code,
            stdout=watch.streams[1].text(),
            stderr=watch.streams[2].text(),
            duration=duration,
            isolation=isolation.summary,
            reason=reason,
        )
    finally:
        if transport is not None:
            transport.close()
        for end in pipe_ends:
            os.close(end)
        remove_tree(staging)


async def run_python_async(
    program: str,
    *,
    limits: Limits = Limits(),
    python: str | None = None,
    isolation: IsolationMode = "auto",
    require_allowed: bool = True,
) -> ExecutionResult:
    """Run one program (solution + tests) in the sandbox; it passes when it exits 0 within limits.

    Many may run at once on one event loop: each is a child process, so nothing here blocks. The
    first call probes the machine's isolation (a fraction of a second) in a worker thread.
    """
    if require_allowed:
        require_execution_allowed()
    interpreter, resolved = await asyncio.to_thread(prepare, isolation, python)
    return await _execute(program, limits, interpreter, resolved)


async def run_many_async(
    programs: Sequence[str],
    *,
    limits: Limits = Limits(),
    workers: int | None = None,
    python: str | None = None,
    isolation: IsolationMode = "auto",
    require_allowed: bool = True,
) -> list[ExecutionResult]:
    """Run programs with at most `workers` at a time (default: one per usable core); results come
    back in the order of `programs`."""
    if require_allowed:
        require_execution_allowed()
    interpreter, resolved = await asyncio.to_thread(prepare, isolation, python)
    gate = asyncio.Semaphore(max(1, workers or usable_cores()))

    async def one(program: str) -> ExecutionResult:
        async with gate:
            return await _execute(program, limits, interpreter, resolved)

    return list(await asyncio.gather(*(one(program) for program in programs)))


def _run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from synchronous code, also when the caller already has an event loop."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


def run_python(
    program: str,
    *,
    limits: Limits = Limits(),
    python: str | None = None,
    isolation: IsolationMode = "auto",
    require_allowed: bool = True,
) -> ExecutionResult:
    """Synchronous `run_python_async`."""
    return _run_sync(
        lambda: run_python_async(
            program, limits=limits, python=python, isolation=isolation, require_allowed=require_allowed
        )
    )


def run_many(
    programs: Sequence[str],
    *,
    limits: Limits = Limits(),
    workers: int | None = None,
    python: str | None = None,
    isolation: IsolationMode = "auto",
    require_allowed: bool = True,
) -> list[ExecutionResult]:
    """Synchronous `run_many_async`: programs in parallel across the cores, results in order."""
    return _run_sync(
        lambda: run_many_async(
            programs,
            limits=limits,
            workers=workers,
            python=python,
            isolation=isolation,
            require_allowed=require_allowed,
        )
    )
