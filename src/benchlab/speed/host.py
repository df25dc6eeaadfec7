"""Host metrics during a run: CPU, memory, swap and the model server's memory, sampled in a thread.

psutil reads the same figures on Linux, macOS and Windows. The server process is found by the port
it listens on, only when the server is on this machine; where the OS hides other processes'
sockets (macOS without root) that figure is left out with a note instead of failing the run.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import psutil

from benchlab.endpoints.detect import is_local_url

MAX_KEPT_SAMPLES = 600  # stored samples are thinned to at most this many, evenly


def find_listening_process(port: int) -> psutil.Process | None:
    """The process listening on a TCP port of this machine, or None."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, PermissionError, OSError):
        return _scan_processes(port)
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            if connection.pid is None:
                return _scan_processes(port)
            try:
                return psutil.Process(connection.pid)
            except psutil.Error:
                return None
    return None


def _scan_processes(port: int) -> psutil.Process | None:
    """Slower fallback: ask each process we may inspect for its listening sockets."""
    for process in psutil.process_iter():
        try:
            for connection in process.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
                    return process
        except (psutil.Error, OSError):
            continue
    return None


def server_process(base_url: str) -> tuple[psutil.Process | None, str | None]:
    """The local server's process and, when it cannot be found, why."""
    if not is_local_url(base_url):
        return None, "the server is remote: its memory is not visible from here"
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    process = find_listening_process(port)
    if process is None:
        return None, f"no process visible listening on port {port} (another user's, or hidden by the OS)"
    return process, None


class HostSampler:
    """Samples the machine every `interval` seconds from a daemon thread until `stop()`."""

    def __init__(self, base_url: str | None = None, *, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self.note: str | None = None
        self.process: psutil.Process | None = None
        if base_url is not None:
            self.process, self.note = server_process(base_url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def start(self) -> HostSampler:
        self._started = time.monotonic()
        psutil.cpu_percent(None)  # the first call only sets the reference point
        if self.process is not None:
            try:
                self.process.cpu_percent(None)
            except psutil.Error:
                self.process = None
        self._thread = threading.Thread(target=self._loop, name="host-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        """Stop sampling (one last sample is taken) and return the summary."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.sample()
        return self.summary()

    def __enter__(self) -> HostSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        memory, swap = psutil.virtual_memory(), psutil.swap_memory()
        entry: dict[str, Any] = {
            "t": round(time.monotonic() - self._started, 3),
            "cpu_percent": psutil.cpu_percent(None),
            "memory_used_bytes": memory.total - memory.available,
            "memory_percent": memory.percent,
            "swap_used_bytes": swap.used,
        }
        if self.process is not None:
            try:
                with self.process.oneshot():
                    entry["server_rss_bytes"] = self.process.memory_info().rss
                    entry["server_cpu_percent"] = self.process.cpu_percent(None)
            except psutil.Error:
                self.note = "the server process went away during the run"
                self.process = None
        self.samples.append(entry)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "samples": len(self.samples),
            "interval_s": self.interval,
            "cpu_count": psutil.cpu_count(),
            "memory_total_bytes": psutil.virtual_memory().total,
        }
        for key in ("cpu_percent", "memory_used_bytes", "memory_percent", "swap_used_bytes"):
            summary[key] = _spread([s[key] for s in self.samples if key in s])
        for key in ("server_rss_bytes", "server_cpu_percent"):
            values = [s[key] for s in self.samples if key in s]
            if values:
                summary[key] = _spread(values)
        if self.note:
            summary["note"] = self.note
        return summary

    def kept_samples(self) -> list[dict[str, Any]]:
        """The samples thinned evenly to at most MAX_KEPT_SAMPLES, for storing with the run."""
        if len(self.samples) <= MAX_KEPT_SAMPLES:
            return list(self.samples)
        step = len(self.samples) / MAX_KEPT_SAMPLES
        return [self.samples[int(i * step)] for i in range(MAX_KEPT_SAMPLES)]


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"mean": statistics.fmean(values), "max": max(values), "min": min(values)}
