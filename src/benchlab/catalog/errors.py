"""The errors the catalog raises, each a `DatasetError` so surfaces that already report a bad dataset
report these too. Every message says where the problem is (definition file, field, source, row)
and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass

from benchlab.catalog.datasets import DatasetError


class CatalogError(DatasetError):
    """Anything the catalog cannot do; the message names the benchmark or file and the fix."""


class DefinitionError(CatalogError):
    """A benchmark definition that does not validate: names the file and the field."""


class UnknownBenchmarkError(CatalogError):
    """A key that no definition has."""


class MappingError(CatalogError):
    """An upstream row the definition's mapping cannot turn into a sample.

    `field` is the mapping field that failed (``options``, ``answer``…); the caller adds where the
    row came from, so the message can name the definition file, the source and the record.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.detail = message


class SourceError(CatalogError):
    """A source that could not deliver its data (download failed, file missing, gated set)."""


class SourceUnavailableError(SourceError):
    """The source cannot be reached from here (no network, hub down); another source may work."""


class NotFetchedError(SourceUnavailableError):
    """The data is not in the local cache and could not (or was not to) be downloaded."""


@dataclass(frozen=True)
class Drift:
    """A difference between what the lock pins and what was found.

    `kind` is ``hash`` (the normalized rows differ), ``rows`` (only the count was checked),
    ``wheel`` (a cached wheel's bytes differ from the pinned wheel), ``revision`` (the upstream
    branch has moved past the pinned commit) or ``cache`` (the normalized cache file was changed
    after it was written).
    """

    key: str
    kind: str
    expected: str
    actual: str
    source: str | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.kind == "cache":
            text = (
                f"{self.key}: the cached file {self.source} was written as {self.expected} "
                f"but now has {self.actual}"
            )
        else:
            where = f" from {self.source}" if self.source else ""
            text = f"{self.key}: {self.kind} drift{where}: lock has {self.expected}, found {self.actual}"
        return f"{text}. {self.detail}" if self.detail else text + "."


class DriftError(CatalogError):
    """Data that differs from the lock; refused unless the caller allows drift."""

    def __init__(self, drift: Drift, hint: str) -> None:
        super().__init__(f"{drift.describe()} {hint}".strip())
        self.drift = drift
