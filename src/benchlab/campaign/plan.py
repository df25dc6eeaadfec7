"""A campaign plan: what to run where, read from TOML and expanded into jobs.

```toml
name = "quants"
benchmarks = ["mmlu_formal_logic", "sample"]
n = 100

[[endpoints]]            # a server already running; replicas of one model share the jobs
name = "q8"
urls = ["http://gpu-a:8080", "http://gpu-b:8080"]

[[endpoints]]            # a GGUF file served by the embedded engine while its jobs run
name = "q4"
gguf = "models/model-Q4_K_M.gguf"

[grid]                   # every combination runs on every endpoint and benchmark
think = [false, true]

[[compare]]              # paired comparisons printed at the end
by = "endpoint"          # or a grid key, e.g. "think"
```

On a Ray cluster (`ray = "auto"` or an address, or `--ray ADDRESS`), an endpoint's
`ray_resources = {"gpu-a" = 1}` places its jobs on the nodes that offer those resources.

Every job has a stable tag built from the campaign, endpoint, benchmark and grid values, so
running the plan again resumes each job where it stopped and skips finished ones.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# Settings a grid may vary; each is a keyword of `api.run`.
GRID_KEYS = ("think", "dialect", "temperature", "seed", "shuffle", "max_tokens", "samples")


class PlanError(ValueError):
    """A plan that cannot run; the message names the file, the field and the fix."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointPlan(_Model):
    name: str = Field(pattern=r"^[\w.-]+$")
    urls: list[str] = Field(default_factory=list)  # replicas of the same model
    model: str | None = None
    api_key_env: str | None = None  # the environment variable holding its key (never the key itself)
    gguf: str | None = None  # served by the embedded llama.cpp engine while this endpoint's jobs run
    smoke: bool = False  # serve the generated smoke model (for trying a plan out)
    parallel: int = Field(default=2, ge=1)
    ctx: int | None = Field(default=None, gt=0)
    # On Ray: the resources each of its replica workers asks for, so its jobs run near the endpoint.
    ray_resources: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> EndpointPlan:
        kinds = [bool(self.urls), self.gguf is not None, self.smoke]
        if sum(kinds) != 1:
            raise ValueError(f"endpoint {self.name!r}: give exactly one of `urls`, `gguf` or `smoke = true`")
        negative = [key for key, amount in self.ray_resources.items() if amount < 0]
        if negative:
            raise ValueError(f"endpoint {self.name!r}: ray_resources {negative} must not be negative")
        return self

    @property
    def managed(self) -> bool:
        return self.gguf is not None or self.smoke


class CompareSpec(_Model):
    by: str  # "endpoint" or a grid key: runs that differ only in it are paired
    baseline: Any = None  # the value the others are compared against (default: the first listed)


class Plan(_Model):
    name: str = Field(pattern=r"^[\w.-]+$")
    benchmarks: list[str] = Field(min_length=1)
    endpoints: list[EndpointPlan] = Field(min_length=1)
    n: int | None = Field(default=None, gt=0)
    concurrency: int | None = Field(default=None, gt=0)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    compare: list[CompareSpec] = Field(default_factory=list)
    ray: str | None = None  # "auto" or a Ray address: run the jobs on that cluster

    @field_validator("grid")
    @classmethod
    def _known_keys(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if key not in GRID_KEYS:
                raise ValueError(f"grid key {key!r} is not a run setting; use one of {', '.join(GRID_KEYS)}")
            if not values:
                raise ValueError(f"grid key {key!r} lists no values")
        return grid

    @model_validator(mode="after")
    def _checks(self) -> Plan:
        names = [endpoint.name for endpoint in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError("endpoint names must be unique")
        for spec in self.compare:
            if spec.by != "endpoint" and spec.by not in self.grid:
                raise ValueError(f"compare by {spec.by!r}: not `endpoint` and not a grid key")
        return self


@dataclass(frozen=True)
class Job:
    endpoint: str
    benchmark: str
    settings: tuple[tuple[str, Any], ...]  # the grid values, in grid order

    def tag(self, campaign: str) -> str:
        values = ",".join(f"{key}={_text(value)}" for key, value in self.settings)
        return f"{campaign}/{self.endpoint}/{self.benchmark}" + (f"/{values}" if values else "")

    def setting(self, key: str) -> Any:
        return dict(self.settings).get(key)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def load_plan(path: Path) -> Plan:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PlanError(f"{path}: cannot read ({error.strerror}).") from None
    except tomllib.TOMLDecodeError as error:
        raise PlanError(f"{path}: not valid TOML ({error}).") from None
    try:
        plan = Plan.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'plan'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise PlanError(f"{path}: {problems}") from None
    base = path.parent
    endpoints = [
        endpoint.model_copy(update={"gguf": str((base / endpoint.gguf).resolve())})
        if endpoint.gguf
        else endpoint
        for endpoint in plan.endpoints
    ]
    benchmarks = [
        str((base / b).resolve()) if b.endswith((".jsonl", ".json")) else b for b in plan.benchmarks
    ]
    return plan.model_copy(update={"endpoints": endpoints, "benchmarks": benchmarks})


def jobs(plan: Plan) -> list[Job]:
    """Every endpoint × benchmark × grid combination, endpoint by endpoint."""
    keys = list(plan.grid)
    combos = list(itertools.product(*(plan.grid[key] for key in keys))) or [()]
    return [
        Job(endpoint.name, benchmark, tuple(zip(keys, combo, strict=True)))
        for endpoint in plan.endpoints
        for benchmark in plan.benchmarks
        for combo in combos
    ]


def pairs(plan: Plan, spec: CompareSpec) -> list[tuple[Job, Job]]:
    """(baseline, other) job pairs that differ only in `spec.by`."""
    all_jobs = jobs(plan)
    if spec.by == "endpoint":
        values: list[Any] = [endpoint.name for endpoint in plan.endpoints]
    else:
        values = list(plan.grid[spec.by])
    baseline = spec.baseline if spec.baseline is not None else values[0]

    def key(job: Job) -> tuple[Any, ...]:
        if spec.by == "endpoint":
            return (job.benchmark, job.settings)
        return (job.endpoint, job.benchmark, tuple(item for item in job.settings if item[0] != spec.by))

    def value(job: Job) -> Any:
        return job.endpoint if spec.by == "endpoint" else job.setting(spec.by)

    bases = {key(job): job for job in all_jobs if value(job) == baseline}
    return [(bases[key(job)], job) for job in all_jobs if value(job) != baseline and key(job) in bases]
