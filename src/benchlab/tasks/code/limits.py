"""Wall-clock limits per problem, scaled from a run of the reference solution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchlab.tasks.sandbox import Limits


@dataclass(frozen=True)
class TimeoutRule:
    """Wall limit per problem: `max(floor_s, factor × reference run time)`, at most `ceiling_s`.

    The reference run time is that of the row's reference solution with its tests, through the same
    program builder and sandbox (interpreter start-up included). `factor = 0` skips measuring and
    gives every problem the floor. A reference that does not pass gets the ceiling (and one the
    sandbox could not start is measured again the next time, instead of failing the run: the
    model's programs then meet the same sandbox and are recorded as infra errors if it is broken).
    """

    floor_s: float = 5.0
    factor: float = 10.0
    ceiling_s: float = 120.0

    def __post_init__(self) -> None:
        if self.floor_s <= 0 or self.ceiling_s < self.floor_s or self.factor < 0:
            raise ValueError(f"need 0 < floor_s <= ceiling_s and factor >= 0, not {self!r}")

    def wall_seconds(self, reference_seconds: float | None) -> float:
        if reference_seconds is None:
            return self.floor_s
        return min(self.ceiling_s, max(self.floor_s, self.factor * reference_seconds))

    def describe(self) -> str:
        if self.factor == 0:
            return f"{self.floor_s:g} s for every problem"
        return f"max({self.floor_s:g} s, {self.factor:g} × reference run time), at most {self.ceiling_s:g} s"


@dataclass(frozen=True)
class ProblemLimits:
    """The limits one problem's programs run under, and how they were derived."""

    limits: Limits
    reference_seconds: float | None
    reference_status: str  # passed · failed · timeout · crashed · error · not measured · no reference

    def record(self) -> dict[str, Any]:
        return {
            "wall_seconds": self.limits.wall_seconds,
            "cpu_seconds": self.limits.cpu_seconds,
            "reference_seconds": self.reference_seconds,
            "reference_status": self.reference_status,
        }
