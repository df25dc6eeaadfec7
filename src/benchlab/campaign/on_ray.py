"""Running a campaign's jobs on a Ray cluster, with every result written back to the driver's store.

Every replica URL gets one Ray actor (a `ReplicaWorker`) placed with its endpoint's
`ray_resources`, so jobs run on the nodes near that endpoint; an endpoint's jobs go to a Ray
`ActorPool` of its replicas, which hands the next job to whichever replica is free, so replicas
share the load as they do locally. All endpoints run at once (nothing here is served by the
driver, so nothing forces one after another).

Results come back through a Ray queue as envelopes and only the driver writes its store.
Durability bound: a sample is safe once its batch reached the driver's store; batches leave a
worker every half second, so a killed campaign repeats at most the samples finished in that last
interval (plus any still queued), never one the driver had stored.
"""

from __future__ import annotations

import os
import queue
import socket
from pathlib import Path
from typing import Any

from benchlab import api, settings
from benchlab.campaign import writeback
from benchlab.campaign.execute import CampaignResult, JobOutcome, Say, _compare
from benchlab.campaign.plan import EndpointPlan, Job, Plan, PlanError, jobs
from benchlab.campaign.ray_worker import TRIGGER, JobOrder, JobReturn, ReplicaWorker
from benchlab.catalog.lockfile import user_lock_path
from benchlab.catalog.registry import user_definitions_dir
from benchlab.store.db import Store
from benchlab.types import RunRecord


class RayUnavailable(PlanError):
    """Ray is not installed, or its cluster cannot be reached or cannot place a job."""


def run_on_ray(plan: Plan, address: str, *, say: Say, command: str | None) -> CampaignResult:
    ray = _import_ray()
    managed = [endpoint.name for endpoint in plan.endpoints if endpoint.managed]
    if managed:
        raise RayUnavailable(
            f"endpoints {', '.join(managed)} are served by benchlab itself (`gguf`/`smoke`), which "
            "happens on the driver only; on Ray, serve them yourself and list their `urls`."
        )
    started_here = _connect(ray, address, say)
    try:
        _check_resources(ray, plan)
        return _run(ray, plan, say, command)
    finally:
        if started_here:
            ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
        from ray.util import queue as _  # noqa: F401 - the queue the results come back through
    except ImportError:
        raise RayUnavailable(
            "running a campaign on Ray needs the `ray` extra: pip install 'benchlab[ray]' "
            "(on the driver and every Ray node)."
        ) from None
    return ray


def _connect(ray: Any, address: str, say: Say) -> bool:
    """Join the cluster at `address` ("auto", "local" or HOST:PORT); False when already connected."""
    _check_reachable(address)
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, logging_level="warning")
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise RayUnavailable(
            f"cannot join the Ray cluster at {address!r}: {error}. Start one with `ray start --head` "
            "and give its address (or `auto` on a cluster node)."
        ) from None
    say(f"ray: joined {address} ({ray.cluster_resources().get('CPU', 0):g} CPUs)")
    return True


def _check_reachable(address: str) -> None:
    """Refuse a HOST:PORT nothing listens on at once: Ray itself would retry it for minutes."""
    host, _, port = address.rpartition(":")
    if address in ("auto", "local") or "://" in address or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as error:
        raise RayUnavailable(
            f"no Ray cluster answers at {address} ({error.strerror or error}). Start one with "
            "`ray start --head` and give the address it prints, or use `--ray local` to try on this machine."
        ) from None


def _check_resources(ray: Any, plan: Plan) -> None:
    """Refuse a resource no node offers: Ray would keep such a job pending forever."""
    offered = ray.cluster_resources()
    for endpoint in plan.endpoints:
        for name, amount in endpoint.ray_resources.items():
            if offered.get(name, 0) < amount:
                raise RayUnavailable(
                    f"endpoint {endpoint.name!r} asks for ray_resources {name}={amount:g} but the cluster "
                    f"offers {offered.get(name, 0):g}; start the node near it with "
                    f"`ray start --resources='{{\"{name}\": {amount:g}}}'` or fix the plan."
                )


def placement(endpoint: EndpointPlan) -> dict[str, Any]:
    """Ray actor options from an endpoint's `ray_resources` (CPU and GPU have their own options).

    A job mostly waits on its endpoint, so by default a worker reserves no CPU."""
    resources = dict(endpoint.ray_resources)
    options: dict[str, Any] = {"num_cpus": resources.pop("CPU", 0), "max_concurrency": 1}
    if "GPU" in resources:
        options["num_gpus"] = resources.pop("GPU")
    if resources:
        options["resources"] = resources
    return options


def catalog_files() -> dict[str, bytes]:
    """The driver's lock and own benchmark definitions, keyed by their path under its home."""
    home = settings.home()
    files = [user_lock_path(), *sorted(user_definitions_dir().glob("*.toml"))]
    return {str(path.relative_to(home)): path.read_bytes() for path in files if path.is_file()}


def job_order(
    plan: Plan, endpoint: EndpointPlan, job: Job, command: str | None, home_files: dict[str, bytes]
) -> JobOrder:
    path = Path(job.benchmark)
    shipped = path.read_bytes() if job.benchmark.endswith((".jsonl", ".json")) and path.is_file() else None
    return JobOrder(
        tag=job.tag(plan.name),
        benchmark=job.benchmark,
        dataset=shipped,
        model=endpoint.model,
        api_key=os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None,
        n=plan.n,
        concurrency=plan.concurrency,
        command=command,
        settings=dict(job.settings),
        home_files=home_files,
    )


def _run(ray: Any, plan: Plan, say: Say, command: str | None) -> CampaignResult:
    from ray.util.actor_pool import ActorPool
    from ray.util.queue import Queue

    store = api.open_store()
    sink = Queue()
    worker = ray.remote(ReplicaWorker)
    endpoints = {endpoint.name: endpoint for endpoint in plan.endpoints}
    pools = {
        name: ActorPool([worker.options(**placement(endpoint)).remote(url) for url in endpoint.urls])
        for name, endpoint in endpoints.items()
    }
    planned = jobs(plan)
    home_files = catalog_files()
    for job in planned:
        order = job_order(plan, endpoints[job.endpoint], job, command, home_files)
        seed = writeback.seed(store, order.tag, trigger=TRIGGER)
        say(f"queue {order.tag}" + (" (resuming)" if seed else ""))
        pools[job.endpoint].submit(lambda actor, args: actor.run.remote(*args), (order, seed, sink))

    returned: dict[str, JobReturn] = {}
    records: dict[str, RunRecord] = {}
    lost: list[str] = []
    while any(pool.has_next() for pool in pools.values()):
        _drain(sink, store)
        for pool in pools.values():
            if not pool.has_next():
                continue
            try:
                done: JobReturn = pool.get_next_unordered(timeout=0.05)
            except TimeoutError:
                continue
            except ray.exceptions.RayError as error:  # a worker or its node died
                lost.append(f"{type(error).__name__}: {error}")
                continue
            _drain(sink, store)  # its last batches were queued before it returned
            returned[done.tag] = done
            if done.envelope is not None:  # stored now, so a campaign killed later still has it
                records[done.tag] = writeback.merge_final(store, done.envelope)
            say(f"done  {done.tag} on {done.replica}" + (f": {done.error}" if done.error else ""))

    result = CampaignResult(plan)
    for job in planned:
        tag = job.tag(plan.name)
        outcome = JobOutcome(job, tag)
        came_back = returned.get(tag)
        if came_back is None:
            reason = lost[0] if lost else "no result"
            outcome.error = f"its Ray worker was lost ({reason}); run the plan again to resume it"
        else:
            outcome.replica = came_back.replica
            outcome.error = came_back.error
            outcome.record = records.get(tag)
        result.jobs.append(outcome)
    for spec in plan.compare:
        result.comparisons.extend(_compare(plan, spec))
    return result


def _drain(sink: Any, store: Store) -> None:
    while True:
        try:
            batch = sink.get(block=False)
        except queue.Empty:
            return
        writeback.merge_batch(store, batch)
