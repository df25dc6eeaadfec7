"""The IFEval instruction verifiers, one module per family, gathered by instruction id."""

from __future__ import annotations

from benchlab.tasks.instruct.verifiers import case_language, content_format, keywords, length, structure
from benchlab.tasks.instruct.verifiers.base import InstructionError, Params, Verifier

VERIFIERS: dict[str, Verifier] = {
    verifier.id: verifier
    for family in (keywords, length, content_format, structure, case_language)
    for verifier in family.VERIFIERS
}


def get_verifier(instruction_id: str) -> Verifier:
    try:
        return VERIFIERS[instruction_id]
    except KeyError:
        family = instruction_id.split(":", 1)[0]
        near = sorted(name for name in VERIFIERS if name.startswith(family + ":")) or sorted(VERIFIERS)
        raise InstructionError(
            f"unknown instruction id {instruction_id!r}; known ids include: {', '.join(near)}"
        ) from None


__all__ = ["VERIFIERS", "InstructionError", "Params", "Verifier", "get_verifier"]
