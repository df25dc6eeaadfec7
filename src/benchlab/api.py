"""benchlab's stable Python API. The CLI and the dashboard use only this module.

`API_VERSION` changes when a signature or a returned shape changes in a way that breaks callers.

    from benchlab import api
    record = api.run("sample", server="http://127.0.0.1:8080", n=20)
    print(record.summary["accuracy"])
    api.compare("q8", "q4")          # two run ids or tags, paired on the same questions
    api.speed("concurrency", server="http://127.0.0.1:8080", levels=[1, 2, 4, 8])
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import SecretStr

from benchlab import settings
from benchlab.analysis.compare import Comparison, compare_runs
from benchlab.campaign.plan import PlanError, load_plan
from benchlab.catalog import fetch as catalog_fetch
from benchlab.catalog import lock as catalog_lock
from benchlab.catalog import registry as catalog_registry
from benchlab.catalog.datasets import BUILTIN_KEYS, Dataset, resolve
from benchlab.catalog.fetch import HealthReport, Progress
from benchlab.catalog.lock import LockResult, LockStatus, VerifyResult
from benchlab.catalog.spec import BenchmarkSpec
from benchlab.endpoints.client import RetryPolicy
from benchlab.endpoints.detect import ServerInfo
from benchlab.endpoints.doctor import ServerReport, probe_servers
from benchlab.engine.runner import RunError, RunObserver, RunRequest, Tally, run_benchmark
from benchlab.engine.selection import Selection, SelectionError
from benchlab.engine.selection import apply as apply_selection
from benchlab.exchange.export import default_path, export_run
from benchlab.exchange.importers import AlreadyImported, import_envelope, import_lm_eval
from benchlab.exchange.publish import PublishReport, download_envelopes, plan
from benchlab.exchange.publish import publish as publish_uploads
from benchlab.speed import scores as speed_scores
from benchlab.speed.measure import RequestMeasure
from benchlab.speed.profiles import SpeedError, SpeedSettings
from benchlab.speed.suite import SpeedRequest, run_speed
from benchlab.store.db import Store
from benchlab.tasks.base import Task
from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task
from benchlab.types import Endpoint, GenerationParams, RunRecord, SampleResult

if TYPE_CHECKING:
    from benchlab.campaign.execute import CampaignResult

API_VERSION = 1

__all__ = [
    "API_VERSION",
    "BenchmarkSpec",
    "Comparison",
    "PlanError",
    "RequestMeasure",
    "RunError",
    "RunRecord",
    "SampleResult",
    "Selection",
    "SelectionError",
    "ServerInfo",
    "ServerReport",
    "SpeedError",
    "Tally",
    "TaskSettings",
    "campaign",
    "compare",
    "dashboard",
    "doctor",
    "export",
    "fetch",
    "get_run",
    "healthcheck",
    "import_results",
    "load",
    "lock",
    "lock_status",
    "log_to_mlflow",
    "open_store",
    "panel_score",
    "prelock",
    "publish",
    "registry",
    "relock",
    "results",
    "run",
    "runs",
    "select_benchmarks",
    "serve",
    "speed",
    "speed_plots",
    "verify",
]

T = TypeVar("T")


def open_store() -> Store:
    settings.ensure_home()
    return Store(settings.database_path())


def load(benchmark: str, *, allow_drift: bool = False) -> Dataset:
    """The validated samples of a built-in key, a catalog key (fetched, pinned and verified against
    the lock on demand) or a JSONL file."""
    settings.ensure_home()
    return resolve(benchmark, allow_drift=allow_drift)


def registry() -> list[BenchmarkSpec]:
    """Every benchmark definition: the shipped catalog plus the user's own folder."""
    return list(catalog_registry.registry())


def fetch(
    key: str, *, force: bool = False, source: str | None = None, progress: Progress | None = None
) -> Path:
    """The path of a catalog benchmark's normalized rows: pinned, verified, fetched on demand."""
    settings.ensure_home()
    return catalog_fetch.fetch(key, force=force, source=source, progress=progress)


def lock_status(keys: list[str] | None = None, *, check_upstream: bool = False) -> list[LockStatus]:
    return catalog_lock.status(keys, check_upstream=check_upstream)


def prelock(keys: list[str] | None = None) -> LockResult:
    return catalog_lock.prelock(keys)


def lock(
    keys: list[str] | None = None, *, all_sources: bool = False, progress: Progress | None = None
) -> LockResult:
    settings.ensure_home()
    return catalog_lock.lock(keys, all_sources=all_sources, progress=progress)


def relock(
    keys: list[str] | None = None, *, all_sources: bool = False, progress: Progress | None = None
) -> LockResult:
    settings.ensure_home()
    return catalog_lock.relock(keys, all_sources=all_sources, progress=progress)


def verify(keys: list[str] | None = None) -> list[VerifyResult]:
    return catalog_lock.verify(keys)


def healthcheck(
    keys: list[str] | None = None, *, download: bool = False, strict: bool = False
) -> HealthReport:
    settings.ensure_home()
    return catalog_fetch.healthcheck(keys, download=download, strict=strict)


def select_benchmarks(keys: list[str]) -> list[str]:
    """Catalog keys for keys and groups (`current`, `legacy`, `gated`, `all`), in catalog order."""
    return catalog_registry.registry().select(*keys)


def serve(
    *,
    smoke: bool,
    gguf: Path | None = None,
    port: int = 8080,
    host: str = "127.0.0.1",
    ctx: int | None = None,
    parallel: int = 4,
    threads: int | None = None,
    alias: str | None = None,
    on_ready: Callable[[str, str, int], None],
) -> None:
    """Serve the smoke model or a GGUF file with the embedded llama.cpp engine until SIGINT/SIGTERM.

    `on_ready(url, model_id, slots)` is called once the model is loaded."""
    from benchlab.endpoints import managed  # the engine is an optional extra: import on demand

    config = managed.config_for(
        smoke=smoke,
        gguf=gguf,
        port=port,
        host=host,
        ctx=ctx,
        parallel=parallel,
        threads=threads,
        alias=alias,
        cache=settings.cache_dir(),
    )
    managed.run_until_signal(config, on_ready=lambda url: on_ready(url, config.model_id, config.n_parallel))


def default_n(benchmark: str) -> int | None:
    """The catalog's suggested number of questions for a benchmark (None: all of them)."""
    if benchmark in BUILTIN_KEYS or benchmark not in catalog_registry.registry():
        return None
    return catalog_registry.get(benchmark).default_n


def run(
    benchmark: str,
    *,
    server: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    n: int | None = None,
    tag: str | None = None,
    concurrency: int | None = None,
    think: bool | None = None,
    seed: int | None = 1234,
    sample_seed: int = 1234,
    shuffle: bool = True,
    max_tokens: int | None = None,
    temperature: float = 0.0,
    resume: str | None = None,
    timeout: float = 300.0,
    retries: int = 4,
    observer: RunObserver | None = None,
    command: str | None = None,
    allow_drift: bool = False,
    samples: int = 1,
    dialect: str = "raw",
    judge_server: str | None = None,
    judge_model: str | None = None,
    judge_api_key: str | None = None,
    render: bool = False,
    options: dict[str, Any] | None = None,
    llm_judge: bool = False,
    visual_judge: bool = False,
    selection: Selection | None = None,
) -> RunRecord:
    """Run a benchmark and return its record (status, summary, provenance).

    A run stopped by Ctrl-C or SIGTERM returns with status `interrupted`; its finished samples are
    kept and `resume=<run id>` (or the same `tag`) continues it. A catalog dataset whose rows differ
    from the lock is refused unless `allow_drift`; its hash is recorded either way. Code benchmarks
    execute model-written code only when BENCHLAB_ALLOW_CODE_EXEC=1; `samples` asks for k answers
    per problem (pass@k). `dialect` says how tool-calling tasks hand tools to the model; `judge_*`
    name the judge of rubric tasks (default: the model under test); `render` draws charts in a
    headless browser; `options` are kind-specific settings (`--option key=value`). `llm_judge` asks
    the judge for a 1-5 opinion on every toolcall or chart answer, and `visual_judge` shows a
    vision judge each rendered chart: both are stored beside the score and never change it. `selection`
    narrows the tasks asked (domain, difficulty, quality, ids, mixed draw; see engine/selection);
    resuming without one reuses the selection the run recorded.
    """
    dataset = load(benchmark, allow_drift=allow_drift)
    judge = (
        Endpoint(
            base_url=judge_server,
            model=judge_model,
            api_key=SecretStr(judge_api_key) if judge_api_key else None,
        )
        if judge_server
        else None
    )
    task = task_for(
        dataset,
        TaskSettings(
            shuffle=shuffle,
            samples=samples,
            dialect=dialect,
            judge=judge,
            render=render,
            llm_judge=llm_judge,
            visual_judge=visual_judge,
            artifacts=settings.home() / "artifacts",
            options=dict(options or {}),
        ),
    )
    chosen = selection if selection and not selection.empty else _recorded_selection(benchmark, resume or tag)
    dataset, task = apply_selection(dataset, task, chosen, n, sample_seed)
    connection = settings.connection(server, model, api_key)
    request = RunRequest(
        dataset=dataset,
        task=task,
        endpoint=Endpoint(
            base_url=connection.server,
            api_key=SecretStr(connection.api_key) if connection.api_key else None,
            model=connection.model,
        ),
        params=GenerationParams(temperature=temperature, seed=seed, max_tokens=max_tokens, think=think),
        tag=tag,
        limit=n,
        sample_seed=sample_seed,
        concurrency=concurrency,
        resume=resume,
        timeout=timeout,
        retry=RetryPolicy(attempts=max(1, retries)),
        command=command,
    )
    store = open_store()
    return _run_interruptibly(run_benchmark(request, store, observer))


def _recorded_selection(benchmark: str, reference: str | None) -> Selection:
    """The selection of the run being resumed (by id or tag), if it recorded one."""
    matches = open_store().find_runs(reference) if reference else []
    if not matches or matches[0].benchmark != benchmark:
        return Selection()
    return Selection.from_options(matches[0].task_options.get("selection"))


def speed(
    profile: str = "quick",
    *,
    server: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    tag: str | None = None,
    output_tokens: int = 128,
    ignore_eos: bool = True,
    trials: int = 3,
    lengths: list[int] | None = None,
    levels: list[int] | None = None,
    requests_per_level: int = 2,
    rates: list[float] | None = None,
    requests_per_rate: int = 16,
    seed: int = 1234,
    remote: bool | None = None,
    timeout: float = 300.0,
    observer: Callable[[RequestMeasure], None] | None = None,
    command: str | None = None,
) -> RunRecord:
    """Measure a server's speed with one profile (quick, context, concurrency or rate) and store it
    as a run (benchmark `speed:<profile>`); the summary holds the figures, the server's own figures
    beside them, host metrics and the speed score. `lengths` are the context profile's prompt
    lengths, or the quick profile's prompt sizes (default 32, 512, 2048 tokens). `remote` overrides
    the local/remote judgement of the address that picks the speed score's reference."""
    defaults = SpeedSettings()
    sizes = defaults.sizes
    if profile == "quick" and lengths:  # the quick profile's prompt sizes, smallest first
        names = ("short", "medium", "long") if len(lengths) == 3 else [f"p{n}" for n in sorted(lengths)]
        sizes = dict(zip(names, sorted(lengths), strict=True))
    sweep = SpeedSettings(
        sizes=sizes,
        profile=profile,
        output_tokens=output_tokens,
        ignore_eos=ignore_eos,
        trials=trials,
        lengths=tuple(lengths) if lengths else defaults.lengths,
        levels=tuple(levels) if levels else defaults.levels,
        requests_per_level=requests_per_level,
        rates=tuple(rates) if rates else defaults.rates,
        requests_per_rate=requests_per_rate,
        seed=seed,
    )
    request = SpeedRequest(
        endpoint=_endpoint_for(server, model, api_key),
        settings=sweep,
        tag=tag,
        remote=remote,
        timeout=timeout,
        command=command,
    )
    record, _ = _run_interruptibly(run_speed(request, open_store(), observer))
    return record


def _endpoint_for(server: str | None, model: str | None, api_key: str | None) -> Endpoint:
    connection = settings.connection(server, model, api_key)
    return Endpoint(
        base_url=connection.server,
        api_key=SecretStr(connection.api_key) if connection.api_key else None,
        model=connection.model,
    )


def speed_plots(reference: str, folder: Path, *, fmt: str = "png") -> list[Path]:
    """Save the charts of a speed run (id or tag) into `folder`; needs the `plots` extra."""
    from benchlab.speed.plots import save_plots  # matplotlib is optional: import on demand

    record = get_run(reference)
    if record.task_kind != "speed":
        raise RunError(f"run {record.run_id} is a {record.task_kind} run; plots are drawn for speed runs.")
    return save_plots(record, folder, fmt=fmt)


def panel_score(references: list[str]) -> dict[str, Any]:
    """The quality/speed/reliability score of a panel of runs (ids or tags), with its formula,
    weights and the suites that went in (see `benchlab.speed.scores`)."""
    return speed_scores.panel_score([get_run(reference) for reference in references])


def task_for(dataset: Dataset, settings: TaskSettings | None = None) -> Task:
    """The task kind that asks and scores this dataset's questions, ready to run."""
    try:
        return build_task(dataset.kind, settings or TaskSettings())
    except TaskSettingsError as error:
        raise RunError(f"{dataset.key}: {error}") from None


def runs(
    *,
    tag: str | None = None,
    benchmark: str | None = None,
    model: str | None = None,
    limit: int | None = None,
) -> list[RunRecord]:
    return open_store().runs(tag=tag, benchmark=benchmark, model=model, limit=limit)


def get_run(reference: str) -> RunRecord:
    """A run by id, id prefix or tag (the newest run with that tag)."""
    matches = open_store().find_runs(reference)
    if not matches:
        raise RunError(f"no run matches {reference!r}; `benchlab runs` lists them.")
    ids = {record.run_id for record in matches}
    if len(ids) > 1 and not any(record.tag == reference for record in matches):
        raise RunError(
            f"{reference!r} matches several runs ({', '.join(sorted(ids)[:5])}); give more of the id."
        )
    return matches[0]


def results(reference: str, *, with_transcripts: bool = True) -> list[SampleResult]:
    return open_store().results(get_run(reference).run_id, with_transcripts=with_transcripts)


def compare(a: str, b: str) -> Comparison:
    """Paired comparison of two runs (ids or tags) on the questions both answered."""
    store = open_store()
    run_a, run_b = get_run(a), get_run(b)
    return compare_runs(run_a, store.results(run_a.run_id), run_b, store.results(run_b.run_id))


def export(reference: str, *, fmt: str = "envelope", output: Path | None = None) -> Path:
    """Write a run to a file: `envelope` (lossless JSON, schema-checked), `jsonl` (one sample per
    line), `csv` (one sample per row) or `parquet` (one row per headline figure). Returns the path."""
    record = get_run(reference)
    samples = open_store().results(record.run_id, with_transcripts=fmt in ("envelope", "jsonl"))
    return export_run(record, samples, fmt, output or default_path(record, fmt))


def log_to_mlflow(reference: str, *, uri: str, experiment: str = "benchlab") -> str:
    """Log a run (params, metrics with intervals, per-sample table, envelope) to an MLflow
    tracking server; returns the MLflow run id. Needs the `mlflow` extra."""
    from benchlab.exchange.mlflow_log import log_run  # optional dependency, imported on use

    record = get_run(reference)
    return log_run(
        record, open_store().results(record.run_id, with_transcripts=True), uri, experiment=experiment
    )


def import_results(source: str, location: str | Path, *, tag: str | None = None) -> list[RunRecord]:
    """Read results made elsewhere into the store: `envelope` (a benchlab envelope file), `lm-eval`
    (an lm-evaluation-harness results file or output folder, with its sample logs) or `hf` (every
    envelope in a published dataset repository `owner/name`; runs already here are skipped)."""
    store = open_store()
    if source == "envelope":
        return [import_envelope(store, Path(location))]
    if source == "lm-eval":
        return import_lm_eval(store, Path(location), tag=tag)
    if source == "hf":
        imported = []
        for path in download_envelopes(str(location), cache_dir=settings.cache_dir() / "hub"):
            with contextlib.suppress(AlreadyImported):
                imported.append(import_envelope(store, path))
        return imported
    raise RunError(f"cannot import from {source!r}; choose envelope, lm-eval or hf.")


def publish(references: list[str], *, repo: str, dry_run: bool = False) -> PublishReport:
    """Upload runs (ids or tags) to a Hugging Face dataset as content-addressed envelopes."""
    store = open_store()
    runs = []
    for reference in references:
        record = get_run(reference)
        runs.append((record, store.results(record.run_id, with_transcripts=True)))
    return publish_uploads(repo, plan(runs), dry_run=dry_run)


def campaign(
    plan: Path,
    *,
    say: Callable[[str], None] | None = None,
    command: str | None = None,
    ray: str | None = None,
) -> CampaignResult:
    """Run a campaign plan (TOML) to the end: every endpoint × benchmark × grid job, resumably, then
    the paired comparisons it asks for. Running the same plan again resumes where it stopped.
    `ray` ("auto", "local" or an address; default the plan's `ray`) runs the jobs on a Ray cluster,
    every result written back to this store."""
    from benchlab.campaign.execute import run_campaign  # the campaign layer drives this API

    return run_campaign(load_plan(plan), say=say or (lambda _: None), command=command, ray=ray)


def dashboard(
    *,
    port: int = 8050,
    host: str = "127.0.0.1",
    token: str | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the web dashboard until interrupted. Off loopback a token is required (generated when
    not given); `on_ready(url)` gets the address to open, token included."""
    from benchlab.endpoints.managed import check_port_free

    try:  # the web stack is an optional extra: import it on demand
        from benchlab.surfaces.dashboard import app
    except ImportError as error:
        raise RuntimeError(
            f"the dashboard needs its extra ({error}): pip install 'benchlab[dashboard]'"
        ) from None
    check_port_free(host, port)  # a clear message instead of the web server's own
    launch = app.plan_launch(host=host, port=port, token=token)
    if on_ready is not None:
        on_ready(launch.url)
    app.serve(launch)


def doctor(servers: list[str] | None = None, *, api_key: str | None = None) -> list[ServerReport]:
    """Probe the given servers, or the usual local ports, and report what each supports."""
    key = settings.connection(api_key=api_key).api_key
    return asyncio.run(probe_servers(servers, api_key=key))


def _run_interruptibly(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine so that SIGTERM, like Ctrl-C, cancels it and lets it record its state."""

    async def main() -> T:
        task = asyncio.ensure_future(coroutine)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or Windows
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await task
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    try:
        return asyncio.run(main())
    finally:
        # The loop leaves SIGTERM at the default; give an embedding program its own handler back.
        with contextlib.suppress(ValueError, TypeError):  # not the main thread
            signal.signal(signal.SIGTERM, previous)
