"""CPU per sample: benchlab's client CPU time and samples/s against an instant server, for A/B work.

Wall-clock rates swing by ±50% on a shared machine; the client's CPU seconds per sample swing far
less, so comparing two versions of the code is done on this figure. The code measured is whatever
`benchlab` imports: point PYTHONPATH at another checkout's `src` to measure it on the same machine
minutes apart, alternating the two.

    PYTHONPATH=src python bench/cpu_per_sample.py                      # this checkout
    PYTHONPATH=/path/to/other/src python bench/cpu_per_sample.py      # another version, same script
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import _support as bs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="questions per run (default 2000)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32], help="levels (1 8 32)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per level; medians are shown (3)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import benchlab

    bs.say(f"cpu per sample · benchlab from {Path(benchlab.__file__).parent} · n={args.n}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="benchlab-cpu-") as workdir:
        tmp = Path(workdir)
        dataset = bs.write_benchlab_rows(tmp / "questions.jsonl", args.n)
        with bs.ServerProcess(log_dir=tmp) as server:
            bs.run_benchlab(dataset, server, 100, 8, tmp, "warm-up")  # first-use imports, connections
            for concurrency in args.concurrency:
                rates, cpu, other = [], [], []
                for repeat in range(args.repeats):
                    result = bs.run_benchlab(
                        dataset, server, args.n, concurrency, tmp, f"c{concurrency}-{repeat}"
                    )
                    if not result.ok:
                        bs.say(f"run at c={concurrency} did not finish cleanly: {result}")
                        return 1
                    rates.append(result.rate)
                    cpu.append(1e6 * result.client_cores * result.timer.phase_seconds / args.n)
                    other.append(result.other_cores)
                rows.append([concurrency, bs.median(rates), bs.median(cpu), max(other)])
    bs.say(bs.table(["concurrency", "samples/s", "client CPU µs/sample", "other cores (max)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
