"""Facts about where a run happened, recorded with every run so a number stays traceable."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchlab import __version__


@functools.cache
def git_sha() -> str | None:
    """The commit benchlab runs from, when it runs from a git checkout."""
    package_dir = Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=package_dir,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and len(sha) == 40 else None


@functools.cache
def host() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "os": platform.system(),
        "os_release": platform.release(),
        "machine": platform.machine(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    memory = _memory_bytes()
    if memory:
        facts["memory_gb"] = round(memory / 2**30, 1)
    return facts


def python() -> str:
    return f"{platform.python_implementation()} {sys.version.split()[0]}"


def version() -> str:
    return __version__


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
