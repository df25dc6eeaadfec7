"""Running a campaign: endpoint after endpoint, replicas sharing the jobs, then the comparisons.

Each endpoint's jobs go into one queue and every replica URL has a worker that takes the next
job when it is free, so faster replicas do more. A managed endpoint (`gguf`, `smoke`) is served
by the embedded engine for exactly as long as its jobs run. A job that fails is recorded with
its message and the campaign goes on; since every job's tag is stable, running the plan again
resumes unfinished jobs (finished samples are never asked again) and skips finished ones.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from benchlab import api
from benchlab.analysis.compare import Comparison, PairingError
from benchlab.campaign.plan import CompareSpec, EndpointPlan, Job, Plan, jobs, pairs
from benchlab.types import RunRecord

Say = Callable[[str], None]


@dataclass
class JobOutcome:
    job: Job
    tag: str
    replica: str | None = None
    record: RunRecord | None = None
    error: str | None = None


@dataclass
class PairOutcome:
    by: str
    a: str  # tags
    b: str
    comparison: Comparison | None = None
    error: str | None = None


@dataclass
class CampaignResult:
    plan: Plan
    jobs: list[JobOutcome] = field(default_factory=list)
    comparisons: list[PairOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.record is not None and o.record.status.value == "finished" for o in self.jobs)


def run_campaign(
    plan: Plan, *, say: Say = lambda _: None, command: str | None = None, ray: str | None = None
) -> CampaignResult:
    """Run every job here, or on the Ray cluster at `ray` (or the plan's `ray`) when one is named."""
    address = ray or plan.ray
    if address:
        from benchlab.campaign.on_ray import run_on_ray  # Ray is an optional extra

        return run_on_ray(plan, address, say=say, command=command)
    result = CampaignResult(plan)
    planned = jobs(plan)
    for endpoint in plan.endpoints:
        mine = [job for job in planned if job.endpoint == endpoint.name]
        with _serving(endpoint, say) as urls:
            result.jobs.extend(_run_jobs(plan, endpoint, urls, mine, say, command))
    for spec in plan.compare:
        result.comparisons.extend(_compare(plan, spec))
    return result


@contextlib.contextmanager
def _serving(endpoint: EndpointPlan, say: Say) -> Iterator[list[str]]:
    if not endpoint.managed:
        yield endpoint.urls
        return
    from pathlib import Path

    from benchlab.endpoints.managed import ServerProcess, free_port

    model = Path(endpoint.gguf) if endpoint.gguf else None
    say(f"{endpoint.name}: serving {'the smoke model' if endpoint.smoke else endpoint.gguf}")
    with ServerProcess(
        model, smoke=endpoint.smoke, port=free_port(), parallel=endpoint.parallel, ctx=endpoint.ctx
    ) as server:
        yield [server.base_url]
    say(f"{endpoint.name}: server stopped")


def _run_jobs(
    plan: Plan, endpoint: EndpointPlan, urls: list[str], todo: list[Job], say: Say, command: str | None
) -> list[JobOutcome]:
    waiting: queue.SimpleQueue[Job] = queue.SimpleQueue()
    for job in todo:
        waiting.put(job)
    outcomes: list[JobOutcome] = []
    lock = threading.Lock()
    api_key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None

    def worker(url: str) -> None:
        while True:
            try:
                job = waiting.get_nowait()
            except queue.Empty:
                return
            outcome = JobOutcome(job, job.tag(plan.name), replica=url)
            say(f"start {outcome.tag} on {url}")
            try:
                outcome.record = api.run(
                    job.benchmark,
                    server=url,
                    model=endpoint.model,
                    api_key=api_key,
                    n=plan.n,
                    tag=outcome.tag,
                    concurrency=plan.concurrency,
                    command=command,
                    **_run_settings(job),
                )
                say(f"done  {outcome.tag}: {outcome.record.status.value}")
            except Exception as error:  # one failed job is recorded; the campaign goes on
                outcome.error = f"{type(error).__name__}: {error}"
                say(f"fail  {outcome.tag}: {outcome.error}")
            with lock:
                outcomes.append(outcome)

    # Daemon threads: an interrupted campaign exits at once; every finished sample is already stored.
    workers = [threading.Thread(target=worker, args=(url,), daemon=True) for url in urls]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    order = {job: index for index, job in enumerate(todo)}
    return sorted(outcomes, key=lambda outcome: order[outcome.job])


def _run_settings(job: Job) -> dict[str, Any]:
    return dict(job.settings)


def _compare(plan: Plan, spec: CompareSpec) -> list[PairOutcome]:
    outcomes = []
    for job_a, job_b in pairs(plan, spec):
        outcome = PairOutcome(spec.by, job_a.tag(plan.name), job_b.tag(plan.name))
        try:
            outcome.comparison = api.compare(outcome.a, outcome.b)
        except (PairingError, api.RunError) as error:
            outcome.error = str(error)
        outcomes.append(outcome)
    return outcomes
