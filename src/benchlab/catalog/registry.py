"""The catalog: every definition shipped in `benchlab/catalog/definitions/*.toml` plus the user's
own in `BENCHLAB_HOME/benchmarks/*.toml`.

A user file whose key matches a shipped one replaces it (a local fork of a definition, say with a
private mirror as its source); the registry remembers that and says so, because a silently
replaced definition would make two people's "mmlu" mean different things. A definition that does
not validate is an error naming the file and the field — never a benchmark that quietly vanishes.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from benchlab import settings
from benchlab.catalog.errors import DefinitionError, UnknownBenchmarkError
from benchlab.catalog.spec import TIERS, BenchmarkSpec

# Union tags that pydantic puts into an error location; they name a variant, not a field.
_TAGS = {"hf", "pypi", "file", "builtin", "list", "dict", "labeled", "keys", "pair", "fixed"}
_EXPECTED = {"type": "hf, pypi, file, builtin", "from": "list, dict, labeled, keys, pair, fixed"}


def definitions_dir() -> Path:
    """The folder of shipped definitions inside the installed package."""
    return Path(str(resources.files("benchlab.catalog") / "definitions"))


def user_definitions_dir() -> Path:
    return settings.home() / "benchmarks"


@dataclass(frozen=True)
class Override:
    key: str
    shipped: str
    user: str

    def describe(self) -> str:
        return f"{self.key}: your definition {self.user} replaces the shipped one ({self.shipped})"


@dataclass
class Registry:
    """The loaded catalog, in key order."""

    specs: dict[str, BenchmarkSpec]
    overrides: list[Override] = field(default_factory=list)
    user_keys: set[str] = field(default_factory=set)

    def __contains__(self, key: object) -> bool:
        return key in self.specs

    def __iter__(self) -> Iterator[BenchmarkSpec]:
        return iter(self.specs.values())

    def __len__(self) -> int:
        return len(self.specs)

    def keys(self) -> list[str]:
        return list(self.specs)

    def get(self, key: str) -> BenchmarkSpec:
        try:
            return self.specs[key]
        except KeyError:
            close = difflib.get_close_matches(key, self.specs, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UnknownBenchmarkError(
                f"no benchmark {key!r} in the catalog.{hint} `benchlab list` shows them all."
            ) from None

    def select(self, *selectors: str) -> list[str]:
        """Keys for selectors that are keys or the groups `all`, `current`, `legacy`, `gated`."""
        chosen: list[str] = []
        for selector in selectors or ("all",):
            if selector == "all":
                keys = list(self.specs)
            elif selector in TIERS:
                keys = [spec.key for spec in self.specs.values() if spec.tier == selector]
            else:
                keys = [self.get(selector).key]
            chosen.extend(key for key in keys if key not in chosen)
        return chosen


def parse_definition(path: Path) -> BenchmarkSpec:
    """One definition file, validated; errors name the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DefinitionError(f"{path}: cannot read ({error.strerror}).") from error
    except tomllib.TOMLDecodeError as error:
        raise DefinitionError(f"{path}: not valid TOML ({error}).") from error
    return validate_definition(data, str(path))


def validate_definition(data: dict[str, Any], origin: str) -> BenchmarkSpec:
    try:
        spec = BenchmarkSpec.model_validate(data)
    except ValidationError as error:
        raise DefinitionError(f"{origin}: {readable(error)}") from None
    spec._origin = origin
    return spec


def readable(error: ValidationError) -> str:
    """A pydantic error as `field.path: what is wrong` lines, without pydantic's jargon."""
    lines = []
    for problem in error.errors():
        path = _location(problem.get("loc", ()))
        message = str(problem.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        context = problem.get("ctx") or {}
        if problem.get("type") in ("union_tag_invalid", "union_tag_not_found"):
            name = "type" if "type" in str(context.get("discriminator", "")) else "from"
            path = f"{path}.{name}" if path else name
            expected = str(context.get("expected_tags") or _EXPECTED[name]).replace("'", "")
            tag = context.get("tag")
            message = (
                f"{tag!r} is not one of {expected}" if tag is not None else f"missing; one of {expected}"
            )
        elif problem.get("type") == "extra_forbidden":
            message = "unknown field (check its spelling against docs/catalog.md)"
        elif problem.get("type") == "missing":
            message = "required field is missing"
        lines.append(f"{path}: {message}" if path else message)
    return "; ".join(lines)


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in _TAGS and (isinstance(previous, int) or previous == "options"):
            pass  # the union variant pydantic tried, not a field of the file
        elif isinstance(part, str) and part.startswith("function-"):
            pass
        else:
            name = "from" if part == "from_" else str(part)
            text += f".{name}" if text else name
        previous = part
    return text


@lru_cache(maxsize=1)
def _shipped() -> tuple[tuple[str, BenchmarkSpec], ...]:
    # Shipped definitions never change while the process runs; parse them once.
    found: list[tuple[str, BenchmarkSpec]] = []
    for path in sorted(definitions_dir().glob("*.toml")):
        found.append((str(path), parse_definition(path)))
    return tuple(found)


def load_registry(*, user_dir: Path | None = None, include_user: bool = True) -> Registry:
    """Shipped definitions, then the user's (from `user_dir`, default `BENCHLAB_HOME/benchmarks`);
    a user key equal to a shipped one overrides it."""
    specs: dict[str, BenchmarkSpec] = {}
    origins: dict[str, str] = {}
    for origin, spec in _shipped():
        if spec.key in specs:
            raise DefinitionError(f"{origin}: key {spec.key!r} is already defined in {origins[spec.key]}.")
        specs[spec.key], origins[spec.key] = spec, origin
    overrides: list[Override] = []
    user_keys: set[str] = set()
    folder = user_definitions_dir() if user_dir is None else user_dir
    if include_user and folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            spec = parse_definition(path)
            if spec.key in user_keys:
                raise DefinitionError(f"{path}: key {spec.key!r} is already defined in {origins[spec.key]}.")
            if spec.key in specs:
                overrides.append(Override(spec.key, origins[spec.key], str(path)))
            specs[spec.key], origins[spec.key] = spec, str(path)
            user_keys.add(spec.key)
    return Registry(specs=dict(sorted(specs.items())), overrides=overrides, user_keys=user_keys)


def registry() -> Registry:
    """The catalog as it is now (user definitions are re-read on every call: they are few and
    small, and a stale cache would hide the edit a user just made)."""
    return load_registry()


def get(key: str) -> BenchmarkSpec:
    return registry().get(key)
