"""Shared helpers for the dashboard tests: a dashboard served on a real port, and two scripted runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="needs the dashboard extra: pip install 'benchlab[dashboard]'")
pytest.importorskip("uvicorn", reason="needs the dashboard extra: pip install 'benchlab[dashboard]'")

import uvicorn
from starlette.testclient import TestClient

from benchlab import api
from benchlab.endpoints.managed import free_port
from benchlab.surfaces.dashboard.app import Launch, create_app, plan_launch
from benchlab.testing.scripted_server import ScriptedServer
from benchlab.types import RunRecord
from conftest import make_mcq_file
from scripted import answering


def client_for(launch: Launch) -> TestClient:
    """A client that speaks to the app as a browser on the dashboard's own address would."""
    return TestClient(create_app(launch), base_url=f"http://127.0.0.1:{launch.port}")


class LiveDashboard:
    """The dashboard served by uvicorn in a thread on a free loopback port (for the browser tests)."""

    def __init__(self, token: str | None = None) -> None:
        self.launch = plan_launch(port=free_port(), token=token)
        config = uvicorn.Config(
            create_app(self.launch), host="127.0.0.1", port=self.launch.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.launch.port}"

    def __enter__(self) -> LiveDashboard:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def two_runs(folder: Path, count: int = 24) -> tuple[RunRecord, RunRecord]:
    """Tags `a` and `b` on the same questions with known answers: A right unless i % 3 == 0,
    B right on odd i."""
    data = make_mcq_file(folder / "q.jsonl", count)
    with ScriptedServer(answering(lambda i: i % 3 != 0)) as server:
        run_a = api.run(str(data), server=server.base_url, tag="a")
    with ScriptedServer(answering(lambda i: i % 2 == 1)) as server:
        run_b = api.run(str(data), server=server.base_url, tag="b")
    return run_a, run_b
