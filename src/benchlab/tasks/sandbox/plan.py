"""The command, environment and folder a program runs with, for the isolation in use."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from benchlab.tasks.sandbox.bubblewrap import bwrap_argv
from benchlab.tasks.sandbox.host import INSIDE_WORKDIR, PROGRAM_NAME, is_root, sandbox_uid, user_tasks
from benchlab.tasks.sandbox.launcher import launcher_argv
from benchlab.tasks.sandbox.limits import Isolation, Limits


@dataclass(frozen=True)
class _Plan:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    user: int | None  # uid to switch to before exec (process mode as root)


def _environment(home: str, tmp: str, python: str) -> dict[str, str]:
    """Built from nothing, so no API key or token of the user's can leak in. PYTHONHASHSEED is fixed
    so that a program's result does not depend on set and dict ordering of strings."""
    bindir = os.path.dirname(os.path.abspath(python))
    return {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "PYTHONHASHSEED": "0",
        "PYTHONUTF8": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # run_many already fills the cores: one thread per program for numeric libraries.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def make_plan(
    isolation: Isolation, python: str, limits: Limits, staging: str, workdir: str, *, ready: int
) -> _Plan:
    if isolation.kind == "bubblewrap":
        bwrap = shutil.which("bwrap") or "bwrap"
        uid = sandbox_uid() if is_root() else None
        argv = bwrap_argv(bwrap, python, limits, staging, uid=uid, ready=ready)
        return _Plan(argv, _environment(INSIDE_WORKDIR, "/tmp", python), staging, None)
    user: int | None = None
    if is_root() and isolation.unprivileged:
        user = sandbox_uid()
        os.chown(workdir, user, user)
    nproc: int | None = limits.processes
    if not is_root():
        existing = user_tasks(os.getuid())
        nproc = None if existing is None else existing + limits.processes
    argv = launcher_argv(python, PROGRAM_NAME, limits, uid=None, nproc=nproc, ready=ready, parent=os.getpid())
    return _Plan(argv, _environment(workdir, workdir, python), workdir, user)
