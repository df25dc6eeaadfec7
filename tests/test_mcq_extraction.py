"""Tests for benchlab.tasks.mcq_extraction: the multiple-choice answer extractor."""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from benchlab.tasks import mcq_extraction
from benchlab.tasks.mcq_extraction import RULES, Extraction, extract_choice, strip_reasoning

ABCD = "ABCD"
TEN = "ABCDEFGHIJ"
ALL26 = [chr(ord("A") + i) for i in range(26)]
CELL = {"A": "Mitochondria", "B": "Nucleus", "C": "Ribosome", "D": "Golgi apparatus"}
CELLS = {"A": "B cells", "B": "T cells", "C": "NK cells", "D": "Macrophages"}
PEOPLE = {"A": "Pasteur", "B": "A. Fleming", "C": "Koch", "D": "Lister"}
COMBO = {"A": "Iron", "B": "Folate", "C": "Zinc", "D": "Both A and B"}
PROTEINS = {"A": "C-reactive protein", "B": "Albumin", "C": "Ferritin", "D": "Transferrin"}
TWINS = {"A": "Yes", "B": "yes", "C": "No", "D": "Unsure"}

RULE_NAMES = [name for name, _ in RULES]
UNPARSEABLE = {"empty", "ambiguous", "out-of-range", "none"}

# (id, reply, letters, option texts, expected letter, expected rule)
CASES: list[tuple[str, str, str | list[str], Mapping[str, str] | None, str | None, str]] = [
    # Prose that begins with "A" / "I" is never option A / I.
    ("prose-a-common", "A common cause of this is B12 deficiency.", ABCD, None, None, "none"),
    ("prose-a-patient", "A patient with these findings most likely has anemia.", ABCD, None, None, "none"),
    ("prose-after-marker", "Answer: A deficiency of iron.", ABCD, None, None, "none"),
    ("prose-as-discussed", "As discussed above, B.", ABCD, None, None, "none"),
    ("prose-i-think", "I think B.", TEN, None, None, "none"),
    ("prose-i-pronoun-marker", "The answer: I think it's B.", TEN, None, None, "none"),
    ("prose-abbreviation", "E. coli is the most common cause.", ABCD, None, None, "none"),
    ("prose-lowercase-article", "The answer is a bit unclear.", ABCD, None, None, "none"),
    ("prose-vitamin-a", "Vitamin A is the correct answer.", ABCD, None, None, "none"),
    ("prose-bold-phrase", "**A common cause** is iron deficiency.", ABCD, None, None, "none"),
    ("lone-lowercase", "a", ABCD, None, None, "none"),
    # Bare and decorated letters.
    ("bare", "C", ABCD, None, "C", "bare-letter"),
    ("bare-paren", "(C)", ABCD, None, "C", "bare-letter"),
    ("bare-period", "C.", ABCD, None, "C", "bare-letter"),
    ("bare-bracket", "[C]", ABCD, None, "C", "bare-letter"),
    ("bare-bold", "**C**", ABCD, None, "C", "bare-letter"),
    ("bare-bold-paren", "**(C)**", ABCD, None, "C", "bare-letter"),
    ("bare-option-word", "Option C", ABCD, None, "C", "bare-letter"),
    ("bare-fullwidth", "Ｃ", ABCD, None, "C", "bare-letter"),
    ("leading-paren-text", "C) Ribosome", ABCD, CELL, "C", "leading-letter"),
    ("leading-colon-text", "C: Ribosome", ABCD, CELL, "C", "leading-letter"),
    ("leading-because", "(B) because the nucleus stores the DNA", ABCD, CELL, "B", "leading-letter"),
    ("leading-bold-dash", "**B** — the nucleus stores the DNA", ABCD, None, "B", "leading-letter"),
    (
        "leading-then-explanation",
        "B\n\nExplanation: the nucleus stores the DNA.",
        ABCD,
        None,
        "B",
        "leading-letter",
    ),
    ("closing-line", "Let me go through the options.\n\nB", ABCD, None, "B", "closing-letter"),
    (
        "marked-in-prose",
        "Let me think.\n\nThe nucleus holds the DNA, so (B) fits best.",
        ABCD,
        None,
        "B",
        "marked-letter",
    ),
    ("marked-after-dismissal", "(A) is wrong because of X. (C) fits.", ABCD, None, "C", "marked-letter"),
    # Explicit markers.
    ("marker-colon", "Answer: C", ABCD, None, "C", "answer-marker"),
    ("marker-is-paren", "The answer is (C).", ABCD, None, "C", "answer-marker"),
    ("marker-final-bold", "Final answer: **C**", ABCD, None, "C", "answer-marker"),
    ("marker-upper", "ANSWER: C", ABCD, None, "C", "answer-marker"),
    ("marker-lowercase-letter", "answer: c", ABCD, None, "C", "answer-marker"),
    ("marker-boxed", "So the result is $\\boxed{C}$.", ABCD, None, "C", "answer-marker"),
    ("marker-boxed-text", "\\boxed{\\text{(D)}}", ABCD, None, "D", "answer-marker"),
    ("marker-correct-option", "Correct option: C", ABCD, None, "C", "answer-marker"),
    ("marker-post", "C is the correct answer.", ABCD, None, "C", "answer-marker"),
    ("marker-with-text", "Answer: C) Ribosome", ABCD, CELL, "C", "answer-marker"),
    ("marker-go-with", "It is hard to say, but I'd go with (D).", ABCD, None, "D", "answer-marker"),
    ("marker-json", '{"answer": "B"}', ABCD, None, "B", "answer-marker"),
    ("marker-heading", "**Final Answer**\n\nC", ABCD, None, "C", "answer-marker"),
    (
        "marker-a-because",
        "The answer is A because the mitochondria make ATP.",
        ABCD,
        None,
        "A",
        "answer-marker",
    ),
    ("marker-fullwidth", "ｔｈｅ\u3000ａｎｓｗｅｒ\u3000ｉｓ\u3000（Ｂ）", ABCD, None, "B", "answer-marker"),
    ("marker-nbsp", "Answer:\u00a0D", ABCD, None, "D", "answer-marker"),
    ("marker-zero-width", "Answer:\u200b D", ABCD, None, "D", "answer-marker"),
    ("marker-crlf", "Hmm.\r\nAnswer:\r\nD\r\n", ABCD, None, "D", "answer-marker"),
    ("marker-my-choice", "My choice: C", ABCD, None, "C", "answer-marker"),
    ("marker-i-choose", "After weighing them, I choose B.", ABCD, None, "B", "answer-marker"),
    ("marker-tag", "<answer>D</answer>", ABCD, None, "D", "answer-marker"),
    ("marker-letter-is-word", "Answer: B12 deficiency", ABCD, None, None, "none"),
    ("marker-negated-qualifier", "The incorrect answer is A.", ABCD, None, None, "none"),
    ("marker-negated-verb", "I wouldn't choose A.", ABCD, None, None, "none"),
    # The final explicit marker overrides earlier mentions.
    ("final-overrides", "I first thought A. Final answer: C", ABCD, None, "C", "answer-marker"),
    ("final-settles-hedge", "The answer is A or B. Final answer: B", ABCD, None, "B", "answer-marker"),
    ("later-marker-wins", "My answer: A\nOn reflection, the answer is D.", ABCD, None, "D", "answer-marker"),
    (
        "later-negation-ignored",
        "Answer: B\nThe answer is definitely not C.",
        ABCD,
        None,
        "B",
        "answer-marker",
    ),
    # Letters outside this question's options.
    ("out-of-range-marker", "Answer: F", ABCD, None, None, "out-of-range"),
    ("out-of-range-bare", "E", ABCD, None, None, "out-of-range"),
    ("out-of-range-i", "I", ABCD, None, None, "out-of-range"),
    ("out-of-range-last-marker", "Answer: B. Wait - final answer: F", ABCD, None, None, "out-of-range"),
    # Reasoning is not the answer.
    ("think-only", "<think>The answer is B</think>", ABCD, None, None, "empty"),
    ("think-unterminated", "<think>The answer is B", ABCD, None, None, "empty"),
    ("think-then-answer", "<think>Maybe A.</think>\n\nThe answer is C.", ABCD, None, "C", "answer-marker"),
    ("think-unterminated-after", "Answer: A <think>wait, maybe B", ABCD, None, "A", "answer-marker"),
    ("think-stray-close", "The answer is B.</think>\n\nAnswer: D", ABCD, None, "D", "answer-marker"),
    ("think-stray-close-only", "The answer is B.</think>", ABCD, None, None, "empty"),
    ("empty", "", ABCD, None, None, "empty"),
    ("blank", "  \n\t ", ABCD, None, None, "empty"),
    # Several letters without a deciding marker.
    ("hedge-or", "A or B", ABCD, None, None, "ambiguous"),
    ("hedge-either", "Either B or C.", ABCD, None, None, "ambiguous"),
    ("hedge-marker", "The answer is A or B.", ABCD, None, None, "ambiguous"),
    ("hedge-parens", "(B) or (C)", ABCD, None, None, "ambiguous"),
    ("hedge-two-lines", "B\nC", ABCD, None, None, "ambiguous"),
    ("hedge-listed-options", "A) Mitochondria - no\nB) Nucleus - yes", ABCD, CELL, None, "ambiguous"),
    ("hedge-two-marks", "The nucleus (B), or maybe the ribosome (C).", ABCD, None, None, "ambiguous"),
    ("hedge-in-prose", "I'm torn between B and C.", ABCD, None, None, "ambiguous"),
    ("hedge-texts", "The answer is mitochondria or the ribosome.", ABCD, CELL, None, "ambiguous"),
    ("marked-not-other", "The nucleus (B), not (C).", ABCD, None, "B", "marked-letter"),
    ("marked-ignores-out-of-range", "Low vitamin (K) points to (D).", ABCD, None, "D", "marked-letter"),
    (
        "marked-rules-out",
        "This rules out **A**; the Golgi apparatus, **D**, fits.",
        ABCD,
        None,
        "D",
        "marked-letter",
    ),
    ("dismissed-both", "(A) and (B) are wrong.", ABCD, None, None, "none"),
    ("dismissed-only", "Option (A) is tempting, but wrong.", ABCD, None, None, "none"),
    # The option's text instead of its letter.
    ("text-whole", "Ribosome", ABCD, CELL, "C", "option-text"),
    ("text-normalized", "the ribosome.", ABCD, CELL, "C", "option-text"),
    ("text-first-line", "Golgi apparatus\n\nIt packages proteins.", ABCD, CELL, "D", "option-text"),
    ("text-with-letters", "Both A and B", ABCD, COMBO, "D", "option-text"),
    ("text-initial", "A. Fleming", ABCD, PEOPLE, "B", "option-text"),
    ("text-duplicate", "Yes", ABCD, TWINS, None, "ambiguous"),
    ("marker-text", "The answer is mitochondria.", ABCD, CELL, "A", "marker-text"),
    ("marker-text-letter-noun", "Answer: B cells", ABCD, CELLS, "A", "marker-text"),
    ("marker-text-hyphen", "Answer: C-reactive protein", ABCD, PROTEINS, "A", "marker-text"),
    (
        "marker-text-not-letter-c",
        "Answer: C",
        ABCD,
        {"A": "C", "B": "N", "C": "O", "D": "H"},
        "C",
        "answer-marker",
    ),
    # Ten options (A-J), where "I" is a real option, and 26 options.
    ("ten-j", "J", TEN, None, "J", "bare-letter"),
    ("ten-marker-j", "Answer: J", TEN, None, "J", "answer-marker"),
    ("ten-pronoun", "I think the answer is B", TEN, None, "B", "answer-marker"),
    ("ten-bare-i", "I", TEN, None, "I", "bare-letter"),
    ("ten-marker-i", "The answer is I.", TEN, None, "I", "answer-marker"),
    ("ten-pronoun-then-mark", "I believe (H) is right.", TEN, None, "H", "answer-marker"),
    ("ten-list-letters", "Answer: H", list(TEN), None, "H", "answer-marker"),
    ("twenty-six", "Answer: Z", ALL26, None, "Z", "answer-marker"),
]


@pytest.mark.parametrize(
    ("reply", "letters", "texts", "letter", "rule"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_extract_choice(
    reply: str, letters: str | list[str], texts: Mapping[str, str] | None, letter: str | None, rule: str
) -> None:
    got = extract_choice(reply, letters, texts)
    assert (got.letter, got.rule) == (letter, rule), got.detail


def test_table_is_large_and_ids_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) >= 45
    assert len(set(ids)) == len(ids)


def test_table_exercises_every_rule() -> None:
    assert {case[5] for case in CASES} == set(RULE_NAMES)


def test_rules_are_unique_and_described() -> None:
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)
    for name, description in RULES:
        assert re.fullmatch(r"[a-z]+(?:-[a-z]+)*", name)
        assert description.strip()


def _returned_rule_names() -> set[str]:
    """Rule names the extractor's source can put in an Extraction, found by reading the code.

    Looks, in every module of the package, at the second argument of `Extraction(...)` and
    `_decide(...)` calls and at assignments to a variable named `rule`, following conditional
    expressions.
    """
    modules = sorted(Path(mcq_extraction.__file__).parent.glob("*.py"))
    trees = [ast.parse(module.read_text(encoding="utf-8")) for module in modules]
    values: list[ast.expr] = []
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) >= 2:
            if node.func.id in ("Extraction", "_decide"):
                values.append(node.args[1])
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "rule" for t in node.targets
        ):
            values.append(node.value)
    names: set[str] = set()
    while values:
        value = values.pop()
        if isinstance(value, ast.IfExp):
            values += [value.body, value.orelse]
        elif isinstance(value, ast.Constant) and isinstance(value.value, str):
            names.add(value.value)
    return names


def test_rules_list_every_returned_name() -> None:
    returned = _returned_rule_names()
    # The scan must see the literal names (guards against the scan silently finding nothing).
    assert {"answer-marker", "bare-letter", "leading-letter", "closing-letter", "out-of-range"} <= returned
    assert returned <= set(RULE_NAMES)
    assert set(RULE_NAMES) - returned == set(), "a rule in RULES is never returned"


def test_invariants_on_generated_replies() -> None:
    """Whatever the reply, the result is a valid letter with a deciding rule, or unparseable."""
    pieces = [
        "A", "B", "C", "D", "E", "I", "a", "(B)", "**C**", "[D]", "Answer:", "answer is", "Final answer:",
        "or", "and", ",", ".", "\n", "<think>", "</think>", "The", "common", "I think", "\\boxed{A}",
        "Ribosome", "is correct", "not", "option", "I'd go with", "—", ")", "Ｃ", "\u00a0", "mitochondria",
    ]  # fmt: skip
    rng = random.Random(20240607)
    for _ in range(3000):
        reply = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        letters = rng.choice([ABCD, TEN, "AB"])
        texts = CELL if rng.random() < 0.5 else None
        got = extract_choice(reply, letters, texts)
        assert got.rule in RULE_NAMES, (reply, got)
        if got.letter is None:
            assert got.rule in UNPARSEABLE, (reply, got)
        else:
            assert got.letter in letters and got.rule not in UNPARSEABLE, (reply, got)
        assert extract_choice(reply, letters, texts) == got  # deterministic


def test_reply_none_is_empty() -> None:
    assert extract_choice(None, ABCD) == Extraction(None, "empty", "empty reply")


def test_letters_forms_and_validation() -> None:
    assert extract_choice("Answer: b", ["a", "b"]).letter == "B"
    assert extract_choice("nucleus", ABCD, {"b": "Nucleus"}).letter == "B"
    for bad in ([], ["A", "A"], ["AB"], ["1"], ["Ä"]):
        with pytest.raises(ValueError):
            extract_choice("A", bad)


def test_option_texts_outside_letters_are_ignored() -> None:
    assert extract_choice("Zinc", "AB", {"A": "Iron", "B": "Folate", "C": "Zinc"}).rule == "none"


def test_extraction_is_frozen_and_detailed() -> None:
    got = extract_choice("Thinking about it... the answer is (C).", ABCD)
    assert got.detail and "(C)" in got.detail
    with pytest.raises(FrozenInstanceError):
        setattr(got, "letter", "A")  # noqa: B010 - assigning to a frozen field must fail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no reasoning here", "no reasoning here"),
        ("<think>a</think>b", "b"),
        ("<think>a</think>b<think>c</think>d", "bd"),
        ("<THINK>x</THINK>y", "y"),
        ("b<think>unterminated", "b"),
        ("reasoning</think>answer", "answer"),
        ("r1</think>mid<think>r2</think>end", "midend"),
        ("<think>\nline\n</think>\n\nC", "\n\nC"),
        ("", ""),
    ],
)
def test_strip_reasoning(text: str, expected: str) -> None:
    assert strip_reasoning(text) == expected


def test_docs_table_matches_rules() -> None:
    doc = Path(__file__).resolve().parents[1] / "docs" / "answer-extraction.md"
    rows = re.findall(r"^\|\s*\d+\s*\|\s*`([a-z-]+)`\s*\|", doc.read_text(encoding="utf-8"), re.MULTILINE)
    assert rows == RULE_NAMES


def test_long_reply_is_handled() -> None:
    reply = "Let me weigh each option. A common confusion is the nucleus. " * 200 + "\nFinal answer: **C**"
    assert extract_choice(reply, ABCD, CELL) == Extraction("C", "answer-marker", "Final answer: C")
