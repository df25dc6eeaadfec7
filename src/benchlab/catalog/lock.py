"""Lock operations: `status`, `prelock`, `lock`, `relock`, `verify` (DESIGN §4.2).

- `status`: per benchmark — locked? fetched? does the cache match the lock? which sources are
  pinned, and (with `check_upstream`) has a hub branch moved past its pinned commit?
- `prelock`: pin every hub source to the commit its branch points at now, and record which files
  hold the split, without downloading data (so a lock can be prepared where bandwidth is scarce).
- `lock`: read each not-yet-locked benchmark from a source and record hash, rows and pins.
- `relock`: the same for benchmarks already locked — re-pinning hub sources to their branch head
  — and report every change; this is the only way a new upstream enters the lock.
- `verify`: re-read the cached raw data (wheel, hub files) at its pins, normalize again, and
  compare with the lock and with the cached rows; nothing is downloaded.

Writes go to the user's lock (`BENCHLAB_HOME/benchmarks.lock.json`) unless `write_to="package"`,
which updates the lock shipped in the package (a maintainer's step, in a source checkout).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from benchlab.catalog import registry as registry_module
from benchlab.catalog.errors import (
    CatalogError,
    Drift,
    DriftError,
    NotFetchedError,
    SourceError,
    SourceUnavailableError,
)
from benchlab.catalog.fetch import (
    Progress,
    _ignore,
    build,
    check_cache,
    compare_with_lock,
    ordered_sources,
    read_meta,
    write_cache,
)
from benchlab.catalog.lockfile import (
    LockedEntry,
    LockEntry,
    LockFile,
    LockTarget,
    check_against_lock,
    lock_path,
    read_lock,
    read_lock_file,
    write_lock_file,
)
from benchlab.catalog.sources import Pin, hf_head, hf_pin
from benchlab.catalog.spec import BenchmarkSpec, HfSource, source_label

__all__ = [
    "LockChange",
    "LockResult",
    "LockStatus",
    "VerifyResult",
    "check_against_lock",
    "lock",
    "prelock",
    "relock",
    "status",
    "verify",
]


@dataclass(frozen=True)
class LockStatus:
    key: str
    name: str
    tier: str
    kind: str
    locked: bool
    sha256: str | None
    rows: int | None
    source: str | None
    lock_origin: str | None  # "package" (shipped) or "user"
    fetched: bool
    fetched_from: str | None
    drift: Drift | None
    pins: dict[str, str]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.drift is None


@dataclass(frozen=True)
class LockChange:
    key: str
    what: str
    old: str | None
    new: str | None

    def describe(self) -> str:
        return f"{self.key}: {self.what} {self.old or '—'} → {self.new or '—'}"


@dataclass
class LockResult:
    changes: list[LockChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    written: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class VerifyResult:
    key: str
    state: str  # "ok", "drift", "not fetched", "unlocked", "error"
    checked: list[str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _specs(keys: Iterable[str] | None) -> list[BenchmarkSpec]:
    catalog = registry_module.registry()
    return [catalog.get(key) for key in catalog.select(*(keys or []))]


def _describe_pin(source_pin: Pin | None, source_is_hf: bool) -> str:
    if source_pin is None:
        return "not pinned (hub revision to be pinned by prelock)" if source_is_hf else "not pinned"
    if source_pin.revision:
        text = f"commit {source_pin.revision[:12]}"
    elif source_pin.wheel_sha256:
        text = f"{source_pin.wheel} sha256 {source_pin.wheel_sha256[:12]}…"
    elif source_pin.file_sha256:
        text = f"sha256 {source_pin.file_sha256[:12]}…"
    else:
        return "not pinned (hub revision to be pinned by prelock)" if source_is_hf else "not pinned"
    return text + ("" if source_pin.verified else " (rows not yet checked against the lock)")


def status(keys: Iterable[str] | None = None, *, check_upstream: bool = False) -> list[LockStatus]:
    """Locked, fetched and drift state of each benchmark; `check_upstream` asks the hub whether
    a pinned branch has moved (one request per hub source)."""
    lock_entries = read_lock()
    results: list[LockStatus] = []
    for spec in _specs(keys):
        found = lock_entries.get(spec.key)
        entry = found.entry if found else None
        notes: list[str] = []
        pins: dict[str, str] = {}
        drift: Drift | None = None
        for source in spec.sources:
            label = source_label(source)
            pin = entry.pins.get(label) if entry else None
            pins[label] = _describe_pin(pin, isinstance(source, HfSource))
            if isinstance(source, HfSource) and check_upstream and pin and pin.revision:
                try:
                    head = hf_head(source)
                except SourceError as error:
                    notes.append(f"{label}: could not ask the hub ({error})")
                else:
                    if head != pin.revision:
                        drift = drift or Drift(
                            spec.key,
                            "revision",
                            f"commit {pin.revision[:12]}",
                            f"{source.ref} at {head[:12]}",
                            label,
                            "Upstream has moved; the pinned commit is still what is read. "
                            f"Review the change and `benchlab lock relock {spec.key}` to adopt it.",
                        )
        if entry is not None:
            stray = sorted(set(entry.pins) - {source_label(s) for s in spec.sources})
            if stray:
                notes.append(f"lock pins sources the definition no longer has: {', '.join(stray)}")
        locked = entry is not None and entry.sha256 is not None
        if not locked:
            notes.append(
                "not locked: `benchlab lock lock` records its hash once a source can be read "
                "(hub sources need their revision pinned where the hub is reachable)"
            )
        cached = check_cache(spec.key, entry)
        if cached is not None:
            drift = cached.tampered or cached.stale or drift
        meta = read_meta(spec.key) if cached is not None else None
        results.append(
            LockStatus(
                key=spec.key,
                name=spec.name,
                tier=spec.tier,
                kind=spec.kind,
                locked=locked,
                sha256=entry.sha256 if entry else None,
                rows=entry.rows if entry else None,
                source=entry.source if entry else None,
                lock_origin=found.origin if found else None,
                fetched=cached is not None,
                fetched_from=meta.source if meta else None,
                drift=drift,
                pins=pins,
                notes=notes,
            )
        )
    return results


def prelock(keys: Iterable[str] | None = None, *, write_to: LockTarget = "user") -> LockResult:
    """Pin hub sources that have no pinned commit yet, without downloading their data."""
    target = lock_path(write_to)
    lock_file = read_lock_file(target)
    merged = read_lock()
    result = LockResult()
    dirty = False
    for spec in _specs(keys):
        entry = _writable_entry(lock_file, merged, spec.key)
        if spec.key not in lock_file.benchmarks:
            _ensure_pins(spec, entry, prune=False)
            lock_file.benchmarks[spec.key] = entry
            dirty = True
        for source in spec.sources:
            if not isinstance(source, HfSource):
                continue
            label = source_label(source)
            old = entry.pins.get(label)
            if old is not None and old.revision and old.files:
                continue
            try:
                new = hf_pin(source, old)
            except SourceError as error:
                result.problems.append(f"{spec.key}: {error}")
                continue
            entry.pins[label] = new
            lock_file.benchmarks[spec.key] = entry
            dirty = True
            result.changes.append(LockChange(spec.key, f"{label} revision", None, str(new.revision)))
    if dirty:
        write_lock_file(target, lock_file)
        result.written = target
    return result


def lock(
    keys: Iterable[str] | None = None,
    *,
    write_to: LockTarget = "user",
    all_sources: bool = False,
    progress: Progress | None = None,
) -> LockResult:
    """Lock every selected benchmark that has no locked hash yet."""
    return _lock(keys, write_to=write_to, all_sources=all_sources, progress=progress or _ignore, again=False)


def relock(
    keys: Iterable[str] | None = None,
    *,
    write_to: LockTarget = "user",
    all_sources: bool = False,
    progress: Progress | None = None,
) -> LockResult:
    """Lock the selected benchmarks again from upstream as it is now, and report what changed."""
    return _lock(keys, write_to=write_to, all_sources=all_sources, progress=progress or _ignore, again=True)


def _writable_entry(lock_file: LockFile, merged: dict[str, LockedEntry], key: str) -> LockEntry:
    """The entry to edit in the target file, starting from what is in force for the key."""
    if key in lock_file.benchmarks:
        return lock_file.benchmarks[key].model_copy(deep=True)
    in_force = merged.get(key)
    return in_force.entry.model_copy(deep=True) if in_force else LockEntry()


def _ensure_pins(spec: BenchmarkSpec, entry: LockEntry, *, prune: bool) -> None:
    """Every source gets a pin slot, so the lock file shows what is still to be pinned (a hub
    source with `"revision": null`); `prune` drops pins of sources the definition no longer has."""
    labels = [source_label(source) for source in spec.sources]
    for label in labels:
        entry.pins.setdefault(label, Pin())
    if prune:
        for label in [label for label in entry.pins if label not in labels]:
            del entry.pins[label]


def _lock(
    keys: Iterable[str] | None, *, write_to: LockTarget, all_sources: bool, progress: Progress, again: bool
) -> LockResult:
    target = lock_path(write_to)
    lock_file = read_lock_file(target)
    merged = read_lock()
    result = LockResult()
    catalog = registry_module.registry()
    dirty = False
    for spec in _specs(keys):
        if write_to == "package" and spec.key in catalog.user_keys:
            result.problems.append(
                f"{spec.key}: a user definition is locked in the user lock, not the package's"
            )
            continue
        entry = _writable_entry(lock_file, merged, spec.key)
        before = entry.model_dump() if spec.key in lock_file.benchmarks else None
        _ensure_pins(spec, entry, prune=again)
        if entry.sha256 is None or again:
            changes, problems = _lock_one(
                spec, entry, all_sources=all_sources, progress=progress, again=again
            )
            result.problems += problems
            result.changes += changes
        if entry.model_dump() != before:
            lock_file.benchmarks[spec.key] = entry
            dirty = True
    if dirty:
        write_lock_file(target, lock_file)
        result.written = target
    return result


def _lock_one(
    spec: BenchmarkSpec, entry: LockEntry, *, all_sources: bool, progress: Progress, again: bool
) -> tuple[list[LockChange], list[str]]:
    changes: list[LockChange] = []
    problems: list[str] = []
    old_sha, old_rows = entry.sha256, entry.rows
    reference: str | None = None
    unreachable: list[str] = []
    for source in ordered_sources(spec, entry):
        label = source_label(source)
        old_pin = entry.pins.get(label)
        # Relocking re-pins hub sources to their branch head; wheels and files are pinned by
        # their definition, so their pins are simply re-read.
        pin = None if again else old_pin
        try:
            normalized, raw = build(spec, source, pin=pin, allow_drift=again, progress=progress)
        except SourceUnavailableError as error:
            unreachable.append(str(error))
            continue
        except (SourceError, DriftError) as error:
            problems.append(f"{spec.key}: {label}: {error}")
            continue
        except CatalogError as error:
            problems.append(str(error))
            continue
        if reference is None:
            reference = normalized.sha256
            entry.sha256, entry.rows, entry.source = normalized.sha256, normalized.count, label
            write_cache(spec, normalized, raw)
        elif normalized.sha256 != reference:
            problems.append(
                f"{spec.key}: {label} gives sha256 {normalized.sha256[:16]}… ({normalized.count} rows), "
                f"but {entry.source} gave {reference[:16]}… ({entry.rows} rows): sources must agree; "
                "fix the mapping of one of them."
            )
            continue
        new_pin = raw.pin.model_copy(update={"verified": True})
        if old_pin is None or old_pin.model_dump(exclude={"verified"}) != new_pin.model_dump(
            exclude={"verified"}
        ):
            changes.append(LockChange(spec.key, f"{label} pin", _pin_text(old_pin), _pin_text(new_pin)))
        elif not old_pin.verified:
            changes.append(LockChange(spec.key, f"{label} rows", "unchecked", "match the lock"))
        entry.pins[label] = new_pin
        if not all_sources:
            break
    if reference is None:
        problems.append(
            f"{spec.key}: no source could be read:\n" + "\n".join(f"  - {text}" for text in unreachable)
        )
        return changes, problems
    if entry.sha256 != old_sha or entry.rows != old_rows:
        changes.insert(
            0,
            LockChange(
                spec.key,
                "rows",
                f"{old_sha[:16]}… ({old_rows})" if old_sha else None,
                f"{str(entry.sha256)[:16]}… ({entry.rows})",
            ),
        )
    return changes, problems


def _pin_text(pin: Pin | None) -> str | None:
    if pin is None:
        return None
    if pin.revision:
        return f"commit {pin.revision[:12]}"
    if pin.wheel_sha256:
        return f"{pin.wheel} {pin.wheel_sha256[:12]}…"
    if pin.file_sha256:
        return f"sha256 {pin.file_sha256[:12]}…"
    return None


def verify(keys: Iterable[str] | None = None) -> list[VerifyResult]:
    """Re-read what is cached, at its pins, and recompute every hash; never downloads."""
    lock_entries = read_lock()
    results: list[VerifyResult] = []
    for spec in _specs(keys):
        found = lock_entries.get(spec.key)
        entry = found.entry if found else None
        checked: list[str] = []
        problems: list[str] = []
        cached = check_cache(spec.key, entry)
        if cached is not None:
            checked.append(f"cached rows {cached.path.name}")
            if cached.tampered is not None:
                problems.append(cached.tampered.describe())
            elif cached.stale is not None:
                problems.append(cached.stale.describe())
        for source in ordered_sources(spec, entry):
            label = source_label(source)
            pin = entry.pins.get(label) if entry else None
            try:
                normalized, _ = build(spec, source, pin=pin, download=False)
            except NotFetchedError:
                continue
            except DriftError as error:
                checked.append(label)
                problems.append(str(error))
                continue
            except CatalogError as error:
                checked.append(label)
                problems.append(f"{label}: {error}")
                continue
            checked.append(label)
            drift = compare_with_lock(spec.key, entry, normalized, label)
            if drift is not None:
                problems.append(drift.describe())
            elif cached is not None and cached.tampered is None and normalized.sha256 != cached.sha256:
                problems.append(f"{spec.key}: cached rows differ from what {label} gives now")
        if not checked:
            state = "not fetched"
        elif problems:
            state = "drift"
        elif entry is None or entry.sha256 is None:
            state = "unlocked"
        else:
            state = "ok"
        results.append(VerifyResult(spec.key, state, checked, problems))
    return results
