"""The live feed: server-sent events produced by polling the store.

The store is the only channel between a run and the dashboard, so a run started in a terminal is
followed exactly like one started from the page. Each `sample` event carries the sample's `seq` as
its id; a browser that lost the connection reconnects with `Last-Event-ID` and gets only what it
missed. `stats` events carry the running tally, `metrics` the newest host/server metrics a run
recorded, and `status` the run's state; the stream ends (`end`) once the run is no longer running.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from benchlab.surfaces.dashboard.queries import DashboardQueries

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0


def sse(event: str, data: Any, event_id: int | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), allow_nan=False, default=str))
    return ("\n".join(lines) + "\n\n").encode()


def parse_last_id(header: str | None, query: str | None) -> int:
    for value in (header, query):
        if value is not None and value.strip().lstrip("-").isdigit():
            return int(value)
    return -1


async def run_events(
    queries: DashboardQueries,
    run_id: str,
    after_seq: int,
    is_disconnected: Callable[[], Any],
    poll: float = POLL_SECONDS,
) -> AsyncIterator[bytes]:
    yield b"retry: 1000\n\n"  # reconnect quickly after a drop
    last_seq = after_seq
    last_status: str | None = None
    last_metrics: dict[str, Any] = {}
    idle = 0.0
    while not await is_disconnected():
        rows = await run_in_threadpool(queries.feed, run_id, last_seq)
        state = await run_in_threadpool(queries.run_status, run_id)
        status = state[0] if state else "missing"
        for row in rows:
            last_seq = row["seq"]
            yield sse("sample", row, row["seq"])
        if rows or status != last_status:
            yield sse("stats", await run_in_threadpool(queries.tally, run_id))
            idle = 0.0
        metrics = await run_in_threadpool(queries.metric_events, run_id)
        if metrics and metrics != last_metrics:
            last_metrics = metrics
            yield sse("metrics", metrics)
        if status != last_status:
            last_status = status
            yield sse("status", {"status": status})
        if status != "running" and len(rows) < 200:
            yield sse("end", {"status": status})
            return
        if not rows:
            idle += poll
            if idle >= KEEPALIVE_SECONDS:
                idle = 0.0
                yield b": keep-alive\n\n"
            await asyncio.sleep(poll)
