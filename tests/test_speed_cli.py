"""`benchlab speed`: the command, its report, plots, the panel score, and host metrics on every run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchlab import api
from benchlab.cli import app
from benchlab.speed.scores import panel_score, speed_score
from benchlab.testing.scripted_server import Pacing, Reply, ScriptedServer
from conftest import make_mcq_file
from scripted import answering

runner = CliRunner()
WORDS = " ".join(f"w{i}" for i in range(12))
PACING = Pacing(ttft=0.05, gap=0.005)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_speed_concurrency_json_plots_and_show(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plots = tmp_path / "plots"
    with ScriptedServer(Reply.text(WORDS), pacing=PACING, slots=2) as server:
        code, out, err = invoke(
            "speed", "--profile", "concurrency", "--levels", "1,2,4", "--server", server.base_url,
            "--tag", "sweep", "--plot", str(plots), "--json",
        )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    summary = payload["run"]["summary"]
    assert payload["run"]["benchmark"] == "speed:concurrency" and payload["run"]["task_kind"] == "speed"
    assert [entry["level"] for entry in summary["levels"]] == [1, 2, 4]
    assert summary["knee"] == 2
    written = [Path(path) for path in payload["plots"]]
    assert {path.name.split("-")[-1] for path in written} == {"throughput.png", "latency.png"}
    assert all(path.stat().st_size > 5000 and path.read_bytes()[:4] == b"\x89PNG" for path in written)

    code, out, _ = invoke("runs", "--json")
    assert code == 0 and [run["benchmark"] for run in json.loads(out)["runs"]] == ["speed:concurrency"]
    code, out, _ = invoke("show", "sweep")
    assert code == 0 and "knee" in out and "speed score" in out


def test_speed_report_prints_the_profile_table(tmp_path: Path) -> None:
    with ScriptedServer(Reply.text(WORDS), pacing=PACING, server_kind="llama.cpp") as server:
        code, out, err = invoke("speed", "--server", server.base_url, "--trials", "1", "--output-tokens", "8")
    assert code == 0, err
    for text in ("prompt sizes", "short", "medium", "long", "TTFT", "decode", "speed score", "host: CPU"):
        assert text in out
    assert "(warm-up)" in err  # the progress lines mark the dropped first request


def test_bad_levels_name_the_flag() -> None:
    code, _, err = invoke("speed", "--profile", "concurrency", "--levels", "1,two")
    assert code == 2 and "--levels" in err
    code, _, err = invoke("speed", "--profile", "turbo", "--server", "http://127.0.0.1:9")
    assert code == 1 and "unknown profile" in err


def test_svg_plots_of_a_quick_run(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    with ScriptedServer(Reply.text(WORDS), pacing=PACING) as server:
        record = api.speed("quick", server=server.base_url, trials=1, output_tokens=8, remote=True)
    assert record.summary["speed_score"]["endpoint"] == "remote"  # the flag beats the local address
    files = api.speed_plots(record.run_id, tmp_path, fmt="svg")
    assert len(files) == 1 and files[0].read_text().lstrip().startswith("<?xml")


def test_every_run_samples_the_host(tmp_path: Path, benchlab_home: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 6)
    with ScriptedServer(answering(lambda i: True), pacing=Pacing(ttft=0.05)) as server:
        record = api.run(str(data), server=server.base_url, concurrency=1)
    host = record.summary["host"]
    assert host["samples"] >= 1 and host["memory_used_bytes"]["max"] > 0
    assert host["server_rss_bytes"]["max"] > 0  # the scripted server listens in this process
    with sqlite3.connect(benchlab_home / "benchlab.db") as connection:
        (payload,) = connection.execute(
            "SELECT payload FROM events WHERE run_id = ? AND kind = 'host_samples'", (record.run_id,)
        ).fetchone()
    samples = json.loads(payload)["samples"]
    assert len(samples) == host["samples"] and "cpu_percent" in samples[0]


def test_speed_score_formula() -> None:
    reference = {"decode_tok_s": 30.0, "ttft_s": 0.5, "prefill_tok_s": 500.0}
    assert speed_score(reference, remote=False)["value"] == pytest.approx(100.0)
    doubled = speed_score({**reference, "decode_tok_s": 60.0}, remote=False)
    assert doubled["value"] == pytest.approx(100 * 2**0.5)
    # Remote references are stricter on decode and looser on TTFT.
    remote = speed_score({"decode_tok_s": 60.0, "ttft_s": 1.0, "prefill_tok_s": 2000.0}, remote=True)
    assert remote["value"] == pytest.approx(100.0) and remote["endpoint"] == "remote"
    only_decode = speed_score({"decode_tok_s": 15.0}, remote=False)
    assert only_decode["weights"] == {"decode_tok_s": 1.0} and only_decode["value"] == pytest.approx(50.0)
    assert speed_score({}, remote=False) is None


def test_panel_score_shows_its_parts(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 10)
    with ScriptedServer(answering(lambda i: i < 8)) as server:
        quality = api.run(str(data), server=server.base_url, tag="q")
    with ScriptedServer(Reply.text(WORDS), pacing=PACING) as server:
        fast = api.speed("quick", server=server.base_url, trials=1, output_tokens=8, tag="s")
    panel = panel_score([quality, fast])
    speed_value = fast.summary["speed_score"]["value"]
    assert panel["parts"]["quality"] == pytest.approx(0.8)
    assert panel["parts"]["speed"] == pytest.approx(speed_value / (speed_value + 100))
    assert panel["parts"]["reliability"] == pytest.approx(1.0)
    expected = 100 * (0.6 * 0.8 + 0.25 * panel["parts"]["speed"] + 0.15 * 1.0)
    assert panel["value"] == pytest.approx(expected)
    assert panel["suites"] == {quality.benchmark: pytest.approx(0.8)}
    code, out, _ = invoke("speed", "--panel", "q", "--panel", "s")
    assert code == 0 and "panel score" in out and "formula" in out


def test_a_refused_field_is_noted_in_an_ordinary_run(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 4)
    with ScriptedServer(answering(lambda i: True), refuse_fields=["stream_options"]) as server:
        record = api.run(str(data), server=server.base_url, concurrency=1)
        assert server.counts["refused_field"] == 1  # dropped once, then never sent again
    assert record.status.value == "finished" and record.summary["accuracy"]["k"] == 4
    assert any("stream_options" in note for note in record.summary["request_notes"])
    assert record.summary["tokens"]["approximate"] is True  # no usage without stream_options
