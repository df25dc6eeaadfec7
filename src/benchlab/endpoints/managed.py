"""Serve a GGUF model with llama.cpp's own HTTP server, embedded through the ``xllamacpp`` wheel.

This is how benchlab gets a real OpenAI-compatible endpoint without asking the user to build or
install llama.cpp: ``pip install 'benchlab[serve]'`` brings a prebuilt CPU engine, and a few lines
start it on a model file and a port.  Three ways to run it:

* :func:`serve_in_process` starts the server inside this process and returns a handle;
* :func:`run_until_signal` does the same for a foreground command and blocks until Ctrl-C/SIGTERM;
* :class:`ServerProcess` runs ``python -m benchlab.endpoints.managed`` in a child process, which is
  what tests and the dashboard use: the engine's threads and memory live and die with the child,
  and a wedged engine can always be killed.

The optional dependencies (xllamacpp, gguf, numpy) are imported lazily, so the rest of benchlab
imports fine without them; using this module without them raises :class:`MissingServeExtra`.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType, ModuleType, TracebackType
from typing import Any

from benchlab.endpoints.smoke_model import SMOKE_CONTEXT, SMOKE_MODEL_ID, default_smoke_model_path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_N_CTX = SMOKE_CONTEXT
DEFAULT_N_PARALLEL = 4
# Environment variable through which ServerProcess hands the API key to its child, so the key
# never shows up in the process list.
API_KEY_ENV = "BENCHLAB_SERVE_API_KEY"


class MissingServeExtra(RuntimeError):
    """The optional engine (xllamacpp, gguf, numpy) is not installed."""

    def __init__(self) -> None:
        super().__init__("the embedded engine needs the `serve` extra: pip install 'benchlab[serve]'")


class PortInUse(RuntimeError):
    """Something already listens on the port the server was asked to use."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"port {port} on {host} is already in use: pass --port with another number, "
            f"or stop the process that is listening on port {port}"
        )
        self.host = host
        self.port = port


class ServeError(RuntimeError):
    """The engine did not come up (bad model file, child process died, health check timed out)."""


def _import_engine() -> ModuleType:
    try:
        import xllamacpp
    except ImportError as exc:
        raise MissingServeExtra() from exc
    return xllamacpp


def _default_threads() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. in containers)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ServeConfig:
    """How to serve one model.

    ``n_ctx`` is the context of *each* request (each of the ``n_parallel`` slots gets that much KV
    cache), so a benchmark prompt fits regardless of how many requests run at once.
    """

    model_path: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    n_ctx: int = DEFAULT_N_CTX
    n_parallel: int = DEFAULT_N_PARALLEL
    threads: int = field(default_factory=_default_threads)
    alias: str | None = None  # model id on /v1/models; defaults to the file name without suffix
    api_key: str | None = None
    verbose: bool = False  # engine logs at info level instead of errors only

    @property
    def model_id(self) -> str:
        return self.alias or Path(self.model_path).stem

    @property
    def base_url(self) -> str:
        return f"http://{_client_host(self.host)}:{self.port}"


def config_for(
    *,
    smoke: bool,
    gguf: Path | None = None,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    ctx: int | None = None,
    parallel: int = DEFAULT_N_PARALLEL,
    threads: int | None = None,
    alias: str | None = None,
    cache: Path | None = None,
) -> ServeConfig:
    """The configuration for serving either benchlab's smoke model (written into ``cache``, by
    default benchlab's cache folder, on first use) or a GGUF file, with every default filled in."""
    if smoke == (gguf is not None):
        raise ValueError("give exactly one of smoke=True or a GGUF path")
    if smoke:
        _import_engine()  # fail with the install hint before writing anything
        if cache is None:
            from benchlab.settings import cache_dir

            cache = cache_dir()
        model = default_smoke_model_path(cache / "models")
        alias = alias or SMOKE_MODEL_ID
    else:
        model = Path(str(gguf)).expanduser()
        if not model.is_file():
            raise FileNotFoundError(f"model file not found: {model}")
        alias = alias or model.stem
    return ServeConfig(
        model_path=model,
        host=host,
        port=port,
        n_ctx=ctx or DEFAULT_N_CTX,
        n_parallel=parallel,
        threads=threads or _default_threads(),
        alias=alias,
    )


def _client_host(host: str) -> str:
    """The address a local client should dial for a server bound to ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`PortInUse` if something listens on ``host:port``.

    The probe uses SO_REUSEADDR like the engine does, so a port only lingering in TIME_WAIT from an
    earlier run is not reported as taken."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(host, port) from exc
            raise


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port that is free right now (the OS picks it); good enough for tests and local servers."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def wait_for_health(
    base_url: str, timeout: float, *, still_starting: Callable[[], bool] | None = None
) -> None:
    """Poll ``GET /health`` until it answers 200.

    While the model loads the server answers 503, and before it listens the connection is refused;
    both mean "keep waiting".  ``still_starting`` lets a caller abort early (a child process that
    died).  Raises TimeoutError when the deadline passes, ServeError when ``still_starting`` says no.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    last = "no answer yet"
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2.0) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = "model still loading (HTTP 503)" if exc.code == 503 else f"HTTP {exc.code}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if still_starting is not None and not still_starting():
            raise ServeError(f"the server at {base_url} stopped before it became healthy ({last})")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{base_url}/health did not answer 200 within {timeout:.0f} s ({last})")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


# ---------------------------------------------------------------------------------------------
# In-process server
# ---------------------------------------------------------------------------------------------


class ManagedServer:
    """A running in-process server; :meth:`stop` (or leaving the ``with`` block) shuts it down."""

    def __init__(self, config: ServeConfig, engine_server: Any) -> None:
        self.config = config
        self.base_url = config.base_url
        self._server: Any = engine_server
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        """Stop the engine: dropping the last reference to xllamacpp's Server terminates its loop
        and joins its threads.  Idempotent."""
        with self._lock:
            server, self._server = self._server, None
        del server

    def __enter__(self) -> ManagedServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _engine_params(engine: ModuleType, config: ServeConfig) -> Any:
    params = engine.CommonParams()
    params.model.path = str(config.model_path)
    params.hostnames = [config.host]
    params.port = config.port
    params.n_parallel = config.n_parallel
    params.n_ctx = config.n_ctx * config.n_parallel  # the KV pool is split evenly between slots
    params.use_jinja = True  # the model's own chat template, tool calls included
    params.model_alias = {config.model_id}
    params.endpoint_props = True
    params.endpoint_metrics = True
    params.ui = False
    params.cpuparams.n_threads = config.threads
    params.cpuparams_batch.n_threads = config.threads
    params.verbosity = 3 if config.verbose else 1
    if config.api_key:
        params.api_keys = [config.api_key]
    return params


def serve_in_process(config: ServeConfig, *, startup_timeout: float = 120.0) -> ManagedServer:
    """Start llama.cpp's server in this process and return once ``/health`` answers 200."""
    engine = _import_engine()
    model = Path(config.model_path)
    if not model.is_file():
        raise FileNotFoundError(f"model file not found: {model}")
    check_port_free(config.host, config.port)
    try:
        # the constructor starts the HTTP listener, loads the model and returns when it is ready
        engine_server = engine.Server(_engine_params(engine, config))
    except RuntimeError as exc:
        raise ServeError(
            f"llama.cpp failed to start serving {model} on {config.host}:{config.port} "
            "(its log above says why: an unreadable model file, or the port was taken meanwhile)"
        ) from exc
    handle = ManagedServer(config, engine_server)
    try:
        wait_for_health(handle.base_url, startup_timeout)
    except BaseException:
        handle.stop()
        raise
    return handle


def run_until_signal(config: ServeConfig, on_ready: Callable[[str], None]) -> None:
    """Serve ``config`` in the foreground: start, call ``on_ready(base_url)``, block until SIGINT or
    SIGTERM, stop cleanly and return.  Must run in the main thread (it installs signal handlers;
    the previous handlers are restored on return)."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # installed before the model loads, so a signal during startup still ends in a clean stop
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with serve_in_process(config) as server:
            if not stop.is_set():
                on_ready(server.base_url)
            while not stop.wait(0.2):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------------------------------------
# Child-process server
# ---------------------------------------------------------------------------------------------


def _package_root() -> str:
    """The directory holding the ``benchlab`` package this process imported."""
    import benchlab

    return str(Path(benchlab.__file__).resolve().parent.parent)


class ServerProcess:
    """Runs ``python -m benchlab.endpoints.managed`` in a child process.

    Use as a context manager: entering starts the child and waits until ``/health`` answers 200
    (raising ServeError with the tail of the child's log if it dies or times out); leaving sends
    SIGTERM, then SIGKILL after ``grace`` seconds.  Give either ``model`` (a GGUF path) or
    ``smoke=True`` (benchlab's smoke model, written into ``cache_dir`` or the child's benchlab cache
    folder on first use).  ``env`` adds environment variables for the child (e.g. BENCHLAB_HOME).
    """

    def __init__(
        self,
        model: Path | None = None,
        *,
        smoke: bool = False,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        ctx: int | None = None,
        parallel: int = DEFAULT_N_PARALLEL,
        threads: int | None = None,
        alias: str | None = None,
        api_key: str | None = None,
        cache_dir: Path | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 120.0,
        grace: float = 5.0,
    ) -> None:
        if (model is None) == (not smoke):
            raise ValueError("give either a model path or smoke=True")
        self.model = model
        self.smoke = smoke
        self.host = host
        self.port = free_port(host) if port is None else port
        self.ctx = ctx
        self.parallel = parallel
        self.threads = threads
        self.alias = alias
        self.api_key = api_key
        self.cache_dir = cache_dir
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.grace = grace
        self.base_url = f"http://{_client_host(host)}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None  # the child's stdout and stderr, removed on stop

    @property
    def model_id(self) -> str:
        if self.alias:
            return self.alias
        return SMOKE_MODEL_ID if self.smoke else Path(str(self.model)).stem

    def command(self) -> list[str]:
        """The child's command line."""
        cmd = [sys.executable, "-m", "benchlab.endpoints.managed"]
        cmd += ["--smoke"] if self.smoke else ["--gguf", str(self.model)]
        cmd += ["--host", self.host, "--port", str(self.port), "--parallel", str(self.parallel)]
        cmd += ["--watch-parent", str(os.getpid())]
        if self.ctx is not None:
            cmd += ["--ctx", str(self.ctx)]
        if self.threads is not None:
            cmd += ["--threads", str(self.threads)]
        if self.alias:
            cmd += ["--alias", self.alias]
        if self.cache_dir is not None:
            cmd += ["--cache-dir", str(self.cache_dir)]
        return cmd

    def start(self) -> ServerProcess:
        """Start the child and wait until it is healthy."""
        if self.process is not None:
            raise RuntimeError("this ServerProcess was already started")
        check_port_free(self.host, self.port)
        env = {**os.environ, **self.env}
        # the child imports the same benchlab as this process, installed or not
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
        env.pop(API_KEY_ENV, None)
        if self.api_key:
            env[API_KEY_ENV] = self.api_key
        # a file, not a pipe: nobody reads the log while the server runs, and a full pipe would block it
        fd, log_path = tempfile.mkstemp(prefix="benchlab-serve-", suffix=".log")
        self.log_path = Path(log_path)
        try:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT, env=env
            )
        finally:
            os.close(fd)
        try:
            wait_for_health(self.base_url, self.startup_timeout, still_starting=self._alive)
        except (TimeoutError, ServeError) as exc:
            tail = self.log_tail()
            self.stop()
            raise ServeError(f"{exc}\n--- server log (last lines) ---\n{tail}") from exc
        except BaseException:
            self.stop()
            raise
        return self

    def _alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the child wrote to stdout/stderr."""
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_bytes()[-65536:].decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after the grace period; returns the child's exit code."""
        process, self.process = self.process, None
        code: int | None = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(self.grace)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            code = process.returncode
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None
        return code

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# Command line of the child process
# ---------------------------------------------------------------------------------------------


def _watch_parent(parent: int) -> None:
    """Stop this server (as if by SIGTERM) once the process that started it is gone, so a crashed
    test run or dashboard never leaves an orphan engine behind."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="benchlab-parent-watch", daemon=True).start()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchlab.endpoints.managed",
        description="Serve a GGUF model on an OpenAI-compatible endpoint with the embedded llama.cpp.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gguf", type=Path, help="model file to serve")
    source.add_argument("--smoke", action="store_true", help="serve benchlab's built-in smoke model")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--ctx", type=int, default=None, help="context per request, in tokens")
    parser.add_argument("--parallel", type=int, default=DEFAULT_N_PARALLEL, help="requests served at once")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    parser.add_argument("--alias", default=None, help="model id on /v1/models")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where the smoke model is kept (default: benchlab's cache)",
    )
    parser.add_argument("--verbose", action="store_true", help="engine logs at info level")
    parser.add_argument("--watch-parent", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchlab.endpoints.managed``: serve until SIGINT/SIGTERM, print
    one JSON line when ready, exit 0 after a clean stop and 2 when the server cannot start."""
    args = _parse_args(argv)
    if args.watch_parent is not None:
        _watch_parent(args.watch_parent)
    try:
        config = config_for(
            smoke=args.smoke,
            gguf=args.gguf,
            port=args.port,
            host=args.host,
            ctx=args.ctx,
            parallel=args.parallel,
            threads=args.threads,
            alias=args.alias,
            cache=args.cache_dir,
        )
        config = replace(config, api_key=os.environ.get(API_KEY_ENV) or None, verbose=args.verbose)

        def announce(base_url: str) -> None:
            ready = {"event": "ready", "base_url": base_url, "model": config.model_id}
            print(json.dumps(ready), flush=True)

        run_until_signal(config, announce)
    except (MissingServeExtra, PortInUse, ServeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
