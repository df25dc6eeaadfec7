"""What a Ray worker does with one campaign job: run it in a private home and send the results back.

A worker may be on a machine that cannot see the driver's disk, so it never opens the driver's
store. Each job gets a fresh BENCHLAB_HOME seeded with the envelope of the job's partial run (when
the driver has one), so the runner resumes that run by its tag and asks only the samples that are
not settled yet. Finished samples travel back in small batches, each one an envelope (the exchange
format, validated on both ends), through a sink the driver drains into its store; the job's return
value is the envelope of the final record. Nothing here imports Ray: the driver wraps
`ReplicaWorker` as a Ray actor and hands it a Ray queue as the sink.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from benchlab import api, settings
from benchlab.exchange import envelope
from benchlab.exchange.importers import store_run
from benchlab.types import RunRecord, SampleResult

TRIGGER = "campaign"


class Sink(Protocol):
    def put(self, item: Any) -> None: ...


@dataclass(frozen=True)
class JobOrder:
    """Everything a worker needs to run one job, picklable and free of driver paths it may lack."""

    tag: str
    benchmark: str  # a catalog key, or the driver's path of a JSONL file
    dataset: bytes | None = None  # that file's bytes, for a worker that cannot read the driver's disk
    model: str | None = None
    api_key: str | None = None
    n: int | None = None
    concurrency: int | None = None
    command: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    # The driver's own catalog (its lock and benchmark definitions), by path relative to its home,
    # so a worker resolves and verifies catalog keys exactly as the driver would.
    home_files: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class JobReturn:
    tag: str
    replica: str
    envelope: dict[str, Any] | None = None  # the final record's envelope (its samples came as batches)
    error: str | None = None


class ReplicaWorker:
    """The worker of one replica URL: it runs one job at a time against that replica."""

    def __init__(self, url: str, *, flush_every: float = 0.5) -> None:
        self.url = url
        self.flush_every = flush_every

    def replica(self) -> str:
        return self.url

    def run(self, order: JobOrder, seed: dict[str, Any] | None, sink: Sink) -> JobReturn:
        streamer = BatchStreamer(sink, every=self.flush_every)
        try:
            with private_home() as home:
                for relative, content in order.home_files.items():
                    target = home / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(content)
                if seed is not None:
                    store_run(api.open_store(), *envelope.read(seed))
                record = api.run(
                    _benchmark_here(order, home),
                    server=self.url,
                    model=order.model,
                    api_key=order.api_key,
                    n=order.n,
                    tag=order.tag,
                    concurrency=order.concurrency,
                    command=order.command,
                    observer=streamer,
                    **order.settings,
                )
                streamer.close()
                # Normally the samples went as batches; if the sink failed, they all go with the record.
                samples = (
                    api.open_store().results(record.run_id, with_transcripts=True) if streamer.error else None
                )
                final = envelope.build(record, samples, trigger=TRIGGER)
                return JobReturn(order.tag, self.url, envelope=final)
        except Exception as error:  # reported as the job's failure; the campaign goes on
            streamer.close()
            return JobReturn(order.tag, self.url, error=f"{type(error).__name__}: {error}")


@contextlib.contextmanager
def private_home() -> Iterator[Path]:
    """A fresh BENCHLAB_HOME for one job; the worker's dataset cache is shared so catalog data is
    fetched once per machine, not once per job."""
    shared_cache = settings.cache_dir()
    previous = os.environ.get("BENCHLAB_HOME")
    with tempfile.TemporaryDirectory(prefix="benchlab-job-") as folder:
        home = Path(folder)
        with contextlib.suppress(OSError):  # no cache to share (read-only home): fetch privately
            shared_cache.mkdir(parents=True, exist_ok=True)
            (home / "cache").symlink_to(shared_cache, target_is_directory=True)
        os.environ["BENCHLAB_HOME"] = folder
        try:
            yield home
        finally:
            if previous is None:
                os.environ.pop("BENCHLAB_HOME", None)
            else:
                os.environ["BENCHLAB_HOME"] = previous


def _benchmark_here(order: JobOrder, home: Path) -> str:
    """The benchmark as this machine can load it: the driver's file when it is here unchanged
    (shared disk, one machine), else the shipped bytes under the same name (so the same key)."""
    if order.dataset is None:
        return order.benchmark
    original = Path(order.benchmark)
    with contextlib.suppress(OSError):
        if hashlib.sha256(original.read_bytes()).digest() == hashlib.sha256(order.dataset).digest():
            return str(original)
    copy = home / "datasets" / original.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(order.dataset)
    return str(copy)


class BatchStreamer:
    """A run observer that sends finished samples to the sink as envelopes, every `every` seconds.

    Sending happens on its own thread so a slow sink never stalls the run's event loop; `close`
    sends what is left. Batches go out in the order the samples finished. When the sink fails,
    streaming stops and `error` says why (the job's final envelope then carries every sample).
    """

    def __init__(self, sink: Sink, *, every: float) -> None:
        self.sink = sink
        self.every = every
        self.sent = 0
        self.error: Exception | None = None  # the sink failed: stop streaming, send all at the end
        self._record: RunRecord | None = None
        self._pending: list[SampleResult] = []
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="benchlab-batch-streamer", daemon=True)
        self._thread.start()

    def started(self, record: RunRecord, tally: Any, server: Any, concurrency: int) -> None:
        with self._lock:
            self._record = record

    def sample_done(self, result: SampleResult, tally: Any) -> None:
        with self._lock:
            self._pending.append(result)

    def finished(self, record: RunRecord, tally: Any) -> None:
        with self._lock:
            self._record = record

    def flush(self) -> None:
        with self._sending:
            with self._lock:
                record, batch, self._pending = self._record, self._pending, []
            if record is not None and batch and self.error is None:
                try:
                    self.sink.put(envelope.build(record, batch, trigger=TRIGGER))
                    self.sent += len(batch)
                except Exception as error:  # the final envelope then carries every sample instead
                    self.error = error

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.flush()
