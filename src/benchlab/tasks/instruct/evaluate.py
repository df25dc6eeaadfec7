"""Strict and loose verdicts for one response against a prompt's list of instructions.

Strict: the response as given. Loose (IFEval's documented relaxation, which forgives a chatty
first line such as "Sure, here it is:" or a closing remark, and markdown emphasis): an
instruction is followed if any of eight variants follows it: the response, without its first
line, without its last line, without both, and each of those four with every `*` removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchlab.tasks.instruct.verifiers import InstructionError, Params, Verifier, get_verifier


@dataclass(frozen=True)
class Instruction:
    """One instruction of a prompt, its parameters already validated."""

    verifier: Verifier
    params: Params

    @property
    def id(self) -> str:
        return self.verifier.id


@dataclass(frozen=True)
class Verdict:
    instruction_id: str
    strict: bool
    loose: bool


def parse_instructions(ids: Any, kwargs: Any) -> list[Instruction]:
    """A row's `instruction_id_list` and `kwargs` (as read from the row, so of any type), checked:
    a list of ids, one kwargs object (or null) per id, known ids, valid parameters. Raises
    `InstructionError` naming the instruction at fault."""
    if not isinstance(ids, list | tuple) or not ids or not all(isinstance(item, str) for item in ids):
        raise InstructionError("instruction_id_list must be a non-empty list of instruction ids")
    if kwargs is None:
        kwargs = [{} for _ in ids]
    if not isinstance(kwargs, list | tuple) or len(kwargs) != len(ids):
        raise InstructionError(
            f"kwargs must be a list with one object per instruction ({len(ids)}), got {kwargs!r}"
        )
    instructions = []
    for instruction_id, given in zip(ids, kwargs, strict=True):
        if given is not None and not isinstance(given, Mapping):
            raise InstructionError(f"{instruction_id}: kwargs must be an object, got {given!r}")
        verifier = get_verifier(instruction_id)
        instructions.append(Instruction(verifier, verifier.parse(given)))
    return instructions


def loose_variants(response: str) -> list[str]:
    lines = response.split("\n")
    trimmed = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return trimmed + [variant.replace("*", "") for variant in trimmed]


def judge(instructions: Sequence[Instruction], response: str) -> list[Verdict]:
    # Variants that repeat one already tried (a one-line reply has several empty ones) are skipped.
    variants = [v for i, v in enumerate(loose_variants(response)) if i and v != response]
    variants = list(dict.fromkeys(variants))
    verdicts = []
    for instruction in instructions:
        follows = instruction.verifier.follows
        strict = follows(response, instruction.params)
        loose = strict or any(follows(variant, instruction.params) for variant in variants)
        verdicts.append(Verdict(instruction.id, strict, loose))
    return verdicts
