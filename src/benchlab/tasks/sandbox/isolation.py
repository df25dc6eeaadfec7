"""Finding out, once per interpreter, the best isolation this machine can give programs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from benchlab.tasks.sandbox.bubblewrap import bwrap_version
from benchlab.tasks.sandbox.host import is_root, sandbox_uid, state_lock
from benchlab.tasks.sandbox.limits import Isolation, IsolationMode, Limits, SandboxUnavailable
from benchlab.tasks.sandbox.plan import make_plan
from benchlab.tasks.sandbox.staging import remove_tree, stage_program

_isolation_cache: dict[tuple[str, bool], Isolation] = {}
_drop_ok_cache: dict[str, bool] = {}


def _probe_bwrap(bwrap: str, python: str) -> str | None:
    """Run one trivial program the way real ones run; None when it worked, else why not. bwrap can
    be installed yet unable to create namespaces (some containers, hardened kernels)."""
    limits = Limits(wall_seconds=30, cpu_seconds=30)
    staging = tempfile.mkdtemp(prefix="benchlab-probe-")
    try:
        stage_program(staging, "import os\nprint('ok', os.getuid())\n")
        trial = Isolation("bubblewrap", version="probe", unprivileged=is_root())
        plan = make_plan(trial, python, limits, staging, staging, ready=-1)
        done = subprocess.run(
            plan.argv,
            env=plan.env,
            cwd=plan.cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            start_new_session=True,
        )
    except (OSError, subprocess.SubprocessError, SandboxUnavailable) as error:
        return str(error)
    finally:
        remove_tree(staging)
    words = done.stdout.split()
    if done.returncode == 0 and words[:1] == ["ok"]:
        if is_root() and words[1:2] == ["0"]:
            return "the program still ran as root"
        return None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"


def _can_drop_privileges(python: str) -> bool:
    """As root without bubblewrap, whether the interpreter still runs under an unprivileged uid (it
    cannot when it lives somewhere only root may enter, like /root/.pyenv)."""
    key = os.path.abspath(python)
    with state_lock:
        if key in _drop_ok_cache:
            return _drop_ok_cache[key]
    uid = sandbox_uid()
    try:
        done = subprocess.run(
            [python, "-I", "-c", "pass"],
            user=uid,
            group=uid,
            extra_groups=[],
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            timeout=30,
        )
        ok = done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    with state_lock:
        _drop_ok_cache[key] = ok
    return ok


def _process_isolation(python: str, note: str) -> Isolation:
    if is_root():
        unprivileged = _can_drop_privileges(python)
        if not unprivileged:
            note = (note + " " if note else "") + (
                "The interpreter cannot run as an unprivileged user, so programs run as root, "
                "for whom the kernel ignores the process-count limit."
            )
        return Isolation("process", unprivileged=unprivileged, process_limit=unprivileged, note=note)
    return Isolation("process", process_limit=os.path.isdir("/proc"), note=note)


def isolation_available(python: str | None = None, *, refresh: bool = False) -> Isolation:
    """The best isolation this machine gives programs run by `python`, probed once and cached."""
    python = os.path.abspath(python or sys.executable)
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise SandboxUnavailable(f"the interpreter {python!r} does not exist or cannot be run.")
    key = (python, is_root())
    with state_lock:
        if key in _isolation_cache and not refresh:
            return _isolation_cache[key]
    bwrap = shutil.which("bwrap") if sys.platform.startswith("linux") else None
    if bwrap is None:
        result = _process_isolation(python, "bubblewrap is not installed.")
    else:
        version = bwrap_version(bwrap)
        failure = _probe_bwrap(bwrap, python)
        if failure is None:
            result = Isolation("bubblewrap", version=version, unprivileged=is_root())
        else:
            note = f"bubblewrap {version or ''} is installed but cannot sandbox here ({failure})."
            result = _process_isolation(python, note.replace("  ", " "))
    with state_lock:
        _isolation_cache[key] = result
    return result


def _resolve(mode: IsolationMode, python: str) -> Isolation:
    if os.name != "posix":
        raise SandboxUnavailable("running code needs a POSIX system (Linux or macOS).")
    found = isolation_available(python)
    if mode == "auto":
        return found
    if mode == "bubblewrap":
        if found.kind != "bubblewrap":
            raise SandboxUnavailable(f"bubblewrap isolation was asked for but is not available: {found.note}")
        return found
    if mode == "process":
        if found.kind == "process":
            return found
        return _process_isolation(python, "bubblewrap not used: process isolation was asked for.")
    raise ValueError(f"unknown isolation mode {mode!r}; use 'auto', 'bubblewrap' or 'process'")


def prepare(mode: IsolationMode, python: str | None) -> tuple[str, Isolation]:
    interpreter = os.path.abspath(python or sys.executable)
    return interpreter, _resolve(mode, interpreter)
