"""The results envelope, exports and importers: schema checks, lossless round trips, real lm-eval output."""

from __future__ import annotations

import copy
import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchlab import api
from benchlab.cli import app
from benchlab.exchange.envelope import EnvelopeError, build, flatten_results, validate
from benchlab.exchange.export import CSV_COLUMNS
from benchlab.testing.scripted_server import ScriptedServer
from conftest import make_mcq_file
from scripted import answering

LM_EVAL_OUTPUT = (
    Path(__file__).parent / "data" / "lm_eval"
)  # written by lm-eval 0.4.13 against the smoke server
runner = CliRunner()


@pytest.fixture
def finished_run(tmp_path: Path) -> str:
    data = make_mcq_file(tmp_path / "q.jsonl", 12)
    with ScriptedServer(answering(lambda i: i % 4 != 0)) as server:
        record = api.run(str(data), server=server.base_url, tag="source")
    return record.run_id


def test_envelope_round_trip_loses_nothing(
    finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = api.get_run(finished_run)
    samples = api.results(finished_run)
    path = api.export(finished_run, fmt="envelope", output=tmp_path / "run.json")
    envelope = json.loads(path.read_text())
    assert envelope["schema_version"] == 1 and envelope["errors"]["infra"] == 0
    accuracy = next(r for r in envelope["results"] if r["metric"] == "accuracy")
    assert accuracy["value"] == pytest.approx(9 / 12) and accuracy["n"] == 12
    assert accuracy["ci_low"] < 0.75 < accuracy["ci_high"]

    monkeypatch.setenv("BENCHLAB_HOME", str(tmp_path / "elsewhere"))
    (imported,) = api.import_results("envelope", path)
    assert imported.model_dump() == record.model_dump()
    assert [s.model_dump() for s in api.results(finished_run)] == [s.model_dump() for s in samples]
    with pytest.raises(Exception, match="already in the store"):
        api.import_results("envelope", path)


def test_the_envelope_never_carries_an_api_key(finished_run: str) -> None:
    envelope = build(api.get_run(finished_run), None)
    bad = copy.deepcopy(envelope)
    bad["run"]["endpoint"]["api_key"] = "sk-secret"
    with pytest.raises(EnvelopeError, match="/run/endpoint"):
        validate(bad)
    assert "api_key" not in json.dumps(envelope)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda e: e.pop("dataset"), "(top level)"),
        (lambda e: e.update(schema_version=2), "/schema_version"),
        (lambda e: e["dataset"].update(sha256="not-a-hash"), "/dataset/sha256"),
        (lambda e: e["results"].append({"name": "x", "metric": "acc", "value": "high", "unit": "", "n": 1}),
         "/results/"),
        (lambda e: e.update(timestamp="yesterday"), "/timestamp"),
        (lambda e: e.update(surprise=True), "(top level)"),
    ],
)  # fmt: skip
def test_invalid_envelopes_are_refused_with_the_place_named(
    finished_run: str, change: Any, where: str
) -> None:
    envelope = build(api.get_run(finished_run), None)
    change(envelope)
    with pytest.raises(EnvelopeError) as raised:
        validate(envelope)
    assert where in str(raised.value)


def test_flattening_names_rates_means_timings_and_subjects() -> None:
    summary = {
        "accuracy": {"k": 3, "n": 4, "rate": 0.75, "ci_low": 0.3, "ci_high": 0.95},
        "rubric_score": {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 10},
        "latency_s": {"p50": 1.5, "p90": 2.0, "mean": 1.6},
        "by_subject": {"law": {"k": 1, "n": 2, "rate": 0.5, "ci_low": 0.1, "ci_high": 0.9}},
        "retries": 2,
    }
    rows = {(r["name"], r["metric"]): r for r in flatten_results("b", summary)}
    assert rows[("b", "accuracy")]["value"] == 0.75 and rows[("b", "accuracy")]["unit"] == "fraction"
    assert rows[("b", "rubric_score")]["unit"] == "score" and rows[("b", "rubric_score")]["n"] == 10
    p90 = rows[("b", "latency_s.p90")]
    assert (p90["value"], p90["unit"], p90["ci_low"], p90["n"]) == (2.0, "s", None, None)
    assert rows[("b/law", "accuracy")]["value"] == 0.5
    assert len(rows) == 6


def test_jsonl_csv_and_parquet_exports(finished_run: str, tmp_path: Path) -> None:
    jsonl = api.export(finished_run, fmt="jsonl", output=tmp_path / "r.jsonl")
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == 12 and lines[0]["transcript"]["messages"][0]["role"] == "user"

    table = api.export(finished_run, fmt="csv", output=tmp_path / "r.csv")
    with table.open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 12
    assert sum(row["correct"] == "True" for row in rows) == 9

    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet export needs pyarrow (benchlab[data])")
    parquet = pq.read_table(
        api.export(finished_run, fmt="parquet", output=tmp_path / "r.parquet")
    ).to_pylist()
    accuracy = next(row for row in parquet if row["metric"] == "accuracy")
    assert accuracy["run_id"] == finished_run and accuracy["value"] == pytest.approx(0.75)
    assert {row["run_id"] for row in parquet} == {finished_run}


def test_export_refuses_an_unknown_format_and_an_unwritable_path(finished_run: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", finished_run, "--format", "xlsx"])
    assert result.exit_code == 1 and "envelope, jsonl, csv, parquet" in result.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["export", finished_run, "-o", str(blocker / "run.json")])
    assert result.exit_code == 1 and "cannot write" in result.stderr
    assert not list(tmp_path.glob("**/*.partial"))


def test_lm_eval_output_imports_with_its_samples(tmp_path: Path) -> None:
    results = json.loads(next(LM_EVAL_OUTPUT.glob("results_*.json")).read_text())
    expected = results["results"]["benchlab_mcq"]["exact_match,none"]
    result = runner.invoke(app, ["import", "lm-eval", str(LM_EVAL_OUTPUT), "--json"])
    assert result.exit_code == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert run["task_kind"] == "lm-eval" and run["benchmark"] == "benchlab_mcq"
    assert run["endpoint"]["model"] == "benchlab-smoke"
    assert run["summary"]["accuracy"]["n"] == 10
    assert run["summary"]["accuracy"]["rate"] == pytest.approx(expected)
    assert run["summary"]["lm_eval_metrics"]["exact_match,none"]["value"] == expected

    samples = api.results(run["run_id"])
    assert [s.sample_id for s in samples] == [f"bl-{i:03d}" for i in range(1, 11)]  # the rows' own ids
    first = samples[0]
    assert first.transcript is not None and first.transcript.messages[0]["role"] == "user"
    assert (
        first.score.gold == "Answer: A" and first.score.extracted == first.transcript.completions[0].content
    )
    assert api.runs(tag="lm-eval:benchlab_mcq:benchlab-smoke")[0].run_id == run["run_id"]

    again = runner.invoke(app, ["import", "lm-eval", str(LM_EVAL_OUTPUT)])
    assert again.exit_code == 1 and "already in the store" in again.stderr


def test_lm_eval_results_without_sample_logs_keep_the_aggregates(tmp_path: Path) -> None:
    results_file = next(LM_EVAL_OUTPUT.glob("results_*.json"))
    shutil.copy(results_file, tmp_path / results_file.name)
    (record,) = api.import_results("lm-eval", tmp_path / results_file.name, tag="agg")
    assert record.tag == "agg" and record.sample_ids == [] and "accuracy" not in record.summary
    assert record.summary["metric"] == "exact_match"


def test_bad_import_files_name_the_problem(tmp_path: Path) -> None:
    (tmp_path / "results_x.json").write_text("{not json")
    result = runner.invoke(app, ["import", "lm-eval", str(tmp_path / "results_x.json")])
    assert result.exit_code == 1 and "not JSON" in result.stderr
    result = runner.invoke(app, ["import", "lm-eval", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "no lm-eval results here" in result.stderr
    (tmp_path / "env.json").write_text(json.dumps({"schema_version": 1}))
    result = runner.invoke(app, ["import", "envelope", str(tmp_path / "env.json")])
    assert result.exit_code == 1 and "not a valid benchlab envelope" in result.stderr


def test_publish_dry_run_then_upload_then_read_back(
    finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("huggingface_hub", reason="publishing needs the hub client (benchlab[data])")
    from hub_server import HubServer

    with HubServer() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        dry = runner.invoke(app, ["publish", finished_run, "--repo", "team/results", "--dry-run", "--json"])
        assert dry.exit_code == 0, dry.stderr
        planned = json.loads(dry.stdout)["uploaded"]
        assert [item["run_id"] for item in planned] == [finished_run]
        assert planned[0]["path"].startswith("envelopes/") and planned[0]["bytes"] > 1000
        assert not hub.requests  # a dry run sends nothing

        refused = runner.invoke(app, ["publish", finished_run, "--repo", "team/results"])
        assert refused.exit_code == 1 and "HF_TOKEN" in refused.stderr

        monkeypatch.setenv("HF_TOKEN", "hf_write")
        first = runner.invoke(app, ["publish", finished_run, "--repo", "team/results", "--json"])
        assert first.exit_code == 0, first.stderr
        assert [item["path"] for item in json.loads(first.stdout)["uploaded"]] == [planned[0]["path"]]
        stored = hub.repos["team/results"]
        (published,) = stored.commits[stored.refs["main"]].items()
        assert published[0] == planned[0]["path"]
        validate(json.loads(published[1]))

        again = runner.invoke(app, ["publish", finished_run, "--repo", "team/results", "--json"])
        assert again.exit_code == 0, again.stderr
        report = json.loads(again.stdout)
        assert report["uploaded"] == [] and report["already_there"] == [planned[0]["path"]]
        assert report["commit"] is None  # nothing new, nothing overwritten

        original = api.results(finished_run)
        monkeypatch.setenv("BENCHLAB_HOME", str(tmp_path / "reader"))
        pulled = runner.invoke(app, ["import", "hf", "team/results", "--json"])
        assert pulled.exit_code == 0, pulled.stderr
        assert [run["run_id"] for run in json.loads(pulled.stdout)["runs"]] == [finished_run]
        assert [s.model_dump() for s in api.results(finished_run)] == [s.model_dump() for s in original]
        repeat = runner.invoke(app, ["import", "hf", "team/results", "--json"])
        assert json.loads(repeat.stdout)["runs"] == []  # already here: skipped, not duplicated


def test_publish_names_a_malformed_repo(finished_run: str) -> None:
    result = runner.invoke(app, ["publish", finished_run, "--repo", "justaname", "--dry-run"])
    assert result.exit_code == 1 and "owner/name" in result.stderr
