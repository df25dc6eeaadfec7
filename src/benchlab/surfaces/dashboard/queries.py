"""Read-only queries over the results store for the dashboard.

Paging, filtering and the per-sample columns the tables show are computed in SQL (with SQLite's
JSON functions) so that a run of tens of thousands of samples never has to be loaded into Python
to show one page of it. Every query opens its own short connection: in WAL mode a reader never
blocks the run that is writing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from benchlab.analysis.summary import rate
from benchlab.store.db import Store
from benchlab.surfaces.dashboard.headline import headline
from benchlab.types import RunRecord

MAX_PAGE = 500

# The last user message and the last completion of a transcript: what a feed row shows. (An agent's
# transcript ends with tool results, so the question is looked up by role, not by position.)
_QUESTION = """(SELECT json_extract(message.value, '$.content')
                FROM json_each(transcript, '$.messages') AS message
                WHERE json_extract(message.value, '$.role') = 'user' ORDER BY message.key DESC LIMIT 1)"""
_LATENCY = "json_extract(transcript, '$.completions[#-1].timings.e2e')"

# Named outcome filters for a run's samples.
OUTCOMES = {
    "correct": "error_kind = 'none' AND correct = 1",
    "wrong": "error_kind = 'none' AND (correct = 0 OR correct IS NULL)",
    "unparseable": "error_kind = 'model'",
    "infra": "error_kind = 'infra'",
    "rejected": "error_kind = 'rejected'",
}

RUN_COLUMNS = (
    "run_id, tag, benchmark, task_kind, model, status, created_at, finished_at, "
    "json_extract(record, '$.summary.accuracy') AS accuracy, "
    "json_extract(record, '$.summary') AS summary, "
    "json_array_length(record, '$.sample_ids') AS planned"
)


class QueryError(ValueError):
    """A filter or page request that cannot be answered; the message says which value is wrong."""


@dataclass(frozen=True)
class RunFilter:
    model: str | None = None
    benchmark: str | None = None
    tag: str | None = None
    status: str | None = None
    since: float | None = None  # created at or after (epoch seconds)
    until: float | None = None  # created before


class DashboardQueries:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _rows(self, sql: str, values: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        with self.store.connect() as connection:
            connection.row_factory = sqlite3.Row
            return connection.execute(sql, values).fetchall()

    # ---- runs ----------------------------------------------------------------------------------

    def runs(self, where: RunFilter, *, offset: int = 0, limit: int = 50) -> dict[str, Any]:
        clauses, values = _run_clauses(where)
        condition = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        limit, offset = _page(limit, offset)
        total = self._rows(f"SELECT COUNT(*) FROM runs {condition}", values)[0][0]
        rows = self._rows(
            f"""SELECT {RUN_COLUMNS},
                       (SELECT COUNT(*) FROM samples s WHERE s.run_id = runs.run_id) AS recorded
                FROM runs {condition} ORDER BY created_at DESC LIMIT ? OFFSET ?""",
            [*values, limit, offset],
        )
        return {"total": total, "offset": offset, "runs": [_run_row(row) for row in rows]}

    def facets(self) -> dict[str, list[str]]:
        """The distinct values the run filters can take."""
        facets: dict[str, list[str]] = {}
        for column in ("model", "benchmark", "tag", "status"):
            rows = self._rows(f"SELECT DISTINCT {column} FROM runs WHERE {column} IS NOT NULL ORDER BY 1")
            facets[column] = [row[0] for row in rows]
        return facets

    def record(self, run_id: str) -> RunRecord | None:
        return self.store.run(run_id)

    def newest_running(self) -> str | None:
        rows = self._rows("SELECT run_id FROM runs WHERE status = 'running' ORDER BY created_at DESC LIMIT 1")
        if not rows:
            rows = self._rows("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1")
        return rows[0][0] if rows else None

    def run_status(self, run_id: str) -> tuple[str, float, float | None] | None:
        rows = self._rows("SELECT status, created_at, finished_at FROM runs WHERE run_id = ?", (run_id,))
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    # ---- samples -------------------------------------------------------------------------------

    def samples(
        self,
        run_id: str,
        *,
        outcome: str | None = None,
        subject: str | None = None,
        search: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> dict[str, Any]:
        clauses, values = ["run_id = ?"], [run_id]
        if outcome:
            if outcome not in OUTCOMES:
                raise QueryError(f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}.")
            clauses.append(OUTCOMES[outcome])
        if subject:
            clauses.append("subject = ?")
            values.append(subject)
        if search:
            clauses.append("(sample_id LIKE ? ESCAPE '\\' OR extracted LIKE ? ESCAPE '\\')")
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            values += [pattern, pattern]
        condition = " AND ".join(clauses)
        limit, offset = _page(limit, offset)
        total = self._rows(f"SELECT COUNT(*) FROM samples WHERE {condition}", values)[0][0]
        rows = self._rows(
            f"""SELECT seq, sample_id, subject, error_kind, correct, value, extracted, gold, attempts,
                       finished_at, {_LATENCY} AS latency
                FROM samples WHERE {condition} ORDER BY seq LIMIT ? OFFSET ?""",
            [*values, limit, offset],
        )
        return {"total": total, "offset": offset, "samples": [dict(row) for row in rows]}

    def subjects(self, run_id: str) -> list[str]:
        rows = self._rows(
            "SELECT DISTINCT subject FROM samples WHERE run_id = ? AND subject IS NOT NULL ORDER BY 1",
            (run_id,),
        )
        return [row[0] for row in rows]

    def sample(self, run_id: str, sample_id: str) -> dict[str, Any] | None:
        rows = self._rows(
            """SELECT seq, sample_id, subject, attempts, finished_at, score, transcript FROM samples
               WHERE run_id = ? AND sample_id = ?""",
            (run_id, sample_id),
        )
        if not rows:
            return None
        row = rows[0]
        return {
            "seq": row["seq"],
            "sample_id": row["sample_id"],
            "subject": row["subject"],
            "attempts": row["attempts"],
            "finished_at": row["finished_at"],
            "score": json.loads(row["score"]),
            "transcript": None if row["transcript"] is None else json.loads(row["transcript"]),
        }

    def feed(self, run_id: str, after_seq: int, limit: int = 200) -> list[dict[str, Any]]:
        """Samples recorded after `after_seq`, oldest first: the live feed's next rows."""
        rows = self._rows(
            f"""SELECT seq, sample_id, subject, error_kind, correct, extracted, gold, finished_at,
                       substr({_QUESTION}, 1, 400) AS question, {_LATENCY} AS latency
                FROM samples WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?""",
            (run_id, after_seq, limit),
        )
        return [dict(row) for row in rows]

    def tally(self, run_id: str) -> dict[str, Any]:
        """Running counts of a run: accuracy with its Wilson interval, errors, throughput."""
        row = self._rows(
            """SELECT COUNT(*) AS recorded,
                      SUM(error_kind IN ('none', 'model')) AS scored,
                      SUM(error_kind IN ('none', 'model') AND correct = 1) AS correct,
                      SUM(error_kind = 'model') AS unparseable,
                      SUM(error_kind = 'infra') AS infra,
                      SUM(error_kind = 'rejected') AS rejected,
                      AVG(CASE WHEN error_kind = 'none' THEN value END) AS mean_value,
                      MIN(finished_at) AS first_at, MAX(finished_at) AS last_at,
                      SUM(CASE WHEN finished_at >= (SELECT MAX(finished_at) FROM samples
                                                     WHERE run_id = ?1) - 30 THEN 1 ELSE 0 END) AS recent
               FROM samples WHERE run_id = ?1""",
            (run_id,),
        )[0]
        recorded = row["recorded"] or 0
        scored, correct = row["scored"] or 0, row["correct"] or 0
        status = self.run_status(run_id)
        started = status[1] if status else row["first_at"]
        elapsed = (row["last_at"] - started) if recorded and started else 0.0
        return {
            "recorded": recorded,
            "accuracy": rate(correct, scored),
            "unparseable": row["unparseable"] or 0,
            "infra": row["infra"] or 0,
            "rejected": row["rejected"] or 0,
            # Partial-credit kinds (a rubric's share of points) have no right/wrong: their running mean.
            "mean_value": row["mean_value"],
            "elapsed_s": elapsed,
            "per_second": recorded / elapsed if elapsed > 0 else None,
            "recent_per_second": (row["recent"] or 0) / 30.0 if recorded else None,
        }

    def trend(self, run_id: str, points: int = 200) -> list[dict[str, Any]]:
        """Running accuracy (with its interval) at up to `points` evenly spaced moments of a run.

        Only two small columns per sample leave the database (measured: ten times faster on 20,000
        samples than a window function, which sorts whole rows)."""
        with self.store.connect() as connection:
            flags = connection.execute(
                """SELECT error_kind IN ('none', 'model'), correct = 1 FROM samples
                   WHERE run_id = ? ORDER BY seq""",
                (run_id,),
            ).fetchall()
        total = len(flags)
        step = max(1, -(-total // max(1, points)))
        trend, k, n = [], 0, 0
        for recorded, (scored, correct) in enumerate(flags, start=1):
            if scored:
                n += 1
                k += bool(correct)
            if recorded % step == 0 or recorded == total:
                trend.append({"recorded": recorded, "accuracy": rate(k, n)})
        return trend

    def metric_events(self, run_id: str) -> dict[str, Any]:
        """The newest payload of every host or server metrics event a run recorded: `host_samples`
        (what the runner and the speed suite store: CPU, memory and server RSS over time) and any
        `*metrics*` kind."""
        rows = self._rows(
            """SELECT kind, payload FROM events WHERE id IN (
                   SELECT MAX(id) FROM events
                   WHERE run_id = ? AND (kind = 'host_samples' OR kind LIKE '%metrics%') GROUP BY kind)""",
            (run_id,),
        )
        return {row["kind"]: json.loads(row["payload"]) for row in rows}

    def export_batches(
        self, run_id: str, *, transcripts: bool, size: int = 500
    ) -> Iterator[list[sqlite3.Row]]:
        """Every sample of a run in order, in batches, so an export never holds the whole run."""
        column = "transcript" if transcripts else "NULL AS transcript"
        with self.store.connect() as connection:
            connection.row_factory = sqlite3.Row
            cursor = connection.execute(
                f"""SELECT seq, sample_id, subject, error_kind, correct, value, extracted, gold, attempts,
                           finished_at, {_LATENCY} AS latency_s, json_extract(score, '$.error') AS error,
                           score, {column} FROM samples WHERE run_id = ? ORDER BY seq""",
                (run_id,),
            )
            while batch := cursor.fetchmany(size):
                yield batch

    # ---- leaderboard ---------------------------------------------------------------------------

    def leaderboard(self) -> list[dict[str, Any]]:
        """The newest finished run of every (model, benchmark) pair that has a headline figure
        (an accuracy, a rubric mean, a weighted score, tokens per second …)."""
        rows = self._rows(
            f"""SELECT {RUN_COLUMNS} FROM runs
                WHERE status = 'finished'
                  AND created_at = (SELECT MAX(created_at) FROM runs newer
                                    WHERE newer.model IS runs.model AND newer.benchmark = runs.benchmark
                                      AND newer.status = 'finished')
                ORDER BY model, benchmark"""
        )
        entries = [_run_row(row) for row in rows]
        return [entry for entry in entries if entry["headline"] and entry["headline"]["value"] is not None]

    def runs_with_tag(self, tag: str) -> list[dict[str, Any]]:
        rows = self._rows(f"SELECT {RUN_COLUMNS} FROM runs WHERE tag = ? ORDER BY created_at DESC", (tag,))
        return [_run_row(row) for row in rows]


def _run_clauses(where: RunFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    values: list[Any] = []
    for column in ("model", "benchmark", "tag", "status"):
        value = getattr(where, column)
        if value:
            clauses.append(f"{column} = ?")
            values.append(value)
    if where.since is not None:
        clauses.append("created_at >= ?")
        values.append(where.since)
    if where.until is not None:
        clauses.append("created_at < ?")
        values.append(where.until)
    return clauses, values


def _page(limit: int, offset: int) -> tuple[int, int]:
    if limit < 1 or offset < 0:
        raise QueryError("limit must be at least 1 and offset at least 0.")
    return min(limit, MAX_PAGE), offset


def _run_row(row: sqlite3.Row) -> dict[str, Any]:
    entry = dict(row)
    entry["accuracy"] = json.loads(entry["accuracy"]) if entry.get("accuracy") else None
    summary = json.loads(entry.pop("summary") or "{}")
    entry["headline"] = headline(entry.get("task_kind"), summary)
    return entry
