"""What a verifier is: an IFEval instruction id, the typed parameters its rows carry, and a check.

Parameters are validated with pydantic so that a malformed row (a typo in a key, a count given as
text, an unknown relation) is reported with the instruction and field at fault, before any model
is asked anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class InstructionError(ValueError):
    """An instruction a row cannot be checked with: unknown id or bad parameters."""


class Params(BaseModel):
    """The parameters of one instruction (`kwargs` in IFEval rows). Unknown keys are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoParams(Params):
    pass


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class Verifier(Generic[P]):
    id: str  # IFEval's instruction id, e.g. "punctuation:no_comma"
    checks: str  # what is checked, in one sentence (docs and reports)
    params: type[P]
    check: Callable[[str, P], bool]

    def parse(self, kwargs: Mapping[str, Any] | None) -> P:
        """The instruction's parameters; `None` values are dropped (the hub copy of IFEval gives
        every row every key, most of them null)."""
        given = {key: value for key, value in (kwargs or {}).items() if value is not None}
        try:
            return self.params.model_validate(given)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc']) or '(row)'}: {item['msg']}"
                for item in error.errors()
            )
            expected = ", ".join(self.params.model_fields) or "no parameters"
            raise InstructionError(
                f"{self.id}: bad parameters {given!r} ({problems}); expected {expected}"
            ) from None

    def follows(self, response: str, params: P) -> bool:
        """Whether the response follows the instruction. An empty or blank response follows none."""
        return bool(response.strip()) and self.check(response, params)
