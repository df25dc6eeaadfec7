"""Starting and stopping the embedded llama.cpp server: in process, in the foreground until a
signal, and as a child process (what tests and the dashboard use)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("xllamacpp", reason="needs the 'serve' extra")

from benchlab.endpoints import managed
from benchlab.endpoints.managed import (
    MissingServeExtra,
    PortInUse,
    ServeError,
    ServerProcess,
    config_for,
    free_port,
    run_until_signal,
    serve_in_process,
    wait_for_health,
)
from benchlab.endpoints.smoke_model import SMOKE_CONTEXT, SMOKE_MODEL_ID

pytestmark = pytest.mark.llamacpp


def get(url: str, api_key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def refuses(base_url: str) -> bool:
    try:
        urllib.request.urlopen(base_url + "/health", timeout=2)
    except urllib.error.HTTPError:
        return False
    except OSError:
        return True
    return False


def test_missing_extra_names_the_install_command() -> None:
    assert str(MissingServeExtra()) == (
        "the embedded engine needs the `serve` extra: pip install 'benchlab[serve]'"
    )


def test_config_for_fills_in_the_defaults(tmp_path: Path) -> None:
    config = config_for(smoke=True, port=9999, cache=tmp_path)
    assert config.alias == SMOKE_MODEL_ID and config.n_ctx == SMOKE_CONTEXT and config.threads >= 1
    assert config.model_path.parent == tmp_path / "models" and config.model_path.is_file()
    assert config.base_url == "http://127.0.0.1:9999"

    with pytest.raises(FileNotFoundError, match="model file not found"):
        config_for(smoke=False, gguf=tmp_path / "missing.gguf")
    with pytest.raises(ValueError, match="exactly one"):
        config_for(smoke=False)
    assert config_for(smoke=False, gguf=config.model_path).alias == config.model_path.stem


def test_a_taken_port_is_reported_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = ServerProcess(smoke=True, port=port, cache_dir=tmp_path)
        with pytest.raises(PortInUse, match=f"port {port} .*--port"):
            server.start()
        assert server.process is None
        with pytest.raises(PortInUse):
            serve_in_process(config_for(smoke=True, port=port, cache=tmp_path))


def test_wait_for_health_gives_up_at_the_deadline() -> None:
    with pytest.raises(TimeoutError, match="did not answer 200"):
        wait_for_health(f"http://127.0.0.1:{free_port()}", 0.3)


def test_in_process_server_starts_and_stops(tmp_path: Path) -> None:
    config = config_for(smoke=True, port=free_port(), parallel=2, cache=tmp_path)
    with serve_in_process(config) as server:
        assert server.running
        assert get(server.base_url + "/health") == 200
        with urllib.request.urlopen(server.base_url + "/props", timeout=10) as response:
            assert json.loads(response.read())["total_slots"] == 2
    assert not server.running
    assert refuses(server.base_url)


def test_run_until_signal_serves_until_sigint_and_restores_handlers(tmp_path: Path) -> None:
    config = config_for(smoke=True, port=free_port(), cache=tmp_path)
    before = signal.getsignal(signal.SIGINT)
    seen: list[int] = []

    def on_ready(base_url: str) -> None:
        def check_then_interrupt() -> None:
            seen.append(get(base_url + "/health"))
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=check_then_interrupt).start()

    run_until_signal(config, on_ready)

    assert seen == [200]
    assert signal.getsignal(signal.SIGINT) is before
    assert refuses(config.base_url)


def test_child_serves_with_an_api_key_and_is_stopped_on_exit(tmp_path: Path) -> None:
    with ServerProcess(smoke=True, parallel=1, api_key="secret-key", cache_dir=tmp_path) as server:
        process = server.process
        assert process is not None and process.poll() is None
        assert get(server.base_url + "/v1/models") == 401
        assert get(server.base_url + "/v1/models", api_key="secret-key") == 200
        assert "secret-key" not in " ".join(server.command())
    assert process.poll() == 0  # SIGTERM ended it cleanly
    assert refuses(server.base_url)


def test_a_child_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF but not really a model")
    with pytest.raises(ServeError, match="server log") as caught:
        ServerProcess(broken, startup_timeout=60).start()
    assert "failed to start serving" in str(caught.value)


def test_sigterm_stops_the_module_command_cleanly(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "benchlab.endpoints.managed", "--smoke", "--port", str(port)]
    command += ["--cache-dir", str(tmp_path), "--parallel", "1"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([managed._package_root(), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        ready = json.loads(child.stdout.readline())
        assert ready == {"event": "ready", "base_url": f"http://127.0.0.1:{port}", "model": SMOKE_MODEL_ID}
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=5) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
