"""Running model-written programs so that they can be scored without trusting them (DESIGN §5 "code").

A program (the model's solution plus the task's tests, as asserts) passes when it exits 0 within its
limits. Everything here exists because the program is hostile until proven otherwise:

* Execution is off unless the user sets `BENCHLAB_ALLOW_CODE_EXEC=1`: running code is a decision the
  user makes, never a side effect of picking a benchmark.
* Every program runs in its own session and process group, in a fresh temporary folder, with a
  scrubbed environment (no API keys), kernel resource limits (CPU, address space, file size, process
  count, no core files) and a wall-clock timeout that kills the whole group.
* With bubblewrap (Linux), it also gets no network, only read-only system folders and the
  interpreter's own folders (no home, no `BENCHLAB_HOME`, no project files), a private size-limited
  /tmp, its own pid namespace (so every process it started dies with it) and, when benchlab runs as
  root, an unprivileged uid of its own.

Limits are applied by a tiny launcher (`_LAUNCHER`) that runs inside the sandbox, sets them, drops
privileges and only then execs the program. It reports "limits in force" on a pipe closed on exec,
so a setup failure ("error", not the model's fault) can never be forged by the program itself.

docs/sandbox.md says what this protects against and, as importantly, what it does not.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

ALLOW_VARIABLE = "BENCHLAB_ALLOW_CODE_EXEC"
_TRUTHY = {"1", "true", "yes", "on"}

Status = Literal["passed", "failed", "timeout", "crashed", "error"]
IsolationMode = Literal["auto", "bubblewrap", "process"]
T = TypeVar("T")


class CodeExecutionDisabled(RuntimeError):
    """Raised when model-written code would run but the user has not allowed it."""

    def __init__(self) -> None:
        super().__init__(
            "Running model-written code is turned off. Code benchmarks execute programs written by the "
            "model on this machine; the sandbox limits what they can do, but it is not a security "
            "boundary you should trust with secrets (see docs/sandbox.md), and without bubblewrap a "
            f"program can read your files and use the network. Set {ALLOW_VARIABLE}=1 to allow it."
        )


class SandboxUnavailable(RuntimeError):
    """Raised when the isolation asked for cannot be provided on this machine."""


@dataclass(frozen=True)
class Limits:
    """What one program may use. Every limit is enforced by the kernel except `wall_seconds` (the
    harness kills the group) and `output_bytes` (the harness keeps only that much of each stream).

    `memory_mb` is an address-space limit per process, `processes` counts every process and thread
    of the program, and `scratch_mb` sizes the in-memory /tmp that holds its working folder under
    bubblewrap (without bubblewrap the working folder is on disk and only `file_size_mb` applies).
    """

    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_mb: int = 1024
    file_size_mb: int = 16
    processes: int = 64
    output_bytes: int = 64_000
    scratch_mb: int = 64

    def __post_init__(self) -> None:
        for name in ("wall_seconds", "cpu_seconds", "memory_mb", "file_size_mb", "processes", "scratch_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive, not {getattr(self, name)!r}")
        if self.output_bytes < 0:
            raise ValueError(f"Limits.output_bytes must be >= 0, not {self.output_bytes!r}")


@dataclass(frozen=True)
class ExecutionResult:
    """How one program ended. `status` is what scoring needs; `reason` says why in words.

    `error` means the harness could not start the program in its sandbox (not the model's fault);
    `timeout` covers both the wall and the CPU limit; `crashed` means killed by a signal.
    """

    passed: bool
    status: Status
    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    isolation: str
    reason: str = ""


@dataclass(frozen=True)
class Isolation:
    """The isolation a program gets on this machine; `summary` goes into the record of a run."""

    kind: Literal["bubblewrap", "process"]
    version: str | None = None
    unprivileged: bool = False
    process_limit: bool = True
    note: str = ""

    @property
    def summary(self) -> str:
        common = "rlimits, process group, scrubbed env, wall timeout"
        if self.kind == "bubblewrap":
            who = "unprivileged uid" if self.unprivileged else "user namespace"
            return (
                f"bubblewrap {self.version or '?'} (no network, read-only system, no home, private /tmp, "
                f"pid namespace, {who}) + {common}"
            )
        parts = [common]
        if self.unprivileged:
            parts.append("unprivileged uid")
        if not self.process_limit:
            parts.append("process limit NOT enforced")
        text = f"process ({', '.join(parts)})"
        return f"{text}; {self.note}" if self.note else text

    @property
    def description(self) -> str:
        if self.kind == "bubblewrap":
            return (
                f"Programs run under bubblewrap {self.version or ''}: no network, read-only system and "
                "interpreter folders only (no home folder, no BENCHLAB_HOME, no project files), a private "
                "size-limited /tmp, their own pid namespace, "
                + ("an unprivileged uid of their own, " if self.unprivileged else "a user namespace, ")
                + "kernel limits on CPU, memory, file size and process count, and a wall timeout."
            )
        text = (
            "Programs run as plain processes: their own process group in a temporary folder, a scrubbed "
            "environment, kernel limits on CPU, memory and file size, and a wall timeout. They can use "
            "the network and read any file this user can read."
        )
        if self.unprivileged:
            text += " They run under an unprivileged uid of their own."
        if not self.process_limit:
            text += " The process-count limit is NOT enforced."
        return f"{text} {self.note}".strip()

    def __str__(self) -> str:
        return self.summary


# ---------------------------------------------------------------------------------------------------
# Permission


def execution_allowed(env: Mapping[str, str] | None = None) -> bool:
    """Whether the user allowed running model-written code (`BENCHLAB_ALLOW_CODE_EXEC=1`)."""
    value = (os.environ if env is None else env).get(ALLOW_VARIABLE, "")
    return value.strip().lower() in _TRUTHY


def require_execution_allowed(env: Mapping[str, str] | None = None) -> None:
    """Raise `CodeExecutionDisabled` unless execution is allowed; call it before a run starts."""
    if not execution_allowed(env):
        raise CodeExecutionDisabled()


# ---------------------------------------------------------------------------------------------------
# The launcher: runs inside the sandbox, applies limits, drops privileges, execs the program.

_LAUNCHER = r"""
import os, resource, sys
args = sys.argv[1:]
cut = args.index("--")
opts = dict(a.split("=", 1) for a in args[:cut])
command = args[cut + 1:]
ready = int(opts.get("ready", "-1"))
try:
    uid = int(opts.get("uid", "-1"))
    if uid >= 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if opts.get("parent"):
        try:
            import ctypes, signal
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))
        except Exception:
            pass
        if os.getppid() != int(opts["parent"]):
            os._exit(125)
    for key, value in opts.items():
        if key.startswith("RLIMIT_"):
            soft, hard = (int(part) for part in value.split(":"))
            resource.setrlimit(getattr(resource, key), (soft, hard))
    if ready >= 0:
        os.write(ready, b"L")
        os.set_inheritable(ready, False)
except BaseException as error:
    sys.stderr.write("benchlab sandbox: could not apply limits: %r\n" % (error,))
    os._exit(125)
os.execv(command[0], command)
"""

_LAUNCH_OK = b"L"

# ---------------------------------------------------------------------------------------------------
# Where the interpreter lives, and what bubblewrap must show of the host

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "mime.types")
_INSIDE_WORKDIR = "/tmp/work"
_PROGRAM_NAME = "main.py"

_lock = threading.Lock()
_python_dirs_cache: dict[str, tuple[str, ...]] = {}
_isolation_cache: dict[tuple[str, bool], Isolation] = {}
_drop_ok_cache: dict[str, bool] = {}
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
    with _lock:
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
    with _lock:
        _python_dirs_cache[key] = result
    return result


def _bwrap_version(bwrap: str) -> str | None:
    try:
        done = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    words = done.stdout.split()
    return words[-1] if done.returncode == 0 and words else None


def _is_root() -> bool:
    return os.geteuid() == 0


def _sandbox_uid() -> int:
    """A uid of its own for each program when benchlab runs as root: the kernel never applies the
    process-count limit to root, and counts it per uid for everyone else, so a fresh uid makes the
    limit mean "processes of this program". Taken from a high range no account uses."""
    global _uid_counter
    with _lock:
        _uid_counter = (_uid_counter + 1) % 50_000_000
        return 1_900_000_000 + _uid_counter


def _user_tasks(uid: int) -> int | None:
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


# ---------------------------------------------------------------------------------------------------
# Building the command


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


def _launcher_argv(
    python: str,
    program: str,
    limits: Limits,
    *,
    uid: int | None,
    nproc: int | None,
    ready: int,
    parent: int | None,
) -> list[str]:
    mb = 1024 * 1024
    options = [
        f"ready={ready}",
        f"uid={-1 if uid is None else uid}",
        f"RLIMIT_CPU={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
        f"RLIMIT_AS={limits.memory_mb * mb}:{limits.memory_mb * mb}",
        f"RLIMIT_FSIZE={limits.file_size_mb * mb}:{limits.file_size_mb * mb}",
        "RLIMIT_CORE=0:0",
    ]
    if nproc is not None:
        options.append(f"RLIMIT_NPROC={nproc}:{nproc}")
    if parent is not None:
        options.append(f"parent={parent}")
    # The program runs with -s (no user site) and -B, not -I: -I would also ignore PYTHONHASHSEED,
    # and the environment is ours from top to bottom anyway.
    return [python, "-I", "-c", _LAUNCHER, *options, "--", python, "-s", "-B", program]


def _write_etc(staging: str, uid: int) -> dict[str, str]:
    files = {
        "passwd": (
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"sandbox:x:{uid}:{uid}:sandbox:{_INSIDE_WORKDIR}:/bin/sh\n"
        ),
        "group": f"root:x:0:\nsandbox:x:{uid}:\n",
        "hosts": "127.0.0.1 localhost\n::1 localhost\n",
        "hostname": "sandbox\n",
    }
    paths = {}
    for name, text in files.items():
        path = os.path.join(staging, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, 0o644)
        paths[name] = path
    return paths


def _hidden_paths() -> list[str]:
    """Places that must never be visible. Home and BENCHLAB_HOME are not mounted at all; these only
    matter when they happen to lie inside a folder that is (say BENCHLAB_HOME inside a venv)."""
    places = {os.path.expanduser("~")}
    if os.environ.get("BENCHLAB_HOME"):
        places.add(os.path.expanduser(os.environ["BENCHLAB_HOME"]))
    found: set[str] = set()
    for place in places:
        for variant in (os.path.abspath(place), os.path.realpath(place)):
            if os.path.isdir(variant) and variant != "/":
                found.add(variant)
    return sorted(found)


def _bwrap_argv(
    bwrap: str, python: str, limits: Limits, staging: str, *, uid: int | None, ready: int
) -> list[str]:
    inside_uid = os.getuid() if uid is None else uid
    etc = _write_etc(staging, inside_uid)
    argv = [
        bwrap,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
    ]
    for folder in _SYSTEM_DIRS:
        if os.path.islink(folder):
            argv += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            argv += ["--ro-bind", folder, folder]
    made: set[str] = set()
    bound = list(_python_dirs(python))
    for folder in bound:
        # bubblewrap creates missing parents as 0700, which an unprivileged uid cannot cross.
        parts = folder.strip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/" + "/".join(parts[:depth])
            if parent not in made:
                made.add(parent)
                argv += ["--perms", "0755", "--dir", parent]
        argv += ["--ro-bind", folder, folder]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for name in _ETC_ENTRIES:
        if os.path.exists(f"/etc/{name}"):
            argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for entry in sorted(os.listdir("/etc")):
        if entry.startswith("python3") and os.path.isdir(f"/etc/{entry}"):
            argv += ["--ro-bind", f"/etc/{entry}", f"/etc/{entry}"]
    for name, path in etc.items():
        argv += ["--ro-bind", path, f"/etc/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    scratch = str(limits.scratch_mb * 1024 * 1024)
    # Size-limited, since tmpfs is memory that no rlimit counts; /dev/shm keeps multiprocessing working.
    argv += ["--size", scratch, "--perms", "1777", "--tmpfs", "/dev/shm"]
    argv += ["--size", scratch, "--perms", "1777", "--tmpfs", "/tmp"]
    argv += ["--perms", "0777", "--dir", _INSIDE_WORKDIR]
    for folder in bound:
        if _under(folder, "/tmp"):  # an interpreter living under /tmp (a venv in a CI checkout)
            parts = folder.strip("/").split("/")
            for depth in range(2, len(parts)):
                argv += ["--perms", "0755", "--dir", "/" + "/".join(parts[:depth])]
            argv += ["--ro-bind", folder, folder]
    argv += ["--ro-bind", os.path.join(staging, _PROGRAM_NAME), f"{_INSIDE_WORKDIR}/{_PROGRAM_NAME}"]
    visible = [d for d in _SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)] + bound
    for hidden in _hidden_paths():
        if any(_under(hidden, root) for root in visible):
            argv += ["--tmpfs", hidden]
            for folder in bound:
                if _under(folder, hidden):
                    argv += ["--ro-bind", folder, folder]
    argv += ["--remount-ro", "/", "--chdir", _INSIDE_WORKDIR]
    if uid is not None:
        # Root keeps only what the launcher needs to switch to the program's own uid; that switch
        # then clears every capability, and bubblewrap's no_new_privs stops them coming back.
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    argv.append("--")
    nproc = limits.processes
    argv += _launcher_argv(python, _PROGRAM_NAME, limits, uid=uid, nproc=nproc, ready=ready, parent=None)
    return argv


def _plan(
    isolation: Isolation, python: str, limits: Limits, staging: str, workdir: str, *, ready: int
) -> _Plan:
    if isolation.kind == "bubblewrap":
        bwrap = shutil.which("bwrap") or "bwrap"
        uid = _sandbox_uid() if _is_root() else None
        argv = _bwrap_argv(bwrap, python, limits, staging, uid=uid, ready=ready)
        return _Plan(argv, _environment(_INSIDE_WORKDIR, "/tmp", python), staging, None)
    user: int | None = None
    if _is_root() and isolation.unprivileged:
        user = _sandbox_uid()
        os.chown(workdir, user, user)
    nproc: int | None = limits.processes
    if not _is_root():
        existing = _user_tasks(os.getuid())
        nproc = None if existing is None else existing + limits.processes
    argv = _launcher_argv(
        python, _PROGRAM_NAME, limits, uid=None, nproc=nproc, ready=ready, parent=os.getpid()
    )
    return _Plan(argv, _environment(workdir, workdir, python), workdir, user)


# ---------------------------------------------------------------------------------------------------
# Finding out what isolation this machine can give


def _probe_bwrap(bwrap: str, python: str) -> str | None:
    """Run one trivial program the way real ones run; None when it worked, else why not. bwrap can
    be installed yet unable to create namespaces (some containers, hardened kernels)."""
    limits = Limits(wall_seconds=30, cpu_seconds=30)
    staging = tempfile.mkdtemp(prefix="benchlab-probe-")
    try:
        _stage_program(staging, "import os\nprint('ok', os.getuid())\n")
        trial = Isolation("bubblewrap", version="probe", unprivileged=_is_root())
        plan = _plan(trial, python, limits, staging, staging, ready=-1)
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
        _remove_tree(staging)
    words = done.stdout.split()
    if done.returncode == 0 and words[:1] == ["ok"]:
        if _is_root() and words[1:2] == ["0"]:
            return "the program still ran as root"
        return None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"


def _can_drop_privileges(python: str) -> bool:
    """As root without bubblewrap, whether the interpreter still runs under an unprivileged uid (it
    cannot when it lives somewhere only root may enter, like /root/.pyenv)."""
    key = os.path.abspath(python)
    with _lock:
        if key in _drop_ok_cache:
            return _drop_ok_cache[key]
    uid = _sandbox_uid()
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
    with _lock:
        _drop_ok_cache[key] = ok
    return ok


def _process_isolation(python: str, note: str) -> Isolation:
    if _is_root():
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
    key = (python, _is_root())
    with _lock:
        if key in _isolation_cache and not refresh:
            return _isolation_cache[key]
    bwrap = shutil.which("bwrap") if sys.platform.startswith("linux") else None
    if bwrap is None:
        result = _process_isolation(python, "bubblewrap is not installed.")
    else:
        version = _bwrap_version(bwrap)
        failure = _probe_bwrap(bwrap, python)
        if failure is None:
            result = Isolation("bubblewrap", version=version, unprivileged=_is_root())
        else:
            note = f"bubblewrap {version or ''} is installed but cannot sandbox here ({failure})."
            result = _process_isolation(python, note.replace("  ", " "))
    with _lock:
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


def _prepare(mode: IsolationMode, python: str | None) -> tuple[str, Isolation]:
    interpreter = os.path.abspath(python or sys.executable)
    return interpreter, _resolve(mode, interpreter)


# ---------------------------------------------------------------------------------------------------
# Running


def _stage_program(folder: str, program: str) -> None:
    path = os.path.join(folder, _PROGRAM_NAME)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(program)
    os.chmod(path, 0o644)


def _remove_tree(path: str) -> None:
    """Remove a working folder even where the program took away its own permissions."""

    def fix(function: Callable[..., object], target: str, _info: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            os.chmod(target, stat.S_IRWXU)
            function(target)

    shutil.rmtree(path, onerror=fix)
    if os.path.exists(path):
        shutil.rmtree(path, ignore_errors=True)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class _Capture:
    """Keeps the first `cap` bytes of a stream and counts the rest. The pipe is always drained, so a
    chatty program never blocks on it, and its output is truncated rather than its run."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept += data[:room]

    def text(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        if self.total > len(self.kept):
            text += f"\n[benchlab: output truncated, {self.total - len(self.kept)} more bytes]"
        return text


class _Watch(asyncio.SubprocessProtocol):
    """Output and exit of one program. The exit is seen apart from the pipes closing: processes the
    program left behind may hold the pipes open, and must not stretch its run to the wall limit."""

    def __init__(self, cap: int) -> None:
        loop = asyncio.get_running_loop()
        self.streams = {1: _Capture(cap), 2: _Capture(cap)}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self.streams[fd].add(data.encode() if isinstance(data, str) else data)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _classify(
    returncode: int | None, launch: bytes, timed_out: bool, bubblewrap: bool, limits: Limits
) -> tuple[Status, int | None, str]:
    if timed_out:
        return "timeout", None, f"killed at the {limits.wall_seconds:g} s wall limit"
    # Only the launcher writes here, and only before the program exists; whatever else the
    # program might manage to write can come after that mark, never instead of it.
    if not launch.startswith(_LAUNCH_OK):
        return "error", returncode, "the sandbox could not start the program (see stderr)"
    if returncode == 0:
        return "passed", 0, "exit status 0"
    code = returncode
    # bubblewrap reports a child killed by signal N as exit status 128 + N.
    if bubblewrap and code is not None and 128 < code <= 128 + 64:
        code = -(code - 128)
    if code is not None and code < 0:
        name = _signal_name(-code)
        if -code == signal.SIGXCPU:
            return "timeout", code, f"exceeded the {limits.cpu_seconds} s CPU limit ({name})"
        return "crashed", code, f"killed by {name}"
    return "failed", code, f"exit status {code}"


async def _execute(program: str, limits: Limits, python: str, isolation: Isolation) -> ExecutionResult:
    loop = asyncio.get_running_loop()
    staging = tempfile.mkdtemp(prefix="benchlab-sandbox-")
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    pipe_ends = [read_end, write_end]
    watch = _Watch(limits.output_bytes)
    transport: asyncio.SubprocessTransport | None = None
    try:
        _stage_program(staging, program)
        plan = _plan(isolation, python, limits, staging, staging, ready=write_end)
        started = time.monotonic()
        try:
            transport, _ = await loop.subprocess_exec(
                lambda: watch,
                *plan.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=plan.env,
                cwd=plan.cwd,
                start_new_session=True,
                pass_fds=(write_end,),
                user=plan.user,
                group=plan.user,
                extra_groups=None if plan.user is None else [],
            )
        except OSError as error:
            return ExecutionResult(
                passed=False,
                status="error",
                exit_code=None,
                stdout="",
                stderr=f"benchlab sandbox: could not start {plan.argv[0]}: {error}",
                duration=time.monotonic() - started,
                isolation=isolation.summary,
                reason="the sandbox could not start the program",
            )
        finally:
            # Only the launcher may hold the write end from here on.
            os.close(write_end)
            pipe_ends.remove(write_end)
        timed_out = False
        try:
            try:
                await asyncio.wait_for(asyncio.shield(watch.exited), timeout=limits.wall_seconds)
            except TimeoutError:
                timed_out = True
            duration = time.monotonic() - started
        finally:
            # Always, also when cancelled: the program is gone, but what it started may not be.
            _kill_group(transport.get_pid())
            await watch.exited
            # The pipes closing means every process that inherited them has died too; one that
            # escaped its group (possible without bubblewrap) is not waited for long.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(watch.closed), timeout=2.0)
        launch = b""
        with contextlib.suppress(OSError):
            launch = os.read(read_end, 16)
        status, exit_code, reason = _classify(
            transport.get_returncode(), launch, timed_out, isolation.kind == "bubblewrap", limits
        )
        return ExecutionResult(
            passed=status == "passed",
            status=status,
            exit_code=exit_code,
            stdout=watch.streams[1].text(),
            stderr=watch.streams[2].text(),
            duration=duration,
            isolation=isolation.summary,
            reason=reason,
        )
    finally:
        if transport is not None:
            transport.close()
        for end in pipe_ends:
            os.close(end)
        _remove_tree(staging)


async def run_python_async(
    program: str,
    *,
    limits: Limits = Limits(),
    python: str | None = None,
    isolation: IsolationMode = "auto",
    require_allowed: bool = True,
) -> ExecutionResult:
    """Run one program (solution + tests) in the sandbox; it passes when it exits 0 within limits.

    Many may run at once on one event loop: each is a child process, so nothing here blocks. The
    first call probes the machine's isolation (a fraction of a second) in a worker thread.
    """
    if require_allowed:
        require_execution_allowed()
    interpreter, resolved = await asyncio.to_thread(_prepare, isolation, python)
    return await _execute(program, limits, interpreter, resolved)


async def run_many_async(
    programs: Sequence[str],
    *,
    limits: Limits = Limits(),
    workers: int | None = None,
    python: str | None = None,
    isolation: IsolationMode = "auto",
    require_allowed: bool = True,
) -> list[ExecutionResult]:
    """Run programs with at most `workers` at a time (default: one per usable core); results come
    back in the order of `programs`."""
    if require_allowed:
        require_execution_allowed()
    interpreter, resolved = await asyncio.to_thread(_prepare, isolation, python)
    gate = asyncio.Semaphore(max(1, workers or _cores()))

    async def one(program: str) -> ExecutionResult:
        async with gate:
            return await _execute(program, limits, interpreter, resolved)

    return list(await asyncio.gather(*(one(program) for program in programs)))


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from synchronous code, also when the caller already has an event loop."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


def run_python(
    program: str,
    *,
    limits: Limits = Limits(),
    python: str | None = None,
    isolation: IsolationMode = "auto",
    require_allowed: bool = True,
) -> ExecutionResult:
    """Synchronous `run_python_async`."""
    return _run_sync(
        lambda: run_python_async(
            program, limits=limits, python=python, isolation=isolation, require_allowed=require_allowed
        )
    )


def run_many(
    programs: Sequence[str],
    *,
    limits: Limits = Limits(),
    workers: int | None = None,
    python: str | None = None,
    isolation: IsolationMode = "auto",
    require_allowed: bool = True,
) -> list[ExecutionResult]:
    """Synchronous `run_many_async`: programs in parallel across the cores, results in order."""
    return _run_sync(
        lambda: run_many_async(
            programs,
            limits=limits,
            workers=workers,
            python=python,
            isolation=isolation,
            require_allowed=require_allowed,
        )
    )


__all__ = [
    "ALLOW_VARIABLE",
    "CodeExecutionDisabled",
    "ExecutionResult",
    "Isolation",
    "IsolationMode",
    "Limits",
    "SandboxUnavailable",
    "Status",
    "execution_allowed",
    "isolation_available",
    "require_execution_allowed",
    "run_many",
    "run_many_async",
    "run_python",
    "run_python_async",
]
