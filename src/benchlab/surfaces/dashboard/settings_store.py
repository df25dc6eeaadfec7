"""The dashboard's own settings: a display title and reference baselines.

Baselines ship in `baselines.toml` (each a published figure with its source and date). The Setup
panel saves the user's title and baselines to `BENCHLAB_HOME/dashboard.json`; a user baseline
replaces the shipped one with the same label and benchmark, and adds to them otherwise.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchlab import settings

DEFAULT_TITLE = "benchlab"


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=120)
    benchmark: str = Field(min_length=1, max_length=120)
    value: float = Field(ge=0.0, le=1.0)
    source: str = Field(min_length=1, max_length=400)
    date: str = Field(min_length=1, max_length=40)


class DashboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default=DEFAULT_TITLE, max_length=120)
    baselines: list[Baseline] = Field(default_factory=list)


class SetupError(ValueError):
    """The saved dashboard settings cannot be read or the submitted ones are invalid."""


def settings_path() -> Path:
    return settings.home() / "dashboard.json"


def shipped_baselines() -> list[Baseline]:
    text = resources.files("benchlab.surfaces.dashboard").joinpath("baselines.toml").read_text("utf-8")
    return [Baseline.model_validate(entry) for entry in tomllib.loads(text).get("baseline", [])]


def load_user() -> DashboardSettings:
    path = settings_path()
    if not path.is_file():
        return DashboardSettings()
    try:
        return DashboardSettings.model_validate_json(path.read_text("utf-8"))
    except (OSError, ValidationError) as error:
        raise SetupError(f"{path}: cannot read the dashboard settings ({error}). Fix or remove it.") from None


def validate(payload: Any) -> DashboardSettings:
    try:
        return DashboardSettings.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise SetupError(f"invalid settings: {problems}") from error


def save_user(chosen: DashboardSettings) -> None:
    path = settings_path()
    settings.ensure_home()
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(chosen.model_dump_json(indent=2), encoding="utf-8")
    os.replace(temporary, path)  # atomic: a crash never leaves half a file


def effective() -> dict[str, Any]:
    """The title and the merged baselines, each marked with where it came from."""
    user = load_user()
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for baseline in shipped_baselines():
        merged[(baseline.label, baseline.benchmark)] = {**baseline.model_dump(), "origin": "shipped"}
    for baseline in user.baselines:
        merged[(baseline.label, baseline.benchmark)] = {**baseline.model_dump(), "origin": "user"}
    return {"title": user.title, "baselines": list(merged.values()), "user": user.model_dump()}
