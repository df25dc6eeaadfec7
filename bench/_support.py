"""Shared pieces of the bench/ scripts: servers, data, timing, the lm-eval peer and plain tables.

Not a package: each script puts its own folder on ``sys.path`` (Python does that for
``python bench/<script>.py``) and imports this module by name.

Everything here talks only to 127.0.0.1, bounds every wait, and cleans up what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
MODEL_ID = "scripted-model"
REPLY = "Answer: A"

# ---------------------------------------------------------------------------------------------- output


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, len(row))]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def say(text: str = "") -> None:
    print(text, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------- data


def write_benchlab_rows(path: Path, count: int) -> Path:
    """Synthetic four-option questions in benchlab's JSONL MCQ format."""
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            row = {
                "id": f"q{index:06d}",
                "question": f"Synthetic question {index}: which of these options is the first one?",
                "options": {"A": "alpha", "B": "beta", "C": "gamma", "D": "delta"},
                "answer_idx": "A",
            }
            handle.write(json.dumps(row) + "\n")
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc); NaN where it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def system_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, plus time stolen by a hypervisor)."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in first[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait: float, threshold: float = 0.3) -> float:
    """Wait (at most `max_wait` s) until other processes use under `threshold` cores; return their use.

    This machine may be shared: a measurement taken while something else burns a core says more
    about that than about benchlab. Call it while our own server is idle.
    """
    deadline = time.monotonic() + max_wait
    while True:
        before, began = system_busy_seconds(), time.monotonic()
        time.sleep(0.5)
        busy = (system_busy_seconds() - before) / (time.monotonic() - began)
        if busy < threshold or time.monotonic() >= deadline or math.isnan(busy):
            return busy
        time.sleep(2.0)


class OtherLoad:
    """Cores used by everything else over a span: all but this process, its children and the server.

    Children count once they have exited (`RUSAGE_CHILDREN`), so wrap whole subprocess runs.
    """

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.cores = float("nan")

    @staticmethod
    def _ours(server_pid: int) -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime + cpu_seconds(server_pid)

    def __enter__(self) -> OtherLoad:
        self._busy, self._ours0, self._began = (
            system_busy_seconds(),
            self._ours(self.server_pid),
            time.monotonic(),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self._began
        ours = self._ours(self.server_pid) - self._ours0
        self.cores = (
            max(0.0, (system_busy_seconds() - self._busy - ours) / wall) if wall > 0 else float("nan")
        )


@contextlib.contextmanager
def benchlab_home(parent: Path, name: str) -> Iterator[Path]:
    """Point BENCHLAB_HOME at a fresh folder for one measurement (the store is read per call)."""
    home = parent / name
    home.mkdir(parents=True, exist_ok=False)
    previous = os.environ.get("BENCHLAB_HOME")
    os.environ["BENCHLAB_HOME"] = str(home)
    try:
        yield home
    finally:
        if previous is None:
            os.environ.pop("BENCHLAB_HOME", None)
        else:
            os.environ["BENCHLAB_HOME"] = previous


# ---------------------------------------------------------------------------------------------- server


class ServerProcess:
    """benchlab's scripted OpenAI-compatible server in its own process (its own GIL), on loopback.

    Started with ``--port 0``; the port is read from its "listening on" line. ``stop()`` sends
    SIGTERM, waits a bounded time, then kills.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        slots: int | None = None,
        reply: str = REPLY,
        log_dir: Path,
        startup_timeout: float = 30.0,
    ) -> None:
        self.latency = latency
        self.slots = slots
        self.reply = reply
        self.log_path = log_dir / f"server-{os.getpid()}-{time.monotonic_ns()}.log"
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def start(self) -> ServerProcess:
        command = [
            sys.executable,
            "-m",
            "benchlab.testing.scripted_server",
            "--host",
            LOOPBACK,
            "--port",
            "0",
            "--reply",
            self.reply,
            "--model",
            MODEL_ID,
            "--latency",
            repr(self.latency),
        ]
        if self.slots:
            command += ["--slots", str(self.slots)]
        log = self.log_path.open("w")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        line = self._first_line()
        marker = "listening on "
        if marker not in line:
            self.stop()
            raise RuntimeError(f"the scripted server did not start: {line!r}; see {self.log_path}")
        self.url = line.split(marker, 1)[1].strip()
        self._wait_healthy()
        return self

    def _first_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        try:
            if not selector.select(timeout=self.startup_timeout):
                return "(no output within the start-up timeout)"
            return self.process.stdout.readline()
        finally:
            selector.close()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the scripted server at {self.url} never became healthy; see {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        finally:
            if process.stdout is not None:
                process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so `finally` blocks stop the servers we started.

    `benchlab.api.run` takes SIGTERM over while it runs (to stop a run cleanly) and leaves the
    default behind, so `run_benchlab` calls this again after every run.
    """

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


# ---------------------------------------------------------------------------------------------- benchlab


@dataclass
class PhaseTimer:
    """A benchlab run observer that times the sample phase (after start-up, through the last write).

    ``started`` fires once the run is planned and recorded, before the first request; ``finished``
    fires after the writer thread has committed every sample and the summary has been saved.
    """

    server_pid: int = 0
    t_start: float = 0.0
    t_end: float = 0.0
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    server_cpu_start: float = 0.0
    server_cpu_end: float = 0.0
    busy_start: float = 0.0
    busy_end: float = 0.0
    done_at: list[float] = field(default_factory=list)
    concurrency: int = 0

    def started(self, record: Any, tally: Any, server: Any, concurrency: int) -> None:
        self.concurrency = concurrency
        self.busy_start = system_busy_seconds()
        self.server_cpu_start = cpu_seconds(self.server_pid) if self.server_pid else float("nan")
        self.cpu_start = time.process_time()
        self.t_start = time.perf_counter()

    def sample_done(self, result: Any, tally: Any) -> None:
        self.done_at.append(time.perf_counter())

    def finished(self, record: Any, tally: Any) -> None:
        self.t_end = time.perf_counter()
        self.cpu_end = time.process_time()
        self.server_cpu_end = cpu_seconds(self.server_pid) if self.server_pid else float("nan")
        self.busy_end = system_busy_seconds()

    @property
    def phase_seconds(self) -> float:
        """First request to everything durably stored and summarized."""
        return self.t_end - self.t_start

    @property
    def request_seconds(self) -> float:
        """First request to the last answer handed to the writer."""
        return (self.done_at[-1] - self.t_start) if self.done_at else float("nan")

    def steady_rate(self, wave: int) -> float:
        """Completions per second after the first ``wave`` (connection set-up and ramp excluded)."""
        n = len(self.done_at)
        if n <= wave or wave < 1:
            return float("nan")
        span = self.done_at[-1] - self.done_at[wave - 1]
        return (n - wave) / span if span > 0 else float("nan")


@dataclass
class BenchlabResult:
    n: int
    concurrency: int
    total_seconds: float  # the whole api.run call, start-up included
    timer: PhaseTimer
    status: str
    stored: int
    accuracy: float | None
    infra: int
    unparseable: int

    @property
    def rate(self) -> float:
        return self.n / self.timer.phase_seconds

    @property
    def request_rate(self) -> float:
        return self.n / self.timer.request_seconds

    @property
    def client_cores(self) -> float:
        return (self.timer.cpu_end - self.timer.cpu_start) / self.timer.phase_seconds

    @property
    def server_cores(self) -> float:
        return (self.timer.server_cpu_end - self.timer.server_cpu_start) / self.timer.phase_seconds

    @property
    def other_cores(self) -> float:
        """Cores used by everything else on the machine meanwhile (should be about 0)."""
        timer = self.timer
        busy = timer.busy_end - timer.busy_start
        ours = (timer.cpu_end - timer.cpu_start) + (timer.server_cpu_end - timer.server_cpu_start)
        return max(0.0, (busy - ours) / timer.phase_seconds)

    @property
    def ok(self) -> bool:
        return self.status == "finished" and self.stored == self.n and self.infra == 0


def run_benchlab(
    dataset: Path, server: ServerProcess, n: int, concurrency: int, home_parent: Path, label: str
) -> BenchlabResult:
    """One benchlab run through the public API, in this process, with a fresh BENCHLAB_HOME."""
    from benchlab import api

    timer = PhaseTimer(server_pid=server.pid)
    with benchlab_home(home_parent, label):
        began = time.perf_counter()
        record = api.run(
            str(dataset),
            server=server.url,
            n=n,
            concurrency=concurrency,
            observer=timer,
            timeout=60.0,
            retries=2,
            tag=label,
        )
        total = time.perf_counter() - began
        stop_on_sigterm()
        if record.status.value == "interrupted":  # Ctrl-C or SIGTERM reached the run: stop the script
            raise KeyboardInterrupt("the benchlab run was interrupted")
        stored = len(api.results(record.run_id, with_transcripts=False))
    summary = record.summary or {}
    accuracy = (summary.get("accuracy") or {}).get("rate")
    infra = (summary.get("infra_errors") or {}).get("k") or 0
    unparseable = (summary.get("unparseable") or {}).get("k") or 0
    return BenchlabResult(
        n=n,
        concurrency=concurrency,
        total_seconds=total,
        timer=timer,
        status=str(record.status.value),
        stored=stored,
        accuracy=accuracy,
        infra=int(infra),
        unparseable=int(unparseable),
    )


# ---------------------------------------------------------------------------------------------- raw client


async def _raw_client(url: str, n: int, concurrency: int, stream: bool) -> float:
    import aiohttp

    body = json.dumps(
        {
            "model": MODEL_ID,
            "messages": [{"role": "user", "content": "Which option? A. alpha B. beta C. gamma D. delta"}],
            "stream": stream,
            **({"stream_options": {"include_usage": True}} if stream else {}),
        }
    ).encode()
    headers = {"Content-Type": "application/json"}
    remaining = n
    connector = aiohttp.TCPConnector(limit=max(concurrency, 1))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.post(url + "/v1/chat/completions", data=body, headers=headers) as response:
                    if stream:
                        async for _line in response.content:
                            pass
                    else:
                        await response.read()
                    response.raise_for_status()

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began


@dataclass
class RawResult:
    rate: float  # requests/s
    other_cores: float  # cores used by everything but this process and the server meanwhile


def raw_client(server: ServerProcess, n: int, concurrency: int, *, stream: bool = True) -> RawResult:
    """A bare aiohttp loop (no parsing, scoring or storing): the ceiling of this machine and server."""
    busy, cpu, server_cpu = system_busy_seconds(), time.process_time(), server.cpu()
    seconds = asyncio.run(_raw_client(server.url, n, concurrency, stream))
    ours = (time.process_time() - cpu) + (server.cpu() - server_cpu)
    other = max(0.0, (system_busy_seconds() - busy - ours) / seconds)
    return RawResult(rate=n / seconds, other_cores=other)


def temp_workdir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=prefix)
