"""Shared fixtures: an isolated BENCHLAB_HOME for every test, and small dataset builders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def benchlab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "benchlab-home"
    monkeypatch.setenv("BENCHLAB_HOME", str(home))
    for name in ("BENCHLAB_SERVER", "BENCHLAB_MODEL", "BENCHLAB_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return home


def make_mcq_file(path: Path, count: int, *, options: int = 4) -> Path:
    """Questions whose right option text is `right-<i>`, so a scripted server can find it."""
    with path.open("w") as handle:
        for index in range(count):
            texts = [f"right-{index}"] + [f"wrong-{index}-{k}" for k in range(1, options)]
            row = {
                "id": f"q{index:03d}",
                "question": f"Question number {index}?",
                "options": {chr(65 + k): text for k, text in enumerate(texts)},
                "answer_idx": 0,
            }
            handle.write(json.dumps(row) + "\n")
    return path
