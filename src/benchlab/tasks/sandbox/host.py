"""What the host gives a program: where the interpreter lives, whether benchlab runs as root, the
uid each program gets and how many tasks a user already runs."""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import threading

from benchlab.tasks.sandbox.limits import SandboxUnavailable

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "mime.types")
INSIDE_WORKDIR = "/tmp/work"
PROGRAM_NAME = "main.py"

state_lock = threading.Lock()
_python_dirs_cache: dict[str, tuple[str, ...]] = {}
_uid_counter = random.randrange(0, 50_000_000)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _python_prefixes(python: str) -> list[str]:
    """The interpreter's prefixes. A venv is only a venv when started by its own path, so for any
    interpreter but our own the answer comes from asking it (once)."""
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        return [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    query = (
        "import sys, json\n"
        "print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]))"
    )
    try:
        done = subprocess.run(
            [python, "-I", "-c", query], capture_output=True, text=True, timeout=30, check=True
        )
        return [str(item) for item in json.loads(done.stdout)]
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise SandboxUnavailable(f"cannot run the interpreter {python!r}: {error}") from error


def _python_dirs(python: str) -> tuple[str, ...]:
    """Folders to bind read-only so the interpreter, its stdlib and its site-packages work inside
    bubblewrap: its prefixes and its own folder, each as written and with symlinks resolved, minus
    what the system folders already show, nested folders folded into their parents."""
    key = os.path.abspath(python)
    with state_lock:
        if key in _python_dirs_cache:
            return _python_dirs_cache[key]
    candidates: set[str] = set()
    places = [*_python_prefixes(python), os.path.dirname(key), os.path.dirname(os.path.realpath(key))]
    for place in places:
        for variant in (os.path.abspath(place), os.path.realpath(place)):
            if variant != "/" and os.path.isdir(variant):
                candidates.add(variant)
    shown = [d for d in _SYSTEM_DIRS if os.path.lexists(d)]
    kept: list[str] = []
    for candidate in sorted(candidates):
        if any(_under(candidate, root) for root in shown + kept):
            continue
        kept.append(candidate)
    result = tuple(kept)
    with state_lock:
        _python_dirs_cache[key] = result
    return result


def is_root() -> bool:
    return os.geteuid() == 0


def sandbox_uid() -> int:
    """A uid of its own for each program when benchlab runs as root: the kernel never applies the
    process-count limit to root, and counts it per uid for everyone else, so a fresh uid makes the
    limit mean "processes of this program". Taken from a high range no account uses."""
    global _uid_counter
    with state_lock:
        _uid_counter = (_uid_counter + 1) % 50_000_000
        return 1_900_000_000 + _uid_counter


def user_tasks(uid: int) -> int | None:
    """How many tasks (processes and threads) `uid` has: without a user namespace the process limit
    counts all of them, so the program's allowance is added on top of this. None without /proc."""
    if not os.path.isdir("/proc"):
        return None
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        real_uid = threads = None
        with (
            contextlib.suppress(OSError),
            open(f"/proc/{entry.name}/status", encoding="utf-8", errors="replace") as handle,
        ):
            for line in handle:
                if line.startswith("Uid:"):
                    real_uid = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        if real_uid == uid:
            count += threads or 1
    return count


def usable_cores() -> int:
    """The cores this process may run on: programs run one per core."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
