"""Read-only routes: runs, samples, exports, the live feed, compare, leaderboard and chart artifacts."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from benchlab import api, settings
from benchlab.analysis.compare import PairingError
from benchlab.catalog.datasets import BUILTIN_KEYS, DatasetError
from benchlab.engine.runner import RunError
from benchlab.store.db import StoreError
from benchlab.surfaces.console import SMOKE_NOTE, is_smoke_model
from benchlab.surfaces.dashboard import comparison, headline, settings_store
from benchlab.surfaces.dashboard.control import redact
from benchlab.surfaces.dashboard.live import parse_last_id, run_events
from benchlab.surfaces.dashboard.queries import DashboardQueries, QueryError, RunFilter
from benchlab.surfaces.dashboard.security import ARTIFACT_CSP

ARTIFACT_SUFFIXES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
PAGE_SUFFIXES = (".html", ".htm", ".svg")  # shown in a sandboxed frame; anything else is an image
CSV_COLUMNS = (
    "seq",
    "sample_id",
    "subject",
    "error_kind",
    "correct",
    "value",
    "extracted",
    "gold",
    "attempts",
    "finished_at",
    "latency_s",
    "error",
)


def clean(value: Any) -> Any:
    """JSON cannot carry NaN or infinity; a missing figure is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean(item) for item in value]
    return value


def reply(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(clean(payload), status_code=status)


def problem(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def queries(request: Request) -> DashboardQueries:
    queries: DashboardQueries = request.app.state.queries
    return queries


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {raw!r}.") from None


def _float(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise QueryError(f"{name} must be a number of seconds since 1970, not {raw!r}.") from None


async def list_runs(request: Request) -> Response:
    params = request.query_params
    try:
        where = RunFilter(
            model=params.get("model") or None,
            benchmark=params.get("benchmark") or None,
            tag=params.get("tag") or None,
            status=params.get("status") or None,
            since=_float(request, "since"),
            until=_float(request, "until"),
        )
        page = await run_in_threadpool(
            queries(request).runs, where, offset=_int(request, "offset", 0), limit=_int(request, "limit", 50)
        )
    except QueryError as error:
        return problem(str(error))
    return reply(page)


async def run_facets(request: Request) -> Response:
    return reply(await run_in_threadpool(queries(request).facets))


def public_record(record: Any) -> dict[str, Any]:
    """A run record as the browser may see it: no API key (excluded by the type) and a redacted command."""
    dumped: dict[str, Any] = record.model_dump(mode="json", exclude={"sample_ids"})
    dumped["planned"] = len(record.sample_ids)  # the ids themselves can be tens of thousands
    dumped["note"] = SMOKE_NOTE if is_smoke_model(record.endpoint.model) else None
    command = dumped.get("provenance", {}).get("command")
    if command:
        dumped["provenance"]["command"] = " ".join(redact(command.split(" ")))
    return dumped


async def run_detail(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    found = await run_in_threadpool(queries(request).record, run_id)
    if found is None:
        return problem(f"no run {run_id!r}", 404)
    subjects = await run_in_threadpool(queries(request).subjects, run_id)
    tally = await run_in_threadpool(queries(request).tally, run_id)
    metrics = await run_in_threadpool(queries(request).metric_events, run_id)
    return reply(
        {
            "run": public_record(found),
            "subjects": subjects,
            "tally": tally,
            "metrics": metrics,
            "headline": headline.headline(found.task_kind, found.summary),
            "kind_rows": headline.kind_rows(found.task_kind, found.summary),
            "grid": headline.grid(found.summary),
        }
    )


async def run_trend(request: Request) -> Response:
    return reply({"points": await run_in_threadpool(queries(request).trend, request.path_params["run_id"])})


async def run_samples(request: Request) -> Response:
    params = request.query_params
    try:
        page = await run_in_threadpool(
            queries(request).samples,
            request.path_params["run_id"],
            outcome=params.get("outcome") or None,
            subject=params.get("subject") or None,
            search=params.get("q") or None,
            offset=_int(request, "offset", 0),
            limit=_int(request, "limit", 50),
        )
    except QueryError as error:
        return problem(str(error))
    return reply(page)


async def sample_detail(request: Request) -> Response:
    run_id, sample_id = request.path_params["run_id"], request.path_params["sample_id"]
    found = await run_in_threadpool(queries(request).sample, run_id, sample_id)
    if found is None:
        return problem(f"run {run_id!r} has no sample {sample_id!r}", 404)
    found["artifacts"] = [
        {"key": key, "kind": "page" if Path(path).suffix.lower() in PAGE_SUFFIXES else "image"}
        for key, path in sorted(artifact_paths(found))
    ]
    return reply(found)


def artifact_paths(sample: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Files a sample saved: score details that name a chart or page (`html_path`, or any `*path` to
    .html/.svg/.png) and the screenshot a chart render recorded in the transcript's state."""
    for key, value in (sample["score"].get("details") or {}).items():
        if not (isinstance(value, str) and key.endswith("path")):
            continue
        if Path(value).suffix.lower() in ARTIFACT_SUFFIXES:
            yield key, value
    render = ((sample.get("transcript") or {}).get("state") or {}).get("render") or {}
    screenshot = render.get("screenshot") if isinstance(render, dict) else None
    if isinstance(screenshot, str) and Path(screenshot).suffix.lower() == ".png":
        yield "screenshot", screenshot


async def artifact(request: Request) -> Response:
    """A model-written file, only from BENCHLAB_HOME/artifacts, served under a sandboxing CSP."""
    run_id, sample_id, key = (request.path_params[name] for name in ("run_id", "sample_id", "key"))
    found = await run_in_threadpool(queries(request).sample, run_id, sample_id)
    paths = dict(artifact_paths(found)) if found else {}
    if key not in paths:
        return problem("no such artifact", 404)
    path = await run_in_threadpool(_inside_artifacts, paths[key])
    if path is None:
        return problem("the artifact is not inside BENCHLAB_HOME/artifacts; refusing to serve it", 403)
    response = FileResponse(path, media_type=ARTIFACT_SUFFIXES[path.suffix.lower()])
    response.headers["Content-Security-Policy"] = ARTIFACT_CSP
    return response


def _inside_artifacts(name: str) -> Path | None:
    """The resolved file if it lies inside BENCHLAB_HOME/artifacts (links followed first), else None."""
    root = (settings.home() / "artifacts").resolve()
    path = Path(name).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


async def export_json(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    found = await run_in_threadpool(queries(request).record, run_id)
    if found is None:
        return problem(f"no run {run_id!r}", 404)
    head = json.dumps({"run": public_record(found)})[:-1]

    def body() -> Iterator[bytes]:
        yield (head + ', "samples": [').encode()
        first = True
        for batch in queries(request).export_batches(run_id, transcripts=True):
            pieces = []
            for row in batch:
                sample = {
                    "seq": row["seq"],
                    "sample_id": row["sample_id"],
                    "subject": row["subject"],
                    "attempts": row["attempts"],
                    "finished_at": row["finished_at"],
                    "score": json.loads(row["score"]),
                    "transcript": None if row["transcript"] is None else json.loads(row["transcript"]),
                }
                pieces.append(json.dumps(clean(sample)))
            yield (("" if first else ", ") + ", ".join(pieces)).encode()
            first = False
        yield b"]}"

    return StreamingResponse(body(), media_type="application/json", headers=_download(f"{run_id}.json"))


async def export_csv(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    if await run_in_threadpool(queries(request).record, run_id) is None:
        return problem(f"no run {run_id!r}", 404)

    def body() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for batch in queries(request).export_batches(run_id, transcripts=False):
            writer.writerows([_csv_safe(row[name]) for name in CSV_COLUMNS] for row in batch)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()

    return StreamingResponse(body(), media_type="text/csv", headers=_download(f"{run_id}.csv"))


def _csv_safe(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to spreadsheets; model text must not become one.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def live_latest(request: Request) -> Response:
    return reply({"run_id": await run_in_threadpool(queries(request).newest_running)})


async def live_events(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    if await run_in_threadpool(queries(request).run_status, run_id) is None:
        return problem(f"no run {run_id!r}", 404)
    after = parse_last_id(request.headers.get("last-event-id"), request.query_params.get("after"))
    stream = run_events(queries(request), run_id, after, request.is_disconnected)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def compare(request: Request) -> Response:
    a, b = request.query_params.get("a"), request.query_params.get("b")
    if not a or not b:
        return problem("give two runs or tags: ?a=...&b=...")
    try:
        page = await run_in_threadpool(comparison.compare_page, a, b)
    except (PairingError, RunError, StoreError, DatasetError) as error:
        return problem(str(error), 422)
    return reply(page)


async def leaderboard(request: Request) -> Response:
    rows = await run_in_threadpool(queries(request).leaderboard)
    try:
        setup = await run_in_threadpool(settings_store.effective)
    except settings_store.SetupError as error:
        return problem(str(error), 500)
    for row in rows:
        row["note"] = SMOKE_NOTE if is_smoke_model(row["model"]) else None
    return reply({"title": setup["title"], "entries": rows, "baselines": setup["baselines"]})


async def benchmarks(request: Request) -> Response:
    specs = await run_in_threadpool(api.registry)
    keys = [*BUILTIN_KEYS, *(spec.key for spec in specs)]
    return reply({"benchmarks": keys})


ROUTES = [
    Route("/api/runs", list_runs),
    Route("/api/runs/facets", run_facets),
    Route("/api/runs/{run_id}", run_detail),
    Route("/api/runs/{run_id}/samples", run_samples),
    Route("/api/runs/{run_id}/trend", run_trend),
    Route("/api/runs/{run_id}/samples/{sample_id:path}", sample_detail),
    Route("/api/runs/{run_id}/export.json", export_json),
    Route("/api/runs/{run_id}/export.csv", export_csv),
    Route("/api/live/latest", live_latest),
    Route("/api/live/{run_id}/events", live_events),
    Route("/api/compare", compare),
    Route("/api/leaderboard", leaderboard),
    Route("/api/benchmarks", benchmarks),
    Route("/artifact/{run_id}/{sample_id}/{key}", artifact),
]
