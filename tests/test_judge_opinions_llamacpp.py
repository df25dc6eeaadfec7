"""`--llm-judge` and `--visual-judge` with the real llama.cpp server (smoke model) as the judge.

The smoke model is a null model: these tests assert structure — every sample carries an opinion
record that is either a readable grade or a counted judge failure, the run finishes, the score is
the programmatic one — never grades. The smoke server has no multimodal projector, so it must
refuse the screenshot: a recorded `rejected` judge failure, not a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'")

from benchlab import api
from benchlab.endpoints.managed import ServerProcess, free_port
from benchlab.tasks.chart_visual_judge import NO_VISION_HINT, VISUAL_PROMPT_SHA256
from benchlab.tasks.judge_opinion import TOOLCALL_PROMPT_SHA256
from benchlab.testing.scripted_server import Reply, ScriptedServer, last_user_text
from benchlab.types import ErrorKind, RunStatus
from chart_fixtures import PERFECT_SVG, fenced
from test_judge_opinions import write_toolcall_definition
from test_toolcall_run import PERFECT, ROWS

# One built-in task with few tools: the byte-level smoke model prefills slowly on a shared CPU (about
# 1,500 tokens for this judge prompt), and the judge's prompt lists the tools.
SMALL_ROWS = [row for row in ROWS if row["id"] == "tc-general-16"]

pytestmark = pytest.mark.llamacpp


@pytest.fixture(scope="module")
def smoke_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    with ServerProcess(smoke=True, port=free_port(), parallel=2, env={"BENCHLAB_HOME": str(home)}) as server:
        yield server.base_url


def test_toolcall_run_with_the_smoke_model_as_judge(smoke_server: str, benchlab_home: Path) -> None:
    # The model under test is scripted (the expected calls): the judge is what runs on llama.cpp here,
    # and the programmatic score must come out exact whatever the judge says.
    assert len(SMALL_ROWS) == 1
    key = write_toolcall_definition(benchlab_home, SMALL_ROWS)
    with ScriptedServer(lambda body: PERFECT[last_user_text(body)]) as model:
        record = api.run(
            key,
            server=model.base_url,
            judge_server=smoke_server,
            llm_judge=True,
            options={"judge_max_tokens": 48},
        )
    assert record.status is RunStatus.FINISHED
    assert record.task_options["llm_judge_prompt_sha256"] == TOOLCALL_PROMPT_SHA256
    results = api.results(record.run_id)
    assert len(results) == 1
    for result in results:
        assert result.score.error_kind is ErrorKind.NONE and result.score.value == 1.0, result.score.error
        opinion = result.score.details["judge"]
        assert opinion["prompt_sha256"] == TOOLCALL_PROMPT_SHA256
        assert opinion["judge_model"], "the judge's model id is recorded"
        if opinion["failure"] is None:
            assert 1 <= opinion["grade"] <= 5
        else:  # the null model rarely writes the JSON asked for: a counted failure after one retry
            assert opinion["failure"] == "parse" and opinion["attempts"] == 2 and opinion["grade"] is None
            assert opinion["raw"] is not None
    summary = record.summary["llm_judge"]
    assert summary["graded"] + sum(summary["failures"].values()) == 1
    assert summary["failures"]["infra"] == 0 and summary["failures"]["rejected"] == 0
    assert summary["models"] and summary["prompt_sha256"] == TOOLCALL_PROMPT_SHA256
    assert summary["mean"]["n"] == summary["graded"]


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Chromium at /usr/bin/chromium")
def test_visual_judge_without_vision_is_a_recorded_failure(smoke_server: str, benchlab_home: Path) -> None:
    # The model under test is scripted so that there is a real chart to render and show the judge.
    with ScriptedServer(Reply.text(fenced(PERFECT_SVG))) as model:
        record = api.run(
            "chart_core",
            server=model.base_url,
            n=2,
            render=True,
            visual_judge=True,
            judge_server=smoke_server,
            options={"browser": "/usr/bin/chromium"},
        )
    assert record.status is RunStatus.FINISHED
    assert record.task_options["visual_judge_prompt_sha256"] == VISUAL_PROMPT_SHA256
    results = api.results(record.run_id)
    assert len(results) == 2
    for result in results:
        assert result.score.error_kind is ErrorKind.NONE and result.score.value > 0  # scored as usual
        assert result.score.details["render"]["status"] == "rendered"
        visual = result.score.details["visual_judge"]
        assert visual["failure"] == "rejected", visual
        assert visual["score"] is None and NO_VISION_HINT in visual["error"]
    asked = [
        r.score.details["visual_judge"] for r in results if r.score.details["visual_judge"].get("asked", True)
    ]
    assert asked and all(
        "image input is not supported" in visual["error"] for visual in asked
    )  # llama.cpp's words
    visual_summary = record.summary["visual_judge"]
    assert visual_summary["failures"]["rejected"] == 2 and visual_summary["graded"] == 0
    assert visual_summary["mean"]["mean"] is None
