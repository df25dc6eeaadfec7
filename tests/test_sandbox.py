"""The code sandbox: permission, results, limits, and hostile programs.

Hostile programs really run. Each one is bounded (small process and wall limits) so that a sandbox
bug shows up as a failed assertion, not as a wrecked machine. Assertions that only bubblewrap can
make true (no network, no view of the host's files) skip with a visible reason where it is missing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchlab.tasks.sandbox import (
    ALLOW_VARIABLE,
    CodeExecutionDisabled,
    Limits,
    SandboxUnavailable,
    execution_allowed,
    host,
    isolation,
    isolation_available,
    run_many,
    run_python,
    run_python_async,
    runner,
)


def system_python() -> str | None:
    """A python3 on the system other than the one running the tests (checks nothing is venv-bound)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate) and os.path.realpath(candidate) != os.path.realpath(sys.executable):
            return candidate
    return None


SYSTEM_PYTHON = system_python()
FAST = Limits(wall_seconds=5, cpu_seconds=5, memory_mb=512, processes=32)

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (apt-get install bubblewrap): network and file isolation untested",
)


@pytest.fixture(autouse=True)
def allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_VARIABLE, "1")


@pytest.fixture
def bwrap() -> None:
    """Skip, saying why, when bwrap is installed but cannot create namespaces on this machine."""
    found = isolation_available()
    if found.kind != "bubblewrap":
        pytest.skip(f"bubblewrap cannot sandbox on this machine: {found.note}")


def modes() -> list[object]:
    return [
        pytest.param("bubblewrap", marks=needs_bwrap, id="bubblewrap"),
        pytest.param("process", id="process"),
    ]


@pytest.fixture(params=modes())
def mode(request: pytest.FixtureRequest) -> str:
    if request.param == "bubblewrap":
        request.getfixturevalue("bwrap")
    return str(request.param)


def processes_with(marker: str) -> list[int]:
    """Live processes whose command line carries `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def assert_all_gone(marker: str, within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left behind: {left}"


def wait_for_start(marker: str, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(processes_with(marker))


def marked(marker: str, body: str) -> str:
    """A program that re-executes itself with `marker` in its command line, so that every process
    it forks can be found from outside."""
    return (
        "import os, sys\n"
        f"if {marker!r} not in sys.argv:\n"
        f"    os.execv(sys.executable, [sys.executable, '-s', '-B', __file__, {marker!r}])\n" + body
    )


# --- permission -------------------------------------------------------------------------------------


def test_disabled_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_VARIABLE)
    with pytest.raises(CodeExecutionDisabled) as caught:
        run_python("print('hi')")
    message = str(caught.value)
    assert "BENCHLAB_ALLOW_CODE_EXEC=1" in message
    assert "model" in message and "your files" in message and "network" in message
    with pytest.raises(CodeExecutionDisabled):
        run_many(["print('hi')"])
    monkeypatch.setenv(ALLOW_VARIABLE, "0")
    with pytest.raises(CodeExecutionDisabled):
        run_python("print('hi')")


def test_execution_allowed_reads_the_variable() -> None:
    assert execution_allowed({ALLOW_VARIABLE: "1"})
    assert execution_allowed({ALLOW_VARIABLE: "true"})
    assert not execution_allowed({})
    assert not execution_allowed({ALLOW_VARIABLE: "0"})
    assert not execution_allowed({ALLOW_VARIABLE: "no"})


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="processes"):
        Limits(processes=0)
    with pytest.raises(ValueError, match="wall_seconds"):
        Limits(wall_seconds=-1)


def test_missing_interpreter_is_a_clear_error() -> None:
    with pytest.raises(SandboxUnavailable, match="does not exist"):
        run_python("pass", python="/nonexistent/python3")


# --- ordinary programs ------------------------------------------------------------------------------


def test_passing_program(mode: str) -> None:
    program = "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\nprint('ok')\n"
    result = run_python(program, limits=FAST, isolation=mode)
    assert result.passed and result.status == "passed" and result.exit_code == 0
    assert result.stdout == "ok\n" and result.stderr == ""
    assert result.isolation.startswith(mode) and result.duration > 0


def test_failing_assert(mode: str) -> None:
    result = run_python("assert 1 + 1 == 3, 'arithmetic'\n", limits=FAST, isolation=mode)
    assert not result.passed and result.status == "failed" and result.exit_code == 1
    assert "AssertionError: arithmetic" in result.stderr


def test_syntax_error(mode: str) -> None:
    result = run_python("def broken(:\n    pass\n", limits=FAST, isolation=mode)
    assert result.status == "failed" and "SyntaxError" in result.stderr


def test_multiprocessing_works(mode: str) -> None:
    program = (
        "import multiprocessing\n"
        "if __name__ == '__main__':\n"
        "    with multiprocessing.Pool(2) as pool:\n"
        "        assert pool.map(abs, [-1, -2, 3]) == [1, 2, 3]\n"
    )
    result = run_python(program, limits=FAST, isolation=mode)
    assert result.passed, result.stderr


def test_a_program_cannot_pass_itself_off_as_a_sandbox_error(mode: str) -> None:
    program = "import sys\nsys.stderr.write('bwrap: Creating new namespace failed\\n')\nsys.exit(1)\n"
    assert run_python(program, limits=FAST, isolation=mode).status == "failed"


def test_crash_by_signal(mode: str) -> None:
    result = run_python(
        "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", limits=FAST, isolation=mode
    )
    assert result.status == "crashed" and result.exit_code == -11 and "SIGSEGV" in result.reason


def test_interpreter_and_its_environment_are_visible(mode: str) -> None:
    program = "import sys\nprint(sys.prefix)\nprint(hash('benchlab'))\n"
    first = run_python(program, limits=FAST, isolation=mode)
    second = run_python(program, limits=FAST, isolation=mode)
    assert first.passed, first.stderr
    assert first.stdout.splitlines()[0] == sys.prefix
    assert first.stdout == second.stdout, "PYTHONHASHSEED must make runs reproducible"


@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="no system python3 besides the one running the tests")
def test_another_interpreter_works_too(mode: str) -> None:
    assert SYSTEM_PYTHON is not None
    program = "import sys\nprint(sys.prefix)\nassert sum(range(4)) == 6\n"
    result = run_python(program, limits=FAST, isolation=mode, python=SYSTEM_PYTHON)
    assert result.passed, result.stderr
    assert result.stdout.strip() == host._python_prefixes(SYSTEM_PYTHON)[0]


def test_classification_of_setup_failures() -> None:
    classify = runner._classify
    assert classify(1, b"", False, True, FAST)[0] == "error"
    assert classify(1, b"LX", False, False, FAST)[0] == "failed"
    assert classify(1, b"L", False, True, FAST)[0] == "failed"
    assert classify(128 + 9, b"L", False, True, FAST)[:2] == ("crashed", -9)
    assert classify(-24, b"L", False, False, FAST)[0] == "timeout"


# --- hostile programs -------------------------------------------------------------------------------


def test_environment_secrets_are_not_passed(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-must-not-leak")
    monkeypatch.setenv("BENCHLAB_API_KEY", "bl-test-must-not-leak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-test-must-not-leak")
    program = "import os\nfor key, value in sorted(os.environ.items()):\n    print(key, value)\n"
    result = run_python(program, limits=FAST, isolation=mode)
    assert result.passed
    assert "must-not-leak" not in result.stdout
    names = {line.split(" ", 1)[0] for line in result.stdout.splitlines()}
    assert {"PATH", "HOME", "LANG", "PYTHONHASHSEED"} <= names
    assert not names & {"OPENAI_API_KEY", "BENCHLAB_API_KEY", "AWS_SECRET_ACCESS_KEY", ALLOW_VARIABLE}


@needs_bwrap
def test_no_view_of_the_harness_processes(bwrap: None) -> None:
    program = (
        "import os\n"
        f"print(os.path.exists('/proc/{os.getpid()}'), sum(p.isdigit() for p in os.listdir('/proc')))\n"
    )
    result = run_python(program, limits=FAST)
    assert result.passed, result.stderr
    visible, count = result.stdout.split()
    assert visible == "False" and int(count) <= 3


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A TCP server on 127.0.0.1 that records every connection it accepts."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, peer = server.accept()
            except OSError:
                continue
            accepted.append(peer)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


@needs_bwrap
def test_no_network(bwrap: None, listener: tuple[int, list[object]]) -> None:
    port, accepted = listener
    program = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
        "except OSError as error:\n"
        "    print('refused', error)\n"
        "    sys.exit(3)\n"
        "print('CONNECTED')\n"
    )
    result = run_python(program, limits=FAST)
    assert result.status == "failed" and result.exit_code == 3, result.stdout + result.stderr
    assert "CONNECTED" not in result.stdout
    time.sleep(0.3)
    assert accepted == []


@needs_bwrap
def test_writes_outside_the_working_folder_never_reach_the_host(bwrap: None, tmp_path: Path) -> None:
    name = f"benchlab-sandbox-escape-{uuid.uuid4().hex}"
    benchlab_home = Path(os.environ["BENCHLAB_HOME"])
    benchlab_home.mkdir(parents=True, exist_ok=True)
    targets = [
        tmp_path / name,
        benchlab_home / name,
        Path(sys.prefix) / name,
        Path.cwd() / name,
        Path("/") / name,
    ]
    program = (
        "import sys\n"
        f"targets = {[str(t) for t in targets]!r}\n"
        "for target in targets:\n"
        "    try:\n"
        "        open(target, 'w').write('escaped')\n"
        "        print('WROTE', target)\n"
        "    except OSError as error:\n"
        "        print('blocked', target, type(error).__name__)\n"
        "open('inside.txt', 'w').write('fine')\n"
        "open('/tmp/scratch.txt', 'w').write('fine')\n"
        "print('own folder ok')\n"
    )
    try:
        result = run_python(program, limits=FAST)
        assert result.passed, result.stderr
        assert "WROTE" not in result.stdout and "own folder ok" in result.stdout
        assert [t for t in targets if t.exists()] == []
    finally:
        for target in targets:
            target.unlink(missing_ok=True)


@needs_bwrap
def test_home_and_benchlab_home_are_not_readable(bwrap: None) -> None:
    secret = f"secret-{uuid.uuid4().hex}"
    benchlab_home = Path(os.environ["BENCHLAB_HOME"])
    benchlab_home.mkdir(parents=True, exist_ok=True)
    (benchlab_home / "config.toml").write_text(f'api_key = "{secret}"\n')
    with tempfile.NamedTemporaryFile("w", dir=Path.home(), prefix=".benchlab-sandbox-test-") as in_home:
        in_home.write(secret)
        in_home.flush()
        targets = [in_home.name, str(benchlab_home / "config.toml")]
        program = (
            "import os\n"
            f"for target in {targets!r}:\n"
            "    try:\n"
            "        print('READ', open(target).read())\n"
            "    except OSError as error:\n"
            "        print('blocked', type(error).__name__)\n"
            f"home = {str(Path.home())!r}\n"
            "print('home listing', os.path.isdir(home) and os.listdir(home))\n"
        )
        result = run_python(program, limits=FAST)
    assert result.passed, result.stderr
    assert secret not in result.stdout and "READ" not in result.stdout
    assert ".benchlab-sandbox-test-" not in result.stdout


def fork_bomb(marker: str) -> str:
    return marked(
        marker,
        "import time\n"
        "told = False\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        if not told:\n"
        "            told = True\n"
        "            print('fork refused', flush=True)\n"
        "        time.sleep(0.01)\n",
    )


def limited_interpreter(mode: str) -> str:
    """An interpreter whose programs get a real process limit in `mode`. Running as root without
    bubblewrap that needs one an unprivileged uid can start (not one under /root)."""
    if mode == "bubblewrap":
        return sys.executable
    for python in (sys.executable, SYSTEM_PYTHON):
        if python and isolation._resolve("process", python).process_limit:
            return python
    pytest.skip("the process limit cannot be enforced here: root, and no interpreter other users can run")


def test_fork_bomb_is_bounded_and_cleaned_up(mode: str) -> None:
    python = limited_interpreter(mode)
    marker = f"forkbomb-{uuid.uuid4().hex}"
    limits = Limits(wall_seconds=2, cpu_seconds=2, memory_mb=256, processes=32)
    result = run_python(fork_bomb(marker), limits=limits, isolation=mode, python=python)
    assert result.status == "timeout" and result.duration < 3
    assert "fork refused" in result.stdout
    assert_all_gone(marker)
    assert run_python("print('still fine')", limits=FAST, isolation=mode).passed


def test_unbounded_allocation_hits_the_memory_limit(mode: str) -> None:
    program = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))\n"
    result = run_python(program, limits=Limits(wall_seconds=10, memory_mb=256), isolation=mode)
    assert result.status in ("failed", "crashed")
    assert "MemoryError" in result.stderr and result.duration < 5


def test_sleeping_forever_is_killed_with_everything_it_started(mode: str) -> None:
    marker = f"sleeper-{uuid.uuid4().hex}"
    # Under bubblewrap the helper even leaves the process group; the pid namespace still takes it.
    escape = mode == "bubblewrap"
    program = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', {marker!r}],"
        f" start_new_session={escape})\n"
        "time.sleep(1000)\n"
    )
    result = run_python(program, limits=Limits(wall_seconds=1), isolation=mode)
    assert result.status == "timeout" and result.exit_code is None
    assert 1 <= result.duration < 2
    assert_all_gone(marker)


async def test_cancelling_a_run_kills_the_program(mode: str) -> None:
    marker = f"cancelled-{uuid.uuid4().hex}"
    task = asyncio.create_task(
        run_python_async(marked(marker, "import time\ntime.sleep(1000)\n"), limits=FAST, isolation=mode)
    )
    assert await asyncio.to_thread(wait_for_start, marker), "the program never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert_all_gone(marker)


def test_huge_output_is_truncated(mode: str) -> None:
    program = "import sys\nsys.stdout.write('x' * 5_000_000)\nsys.stderr.write('y' * 5_000_000)\n"
    result = run_python(program, limits=Limits(output_bytes=1000), isolation=mode)
    assert result.passed
    assert result.stdout.startswith("x" * 1000) and "x" * 1001 not in result.stdout
    assert "truncated, 4999000 more bytes" in result.stdout
    assert "truncated, 4999000 more bytes" in result.stderr


# --- isolation report and parallelism ---------------------------------------------------------------


@needs_bwrap
def test_isolation_is_described(bwrap: None) -> None:
    found = isolation_available()
    assert found.kind == "bubblewrap" and found.version
    assert "no network" in found.summary and "bubblewrap" in found.description
    assert run_python("pass", limits=FAST).isolation == found.summary


def test_falls_back_when_bwrap_cannot_make_namespaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As inside some containers: bwrap is there but the kernel refuses it namespaces."""
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "bubblewrap 9.9"; exit 0; fi\n'
        'echo "bwrap: No permissions to create new namespace" >&2\n'
        "exit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    try:
        found = isolation_available(refresh=True)
        assert found.kind == "process"
        assert "bubblewrap 9.9 is installed but cannot sandbox here" in found.note
        assert "No permissions to create new namespace" in found.note
        result = run_python("print('ran')", limits=FAST)
        assert result.passed and result.isolation.startswith("process") and "9.9" in result.isolation
        with pytest.raises(SandboxUnavailable, match="bubblewrap isolation was asked for"):
            run_python("pass", isolation="bubblewrap")
    finally:
        monkeypatch.undo()
        isolation_available(refresh=True)


def test_process_isolation_says_what_it_lacks() -> None:
    found = isolation._resolve("process", sys.executable)
    assert found.kind == "process"
    assert "network" in found.description and found.summary.startswith("process")


def test_many_programs_run_in_parallel(mode: str) -> None:
    programs = [f"assert {i} >= 0\nprint({i})\n" for i in range(16)]
    serial_started = time.monotonic()
    for program in programs:
        assert run_python(program, limits=FAST, isolation=mode).passed
    serial = time.monotonic() - serial_started
    parallel_started = time.monotonic()
    results = run_many(programs, limits=FAST, isolation=mode)
    parallel = time.monotonic() - parallel_started
    assert [r.status for r in results] == ["passed"] * 16
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(16)]
    assert parallel < serial, (parallel, serial)
