"""Shared helpers for the dashboard tests: a dashboard served on a real port, and two scripted runs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="needs the dashboard extra: pip install 'benchlab[dashboard]'")
pytest.importorskip("uvicorn", reason="needs the dashboard extra: pip install 'benchlab[dashboard]'")

from starlette.testclient import TestClient

from benchlab import api
from benchlab.surfaces.dashboard.app import Launch, create_app
from benchlab.testing.scripted_server import ScriptedServer
from benchlab.types import RunRecord
from conftest import make_mcq_file
from scripted import answering


def client_for(launch: Launch) -> TestClient:
    """A client that speaks to the app as a browser on the dashboard's own address would."""
    return TestClient(create_app(launch), base_url=f"http://127.0.0.1:{launch.port}")


def two_runs(folder: Path, count: int = 24) -> tuple[RunRecord, RunRecord]:
    """Tags `a` and `b` on the same questions with known answers: A right unless i % 3 == 0,
    B right on odd i."""
    data = make_mcq_file(folder / "q.jsonl", count)
    with ScriptedServer(answering(lambda i: i % 3 != 0)) as server:
        run_a = api.run(str(data), server=server.base_url, tag="a")
    with ScriptedServer(answering(lambda i: i % 2 == 1)) as server:
        run_b = api.run(str(data), server=server.base_url, tag="b")
    return run_a, run_b
