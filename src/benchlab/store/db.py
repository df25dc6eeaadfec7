"""The results database: runs, samples and events in one SQLite file (DESIGN §4.3).

WAL mode lets the dashboard read while a run writes. Samples are unique on (run, sample) so a
resumed run can never record a question twice; only an infra failure may later be replaced by a
real answer. One `SampleWriter` thread owns all sample writes for a run and commits what is queued
in small batches with a bounded delay (20 ms), so a killed process loses only the requests still in
flight and the answers of its last few milliseconds.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchlab.types import ErrorKind, RunRecord, SampleResult, Score

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    tag TEXT NOT NULL,
    benchmark TEXT NOT NULL,
    task_kind TEXT NOT NULL,
    model TEXT,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_tag ON runs (tag, benchmark);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    sample_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    subject TEXT,
    error_kind TEXT NOT NULL,
    correct INTEGER,
    value REAL NOT NULL,
    extracted TEXT,
    gold TEXT,
    attempts INTEGER NOT NULL,
    finished_at REAL NOT NULL,
    score TEXT NOT NULL,
    transcript TEXT,
    PRIMARY KEY (run_id, sample_id)
);
CREATE INDEX IF NOT EXISTS samples_in_order ON samples (run_id, seq);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""

# Replace a stored sample only when the stored one was an infra failure: finished answers are final.
_UPSERT_SAMPLE = """
INSERT INTO samples (run_id, sample_id, seq, subject, error_kind, correct, value, extracted, gold,
                     attempts, finished_at, score, transcript)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, sample_id) DO UPDATE SET
    error_kind = excluded.error_kind, correct = excluded.correct, value = excluded.value,
    extracted = excluded.extracted, gold = excluded.gold, attempts = samples.attempts + excluded.attempts,
    finished_at = excluded.finished_at, score = excluded.score, transcript = excluded.transcript
WHERE samples.error_kind = 'infra'
"""


class StoreError(RuntimeError):
    """The results database cannot be opened or written; the message names the path and the fix."""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self.connect() as connection:
                connection.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(
                f"cannot open the results database {path}: {error}. "
                "Set BENCHLAB_HOME to a folder you can write to."
            ) from error

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process; only a power cut can lose the last commits.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            yield connection
        finally:
            connection.close()

    # ---- runs ----------------------------------------------------------------------------------

    def save_run(self, record: RunRecord) -> None:
        with self.connect() as connection:
            connection.execute(
                """INSERT INTO runs (run_id, tag, benchmark, task_kind, model, status, created_at,
                                     finished_at, record)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (run_id) DO UPDATE SET status = excluded.status,
                       finished_at = excluded.finished_at, record = excluded.record""",
                (
                    record.run_id,
                    record.tag,
                    record.benchmark,
                    record.task_kind,
                    record.endpoint.model,
                    record.status.value,
                    record.created_at,
                    record.finished_at,
                    record.model_dump_json(),
                ),
            )

    def run(self, run_id: str) -> RunRecord | None:
        with self.connect() as connection:
            row = connection.execute("SELECT record FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return RunRecord.model_validate_json(row[0]) if row else None

    def find_runs(self, reference: str) -> list[RunRecord]:
        """Runs matching an exact id, an id prefix, or a tag (newest first)."""
        with self.connect() as connection:
            rows = connection.execute(
                """SELECT record FROM runs WHERE run_id = ? OR run_id LIKE ? ESCAPE '\\' OR tag = ?
                   ORDER BY created_at DESC""",
                (reference, _like_prefix(reference), reference),
            ).fetchall()
        records = [RunRecord.model_validate_json(row[0]) for row in rows]
        exact = [record for record in records if record.run_id == reference]
        return exact or records

    def runs(
        self,
        *,
        tag: str | None = None,
        benchmark: str | None = None,
        model: str | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        clauses, values = [], []
        for column, value in (("tag", tag), ("benchmark", benchmark), ("model", model)):
            if value is not None:
                clauses.append(f"{column} = ?")
                values.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT record FROM runs {where} ORDER BY created_at DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.connect() as connection:
            rows = connection.execute(sql, values).fetchall()
        return [RunRecord.model_validate_json(row[0]) for row in rows]

    # ---- samples -------------------------------------------------------------------------------

    def results(self, run_id: str, *, with_transcripts: bool = False) -> list[SampleResult]:
        column = "transcript" if with_transcripts else "NULL"
        with self.connect() as connection:
            rows = connection.execute(
                f"""SELECT sample_id, subject, score, {column}, attempts, finished_at FROM samples
                    WHERE run_id = ? ORDER BY seq""",
                (run_id,),
            ).fetchall()
        return [_result(*row) for row in rows]

    def settled_ids(self, run_id: str) -> set[str]:
        """Samples that need no further request: everything except infra failures."""
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT sample_id FROM samples WHERE run_id = ? AND error_kind != ?",
                (run_id, ErrorKind.INFRA.value),
            ).fetchall()
        return {row[0] for row in rows}

    def add_event(self, run_id: str | None, kind: str, payload: dict[str, Any]) -> None:
        with self.connect() as connection:
            connection.execute(
                "INSERT INTO events (run_id, at, kind, payload) VALUES (?, ?, ?, ?)",
                (run_id, time.time(), kind, json.dumps(payload)),
            )


class SampleWriter:
    """The single writer of a run's samples: a thread that commits queued results in small batches.

    When a result arrives the thread waits `max_delay` seconds (20 ms by default) for more, then
    commits everything queued in one transaction (DESIGN §4.3: small batches with a bounded delay).
    At rest a sample is durable at most `max_delay` after it is handed over; under load the thread
    wakes a bounded number of times per second instead of once per sample, which keeps it from
    contending for the GIL with the event loop that produces the results. A write failure (full
    disk, removed file) is kept and re-raised by `check()` so the run can stop with a clear message
    while everything committed before stays.
    """

    _STOP = object()

    def __init__(self, store: Store, run_id: str, *, max_delay: float = 0.02) -> None:
        self.store = store
        self.run_id = run_id
        self.max_delay = max_delay
        self.written = 0
        self.error: StoreError | None = None
        self._next_seq = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=f"benchlab-writer-{run_id}", daemon=True)
        self._thread.start()

    def put(self, result: SampleResult) -> None:
        self._queue.put(result)

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Flush everything queued, then stop the thread."""
        self._queue.put(self._STOP)
        self._thread.join()

    def _loop(self) -> None:
        with self.store.connect() as connection:
            # The writer numbers the samples itself: counting rows on every insert grows with the run.
            row = connection.execute(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM samples WHERE run_id = ?", (self.run_id,)
            ).fetchone()
            self._next_seq = int(row[0])
            stopping = False
            while not stopping:
                batch = [self._queue.get()]
                if self.max_delay > 0 and batch[0] is not self._STOP:
                    time.sleep(self.max_delay)  # let the batch fill; `close()` waits at most this long
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if self._STOP in batch:
                    stopping = True
                    batch = [item for item in batch if item is not self._STOP]
                if batch and self.error is None:
                    self._commit(connection, batch)

    def _commit(self, connection: sqlite3.Connection, batch: list[SampleResult]) -> None:
        rows = []
        for result in batch:
            rows.append(_sample_row(self.run_id, self._next_seq, result))
            self._next_seq += 1
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(_UPSERT_SAMPLE, rows)
            connection.execute("COMMIT")
            self.written += len(rows)
        except sqlite3.Error as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            self.error = StoreError(
                f"could not record results in {self.store.path}: {error}. Samples recorded before this "
                "are kept; free disk space or fix the folder's permissions, then resume the run "
                f"with `benchlab run ... --resume {self.run_id}`."
            )


def _result(
    sample_id: str, subject: str | None, score: str, transcript: str | None, attempts: int, finished_at: float
) -> SampleResult:
    return SampleResult(
        sample_id=sample_id,
        subject=subject,
        score=Score.model_validate_json(score),
        transcript=None if transcript is None else json.loads(transcript),
        attempts=attempts,
        finished_at=finished_at,
    )


def _sample_row(run_id: str, seq: int, result: SampleResult) -> tuple[Any, ...]:
    score = result.score
    transcript = None if result.transcript is None else result.transcript.model_dump_json()
    return (
        run_id,
        result.sample_id,
        seq,
        result.subject,
        score.error_kind.value,
        None if score.correct is None else int(score.correct),
        score.value,
        score.extracted,
        score.gold,
        result.attempts,
        result.finished_at,
        score.model_dump_json(),
        transcript,
    )


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
