"""benchlab's verdicts against the published reference definitions of IFEval's instructions.

The reference is the implementation distributed with lm-evaluation-harness (`lm_eval.tasks.ifeval`,
MIT). It is large to install with its dependencies, so this test runs where it is installed
(`pip install --no-deps lm-eval nltk langdetect immutabledict`) and skips, saying so, elsewhere.
Only its three ifeval modules are loaded, without running the harness's package start-up.

Two instructions need NLTK's punkt tokenizer data in the reference (sentence counting and the word
tokenizer behind capital-word counting); NLTK downloads that data at run time, which benchlab
never does, so those two are compared only where the data is already installed. The deliberate
deviations (docs/instruct.md) are listed in `DEVIATIONS` and asserted to still deviate, so the
list cannot go stale.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import types
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from benchlab.tasks.instruct.evaluate import judge, parse_instructions
from instruct_cases import CASES, TOKENIZER_IDS, Case


def _load_reference() -> types.ModuleType | None:
    if importlib.util.find_spec("lm_eval") is None:
        return None
    for needed in ("nltk", "langdetect", "immutabledict"):
        if importlib.util.find_spec(needed) is None:
            return None
    import nltk

    nltk.download = lambda *args, **kwargs: False  # the reference would fetch data at import time
    spec = importlib.util.find_spec("lm_eval")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    saved = {name: sys.modules.get(name) for name in ("lm_eval", "lm_eval.tasks", "lm_eval.tasks.ifeval")}
    # Bare package objects, so the harness's own __init__ files (and their heavy imports) never run.
    for name, path in (
        ("lm_eval", root),
        ("lm_eval.tasks", root / "tasks"),
        ("lm_eval.tasks.ifeval", root / "tasks" / "ifeval"),
    ):
        if saved[name] is None:
            package = types.ModuleType(name)
            package.__path__ = [str(path)]
            sys.modules[name] = package
    try:
        return importlib.import_module("lm_eval.tasks.ifeval.utils")
    finally:
        # Leave no bare packages behind for other tests that may import the real harness.
        for name in [name for name in sys.modules if name == "lm_eval" or name.startswith("lm_eval.")]:
            if saved.get(name) is None:
                del sys.modules[name]


reference = _load_reference()
pytestmark = pytest.mark.skipif(
    reference is None,
    reason="the IFEval reference is not installed (pip install --no-deps lm-eval nltk immutabledict)",
)


def _punkt_installed() -> bool:
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        nltk.data.find("tokenizers/punkt")
    except LookupError:
        return False
    return True


UNDETECTABLE = "Crumb and Co.\n******\nThe Rising Loaf"  # its loose variant "******" has no letters

# (instruction id, response) pairs where benchlab deliberately differs from the reference, and why.
DEVIATIONS: dict[tuple[str, str], str] = {
    ("language:response_language", UNDETECTABLE): (
        "text with no letters cannot be in the requested language: benchlab fails it, the reference "
        "passes it (its language detector raises and the reference counts that as followed)"
    ),
    ("language:response_language", "12345 !!! ---"): "the same rule, in the strict verdict",
}


def reference_verdicts(
    ids: list[str], kwargs: list[dict[str, Any]], response: str
) -> tuple[list[bool], list[bool]]:
    assert reference is not None
    example = reference.InputExample(key=0, instruction_id_list=ids, prompt="", kwargs=kwargs)
    strict = reference.test_instruction_following_strict(example, response)
    loose = reference.test_instruction_following_loose(example, response)
    return list(strict.follow_instruction_list), list(loose.follow_instruction_list)


def ours(ids: list[str], kwargs: list[dict[str, Any]], response: str) -> tuple[list[bool], list[bool]]:
    verdicts = judge(parse_instructions(ids, kwargs), response)
    return [v.strict for v in verdicts], [v.loose for v in verdicts]


def comparable(instruction_id: str) -> bool:
    return instruction_id not in TOKENIZER_IDS or _punkt_installed()


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_table_agrees_with_the_reference(case: Case) -> None:
    if not comparable(case.instruction_id):
        pytest.skip(f"{case.instruction_id}: the reference needs NLTK punkt data, which is not installed")
    expected = reference_verdicts([case.instruction_id], [case.kwargs], case.response)
    assert ours([case.instruction_id], [case.kwargs], case.response) == expected


# Varied replies, run against every instruction of the built-in suite with its real parameters.
REPLY_POOL = [
    "Sure, here you go:\n<<A Title>>\n* first point\n* second point\n- third point\nP.S. thanks, friend.",
    '```json\n{"name": "Angel Falls", "height_m": 979, "country": "Venezuela"}\n```',
    '"Winter nights are best for stars. Recently the skies were clear."',
    "SECTION 1\nGather the soup pots.\nSECTION 2\nInvite the neighbours.\nSECTION 3\nShare the soup.",
    "dawn broke over the river.\n\nrecently we paddled past the mill.\n\nfinally we rested.",
    "My answer is no. Swimming right after a big meal is usually fine. P.S. Stay near the shore.",
    "Write an invitation to a neighbourhood soup swap. Bring soup, share soup, taste soup, love soup!",
    UNDETECTABLE,
    "KEEP LEFT. HOLD THE RAIL. THE WOOD IS WET AND SLIPPERY.",
    "the rain taps softly on the tin roof all night long and the house listens.",
    "Die bunten Blätter fallen langsam auf den nassen Weg im Stadtpark.",
    "Una nota per te: nutri i gatti due volte al giorno.\n***\nGrazie mille.\n***\nA presto.",
    "Highlights: *local food*, **mountain views** and *quiet trails*. Rent a [bike] or a [kayak] or [tent].",
    "Feed the starter daily\n* use flour\n* use water\n* keep it warm\n* stir it\nHappy baking!",
    'Write a riddle whose answer is "a shadow".\nI follow you all day but vanish at night.',
    "The fox found it by the gate. And the mitten was warm again.",
    "",
]


def _core_rows() -> list[dict[str, Any]]:
    text = (resources.files("benchlab.catalog") / "builtin" / "instruct_core.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_builtin_suite_parameters_agree_with_the_reference_on_a_reply_pool() -> None:
    compared = 0
    disagreements = []
    for row in _core_rows():
        for reply in REPLY_POOL:
            for instruction_id, kwargs in zip(row["instruction_id_list"], row["kwargs"], strict=True):
                if not comparable(instruction_id):
                    continue
                mine = ours([instruction_id], [kwargs], reply)
                theirs = reference_verdicts([instruction_id], [kwargs], reply)
                compared += 1
                if mine != theirs and (instruction_id, reply) not in DEVIATIONS:
                    disagreements.append((row["id"], instruction_id, reply[:40], mine, theirs))
    assert compared > 500
    assert disagreements == []


@pytest.mark.parametrize(("instruction_id", "reply"), list(DEVIATIONS), ids=list(DEVIATIONS.values()))
def test_documented_deviations_still_deviate(instruction_id: str, reply: str) -> None:
    kwargs = [{"language": "de"}]
    assert ours([instruction_id], kwargs, reply) != reference_verdicts([instruction_id], kwargs, reply)
    assert ours([instruction_id], kwargs, reply)[1] == [False]  # never credited, strict or loose
