"""The dashboard's guards: Host (DNS rebinding), Origin and CSRF on state changes, the access token
off loopback, static paths that cannot escape, sandboxed artifacts, and no secret reaching the browser."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette", reason="needs the dashboard extra: pip install 'benchlab[dashboard]'")

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from starlette.testclient import TestClient
from typer.testing import CliRunner

from benchlab import api, settings
from benchlab.cli import app as cli_app
from benchlab.endpoints.managed import free_port
from benchlab.surfaces.dashboard.app import create_app, plan_launch
from benchlab.surfaces.dashboard.control import redact
from benchlab.testing.scripted_server import ScriptedServer
from benchlab.testing.synthetic_runs import write_run
from dashboard_support import client_for

ORIGIN = "http://127.0.0.1:8050"
BASELINE = {"label": "x", "benchmark": "mmlu", "value": 0.5, "source": "s", "date": "2024"}


def csrf_of(client: TestClient) -> str:
    return client.get("/").text.split('name="csrf-token" content="')[1].split('"')[0]


def test_state_changes_need_same_origin_and_the_csrf_token() -> None:
    with client_for(plan_launch(port=8050)) as client:
        token = csrf_of(client)
        body = {"title": "changed", "baselines": []}
        cross = client.put(
            "/api/setup", json=body, headers={"Origin": "http://evil.example", "X-CSRF-Token": token}
        )
        assert cross.status_code == 403 and "cross-origin" in cross.text
        no_origin = client.put("/api/setup", json=body, headers={"X-CSRF-Token": token})
        assert no_origin.status_code == 403
        opaque = client.post(
            "/api/launch", json={"benchmark": "sample"}, headers={"Origin": "null", "X-CSRF-Token": token}
        )
        assert opaque.status_code == 403
        no_token = client.put("/api/setup", json=body, headers={"Origin": ORIGIN})
        assert no_token.status_code == 403 and "CSRF" in no_token.text
        wrong = client.post(
            "/api/launch", json={"benchmark": "sample"}, headers={"Origin": ORIGIN, "X-CSRF-Token": "x"}
        )
        assert wrong.status_code == 403
        assert client.get("/api/setup").json()["title"] == "benchlab"  # nothing changed
        allowed = client.put("/api/setup", json=body, headers={"Origin": ORIGIN, "X-CSRF-Token": token})
        assert allowed.status_code == 200 and allowed.json()["title"] == "changed"


def test_a_foreign_host_header_is_refused_even_for_reads() -> None:
    with client_for(plan_launch(port=8050)) as client:
        for host in ("evil.example", "evil.example:8050", "127.0.0.1:9999", "attacker.localhost:8050"):
            response = client.get("/api/runs", headers={"Host": host})
            assert response.status_code == 400 and "DNS rebinding" in response.text, host
        assert client.get("/api/runs", headers={"Host": "localhost:8050"}).status_code == 200


def test_static_paths_cannot_escape_their_folder() -> None:
    with client_for(plan_launch(port=8050)) as client:
        assert client.get("/static/app.js").status_code == 200
        for path in (
            "/static/../app.py",
            "/static/%2e%2e/app.py",
            "/static/..%2fapp.py",
            "/static/%2e%2e%2f%2e%2e%2fsettings.py",
            "/static//etc/passwd",
            "/static/..%5capp.py",
        ):
            response = client.get(path)
            assert response.status_code == 404 and "Starlette" not in response.text, path
            assert "def create_app" not in response.text and "root:" not in response.text, path


def test_off_loopback_every_request_needs_the_token() -> None:
    launch = plan_launch(host="0.0.0.0", port=8050)
    assert launch.token and f"?token={launch.token}" in launch.url
    with TestClient(create_app(launch), base_url=ORIGIN, follow_redirects=False) as client:
        refused = client.get("/api/runs")
        assert refused.status_code == 401 and "token" in refused.text
        assert client.get("/api/runs?token=wrong").status_code == 401
        traded = client.get(f"/runs?token={launch.token}")
        assert traded.status_code == 303 and traded.headers["location"].endswith("/runs")
        assert "httponly" in traded.headers["set-cookie"].lower()
        assert client.get("/api/runs").status_code == 200  # the cookie now carries it
    with TestClient(create_app(launch), base_url=ORIGIN) as client:
        bearer = client.get("/api/runs", headers={"Authorization": f"Bearer {launch.token}"})
        assert bearer.status_code == 200


def test_pages_carry_a_strict_content_security_policy() -> None:
    with client_for(plan_launch(port=8050)) as client:
        policy = client.get("/").headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
    )


def chart_run(chart: Path) -> str:
    def with_chart(index: int, result):  # type: ignore[no-untyped-def]
        details = {**result.score.details, "chart_path": str(chart)}
        return result.model_copy(update={"score": result.score.model_copy(update={"details": details})})

    return write_run(api.open_store(), samples=1, tweak=with_chart).run_id


def test_artifacts_are_sandboxed_and_only_come_from_the_artifacts_folder(tmp_path: Path) -> None:
    folder = settings.ensure_home() / "artifacts"
    folder.mkdir()
    inside = folder / "chart.html"
    inside.write_text("<svg></svg>")
    outside = tmp_path / "secret.html"
    outside.write_text("private")
    escape = folder / "link.html"
    escape.symlink_to(outside)
    with client_for(plan_launch(port=8050)) as client:
        ok = client.get(f"/artifact/{chart_run(inside)}/s00000/chart_path")
        assert ok.status_code == 200 and ok.text == "<svg></svg>"
        policy = ok.headers["content-security-policy"]
        assert policy.startswith("sandbox allow-scripts;") and "allow-same-origin" not in policy
        assert "connect-src 'none'" in policy
        for path in (outside, escape):
            refused = client.get(f"/artifact/{chart_run(path)}/s00000/chart_path")
            assert refused.status_code == 403 and "private" not in refused.text
        assert client.get(f"/artifact/{chart_run(inside)}/s00000/other_path").status_code == 404


def test_no_api_key_or_secret_argument_reaches_the_browser(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    secret = "sk-do-not-leak-4242"
    data = tmp_path / "q.jsonl"
    data.write_text(
        json.dumps({"id": "q1", "question": "Pick A", "options": {"A": "a", "B": "b"}, "answer_idx": 0})
        + "\n"
    )
    with ScriptedServer("Answer: A", api_key=secret) as server:
        record = api.run(
            str(data),
            server=server.base_url,
            api_key=secret,
            command=f"benchlab run x --judge-api-key {secret}",
        )
        monkeypatch.setenv("BENCHLAB_API_KEY", secret)
        with client_for(plan_launch(port=8050)) as client:
            headers = {"Origin": ORIGIN, "X-CSRF-Token": csrf_of(client)}
            chat = client.post(
                "/api/chat",
                json={"server": server.base_url, "messages": [{"role": "user", "content": "hi"}]},
                headers=headers,
            )
            assert chat.status_code == 200 and chat.json()["content"] == "Answer: A"
            started = client.post(
                "/api/servers",
                json={"kind": "command", "command": f"sleep 30 --api-key {secret}"},
                headers=headers,
            )
            assert started.status_code == 201
            texts = [chat.text, started.text]
            for url in (
                "/api/runs",
                f"/api/runs/{record.run_id}",
                f"/api/runs/{record.run_id}/samples/q1",
                f"/api/runs/{record.run_id}/export.json",
                f"/api/runs/{record.run_id}/export.csv",
                f"/api/live/{record.run_id}/events",
                "/api/processes",
                "/api/setup",
                "/",
            ):
                texts.append(client.get(url).text)
            client.post(f"/api/processes/{started.json()['id']}/stop", headers=headers)
    assert record.status.value == "finished"
    for text in texts:
        assert secret not in text
    assert "--judge-api-key ***" in texts[3]


def test_redaction_masks_secret_flags_and_assignments() -> None:
    argv = ["serve", "--api-key", "k1", "--token=k2", "HF_TOKEN=k3", "--port", "8", "--judge-api-key", "k4"]
    assert redact(argv) == [
        "serve",
        "--api-key",
        "***",
        "--token=***",
        "HF_TOKEN=***",
        "--port",
        "8",
        "--judge-api-key",
        "***",
    ]


def test_the_cli_serves_the_dashboard_and_prints_the_tokened_address(benchlab_home: Path) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "benchlab",
        "dashboard",
        "--port",
        str(port),
        "--host",
        "0.0.0.0",
        "--no-open",
    ]
    env = {**os.environ, "BENCHLAB_HOME": str(benchlab_home), "COLUMNS": "200"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        token = re.search(r"\?token=(\S+)", line)
        assert token, line
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the dashboard never listened"
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}/api/runs"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base, timeout=10)
        assert refused.value.code == 401
        request = urllib.request.Request(base, headers={"Authorization": f"Bearer {token.group(1)}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["total"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def test_a_taken_port_is_reported_plainly(benchlab_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli_app, ["dashboard", "--port", str(port), "--no-open"])
    assert result.exit_code == 1 and str(port) in result.stderr
