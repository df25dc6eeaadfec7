"""lm-eval's own command line with its request phase timed; runs inside the peer's interpreter.

    python bench/_lm_eval_driver.py <lm_eval arguments...>

`TemplateAPI.generate_until` is where lm-eval's API models send every request and parse every reply
(concurrently through aiohttp when num_concurrent > 1, else one by one with requests). It is wrapped
in a timer; nothing else changes. One JSON line per call is appended to $BENCH_PEER_TIMING: requests,
seconds, the process's CPU seconds, the server's CPU seconds ($BENCH_SERVER_PID), the whole machine's
busy CPU seconds, and how many replies equal $BENCH_REPLY. Standard library and lm-eval only: this
file must not import benchlab.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return float("nan")
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy() -> float:
    """CPU seconds the whole machine has been busy (as in /proc/stat, steal included)."""
    try:
        with open("/proc/stat") as handle:
            first = handle.readline().split()
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in first[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    from lm_eval.models import api_models

    original = api_models.TemplateAPI.generate_until
    expected = os.environ.get("BENCH_REPLY", "")
    server_pid = int(os.environ.get("BENCH_SERVER_PID") or 0)

    def timed(self: Any, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        busy0, server0, cpu0 = _busy(), _cpu(server_pid), time.process_time()
        began = time.perf_counter()
        replies = original(self, requests, disable_tqdm)
        seconds = time.perf_counter() - began
        record = {
            "requests": len(requests),
            "seconds": seconds,
            "client_cpu": time.process_time() - cpu0,
            "server_cpu": _cpu(server_pid) - server0,
            "system_busy": _busy() - busy0,
            "answered": sum(1 for text in replies if isinstance(text, str) and text.strip() == expected),
        }
        with open(os.environ["BENCH_PEER_TIMING"], "a") as handle:
            handle.write(json.dumps(record) + "\n")
        return replies

    api_models.TemplateAPI.generate_until = timed

    from lm_eval.__main__ import cli_evaluate

    sys.argv[0] = "lm_eval"
    return cli_evaluate() or 0


if __name__ == "__main__":
    sys.exit(main())
