"""Selection flags (`--domain`, `--difficulty`, `--quality`, `--task-id`, `--mode mixed`): each one
on the toolcall suite, the errors for selections that select nothing, mixed balancing, the
selection recorded on the run and reused on resume, and a paired `benchlab compare` of one
selection under two dialects against the scripted server."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from benchlab.catalog.datasets import resolve
from benchlab.cli import app
from benchlab.endpoints.dialects.render import render_call
from benchlab.engine.selection import (
    Selection,
    SelectionError,
    mixed,
    parse_difficulty,
    parse_quality,
    select,
)
from benchlab.testing.scripted_server import Reply, ScriptedServer
from benchlab.types import Sample
from test_toolcall_run import PERFECT, ROWS

SAMPLES = resolve("toolcall").samples
BY_ID = {row["id"]: row for row in ROWS}


def test_ranges_parse_and_refuse_nonsense() -> None:
    assert parse_difficulty("easy..hard") == ("easy", "hard")
    assert parse_difficulty("hard") == ("hard", "hard")
    assert parse_difficulty("medium..") == ("medium", "expert")
    assert parse_difficulty("..medium") == ("easy", "medium")
    assert parse_quality("1..5") == (1, 5) and parse_quality("10") == (10, 10)
    with pytest.raises(SelectionError, match="runs backwards"):
        parse_difficulty("hard..easy")
    with pytest.raises(SelectionError, match=r"easy\.\.hard"):
        parse_difficulty("tricky")
    with pytest.raises(SelectionError, match="1 to 10"):
        parse_quality("0..4")
    with pytest.raises(SelectionError, match="mixed"):
        Selection(mode="balanced")


def test_each_filter_keeps_exactly_its_tasks() -> None:
    devops = select(SAMPLES, Selection(domains=("devops", "hr")))
    assert [s.id for s in devops] == [s.id for s in SAMPLES if s.data["domain"] in ("devops", "hr")]
    middle = select(SAMPLES, Selection.parse(difficulty="medium..hard"))
    assert len(middle) == sum(r["difficulty"] in ("medium", "hard") for r in ROWS) == 45
    picked = select(SAMPLES, Selection(task_ids=("tc-hr-03", "tc-trading-01")))
    assert [s.id for s in picked] == ["tc-hr-03", "tc-trading-01"]  # dataset order, not flag order
    both = select(SAMPLES, Selection.parse(domains=["gateway"], difficulty="expert"))
    assert {(s.data["domain"], s.data["difficulty"]) for s in both} == {("gateway", "expert")}


def test_quality_range_makes_one_sample_per_stored_variant() -> None:
    chosen = select(SAMPLES, Selection.parse(task_ids=["tc-devops-02"], quality="1..5"))
    assert [s.id for s in chosen] == ["tc-devops-02@q1", "tc-devops-02@q5"]
    row = BY_ID["tc-devops-02"]
    assert [s.data["variants"] for s in chosen] == [{"1": row["variants"]["1"]}, {"5": row["variants"]["5"]}]
    assert len(select(SAMPLES, Selection.parse(quality="1..10"))) == 3 * len(ROWS)


def test_selections_that_select_nothing_name_what_is_there() -> None:
    with pytest.raises(SelectionError, match="available domains: devops, gateway, general, hr, trading"):
        select(SAMPLES, Selection(domains=("finance",)))
    with pytest.raises(SelectionError, match="no such task; ids look like tc-devops-01, tc-devops-02"):
        select(SAMPLES, Selection(task_ids=("tc-nowhere-9",)))
    with pytest.raises(SelectionError, match="stored levels: 1, 5, 10"):
        select(SAMPLES, Selection.parse(quality="2..4"))
    with pytest.raises(
        SelectionError, match=r"--difficulty hard\.\.expert selects no task; available difficulties: easy\."
    ):
        select(SAMPLES, Selection.parse(domains=["devops"], task_ids=["tc-devops-01"], difficulty="hard.."))
    mcq = resolve("sample").samples
    with pytest.raises(SelectionError, match="no `domain`"):
        select(mcq, Selection(domains=("x",)))
    with pytest.raises(SelectionError, match="no prompt-quality variants"):
        select(mcq, Selection.parse(quality="1..3"))
    odd = [Sample(id="t1", data={"variants": {"vague": "Do the thing."}})]
    with pytest.raises(SelectionError, match="task t1: `variants` must map quality levels"):
        select(odd, Selection.parse(quality="1..3"))


def test_mixed_draws_evenly_across_domains() -> None:
    uneven = [
        Sample(id=f"{d}{i}", data={"domain": d})
        for d, size in (("a", 30), ("b", 5), ("c", 2))
        for i in range(size)
    ]
    counts = Counter(s.data["domain"] for s in mixed(uneven, 9, seed=7))
    assert (
        counts["c"] == 2
        and sorted((counts["a"], counts["b"])) in ([3, 4], [4, 3])
        and sum(counts.values()) == 9
    )
    assert mixed(uneven, 9, seed=7) == mixed(uneven, 9, seed=7)  # seeded
    assert {s.id for s in mixed(uneven, 9, seed=1)} != {s.id for s in mixed(uneven, 9, seed=2)}
    assert len(mixed(uneven, 100, seed=1)) == 37


def benchlab(home: Path, *args: str, ok: bool = True) -> Result:
    """The CLI in-process (BENCHLAB_HOME is `home`, set by the conftest fixture)."""
    result = CliRunner().invoke(app, list(args))
    assert (result.exit_code == 0) is ok, result.output
    return result


def _perfect(body: dict[str, Any]) -> Reply:
    return PERFECT[body["messages"][-1]["content"]]


def test_cli_selection_is_asked_recorded_and_resumed(benchlab_home: Path) -> None:
    with ScriptedServer(_perfect) as server:
        url = server.base_url
        args = ("run", "toolcall", "--server", url, "--domain", "devops", "--difficulty", "medium..hard")
        run = json.loads(benchlab(benchlab_home, *args, "--quality", "1..5", "-t", "sel", "--json").stdout)[
            "run"
        ]
        wanted = [
            s.id
            for s in SAMPLES
            if s.data["domain"] == "devops" and s.data["difficulty"] in ("medium", "hard")
        ]
        assert run["sample_ids"] == [f"{i}@q{q}" for i in wanted for q in (1, 5)]
        assert run["task_options"]["selection"] == {
            "domains": ["devops"],
            "difficulty": ["medium", "hard"],
            "quality": [1, 5],
            "task_ids": [],
            "mode": "all",
        }
        summary = run["summary"]
        assert summary["accuracy"]["k"] == len(run["sample_ids"])
        assert {k: v["n"] for k, v in summary["by_quality"].items()} == {"1": len(wanted), "5": len(wanted)}
        assert set(summary["by_domain"]) == {"devops"} and summary["selection"]["quality"] == [1, 5]
        # re-using the tag resumes the run with the selection it recorded, without repeating the flags
        again = json.loads(
            benchlab(benchlab_home, "run", "toolcall", "--server", url, "-t", "sel", "--json").stdout
        )
        assert again["run"]["run_id"] == run["run_id"] and again["run"]["sample_ids"] == run["sample_ids"]
        balanced = benchlab(
            benchlab_home, "run", "toolcall", "--server", url, "--mode", "mixed", "-n", "10", "--json"
        )
        domains = Counter(BY_ID[i]["domain"] for i in json.loads(balanced.stdout)["run"]["sample_ids"])
        assert domains == dict.fromkeys(("trading", "devops", "hr", "gateway", "general"), 2)
        refused = benchlab(benchlab_home, "run", "toolcall", "--server", url, "--domain", "finance", ok=False)
        assert "available domains: devops, gateway, general, hr, trading" in refused.output
        printed = benchlab(benchlab_home, *args, "--quality", "1..5", "-t", "sel2").stdout
        assert "by quality" in printed and "q1 100%" in printed


def test_compare_one_selection_under_raw_and_hermes(benchlab_home: Path) -> None:
    """The scripted model calls perfectly through native tools; through hermes it writes the same
    calls as `<tool_call>` text but answers hard and expert tasks without calling anything."""

    def respond(body: dict[str, Any]) -> Reply:
        reply = _perfect(body)
        if body.get("tools"):
            return reply
        row = next(r for r in ROWS if body["messages"][-1]["content"] in r["variants"].values())
        if row["difficulty"] in ("hard", "expert") or not reply.tool_calls:
            return Reply.text("Here is what I would do, in words.")
        return Reply.text(
            "\n".join(render_call("hermes", c["name"], c["arguments"]) for c in reply.tool_calls)
        )

    selection = ("--domain", "hr", "--domain", "gateway", "--difficulty", "medium..expert")
    with ScriptedServer(respond) as server:
        for dialect in ("raw", "hermes"):
            benchlab(
                benchlab_home,
                "run",
                "toolcall",
                "--server",
                server.base_url,
                *selection,
                "--dialect",
                dialect,
                "-t",
                dialect,
            )
    chosen = [r for r in ROWS if r["domain"] in ("hr", "gateway") and r["difficulty"] != "easy"]
    lost = sum(1 for r in chosen if r["difficulty"] in ("hard", "expert") and r["expected"])
    result = json.loads(benchlab(benchlab_home, "compare", "raw", "hermes", "--json").stdout)
    assert result["n_pairs"] == len(chosen) and result["only_a"] == lost and result["only_b"] == 0
    assert result["both_correct"] == len(chosen) - lost
    assert result["difference"] == pytest.approx(-lost / len(chosen))
    assert result["p_value"] == pytest.approx(2 * 0.5**lost)  # exact McNemar, all discordant pairs one way
    printed = benchlab(benchlab_home, "compare", "raw", "hermes").stdout
    assert "exact McNemar" in printed and f"only A right {lost}" in printed
