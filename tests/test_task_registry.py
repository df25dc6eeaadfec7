"""Task kinds are looked up by the dataset's kind and built from one `TaskSettings`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchlab import api
from benchlab.catalog.datasets import Dataset
from benchlab.cli import _task_options, app
from benchlab.endpoints.dialects import UnknownDialect, with_dialect
from benchlab.tasks.mcq import McqTask
from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task
from conftest import make_mcq_file


def test_mcq_settings_reach_the_task() -> None:
    task = build_task("mcq", TaskSettings(shuffle=False))
    assert isinstance(task, McqTask) and task.options()["shuffle"] is False


def test_settings_a_kind_cannot_use_are_refused_with_the_flag_named() -> None:
    with pytest.raises(TaskSettingsError, match="--samples"):
        build_task("mcq", TaskSettings(samples=3))


def test_an_unknown_kind_names_the_available_ones() -> None:
    with pytest.raises(TaskSettingsError, match=r"available task kinds: .*mcq"):
        build_task("telepathy", TaskSettings())


def test_api_reports_the_dataset_with_the_problem(tmp_path: Path) -> None:
    dataset = Dataset(key="odd", kind="telepathy", samples=[], sha256="0" * 64, path=str(tmp_path))
    with pytest.raises(api.RunError, match=r"^odd: telepathy benchmarks cannot run yet"):
        api.task_for(dataset)


def test_task_options_read_json_values_and_keep_text() -> None:
    assert _task_options(["quality=7", "strict=true", "name=plain text", "levels=[1, 2]"]) == {
        "quality": 7,
        "strict": True,
        "name": "plain text",
        "levels": [1, 2],
    }


def test_a_malformed_option_is_a_usage_error(tmp_path: Path) -> None:
    data = make_mcq_file(tmp_path / "q.jsonl", 3)
    result = CliRunner().invoke(app, ["run", str(data), "--option", "no-equals-sign"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.stderr


def test_unknown_dialects_are_named() -> None:
    async def chat(*args: object, **kwargs: object) -> object:
        raise AssertionError("not called")

    with pytest.raises(UnknownDialect, match="raw, hermes, qwen, pi"):
        with_dialect(chat, "klingon")  # type: ignore[arg-type]
