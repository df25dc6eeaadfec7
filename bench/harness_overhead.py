"""Harness overhead: how fast benchlab finishes samples when the server costs (almost) nothing.

Against benchlab's scripted server in its own process (reply "Answer: A", no latency, unlimited
slots) this measures, on the same machine and in the same run:

1. benchlab end to end through `benchlab.api.run`: every sample requested (streamed), parsed,
   scored and durably stored in SQLite, at several concurrencies and run sizes;
2. a bare aiohttp loop against the same server (no parsing, scoring or storing): the ceiling that
   this machine and server allow a Python client;
3. the whole `benchlab run` command in a subprocess (start-up included) for a 500-question run;
4. lm-evaluation-harness (the peer), where installed: its request phase on a local
   `generate_until` task at the same concurrencies, and its whole command.

Targets (DESIGN §10): benchlab's end-to-end rate is at least lm-eval's request rate at the same
concurrency, and the whole 500-question command takes at most a fifth of lm-eval's.

    python bench/harness_overhead.py            # full (about 2-3 minutes with the peer)
    python bench/harness_overhead.py --quick    # smoke: small runs, no peer
    python bench/harness_overhead.py --profile  # also profile one run and print the top functions
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import subprocess
import sys
import time
from pathlib import Path

import _support as bs
from _lm_eval_peer import LmEvalPeer, PeerRun, find_python


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: small runs, one repeat, no peer")
    parser.add_argument("--sizes", type=int, nargs="+", help="questions per run (default: 500 2000)")
    parser.add_argument("--concurrency", type=int, nargs="+", help="requests in flight (default: 1 8 32)")
    parser.add_argument("--repeats", type=int, help="runs per cell; the median is shown (default: 3)")
    parser.add_argument("--command-n", type=int, default=500, help="questions for the whole-command timing")
    parser.add_argument("--command-concurrency", type=int, default=8, help="concurrency of the whole command")
    peer = parser.add_mutually_exclusive_group()
    peer.add_argument("--peer", action="store_true", help="run lm-eval even in --quick mode")
    peer.add_argument("--no-peer", action="store_true", help="skip lm-eval")
    parser.add_argument("--peer-python", help="interpreter of a venv with lm-eval (or set BENCH_PEER_PYTHON)")
    parser.add_argument("--peer-repeats", type=int, default=1, help="lm-eval whole-command timings (median)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="before each measurement wait up to this many seconds for other processes to go quiet"
        " (default 60; 0 in --quick)",
    )
    parser.add_argument("--profile", action="store_true", help="profile one run (cProfile, main thread)")
    parser.add_argument("--profile-out", type=Path, help="also save the raw profile here")
    args = parser.parse_args(argv)
    args.sizes = args.sizes or ([200] if args.quick else [500, 2000])
    args.concurrency = args.concurrency or [1, 8, 32]
    args.repeats = args.repeats or (1 if args.quick else 3)
    if args.quiet_wait is None:
        args.quiet_wait = 0.0 if args.quick else 60.0
    if args.quick:
        args.command_n = min(args.command_n, 200)
    args.run_peer = not args.no_peer and (args.peer or not args.quick)
    return args


def measure_benchlab(args: argparse.Namespace, dataset: Path, server: bs.ServerProcess, tmp: Path) -> dict:
    bs.say("warming up (one small run; first-use imports and connections are not measured)...")
    bs.run_benchlab(dataset, server, min(100, max(args.sizes)), 8, tmp, "warmup")
    rows, results = [], {}
    for size in args.sizes:
        for concurrency in args.concurrency:
            runs = []
            for repeat in range(args.repeats):
                quiet(args)
                label = f"n{size}-c{concurrency}-r{repeat}"
                runs.append(bs.run_benchlab(dataset, server, size, concurrency, tmp, label))
            runs.sort(key=lambda run: run.rate)
            middle = runs[len(runs) // 2]
            results[size, concurrency] = middle
            rows.append(
                [
                    size,
                    concurrency,
                    middle.rate,
                    middle.request_rate,
                    1000 * middle.timer.phase_seconds / size,
                    middle.client_cores,
                    middle.server_cores,
                    middle.other_cores,
                    middle.total_seconds,
                    "ok" if all(run.ok for run in runs) else _problem(runs),
                ]
            )
    bs.say()
    bs.say(f"benchlab end to end (api.run; median of {args.repeats}; request, parse, score, durably store)")
    bs.say(
        bs.table(
            [
                "questions",
                "concurrency",
                "samples/s",
                "request-loop/s",
                "ms/sample",
                "client cores",
                "server cores",
                "other cores",
                "api.run s",
                "check",
            ],
            rows,
        )
    )
    bs.say(
        "  samples/s: first request to the last sample committed and the run summarized; request-loop/s:"
        " to the last answer handed to the writer.\n"
        "  client/server/other cores: CPU seconds per wall second of the client process (all threads),"
        " the server process, and everything else on the machine (should be about 0)."
    )
    return results


def quiet(args: argparse.Namespace) -> None:
    """Hold the next measurement while other processes keep the machine busy (bounded)."""
    if args.quiet_wait > 0:
        busy = bs.wait_for_quiet(args.quiet_wait)
        if busy >= 0.3:
            bs.say(f"  (other processes still use {busy:.1f} cores after {args.quiet_wait:.0f} s; measuring)")


def _problem(runs: list[bs.BenchlabResult]) -> str:
    bad = next(run for run in runs if not run.ok)
    return f"{bad.status}: stored {bad.stored}/{bad.n}, infra {bad.infra}"


def measure_raw(args: argparse.Namespace, server: bs.ServerProcess) -> dict:
    n = max(args.sizes)
    rows, results = [], {}
    for concurrency in args.concurrency:
        row: list = [concurrency]
        for stream in (True, False):
            runs = []
            for _ in range(args.repeats):
                quiet(args)
                runs.append(bs.raw_client(server, n, concurrency, stream=stream))
            runs.sort(key=lambda run: run.rate)
            middle = runs[len(runs) // 2]
            row += [middle.rate, middle.other_cores]
            if stream:
                results[concurrency] = middle.rate
        rows.append(row)
    bs.say()
    bs.say(f"reference: a bare aiohttp loop, {n} requests, reading the bytes only (no parse, score or store)")
    headers = ["concurrency", "streamed req/s", "other cores", "non-streamed req/s", "other cores"]
    bs.say(bs.table(headers, rows))
    return results


def measure_command(args: argparse.Namespace, dataset: Path, server: bs.ServerProcess, tmp: Path) -> dict:
    def once(n: int, label: str) -> tuple[float, int, float]:
        home = tmp / f"command-{label}"
        env = {**os.environ, "BENCHLAB_HOME": str(home)}
        command = [
            sys.executable,
            "-m",
            "benchlab",
            "run",
            str(dataset),
            "-n",
            str(n),
            "--server",
            server.url,
            "-c",
            str(args.command_concurrency),
            "--tag",
            label,
        ]
        quiet(args)
        began = time.perf_counter()
        with bs.OtherLoad(server.pid) as load:
            completed = subprocess.run(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600
            )
        wall = time.perf_counter() - began
        if completed.returncode != 0:
            bs.say(f"  `benchlab run` exited {completed.returncode}: {completed.stderr.strip()[-300:]}")
        return wall, completed.returncode, load.cores

    whole = sorted(once(args.command_n, f"whole-{repeat}") for repeat in range(args.repeats))
    startup = sorted(once(1, f"startup-{repeat}") for repeat in range(args.repeats))
    result = {
        "whole": whole[len(whole) // 2][0],
        "startup": startup[len(startup) // 2][0],
        "ok": all(code == 0 for _, code, _ in whole + startup),
        "other": whole[len(whole) // 2][2],
    }
    bs.say()
    bs.say(
        f"whole `benchlab run` command (subprocess, start-up included; -c {args.command_concurrency};"
        f" median of {args.repeats})"
    )
    bs.say(
        bs.table(
            ["command", "wall s", "other cores", "exit"],
            [
                [
                    f"benchlab run -n {args.command_n}",
                    result["whole"],
                    whole[len(whole) // 2][2],
                    _codes(whole),
                ],
                [
                    "benchlab run -n 1 (start-up)",
                    result["startup"],
                    startup[len(startup) // 2][2],
                    _codes(startup),
                ],
            ],
        )
    )
    return result


def _codes(runs: list[tuple[float, int, float]]) -> str:
    return ",".join(sorted({str(code) for _, code, _ in runs}))


def measure_peer(args: argparse.Namespace, server: bs.ServerProcess, tmp: Path) -> dict | None:
    bs.say()
    if not args.run_peer:
        bs.say("peer: lm-eval skipped (--quick or --no-peer; use --peer to include it)")
        return None
    python, detail = find_python(args.peer_python)
    if python is None:
        bs.say(f"peer: lm-eval skipped: {detail}")
        return None
    bs.say(f"peer: lm-eval {detail} ({python}); each command has several seconds of start-up...")
    peer = LmEvalPeer(python, tmp / "peer", rows=max(max(args.sizes), args.command_n))
    cold = peer.run(server, 1, 1, timed=False)  # fills lm-eval's datasets cache; reported, not compared
    if cold.returncode != 0:
        bs.say(f"peer: lm-eval could not run: {cold.error}")
        return None
    rows, rates = [], {}
    for size in args.sizes:
        for concurrency in args.concurrency:
            quiet(args)
            run = peer.run(server, concurrency, size)
            rates[size, concurrency] = (run.request_rate if run.ok else float("nan"), run.other_cores)
            rows.append(
                [
                    size,
                    concurrency,
                    run.request_rate,
                    1000 * run.request_seconds / max(run.requests, 1),
                    run.client_cores,
                    run.server_cores,
                    run.other_cores,
                    run.wall_seconds,
                    "ok" if run.ok else (run.error or f"answered {run.answered}/{size}"),
                ]
            )

    def command(limit: int) -> PeerRun:
        quiet(args)
        return peer.run(server, args.command_concurrency, limit, timed=False)

    wholes = [command(args.command_n) for _ in range(args.peer_repeats)]
    startups = [command(1) for _ in range(args.peer_repeats)]
    whole_s = sorted(run.wall_seconds for run in wholes)[len(wholes) // 2]
    startup_s = sorted(run.wall_seconds for run in startups)[len(startups) // 2]
    bs.say(
        "lm-eval request phase (its generate_until: sends every request, parses every reply; timed"
        " inside its process)"
    )
    bs.say(
        bs.table(
            [
                "questions",
                "concurrency",
                "requests/s",
                "ms/request",
                "client cores",
                "server cores",
                "other cores",
                "command s",
                "check",
            ],
            rows,
        )
    )
    bs.say()
    bs.say(
        "whole `lm_eval` command (local-chat-completions, --apply_chat_template, local JSONL task;"
        f" median of {args.peer_repeats})"
    )
    bs.say(
        bs.table(
            ["command", "wall s", "other cores", "exit", "exact_match"],
            [
                _command_row("lm_eval --limit 1, first run (cold datasets cache)", [cold]),
                _command_row(
                    f"lm_eval --limit {args.command_n} (num_concurrent={args.command_concurrency})", wholes
                ),
                _command_row("lm_eval --limit 1 (start-up)", startups),
            ],
        )
    )
    bs.say(
        f"  whole - start-up = {whole_s - startup_s:.2f} s for {args.command_n - 1} more requests"
        " (a difference of two noisy start-ups; the timed request phase above is the precise figure)"
    )
    return {
        "rates": rates,
        "whole": whole_s if all(run.ok for run in wholes) else float("nan"),
        "whole_other": max(run.command_other_cores for run in wholes),
        "startup": startup_s,
    }


def _command_row(label: str, runs: list[PeerRun]) -> list:
    codes = ",".join(sorted({str(run.returncode) for run in runs}))
    scores = ",".join(sorted({f"{run.exact_match:.2f}" for run in runs}))
    middle = sorted(runs, key=lambda run: run.wall_seconds)[len(runs) // 2]
    return [label, middle.wall_seconds, middle.command_other_cores, codes, scores]


NOISY = 0.3  # cores used by other processes above which a comparison is not judged


def judge(passed: bool, *others: float) -> str:
    worst = max(others)
    if worst > NOISY:
        return f"not judged (other cores {worst:.1f})"
    return "PASS" if passed else "FAIL"


def verdict(args: argparse.Namespace, ours: dict, command: dict, peer: dict | None) -> None:
    bs.say()
    bs.say(f"targets (DESIGN §10); a cell is not judged when other processes used > {NOISY} cores")
    rows = []
    for size in args.sizes:
        for concurrency in args.concurrency:
            mine = ours[size, concurrency]
            theirs, their_other = peer["rates"].get((size, concurrency), (None, 0.0)) if peer else (None, 0.0)
            result = None
            if theirs is not None and theirs == theirs:
                result = judge(mine.rate >= theirs, mine.other_cores, their_other)
            rows.append(
                [f"end to end >= lm-eval send rate, n={size} c={concurrency}", mine.rate, theirs, result]
            )
    theirs_whole = peer["whole"] if peer else None
    ratio = theirs_whole / command["whole"] if theirs_whole else None
    result = None
    if ratio is not None and ratio == ratio and peer is not None:
        result = f"{judge(ratio >= 5, command['other'], peer['whole_other'])} ({ratio:.1f}x)"
    rows.append(
        [f"whole command {args.command_n} q: lm-eval / benchlab >= 5", command["whole"], theirs_whole, result]
    )
    bs.say(bs.table(["target", "benchlab", "lm-eval", "result"], rows))
    if peer is None:
        bs.say("  (no peer figures in this run: the targets cannot be judged)")


# Where the main thread's time goes, per sample: (path suffix, function, what it is). Rows overlap
# (a caller includes its callees); they are meant to be read against the first row.
PROFILE_ROWS = [
    ("benchlab/api.py", "run", "api.run, whole call (start-up, run, summary)"),
    ("benchlab/engine/runner.py", "answer", "one sample: solve + score (engine.answer)"),
    ("benchlab/endpoints/client.py", "_chat_once", "  HTTP exchange (ChatClient._chat_once)"),
    ("aiohttp/client.py", "_request", "    aiohttp: send request, wait for headers"),
    ("benchlab/endpoints/client.py", "_read_stream", "    read + parse the SSE stream (_read_stream)"),
    ("benchlab/endpoints/client.py", "_feed_line", "      take in the SSE lines (_feed_line)"),
    ("json/__init__.py", "loads", "        json.loads of stream chunks"),
    ("benchlab/endpoints/client.py", "_assemble", "      build the Completion (_assemble)"),
    ("benchlab/tasks/mcq.py", "messages", "  build the prompt (McqTask.messages)"),
    ("benchlab/tasks/mcq.py", "layout", "  option layout, all calls (McqTask.layout)"),
    ("benchlab/tasks/mcq.py", "score", "  score the reply (McqTask.score)"),
    ("benchlab/tasks/mcq_extraction/choice.py", "extract_choice", "    extract the letter (extract_choice)"),
    ("asyncio/selector_events.py", "_read_ready", "socket read callbacks (event loop)"),
    ("benchlab/engine/runner.py", "_summary_view", "keep each result's figures for the summary"),
    ("benchlab/engine/runner.py", "_finish", "end of run: summarize, save"),
    ("benchlab/store/db.py", "results", "  Store.results (read back from the store)"),
    ("~", "<method 'validate_python'", "pydantic validation, all calls (self time)"),
]


def profile_run(args: argparse.Namespace, dataset: Path, server: bs.ServerProcess, tmp: Path) -> None:
    size, concurrency = max(args.sizes), 8
    profiler = cProfile.Profile()
    profiler.enable()
    result = bs.run_benchlab(dataset, server, size, concurrency, tmp, "profile")
    profiler.disable()
    if args.profile_out:
        profiler.dump_stats(args.profile_out)
    raw = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for suffix, name, label in PROFILE_ROWS:
        calls = tottime = cumtime = 0.0
        for (filename, _line, function), (_cc, ncalls, tt, ct, _callers) in raw.items():
            if filename.endswith(suffix) and (function == name or function.startswith(name + " ")):
                calls, tottime, cumtime = calls + ncalls, tottime + tt, cumtime + ct
        seconds = tottime if suffix == "~" else cumtime
        rows.append([label, int(calls), seconds, 1e6 * seconds / size])
    bs.say()
    bs.say(
        f"profile of one run (cProfile, main thread only; n={size}, c={concurrency},"
        f" {result.rate:,.0f} samples/s under the profiler, which inflates Python-level costs)"
    )
    bs.say(bs.table(["where", "calls", "seconds", "µs/sample"], rows))
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream).strip_dirs()
    stats.sort_stats("tottime").print_stats(20)
    bs.say(stream.getvalue().rstrip())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return measure(args)
    except KeyboardInterrupt:
        bs.say("interrupted; the servers were stopped")
        return 130


def measure(args: argparse.Namespace) -> int:
    bs.stop_on_sigterm()
    with bs.temp_workdir("benchlab-overhead-") as workdir:
        tmp = Path(workdir)
        os.environ["BENCHLAB_HOME"] = str(tmp / "home")
        dataset = bs.write_benchlab_rows(tmp / "overhead.jsonl", max(*args.sizes, args.command_n))
        from benchlab import __version__

        with bs.ServerProcess(log_dir=tmp) as server:
            bs.say(
                f"harness overhead · benchlab {__version__} · Python {platform.python_version()} ·"
                f" {os.cpu_count()} cores · load average {os.getloadavg()[0]:.2f}\n"
                f"scripted server {server.url} (pid {server.pid}, reply {bs.REPLY!r}, no latency,"
                " unlimited slots)"
            )
            ours = measure_benchlab(args, dataset, server, tmp)
            measure_raw(args, server)
            command = measure_command(args, dataset, server, tmp)
            peer = measure_peer(args, server, tmp)
            verdict(args, ours, command, peer)
            if args.profile:
                profile_run(args, dataset, server, tmp)
            bs.say(
                f"load average at the end: {os.getloadavg()[0]:.2f} (other work on the machine skews figures)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
