"""`--llm-judge` (toolcall, chart) and `--visual-judge` (chart) against scripted judges: exact
opinions, failures counted apart, and the programmatic score never changed by the judge."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchlab import api, settings
from benchlab.catalog.datasets import Dataset
from benchlab.cli import app
from benchlab.endpoints.managed import free_port
from benchlab.engine.runner import RunRequest, run_benchmark
from benchlab.store.db import Store
from benchlab.tasks.chart import ChartTask
from benchlab.tasks.chart_visual_judge import NO_VISION_HINT, VISUAL_PROMPT_SHA256, ask_visual, parse_visual
from benchlab.tasks.judge_opinion import CHART_PROMPT_SHA256, TOOLCALL_PROMPT_SHA256, parse_grade
from benchlab.tasks.judge_summary import cohen_kappa
from benchlab.tasks.judging import JudgeClient
from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task
from benchlab.tasks.tools.toolcall import ToolCallTask
from benchlab.testing.scripted_server import Fault, Reply, ScriptedServer, last_user_text
from benchlab.types import Endpoint, ErrorKind, RunStatus, SampleResult
from chart_fixtures import COMMENT_ONLY, PERFECT_SVG, fenced, sample
from test_toolcall_run import PERFECT, ROWS

# -- parsing and agreement ---------------------------------------------------------------------------


def test_grades_are_read_tolerantly_and_garbage_is_refused() -> None:
    assert parse_grade('{"reason": "fine", "grade": 4}') == (4.0, "fine")
    assert parse_grade(
        '<think>{"grade": 1}</think>Sure:\n```json\n{"grade": "5/5", "reason": "ok"}\n```'
    ) == (
        5.0,
        "ok",
    )
    assert parse_grade('{"grade": "3"} trailing words') == (3.0, "")
    for garbage in ("It is a 4.", '{"grade": 7}', '{"grade": true}', '{"score": 4}', '{"grade": "high"}'):
        assert parse_grade(garbage) is None, garbage


def test_visual_verdicts_need_all_four_criteria() -> None:
    text = (
        'Looks good. {"readable": "yes", "chart_type": true, "data_plotted": true, '
        '"tokens_applied": false, "explanation": "palette differs"}'
    )
    assert parse_visual(text) == (
        {"readable": True, "chart_type": True, "data_plotted": True, "tokens_applied": False},
        "palette differs",
    )
    assert parse_visual('{"readable": true, "chart_type": true, "data_plotted": true}') is None
    assert (
        parse_visual('{"readable": "maybe", "chart_type": true, "data_plotted": true, "tokens_applied": 1}')
        is None
    )


def test_cohen_kappa_matches_the_textbook_example() -> None:
    # 50 items: both yes 20, first only 5, second only 10, both no 15 → kappa 0.4.
    pairs = [(True, True)] * 20 + [(True, False)] * 5 + [(False, True)] * 10 + [(False, False)] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    assert cohen_kappa([(True, True), (True, True)]) is None  # no chance-corrected agreement to speak of
    assert cohen_kappa([]) is None


# -- settings --------------------------------------------------------------------------------------


def test_judge_flags_are_checked_before_any_request() -> None:
    with pytest.raises(TaskSettingsError, match="--llm-judge applies to toolcall and chart"):
        build_task("mcq", TaskSettings(llm_judge=True))
    with pytest.raises(TaskSettingsError, match="rubric benchmarks are judged already"):
        build_task("rubric", TaskSettings(llm_judge=True))
    with pytest.raises(TaskSettingsError, match="--visual-judge applies to chart"):
        build_task("toolcall", TaskSettings(visual_judge=True))
    with pytest.raises(TaskSettingsError, match="add --render"):
        build_task("chart", TaskSettings(visual_judge=True))
    with pytest.raises(TaskSettingsError, match="judge_max_tokens"):  # a judge option without a judge
        build_task("toolcall", TaskSettings(options={"judge_max_tokens": 64}))
    task = build_task("toolcall", TaskSettings(llm_judge=True, options={"judge_max_tokens": 64}))
    assert isinstance(task, ToolCallTask) and task.judge is not None
    assert task.judge.params.max_tokens == 64
    assert task.options()["llm_judge_prompt_sha256"] == TOOLCALL_PROMPT_SHA256
    assert "llm_judge" not in build_task("toolcall", TaskSettings()).options()


# -- toolcall --------------------------------------------------------------------------------------

CALLING = [row for row in ROWS if row["expected"]][:4]


def write_toolcall_definition(home: Path, rows: list[dict[str, Any]], key: str = "toolcall_judged") -> str:
    folder = home / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / f"{key}.toml").write_text(
        f'key = "{key}"\nname = "toolcall judged"\ndomain = "test"\ntier = "current"\nkind = "toolcall"\n'
        'fit = "toolcall"\nlicense = "MIT"\ncitation = "test rows"\n\n'
        f'[[sources]]\ntype = "file"\npath = "{key}.jsonl"\n'
    )
    return key


def request_of(row: dict[str, Any]) -> str:
    return str(row["variants"][max(row["variants"], key=int)])  # quality 10: the most precise


def model_responder(body: dict[str, Any]) -> Reply:
    """Perfect calls for the first two tasks, a text reply (score 0) for the other two."""
    text = last_user_text(body)
    if any(request_of(row) == text for row in CALLING[:2]):
        return PERFECT[text]
    return Reply.text("I would rather not use any tool for this.")


def toolcall_judge(body: dict[str, Any]) -> Reply:
    prompt = last_user_text(body)
    if prompt.startswith("Your answer could not be read"):
        return Reply.text("Still thinking about it.")  # garbage on the retry too
    assert "<tools>" in prompt and "<reply>" in prompt, "the judge is shown the tools and the reply"
    if request_of(CALLING[3]) in prompt:
        return Reply.text("I'd say it's pretty decent overall.")  # no JSON: a parse failure
    if "call: (no tool call)" in prompt:
        return Reply.text('```json\n{"reason": "no tool was called", "grade": 2}\n```')
    return Reply.text('{"reason": "right tools, right arguments", "grade": 5}')


def by_id(results: list[SampleResult]) -> dict[str, SampleResult]:
    return {result.sample_id: result for result in results}


def test_toolcall_opinion_is_exact_and_leaves_the_score_alone(benchlab_home: Path) -> None:
    key = write_toolcall_definition(benchlab_home, CALLING)
    with (
        ScriptedServer(model_responder) as model,
        ScriptedServer(toolcall_judge, model="judge-model") as judge,
    ):
        plain = api.run(key, server=model.base_url, concurrency=2)
        judged = api.run(
            key, server=model.base_url, concurrency=2, judge_server=judge.base_url, llm_judge=True
        )
        judge_requests = list(judge.requests)
    assert judged.status is RunStatus.FINISHED
    # 4 opinions asked; the garbage one was asked twice (the corrective retry).
    assert len(judge_requests) == 5
    assert all(body["temperature"] == 0 and "tools" not in body for body in judge_requests)
    expected_ids = {str(row["expected"][0]["name"]) for row in CALLING[:2]}
    assert any(name in last_user_text(judge_requests[0]) for name in expected_ids | {"no tool call"})

    # The programmatic score is THE score: identical with and without the judge.
    without, with_judge = by_id(api.results(plain.run_id)), by_id(api.results(judged.run_id))
    assert set(without) == set(with_judge) == {row["id"] for row in CALLING}
    for sample_id, result in with_judge.items():
        other = without[sample_id].score
        assert (result.score.value, result.score.correct, result.score.error_kind) == (
            other.value,
            other.correct,
            other.error_kind,
        )
        assert {k: v for k, v in result.score.details.items() if k != "judge"} == other.details
    for name in ("score", "mean_score", "accuracy", "by_difficulty"):
        assert judged.summary[name] == plain.summary[name]
    assert "llm_judge" not in plain.summary

    grades = {sample_id: r.score.details["judge"]["grade"] for sample_id, r in with_judge.items()}
    assert grades == {
        CALLING[0]["id"]: 5.0,
        CALLING[1]["id"]: 5.0,
        CALLING[2]["id"]: 2.0,
        CALLING[3]["id"]: None,
    }
    failed = with_judge[CALLING[3]["id"]].score.details["judge"]
    assert failed["failure"] == "parse" and failed["attempts"] == 2 and "grade" in failed["error"]
    # A judge failure is not the sample's failure: it keeps its own (zero) score and no error.
    assert with_judge[CALLING[3]["id"]].score.error_kind is ErrorKind.NONE
    assert with_judge[CALLING[3]["id"]].score.value == 0.0
    first = with_judge[CALLING[0]["id"]].score.details["judge"]
    assert first["judge_model"] == "judge-model" and first["prompt_sha256"] == TOOLCALL_PROMPT_SHA256

    opinion = judged.summary["llm_judge"]
    assert opinion["graded"] == 3 and opinion["failures"] == {"infra": 0, "rejected": 0, "parse": 1}
    assert opinion["mean"]["mean"] == pytest.approx(4.0) and opinion["mean"]["n"] == 3
    assert opinion["mean"]["ci_low"] <= 4.0 <= opinion["mean"]["ci_high"]
    # Judge passes (grade >= 4) on exactly the two full-marks answers: perfect agreement.
    assert opinion["agreement"]["kappa"] == pytest.approx(1.0)
    assert opinion["agreement"]["pass_agreement"] == 1.0
    assert opinion["agreement"]["spearman"] == pytest.approx(1.0)
    assert opinion["models"] == ["judge-model"] and opinion["prompt_sha256"] == TOOLCALL_PROMPT_SHA256
    assert judged.task_options["llm_judge_prompt_sha256"] == TOOLCALL_PROMPT_SHA256


def test_without_a_judge_server_the_model_under_test_judges(benchlab_home: Path) -> None:
    key = write_toolcall_definition(benchlab_home, CALLING[:2])

    def model_and_judge(body: dict[str, Any]) -> Reply:
        if "<tools>" in last_user_text(body):  # the opinion prompt
            return Reply.text('{"reason": "judged by itself", "grade": 3}')
        return model_responder(body)

    with ScriptedServer(model_and_judge) as server:
        record = api.run(key, server=server.base_url, llm_judge=True)
        bodies = list(server.requests)
    assert len(bodies) == 4  # two answers, two opinions, all on the one server
    assert sum(1 for body in bodies if "tools" in body) == 2  # opinions are asked without tools
    assert record.task_options["llm_judge"] == "the model under test"
    opinion = record.summary["llm_judge"]
    assert opinion["mean"]["mean"] == 3.0 and opinion["graded"] == 2
    assert opinion["endpoint"] == "the model under test"


def test_rescoring_needs_no_judge_request(benchlab_home: Path) -> None:
    key = write_toolcall_definition(benchlab_home, CALLING[:2])
    with ScriptedServer(model_responder) as model, ScriptedServer(toolcall_judge) as judge:
        record = api.run(key, server=model.base_url, judge_server=judge.base_url, llm_judge=True)
    # The judge is gone; a task pointing at a dead judge re-scores the stored transcripts identically.
    dead = JudgeClient(Endpoint(base_url=f"http://127.0.0.1:{free_port()}"))
    task = ToolCallTask(judge=dead)
    samples = {s.id: s for s in api.load(key).samples}
    for result in api.results(record.run_id, with_transcripts=True):
        assert result.transcript is not None
        assert task.score(samples[result.sample_id], result.transcript) == result.score
        assert result.score.details["judge"]["grade"] == 5.0


def test_unreachable_and_refusing_judges_are_counted_apart(benchlab_home: Path) -> None:
    key = write_toolcall_definition(benchlab_home, CALLING[:2])

    def judge_faults(body: dict[str, Any]) -> Reply | Fault:
        if request_of(CALLING[0]) in last_user_text(body):
            return Fault("status", status=503, retry_after=0.01, times=None)
        return Fault("status", status=400, message="this judge takes no such request", times=None)

    with ScriptedServer(model_responder) as model, ScriptedServer(judge_faults) as judge:
        record = api.run(key, server=model.base_url, judge_server=judge.base_url, llm_judge=True)
        attempts = len(judge.requests)
    assert record.status is RunStatus.FINISHED  # a judge failure never fails or invalidates the run
    assert attempts == 3 + 1  # the 503 is retried by the transport (3 attempts), the 400 never
    opinion = record.summary["llm_judge"]
    assert opinion["failures"] == {"infra": 1, "rejected": 1, "parse": 0} and opinion["graded"] == 0
    assert opinion["mean"]["mean"] is None
    results = by_id(api.results(record.run_id))
    assert all(r.score.value == 1.0 and r.score.error_kind is ErrorKind.NONE for r in results.values())
    assert "this judge takes no such request" in results[CALLING[1]["id"]].score.details["judge"]["error"]


def test_the_report_prints_the_opinion_apart_from_the_score(benchlab_home: Path) -> None:
    key = write_toolcall_definition(benchlab_home, CALLING)
    with ScriptedServer(model_responder) as model, ScriptedServer(toolcall_judge) as judge:
        result = CliRunner().invoke(
            app,
            ["run", key, "--server", model.base_url, "--judge-server", judge.base_url, "--llm-judge"],
            env={"COLUMNS": "220"},
        )
    assert result.exit_code == 0, result.stdout
    assert "judge opinion" in result.stdout
    assert "mean 4.00" in result.stdout and "kappa 1.00" in result.stdout
    assert "0 unreachable, 0 refused, 1 unreadable" in result.stdout


# -- charts ----------------------------------------------------------------------------------------

CHART_SAMPLES = [
    sample("alpha", title="Alpha desk trades"),
    sample("bravo", title="Bravo desk trades"),
    sample("charlie", title="Charlie desk trades"),
]
CHART_REPLIES = {
    "Alpha desk": fenced(PERFECT_SVG.replace("Trades per month", "Alpha desk trades")),
    "Bravo desk": fenced(COMMENT_ONLY),
    "Charlie desk": "Sorry, I can only describe charts in words.",
}


def chart_model(body: dict[str, Any]) -> Reply:
    text = last_user_text(body)
    return Reply.text(next(reply for key, reply in CHART_REPLIES.items() if key in text))


def run_chart(task: ChartTask, model_url: str, key: str = "chart-judged") -> tuple[Any, dict[str, Any]]:
    dataset = Dataset(key=key, kind="chart", samples=CHART_SAMPLES, sha256="0" * 64, path=key)
    request = RunRequest(dataset=dataset, task=task, endpoint=Endpoint(base_url=model_url), concurrency=2)
    store = Store(settings.database_path())
    record = asyncio.run(run_benchmark(request, store))
    return record, {r.sample_id: r.score for r in store.results(record.run_id)}


def test_chart_opinion_grades_the_markup_and_skips_a_reply_without_html(tmp_path: Path) -> None:
    def judge(body: dict[str, Any]) -> Reply:
        prompt = last_user_text(body)
        assert "<document>" in prompt and "#1f6feb" in prompt  # the markup and the design tokens
        grade = 5 if "Alpha desk" in prompt else 1
        return Reply.text(json.dumps({"reason": "scripted", "grade": grade}))

    with ScriptedServer(chart_model) as model, ScriptedServer(judge) as judge_server:
        plain, plain_scores = run_chart(build_task("chart", TaskSettings(artifacts=tmp_path)), model.base_url)
        task = build_task(
            "chart",
            TaskSettings(artifacts=tmp_path, llm_judge=True, judge=Endpoint(base_url=judge_server.base_url)),
        )
        record, scores = run_chart(task, model.base_url, key="chart-judged-2")
        asked = len(judge_server.requests)
    assert asked == 2  # charlie's reply holds no HTML: nothing to judge
    assert record.task_options["llm_judge_prompt_sha256"] == CHART_PROMPT_SHA256
    assert (
        scores["alpha"].details["judge"]["grade"] == 5.0 and scores["bravo"].details["judge"]["grade"] == 1.0
    )
    assert scores["charlie"].details["judge"] == {"skipped": "no HTML in the reply to judge"}
    for sample_id, score in scores.items():
        assert (score.value, score.correct, score.error_kind) == (
            plain_scores[sample_id].value,
            plain_scores[sample_id].correct,
            plain_scores[sample_id].error_kind,
        )
    assert record.summary["score"] == plain.summary["score"]
    opinion = record.summary["llm_judge"]
    assert (
        opinion["graded"] == 2 and opinion["skipped"] == 1 and opinion["mean"]["mean"] == pytest.approx(3.0)
    )
    assert opinion["agreement"]["kappa"] == pytest.approx(1.0)  # grade 5 ↔ the perfect chart only
    assert opinion["agreement"]["spearman"] is None  # two graded samples are too few


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Chromium at /usr/bin/chromium")
def test_visual_judge_receives_the_screenshot_as_a_png_data_url(tmp_path: Path) -> None:
    from PIL import Image

    samples_by_title = {"Alpha desk": "alpha", "Bravo desk": "bravo"}

    def vision_judge(body: dict[str, Any]) -> Reply | Fault:
        prompt = body["messages"][-1]["content"]
        text = prompt[0]["text"] if isinstance(prompt, list) else prompt
        if "Alpha desk" in text:
            return Reply.text(
                '{"readable": true, "chart_type": true, "data_plotted": true, "tokens_applied": true, '
                '"explanation": "clear bars"}'
            )
        if "Bravo desk" in text:
            return Fault("status", status=400, message="the request body is too large", times=None)
        raise AssertionError(f"unexpected judge request: {text[:80]}")

    with ScriptedServer(chart_model) as model, ScriptedServer(vision_judge) as judge_server:
        task = build_task(
            "chart",
            TaskSettings(
                artifacts=tmp_path,
                render=True,
                visual_judge=True,
                judge=Endpoint(base_url=judge_server.base_url),
                options={"browser": "/usr/bin/chromium"},
            ),
        )
        record, scores = run_chart(task, model.base_url)
        requests = list(judge_server.requests)
    assert record.status is RunStatus.FINISHED
    assert len(requests) == 2  # alpha and bravo rendered; charlie had no chart to render
    for body in requests:
        text_part, image_part = body["messages"][0]["content"]
        assert text_part["type"] == "text" and "#1f6feb" in text_part["text"]  # the tokens are given
        assert image_part["type"] == "image_url"
        url = image_part["image_url"]["url"]
        assert url.startswith("data:image/png;base64,")
        png = base64.b64decode(url.removeprefix("data:image/png;base64,"), validate=True)
        sample_id = next(sid for title, sid in samples_by_title.items() if title in text_part["text"])
        screenshot = Path(scores[sample_id].details["render"]["screenshot"])
        assert png == screenshot.read_bytes()  # the very screenshot the render saved
        with Image.open(io.BytesIO(png)) as image:
            assert image.format == "PNG" and image.width >= 200 and image.height >= 150

    alpha, bravo = scores["alpha"].details["visual_judge"], scores["bravo"].details["visual_judge"]
    assert alpha["score"] == 1.0 and alpha["criteria"]["tokens_applied"] is True
    assert alpha["prompt_sha256"] == VISUAL_PROMPT_SHA256
    assert bravo["failure"] == "rejected" and bravo["score"] is None
    assert "the request body is too large" in bravo["error"]
    assert NO_VISION_HINT not in bravo["error"]  # a refusal that does not blame images gets no such hint
    assert scores["charlie"].details["visual_judge"]["skipped"].startswith("no screenshot to judge")
    assert scores["alpha"].value == 1.0  # the judge's opinion is not the score
    visual = record.summary["visual_judge"]
    assert visual["graded"] == 1 and visual["failures"]["rejected"] == 1 and visual["skipped"] == 1
    assert visual["mean"]["mean"] == 1.0
    assert visual["criteria"]["data_plotted"]["k"] == 1 and visual["criteria"]["data_plotted"]["n"] == 1
    # One graded chart, perfect by both measures: full raw agreement, kappa undefined (no variation).
    assert visual["agreement"]["pass_agreement"] == 1.0 and visual["agreement"]["kappa"] is None
    assert any("kappa is undefined" in note for note in visual["agreement"]["notes"])


async def test_a_judge_that_refuses_images_is_asked_once_per_run(tmp_path: Path) -> None:
    from PIL import Image

    screenshot = tmp_path / "chart.png"
    Image.new("RGB", (32, 16), "#1f6feb").save(screenshot)
    # llama.cpp without a projector answers HTTP 500, which the transport retries before giving up.
    refusal = Fault(
        "status",
        status=500,
        retry_after=0.01,
        message="image input is not supported - hint: you may need to provide the mmproj",
        times=None,
    )
    async with ScriptedServer(Reply.text("unused"), faults=[refusal]) as server:
        judge = JudgeClient(Endpoint(base_url=server.base_url, model="text-only"))
        first = await ask_visual(judge, _no_model, "Look at this chart.", screenshot)
        asked = len(server.requests)
        second = await ask_visual(judge, _no_model, "Look at this chart.", screenshot)
        assert len(server.requests) == asked  # not sent again
    assert asked == 3  # the transport's three attempts at a 500
    assert first["failure"] == "rejected" and "mmproj" in first["error"] and NO_VISION_HINT in first["error"]
    assert second["failure"] == "rejected" and second["asked"] is False and NO_VISION_HINT in second["error"]
    assert first["score"] is None and second["score"] is None


async def _no_model(*_: Any, **__: Any) -> Any:
    raise AssertionError("a judge endpoint was given: the model under test is never asked")
