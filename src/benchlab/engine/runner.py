"""Running a benchmark: plan the samples, keep the server busy, record every answer at once.

The engine owns the loop and nothing else: the task builds and scores requests, the client talks
HTTP, the store writes. Workers pull samples from one queue, so at most `concurrency` requests are
in flight; a finished sample goes straight to the store's writer thread. A failed request is a
recorded result (retried later on resume), never a crash; a server that stops answering stops the
run with a message instead of scoring empty answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import sqlite3
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from benchlab import provenance
from benchlab.analysis.summary import INVALID_INFRA_RATE
from benchlab.catalog.datasets import Dataset
from benchlab.endpoints.client import ChatClient, RetryPolicy
from benchlab.endpoints.detect import ServerInfo, detect_server
from benchlab.endpoints.errors import AuthError, InfraError, RejectedError, ServerUnreachable
from benchlab.speed.host import HostSampler
from benchlab.store.db import SampleWriter, Store, StoreError
from benchlab.tasks.base import Task
from benchlab.types import (
    Completion,
    Endpoint,
    ErrorKind,
    GenerationParams,
    Provenance,
    RunRecord,
    RunStatus,
    Sample,
    SampleResult,
    Score,
    Transcript,
)

DEFAULT_CONCURRENCY = 4  # when the server does not say how many requests it serves at once


class RunError(RuntimeError):
    """A run cannot start or continue as asked; the message says why and what to do."""


@dataclass(frozen=True)
class RunRequest:
    dataset: Dataset
    task: Task
    endpoint: Endpoint  # `model` is the requested id (None: the server's first)
    params: GenerationParams = field(default_factory=GenerationParams)
    tag: str | None = None
    limit: int | None = None
    sample_seed: int = 1234
    concurrency: int | None = None  # None: the server's slot count, else DEFAULT_CONCURRENCY
    resume: str | None = None
    timeout: float = 300.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    command: str | None = None
    host_interval: float = 1.0  # seconds between host metric samples (CPU, memory, server RSS)


@dataclass
class Tally:
    """Running counts for progress displays."""

    total: int
    done: int = 0
    correct: int = 0
    scored: int = 0
    unparseable: int = 0
    infra: int = 0
    rejected: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, score: Score) -> None:
        self.done += 1
        kind = score.error_kind
        if kind is ErrorKind.INFRA:
            self.infra += 1
        elif kind is ErrorKind.REJECTED:
            self.rejected += 1
        else:
            self.scored += 1
            self.correct += bool(score.correct)
            self.unparseable += kind is ErrorKind.MODEL


class RunObserver(Protocol):
    def started(self, record: RunRecord, tally: Tally, server: ServerInfo, concurrency: int) -> None: ...

    def sample_done(self, result: SampleResult, tally: Tally) -> None: ...

    def finished(self, record: RunRecord, tally: Tally) -> None: ...


async def run_benchmark(request: RunRequest, store: Store, observer: RunObserver | None = None) -> RunRecord:
    client = ChatClient(request.endpoint, timeout=request.timeout, retry=request.retry, max_connections=256)
    try:
        model_id, listing = await client.resolve_model(request.endpoint.model)
        server = await detect_server(client, listing)
        concurrency = request.concurrency or server.slots or DEFAULT_CONCURRENCY
        endpoint = request.endpoint.model_copy(
            update={
                "model": model_id,
                "server_kind": server.kind,
                "server_version": server.version,
                "slots": server.slots,
            }
        )
        client.endpoint = endpoint
        record = _open_run(request, store, endpoint)
        return await _execute(request, store, client, record, server, concurrency, observer)
    finally:
        await client.close()


def _open_run(request: RunRequest, store: Store, endpoint: Endpoint) -> RunRecord:
    dataset = request.dataset
    existing = _run_to_resume(request, store, endpoint)
    if existing is not None:
        return existing.model_copy(
            update={"status": RunStatus.RUNNING, "status_reason": None, "finished_at": None}
        )
    planned = plan_samples(dataset.samples, request.limit, request.sample_seed)
    created = time.time()
    run_id = time.strftime("%Y%m%d-%H%M%S", time.localtime(created)) + "-" + secrets.token_hex(2)
    return RunRecord(
        run_id=run_id,
        tag=request.tag or f"{endpoint.model}@{time.strftime('%Y%m%d-%H%M%S', time.localtime(created))}",
        benchmark=dataset.key,
        task_kind=request.task.kind,
        created_at=created,
        endpoint=endpoint,
        params=request.params,
        task_options={**request.task.options(), "sample_seed": request.sample_seed, "limit": request.limit},
        provenance=Provenance(
            benchlab_version=provenance.version(),
            git_sha=provenance.git_sha(),
            host=provenance.host(),
            python=provenance.python(),
            dataset_path=dataset.path,
            dataset_sha256=dataset.sha256,
            dataset_rows=len(dataset),
            command=request.command,
        ),
        sample_ids=[sample.id for sample in planned],
    )


def _run_to_resume(request: RunRequest, store: Store, endpoint: Endpoint) -> RunRecord | None:
    dataset = request.dataset
    if request.resume:
        matches = store.find_runs(request.resume)
        if not matches:
            raise RunError(f"no run {request.resume!r} to resume; `benchlab runs` lists them.")
        if len({m.run_id for m in matches}) > 1 and matches[0].run_id != request.resume:
            ids = ", ".join(m.run_id for m in matches[:5])
            raise RunError(f"{request.resume!r} matches several runs ({ids}); give the full run id.")
        record = matches[0]
    elif request.tag:
        same_tag = store.runs(tag=request.tag, benchmark=dataset.key)
        if not same_tag:
            return None
        record = same_tag[0]
    else:
        return None
    if record.benchmark != dataset.key or record.provenance.dataset_sha256 != dataset.sha256:
        raise RunError(
            f"run {record.run_id} was made on {record.benchmark} with dataset "
            f"{record.provenance.dataset_sha256[:12]}, not {dataset.key} {dataset.sha256[:12]}: its samples "
            "cannot be continued on different data. Use a new --tag."
        )
    if record.endpoint.model != endpoint.model:
        raise RunError(
            f"run {record.run_id} (tag {record.tag!r}) was made with model {record.endpoint.model!r}, "
            f"but the server now serves {endpoint.model!r}. Use a new --tag to start a fresh run."
        )
    wanted = request.task.options()
    changed = [
        name
        for name in ("shuffle", "samples", "challenge_tests")
        if record.task_options.get(name) != wanted.get(name)
    ]
    if changed:
        raise RunError(
            f"run {record.run_id} was made with different task settings ({', '.join(changed)}); "
            "resume it with the same settings, or use a new --tag."
        )
    if request.limit is not None and request.limit != record.task_options.get("limit"):
        raise RunError(
            f"run {record.run_id} (tag {record.tag!r}) planned {len(record.sample_ids)} samples; "
            f"-n {request.limit} would change its plan. Drop -n to resume it, or use a new --tag."
        )
    return record


def plan_samples(samples: Sequence[Sample], limit: int | None, seed: int) -> list[Sample]:
    """A seeded subset of `limit` samples, kept in file order so reports read naturally."""
    if limit is None or limit >= len(samples):
        return list(samples)
    if limit <= 0:
        raise RunError("-n must be a positive number of samples.")
    chosen = sorted(random.Random(seed).sample(range(len(samples)), limit))
    return [samples[index] for index in chosen]


async def _execute(
    request: RunRequest,
    store: Store,
    client: ChatClient,
    record: RunRecord,
    server: ServerInfo,
    concurrency: int,
    observer: RunObserver | None,
) -> RunRecord:
    by_id = {sample.id: sample for sample in request.dataset.samples}
    missing = [sample_id for sample_id in record.sample_ids if sample_id not in by_id]
    if missing:
        raise RunError(f"run {record.run_id} lists samples the dataset no longer has ({missing[:3]}…).")
    store.save_run(record)
    settled = store.settled_ids(record.run_id)
    tally = Tally(total=len(record.sample_ids))
    stored = store.results(record.run_id)
    for result in stored:
        if result.sample_id in settled:
            tally.add(result.score)
    # The end-of-run summary is made from the results of this run kept in memory (figures only, see
    # `_summary_view`), unless earlier results are stored (a resume) or the task asks for whole
    # transcripts: then it re-reads the store, as it must.
    kept: list[SampleResult] | None = (
        [] if not stored and not getattr(request.task, "summary_needs_transcripts", False) else None
    )
    pending = deque(by_id[sample_id] for sample_id in record.sample_ids if sample_id not in settled)
    store.add_event(
        record.run_id,
        "run_started",
        {"pending": len(pending), "settled": len(settled), "concurrency": concurrency},
    )
    if observer:
        observer.started(record, tally, server, concurrency)

    writer = SampleWriter(store, record.run_id)
    breaker = _Breaker(threshold=max(8, 2 * concurrency))
    stop_reason: list[str] = []
    task, params = request.task, request.params

    async def answer(sample: Sample) -> SampleResult:
        transcript = None
        attempts = 1
        try:
            transcript = await task.solve(sample, client.chat, params)
            score = task.score(sample, transcript)
            attempts = max((c.attempts for c in transcript.completions), default=1)
        except InfraError as error:
            score = Score(error_kind=ErrorKind.INFRA, error=str(error))
            attempts = error.attempts
        except RejectedError as error:
            score = Score(error_kind=ErrorKind.REJECTED, error=str(error))
        return SampleResult(
            sample_id=sample.id,
            subject=sample.subject,
            score=score,
            transcript=transcript,
            attempts=attempts,
            finished_at=time.time(),
        )

    async def worker() -> None:
        while pending and not stop_reason:
            sample = pending.popleft()
            result = await answer(sample)
            writer.put(result)
            if kept is not None:
                kept.append(_summary_view(result))
            tally.add(result.score)
            if observer:
                observer.sample_done(result, tally)
            writer.check()
            if breaker.record(result.score.error_kind is ErrorKind.INFRA) and not stop_reason:
                reason = await _server_gone(client)
                if reason:
                    stop_reason.append(reason)
                breaker.reset()

    status, reason = RunStatus.FINISHED, None
    sampler = HostSampler(client.endpoint.base_url, interval=request.host_interval).start()
    workers = [asyncio.create_task(worker()) for _ in range(max(1, concurrency))]
    try:
        await asyncio.gather(*workers)
        if stop_reason:
            status = RunStatus.FAILED
            reason = f"{stop_reason[0]} Resume with --resume {record.run_id} once it is back."

    except asyncio.CancelledError:
        status, reason = RunStatus.INTERRUPTED, "interrupted by the user"
    except (AuthError, StoreError) as error:
        status, reason = RunStatus.FAILED, str(error)
    except Exception as error:
        status, reason = RunStatus.FAILED, str(error)
        raise
    finally:
        for pending_worker in workers:
            pending_worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        writer.close()
        host = sampler.stop()
        record = _finish(store, record, request.task, status, reason, writer, host, client.notes, kept)
        _store_host_samples(store, record.run_id, sampler)
        if observer:
            observer.finished(record, tally)
    return record


def _finish(
    store: Store,
    record: RunRecord,
    task: Task,
    status: RunStatus,
    reason: str | None,
    writer: SampleWriter,
    host: dict[str, Any] | None = None,
    notes: Sequence[str] = (),
    kept: Sequence[SampleResult] | None = None,
) -> RunRecord:
    if writer.error is not None:
        status, reason = RunStatus.FAILED, str(writer.error)
        kept = None  # some results never reached the store: summarize what it holds
    try:
        results = kept if kept is not None else store.results(record.run_id, with_transcripts=True)
        summary: dict[str, Any] = task.summarize(results)
    except Exception as error:  # a summary must never cost the recorded samples
        summary, status = {"error": f"summary failed: {error}"}, RunStatus.FAILED
        results = []
    summary["planned"] = len(record.sample_ids)
    if host:
        summary["host"] = host
    if notes:
        summary["request_notes"] = list(notes)
    summary["complete"] = len({r.sample_id for r in results if r.score.error_kind is not ErrorKind.INFRA})
    infra = summary.get("infra_errors", {}).get("rate") or 0.0
    if status is RunStatus.FINISHED and infra > INVALID_INFRA_RATE:
        status = RunStatus.INVALID
        reason = (
            f"{infra:.1%} of requests failed in transport (more than {INVALID_INFRA_RATE:.0%}); "
            f"the scores are not trustworthy. Resume with --resume {record.run_id} to retry them."
        )
    updated = record.model_copy(
        update={"summary": summary, "status": status, "status_reason": reason, "finished_at": time.time()}
    )
    try:
        store.save_run(updated)
        store.add_event(record.run_id, "run_finished", {"status": status.value, "reason": reason})
    except Exception as error:  # the samples are already safe; say so instead of hiding them
        return updated.model_copy(
            update={"status": RunStatus.FAILED, "status_reason": f"could not save the run record: {error}"}
        )
    return updated


def _summary_view(result: SampleResult) -> SampleResult:
    """A result as summaries read it: score, state and per-completion figures, without the texts.

    Summaries read scores, usage, timings and tool-parse errors; the prompts and replies (the bulk of
    a transcript, megabytes for a reasoning model) stay in the store, so a long run's memory does not
    grow with them. A task whose summary reads texts sets `summary_needs_transcripts = True`.
    """
    transcript = result.transcript
    if transcript is None:
        return result
    figures = [
        Completion(
            finish_reason=c.finish_reason,
            usage=c.usage,
            timings=c.timings,
            server_timings=c.server_timings,
            model=c.model,
            tool_parse_error=c.tool_parse_error,
            attempts=c.attempts,
        )
        for c in transcript.completions
    ]
    slim = Transcript(messages=[], completions=figures, state=transcript.state)
    return SampleResult(
        sample_id=result.sample_id,
        subject=result.subject,
        score=result.score,
        transcript=slim,
        attempts=result.attempts,
        finished_at=result.finished_at,
    )


def _store_host_samples(store: Store, run_id: str, sampler: HostSampler) -> None:
    # Host samples are a nice-to-have: the run's own record is already saved.
    with contextlib.suppress(sqlite3.Error):
        store.add_event(run_id, "host_samples", {"samples": sampler.kept_samples()})


class _Breaker:
    """Counts consecutive infra failures so a dead server is noticed quickly."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.consecutive = 0

    def record(self, failed: bool) -> bool:
        self.consecutive = self.consecutive + 1 if failed else 0
        return self.consecutive >= self.threshold

    def reset(self) -> None:
        self.consecutive = 0


async def _server_gone(client: ChatClient) -> str | None:
    try:
        await client.models()
    except ServerUnreachable as error:
        return f"the server stopped answering: {error}"
    return None
