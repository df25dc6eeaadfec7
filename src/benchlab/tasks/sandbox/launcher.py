"""The launcher: a tiny script that runs inside the sandbox, applies the kernel limits, drops
privileges and only then execs the program, reporting "limits in force" on a pipe closed on exec."""

from __future__ import annotations

from benchlab.tasks.sandbox.limits import Limits

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

LAUNCH_OK = b"L"


def launcher_argv(
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
