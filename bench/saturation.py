"""Saturation: does benchlab keep a slow server busy at every concurrency?

Against benchlab's scripted server in its own process, answering every request after a fixed
latency (default 50 ms) with unlimited slots (or ``--slots N``), the ideal request rate at
concurrency c is ``min(c, slots) / latency``. This measures the rate benchlab achieves (first
request to the last answer, ramp-up included, through `benchlab.api.run`) and its ratio to the
ideal, for c = 1 … 256, with ``max(200, 15 c)`` samples per level rounded up to whole waves of c.

Target (DESIGN §10): at least 95% of the ideal at every level. A bare aiohttp loop against the same
server is measured at each level as this machine's ceiling, and ``--peer`` adds
lm-evaluation-harness on the same work.

    python bench/saturation.py               # benchlab + the bare-loop ceiling (a minute or two)
    python bench/saturation.py --peer        # also lm-eval (adds its start-up at every level)
    python bench/saturation.py --quick       # smoke: three levels, few samples
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
from pathlib import Path

import _support as bs
from _lm_eval_peer import LmEvalPeer, find_python

TARGET = 0.95


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: levels 1 8 64, few samples")
    parser.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    parser.add_argument("--slots", type=int, help="requests the server serves at once (default: unlimited)")
    parser.add_argument("--levels", type=int, nargs="+", help="concurrencies (default: 1 2 4 … 256)")
    parser.add_argument("--min-samples", type=int, help="at least this many samples per level (default 200)")
    parser.add_argument("--waves", type=int, help="at least this many waves of c requests (default 15)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per level; the median is shown")
    parser.add_argument("--no-reference", action="store_true", help="skip the bare aiohttp ceiling")
    parser.add_argument("--peer", action="store_true", help="also run lm-eval at every level (slow)")
    parser.add_argument("--peer-python", help="interpreter of a venv with lm-eval (or set BENCH_PEER_PYTHON)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="before each measurement wait up to this many seconds for other processes to go quiet"
        " (default 60; 0 in --quick)",
    )
    args = parser.parse_args(argv)
    args.levels = args.levels or ([1, 8, 64] if args.quick else [2**k for k in range(9)])
    args.min_samples = args.min_samples or (40 if args.quick else 200)
    args.waves = args.waves or (4 if args.quick else 15)
    if args.quiet_wait is None:
        args.quiet_wait = 0.0 if args.quick else 60.0
    return args


def samples_for(concurrency: int, args: argparse.Namespace) -> int:
    """Whole waves of `concurrency` requests: at least `min_samples` and `waves` waves."""
    return concurrency * max(math.ceil(args.min_samples / concurrency), args.waves)


def ideal_rate(concurrency: int, args: argparse.Namespace) -> float:
    busy = min(concurrency, args.slots) if args.slots else concurrency
    return busy / args.latency


def verdict(ratio: float, other_cores: float = 0.0) -> str:
    """PASS/FAIL, or "noisy" when other processes used enough CPU to spoil the figure."""
    if other_cores > 0.3:
        return f"noisy ({other_cores:.1f})"
    return "PASS" if ratio >= TARGET else "FAIL"


def quiet(args: argparse.Namespace) -> None:
    if args.quiet_wait > 0:
        busy = bs.wait_for_quiet(args.quiet_wait)
        if busy >= 0.3:
            bs.say(f"  (other processes still use {busy:.1f} cores after {args.quiet_wait:.0f} s; measuring)")


def benchlab_level(
    args: argparse.Namespace, dataset: Path, server: bs.ServerProcess, tmp: Path, concurrency: int
) -> bs.BenchlabResult:
    n = samples_for(concurrency, args)
    runs = []
    for repeat in range(args.repeats):
        quiet(args)
        runs.append(bs.run_benchlab(dataset, server, n, concurrency, tmp, f"c{concurrency}-r{repeat}"))
    runs.sort(key=lambda run: run.request_rate)
    middle = runs[len(runs) // 2]
    if not all(run.ok for run in runs):
        bad = next(run for run in runs if not run.ok)
        middle.status = f"{bad.status} (stored {bad.stored}/{n}, infra {bad.infra})"
    return middle


def reference_level(args: argparse.Namespace, server: bs.ServerProcess, concurrency: int) -> bs.RawResult:
    n = samples_for(concurrency, args)
    runs = []
    for _ in range(args.repeats):
        quiet(args)
        runs.append(bs.raw_client(server, n, concurrency))
    runs.sort(key=lambda run: run.rate)
    return runs[len(runs) // 2]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return measure(args)
    except KeyboardInterrupt:
        bs.say("interrupted; the servers were stopped")
        return 130


def measure(args: argparse.Namespace) -> int:
    bs.stop_on_sigterm()
    with bs.temp_workdir("benchlab-saturation-") as workdir:
        tmp = Path(workdir)
        os.environ["BENCHLAB_HOME"] = str(tmp / "home")
        most = max(samples_for(c, args) for c in args.levels)
        dataset = bs.write_benchlab_rows(tmp / "saturation.jsonl", most)
        from benchlab import __version__

        ours, reference, peer_rows, peer_note = [], [], [], ""
        with bs.ServerProcess(latency=args.latency, slots=args.slots, log_dir=tmp) as server:
            slots = args.slots or "unlimited"
            bs.say(
                f"saturation · benchlab {__version__} · Python {platform.python_version()} ·"
                f" {os.cpu_count()} cores · load average {os.getloadavg()[0]:.2f}\n"
                f"scripted server {server.url} (latency {1000 * args.latency:g} ms, {slots} slots)"
            )
            peer = None
            if args.peer:
                python, detail = find_python(args.peer_python)
                if python is None:
                    peer_note = f"lm-eval skipped: {detail}"
                else:
                    peer = LmEvalPeer(python, tmp / "peer", rows=most)
                    warm = peer.run(server, 1, 1, timed=False)  # fills lm-eval's datasets cache
                    peer_note = f"lm-eval {detail} ({python})"
                    if warm.returncode != 0:
                        peer, peer_note = None, f"lm-eval could not run: {warm.error}"
            bs.run_benchlab(dataset, server, 20, 4, tmp, "warmup")
            for concurrency in args.levels:
                n, ideal = samples_for(concurrency, args), ideal_rate(concurrency, args)
                raw = None if args.no_reference else reference_level(args, server, concurrency)
                ceiling = raw.rate if raw is not None else float("nan")
                run = benchlab_level(args, dataset, server, tmp, concurrency)
                ratio = run.request_rate / ideal
                steady = run.timer.steady_rate(min(concurrency, n))
                ours.append(
                    [
                        concurrency,
                        n,
                        ideal,
                        run.request_rate,
                        f"{ratio:.1%}",
                        f"{steady / ideal:.1%}",
                        f"{run.request_rate / ceiling:.0%}" if ceiling == ceiling else None,
                        run.client_cores,
                        run.server_cores,
                        run.other_cores,
                        verdict(ratio, run.other_cores) if run.ok else run.status,
                    ]
                )
                if raw is not None:
                    reference.append(
                        [concurrency, n, ideal, raw.rate, f"{raw.rate / ideal:.1%}", raw.other_cores]
                    )
                line = (
                    f"  c={concurrency}: benchlab {run.request_rate:,.0f} req/s of {ideal:,.0f} ({ratio:.1%})"
                )
                if peer is not None:
                    quiet(args)
                    theirs = peer.run(server, concurrency, n)
                    their_ratio = theirs.request_rate / ideal if theirs.requests else float("nan")
                    check = (
                        verdict(their_ratio)
                        if theirs.ok
                        else (theirs.error or f"answered {theirs.answered}/{n}")
                    )
                    peer_rows.append(
                        [
                            concurrency,
                            n,
                            ideal,
                            theirs.request_rate,
                            f"{their_ratio:.1%}",
                            theirs.client_cores,
                            theirs.other_cores,
                            theirs.wall_seconds,
                            check,
                        ]
                    )
                    line += f" · lm-eval {theirs.request_rate:,.0f} ({their_ratio:.1%})"
                bs.say(line)

        report(args, ours, reference, peer_rows, peer_note)
    return 0


def report(args: argparse.Namespace, ours: list, reference: list, peer_rows: list, peer_note: str) -> None:
    bs.say()
    bs.say(
        "benchlab (api.run: stream, parse, score, store). achieved = samples / (first request to the"
        " last answer),\nramp-up included; steady = after the first wave of c; of ceiling = achieved /"
        " the bare loop's; cores = CPU s per s"
    )
    headers = [
        "concurrency",
        "samples",
        "ideal req/s",
        "achieved req/s",
        "ratio",
        "steady ratio",
        "of ceiling",
        "client cores",
        "server cores",
        "other cores",
        f"≥{TARGET:.0%}",
    ]
    bs.say(bs.table(headers, ours))
    if reference:
        bs.say()
        bs.say(
            "ceiling: a bare aiohttp loop on the same server (streamed, bytes read, nothing parsed or stored)"
        )
        headers = ["concurrency", "requests", "ideal req/s", "achieved req/s", "ratio", "other cores"]
        bs.say(bs.table(headers, reference))
    bs.say()
    if peer_rows:
        bs.say(f"peer: {peer_note}; request phase timed inside its process (generate_until)")
        headers = [
            "concurrency",
            "requests",
            "ideal req/s",
            "achieved req/s",
            "ratio",
            "client cores",
            "other cores",
            "command s",
            f"≥{TARGET:.0%}",
        ]
        bs.say(bs.table(headers, peer_rows))
    elif args.peer:
        bs.say(f"peer: {peer_note}")
    else:
        bs.say("peer: not run (add --peer to include lm-eval)")
    failed = [str(row[0]) for row in ours if row[-1] == "FAIL"]
    noisy = [str(row[0]) for row in ours if row[-1] not in ("PASS", "FAIL")]
    bs.say()
    if failed:
        bs.say(f"benchlab: below {TARGET:.0%} of ideal at concurrency {', '.join(failed)}")
    elif not noisy:
        bs.say(f"benchlab: at least {TARGET:.0%} of ideal at every level")
    if noisy:
        bs.say(f"not judged (other processes busy, or an error) at concurrency {', '.join(noisy)}")
    bs.say(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
