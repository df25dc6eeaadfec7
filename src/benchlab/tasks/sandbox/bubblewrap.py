"""The bubblewrap command line: no network, read-only system folders and the interpreter's own, a
private size-limited /tmp and a pid namespace of the program's own."""

from __future__ import annotations

import os
import subprocess

from benchlab.tasks.sandbox.host import (
    _ETC_ENTRIES,
    _SYSTEM_DIRS,
    INSIDE_WORKDIR,
    PROGRAM_NAME,
    _python_dirs,
    _under,
)
from benchlab.tasks.sandbox.launcher import launcher_argv
from benchlab.tasks.sandbox.limits import Limits


def bwrap_version(bwrap: str) -> str | None:
    try:
        done = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    words = done.stdout.split()
    return words[-1] if done.returncode == 0 and words else None


def _write_etc(staging: str, uid: int) -> dict[str, str]:
    files = {
        "passwd": (
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"sandbox:x:{uid}:{uid}:sandbox:{INSIDE_WORKDIR}:/bin/sh\n"
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


def bwrap_argv(
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
    argv += ["--perms", "0777", "--dir", INSIDE_WORKDIR]
    for folder in bound:
        if _under(folder, "/tmp"):  # an interpreter living under /tmp (a venv in a CI checkout)
            parts = folder.strip("/").split("/")
            for depth in range(2, len(parts)):
                argv += ["--perms", "0755", "--dir", "/" + "/".join(parts[:depth])]
            argv += ["--ro-bind", folder, folder]
    argv += ["--ro-bind", os.path.join(staging, PROGRAM_NAME), f"{INSIDE_WORKDIR}/{PROGRAM_NAME}"]
    visible = [d for d in _SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)] + bound
    for hidden in _hidden_paths():
        if any(_under(hidden, root) for root in visible):
            argv += ["--tmpfs", hidden]
            for folder in bound:
                if _under(folder, hidden):
                    argv += ["--ro-bind", folder, folder]
    argv += ["--remount-ro", "/", "--chdir", INSIDE_WORKDIR]
    if uid is not None:
        # Root keeps only what the launcher needs to switch to the program's own uid; that switch
        # then clears every capability, and bubblewrap's no_new_privs stops them coming back.
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    argv.append("--")
    nproc = limits.processes
    argv += launcher_argv(python, PROGRAM_NAME, limits, uid=uid, nproc=nproc, ready=ready, parent=None)
    return argv
