"""A speed run from start to finish: find the server, sweep it, sample the host, store it as a run.

A speed run is an ordinary run in the store (task kind `speed`, benchmark `speed:<profile>`): each
request is a sample whose score details hold its figures, so `benchlab runs`, `show` and the
dashboard list it beside quality runs. The summary holds the profile's figures, the server's own
figures beside the client's, the host metrics, the speed score and any notes (fields the server
refused, lengths beyond its context).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from benchlab import provenance
from benchlab.endpoints.client import ChatClient, RetryPolicy
from benchlab.endpoints.detect import ServerInfo, detect_server, is_local_url
from benchlab.speed import server_truth
from benchlab.speed.host import HostSampler
from benchlab.speed.measure import RequestMeasure
from benchlab.speed.profiles import Observer, SpeedError, SpeedSettings, Sweep, SweepOutcome, run_profile
from benchlab.speed.scores import speed_score
from benchlab.speed.workload import Tokenizer
from benchlab.store.db import SampleWriter, Store
from benchlab.types import Endpoint, ErrorKind, Provenance, RunRecord, RunStatus, SampleResult, Score

CONTEXT_MARGIN = 64  # tokens kept free for the chat template and the instruction line


@dataclass(frozen=True)
class SpeedRequest:
    endpoint: Endpoint  # `model` is the requested id (None: the server's first)
    settings: SpeedSettings = field(default_factory=SpeedSettings)
    tag: str | None = None
    remote: bool | None = None  # None: judged from the address
    timeout: float = 300.0
    retries: int = 1  # a retried request's timings would hide the failure: count it instead
    command: str | None = None
    host_interval: float = 0.5


async def run_speed(
    request: SpeedRequest, store: Store, observer: Observer | None = None
) -> tuple[RunRecord, SweepOutcome | None]:
    levels = max(request.settings.levels)
    client = ChatClient(
        request.endpoint,
        timeout=request.timeout,
        retry=RetryPolicy(attempts=max(1, request.retries)),
        max_connections=max(64, 2 * levels),
    )
    try:
        model_id, listing = await client.resolve_model(request.endpoint.model)
        server = await detect_server(client, listing)
        endpoint = request.endpoint.model_copy(
            update={
                "model": model_id,
                "server_kind": server.kind,
                "server_version": server.version,
                "slots": server.slots,
            }
        )
        client.endpoint = endpoint
        settings, notes = _fit_to_server(request.settings, server)
        return await _sweep(request, settings, notes, store, client, server, observer)
    finally:
        await client.close()


def _fit_to_server(settings: SpeedSettings, server: ServerInfo) -> tuple[SpeedSettings, list[str]]:
    """Leave out prompt lengths the server's context cannot hold, and say so."""
    if server.context is None:
        return settings, []
    room = server.context - settings.output_tokens - CONTEXT_MARGIN
    notes: list[str] = []
    changes: dict[str, Any] = {}
    too_long = [length for length in settings.lengths if length > room]
    if settings.profile == "context" and too_long:
        kept = tuple(length for length in settings.lengths if length <= room)
        if not kept:
            raise SpeedError(
                f"every --lengths value exceeds the server's context ({server.context} tokens per request, "
                f"{room} left for the prompt); choose shorter lengths or start the server with more context."
            )
        changes["lengths"] = kept
        notes.append(f"lengths {too_long} left out: the server's context is {server.context} tokens")
    long_sizes = {name: size for name, size in settings.sizes.items() if size > room}
    if settings.profile == "quick" and long_sizes:
        changes["sizes"] = {name: min(size, room) for name, size in settings.sizes.items()}
        notes.append(f"prompt sizes {long_sizes} cut to {room} tokens to fit the server's context")
    if not changes:
        return settings, notes
    return SpeedSettings(**{**asdict(settings), **changes}), notes


async def _sweep(
    request: SpeedRequest,
    settings: SpeedSettings,
    notes: list[str],
    store: Store,
    client: ChatClient,
    server: ServerInfo,
    observer: Observer | None,
) -> tuple[RunRecord, SweepOutcome | None]:
    endpoint = client.endpoint
    record = _new_record(request, settings, endpoint)
    store.save_run(record)
    store.add_event(record.run_id, "run_started", {"profile": settings.profile})
    before = await _scrape_quietly(client, endpoint.server_root, notes)
    tokenizer = Tokenizer(client.session, endpoint.server_root)
    sweep = Sweep(client, tokenizer, settings, observer)
    sampler = HostSampler(endpoint.base_url, interval=request.host_interval).start()
    status, reason, outcome = RunStatus.FINISHED, None, None
    try:
        outcome = await run_profile(sweep)
    except asyncio.CancelledError:
        status, reason = RunStatus.INTERRUPTED, "interrupted by the user"
    except Exception as error:
        status, reason = RunStatus.FAILED, str(error)
        raise
    finally:
        host = sampler.stop()
        after = await _scrape_quietly(client, endpoint.server_root, notes) if before else None
        summary = _summary(request, settings, sweep, outcome, host, notes + client.notes, tokenizer)
        summary["server_metrics"] = server_truth.counter_delta(before, after)
        record = _finish(store, record, sweep.measures, summary, status, reason)
        store.add_event(record.run_id, "host_samples", {"samples": sampler.kept_samples()})
        store.add_event(record.run_id, "run_finished", {"status": status.value, "reason": reason})
    return record, outcome


async def _scrape_quietly(client: ChatClient, root: str, notes: list[str]) -> dict[str, float] | None:
    """The server's Prometheus counters; a missing parser is a note, not a failed run."""
    try:
        return await server_truth.scrape(client.session, root)
    except server_truth.MetricsUnavailable as error:
        if str(error) not in notes:
            notes.append(str(error))
        return None


def _new_record(request: SpeedRequest, settings: SpeedSettings, endpoint: Endpoint) -> RunRecord:
    created = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(created))
    workload = json.dumps(asdict(settings), sort_keys=True)
    return RunRecord(
        run_id=f"{stamp}-{secrets.token_hex(2)}",
        tag=request.tag or f"{endpoint.model}@{stamp}",
        benchmark=f"speed:{settings.profile}",
        task_kind="speed",
        created_at=created,
        endpoint=endpoint,
        params=Sweep.params_for(settings),
        task_options={
            "speed": asdict(settings),
            "remote": _is_remote(request, endpoint),
            "sample_seed": settings.seed,  # the prompts' seed, where run reports print a sampling seed
        },
        provenance=Provenance(
            benchlab_version=provenance.version(),
            git_sha=provenance.git_sha(),
            host=provenance.host(),
            python=provenance.python(),
            dataset_path=None,
            dataset_sha256=hashlib.sha256(workload.encode()).hexdigest(),  # the workload is the dataset
            dataset_rows=0,
            command=request.command,
        ),
    )


def _is_remote(request: SpeedRequest, endpoint: Endpoint) -> bool:
    return request.remote if request.remote is not None else not is_local_url(endpoint.base_url)


def _summary(
    request: SpeedRequest,
    settings: SpeedSettings,
    sweep: Sweep,
    outcome: SweepOutcome | None,
    host: dict[str, Any],
    notes: list[str],
    tokenizer: Tokenizer,
) -> dict[str, Any]:
    measures = sweep.measures
    summary: dict[str, Any] = dict(outcome.summary) if outcome else {}
    summary["profile"] = settings.profile
    summary["requests"] = sum(m.counted for m in measures)
    summary["failures"] = sum(not m.ok and not m.warmup for m in measures)
    summary["warmup"] = sum(m.warmup for m in measures)
    summary["exact_prompt_lengths"] = bool(tokenizer.available)
    summary["notes"] = notes
    summary["host"] = host
    remote = _is_remote(request, sweep.client.endpoint)
    headline = summary.get("headline") or {}
    summary["speed_score"] = speed_score(headline, remote=remote) if headline else None
    return summary


def _finish(
    store: Store,
    record: RunRecord,
    measures: list[RequestMeasure],
    summary: dict[str, Any],
    status: RunStatus,
    reason: str | None,
) -> RunRecord:
    writer = SampleWriter(store, record.run_id)
    for measure in measures:
        writer.put(_as_result(measure))
    writer.close()
    if status is RunStatus.FINISHED and summary["requests"] == 0:
        status, reason = RunStatus.FAILED, _why_nothing(measures)
    updated = record.model_copy(
        update={
            "sample_ids": [m.id for m in measures],
            "provenance": record.provenance.model_copy(update={"dataset_rows": len(measures)}),
            "summary": summary,
            "status": status,
            "status_reason": reason,
            "finished_at": time.time(),
        }
    )
    store.save_run(updated)
    return updated


def _why_nothing(measures: list[RequestMeasure]) -> str:
    errors = [m.error for m in measures if m.error]
    first = errors[0] if errors else "no request was sent"
    return f"no request finished, so there are no figures; the first error: {first}"


def _as_result(measure: RequestMeasure) -> SampleResult:
    line = None
    if measure.ok:
        ttft = f"TTFT {measure.ttft * 1000:.0f} ms" if measure.ttft is not None else "TTFT –"
        decode = f"{measure.decode_rate:.1f} tok/s" if measure.decode_rate is not None else "decode –"
        line = f"{ttft} · {decode} · {measure.output_tokens or 0} tokens" + (
            " (warm-up)" if measure.warmup else ""
        )
    return SampleResult(
        sample_id=measure.id,
        subject=measure.group,
        score=Score(
            value=1.0 if measure.ok else 0.0,
            error_kind=measure.error_kind if not measure.ok else ErrorKind.NONE,
            error=measure.error,
            extracted=line,
            details=measure.model_dump(mode="json"),
        ),
        finished_at=time.time(),
    )
