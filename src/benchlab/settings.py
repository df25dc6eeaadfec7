"""Where benchlab keeps its files and how a setting is chosen: flag, then environment, then the
config file (`BENCHLAB_HOME/config.toml`), then the default."""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

DEFAULT_SERVER = "http://127.0.0.1:8080"


class SettingsError(ValueError):
    pass


def home() -> Path:
    configured = os.environ.get("BENCHLAB_HOME")
    return Path(configured).expanduser() if configured else Path(platformdirs.user_data_dir("benchlab"))


def ensure_home() -> Path:
    """The data folder, created if needed; a clear error when it cannot be written."""
    path = home()
    try:
        path.mkdir(parents=True, exist_ok=True)
        # A probe of its own: runs in parallel threads or processes check the same folder at once.
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as error:
        raise SettingsError(
            f"BENCHLAB_HOME {path} is not writable ({error.strerror}). "
            "Point BENCHLAB_HOME at a folder you can write to, e.g. `export BENCHLAB_HOME=~/benchlab`."
        ) from error
    return path


def database_path() -> Path:
    return home() / "benchlab.db"


def cache_dir() -> Path:
    return home() / "cache"


def config_file() -> dict[str, Any]:
    path = home() / "config.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"{path}: cannot read the config file ({error}). Fix or remove it.") from error


@dataclass(frozen=True)
class Connection:
    server: str
    model: str | None
    api_key: str | None


def connection(server: str | None = None, model: str | None = None, api_key: str | None = None) -> Connection:
    config = config_file()
    return Connection(
        server=server or os.environ.get("BENCHLAB_SERVER") or config.get("server") or DEFAULT_SERVER,
        model=model or os.environ.get("BENCHLAB_MODEL") or config.get("model") or None,
        api_key=api_key
        or os.environ.get("BENCHLAB_API_KEY")
        or os.environ.get("OPENAI_API_KEY")
        or config.get("api_key")
        or None,
    )
