"""IFEval's 25 instruction verifiers on passing and failing responses, strict and loose; the text
measurements underneath (sentences, words, paragraphs, language); malformed instructions."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchlab.tasks.instruct.evaluate import judge, loose_variants, parse_instructions
from benchlab.tasks.instruct.text import (
    compare,
    count_words,
    detect_language,
    divider_paragraphs,
    first_word,
    split_sentences,
)
from benchlab.tasks.instruct.verifiers import VERIFIERS, InstructionError, get_verifier
from instruct_cases import CASES, Case

IFEVAL_IDS = {
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:number_words",
    "length_constraints:nth_paragraph_first_word",
    "detectable_content:postscript",
    "detectable_content:number_placeholders",
    "detectable_format:number_bullet_lists",
    "detectable_format:constrained_response",
    "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections",
    "detectable_format:json_format",
    "detectable_format:title",
    "combination:repeat_prompt",
    "combination:two_responses",
    "startend:quotation",
    "startend:end_checker",
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "punctuation:no_comma",
}


def test_every_ifeval_instruction_has_a_verifier_and_table_rows_both_ways() -> None:
    assert set(VERIFIERS) == IFEVAL_IDS
    for instruction_id in IFEVAL_IDS:
        verdicts = {case.strict for case in CASES if case.instruction_id == instruction_id}
        assert verdicts == {True, False}, f"{instruction_id} lacks a passing or a failing case"


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_verdicts(case: Case) -> None:
    (instruction,) = parse_instructions([case.instruction_id], [case.kwargs])
    (verdict,) = judge([instruction], case.response)
    assert (verdict.strict, verdict.loose) == (case.strict, case.expected_loose)


def test_empty_and_blank_responses_follow_nothing() -> None:
    # Even instructions an empty text trivially satisfies (no comma, few words) fail on it.
    for instruction_id, kwargs in [
        ("punctuation:no_comma", {}),
        ("length_constraints:number_words", {"num_words": 10, "relation": "less than"}),
        ("keywords:forbidden_words", {"forbidden_words": ["x"]}),
    ]:
        instructions = parse_instructions([instruction_id], [kwargs])
        for response in ("", "  \n "):
            assert judge(instructions, response)[0].loose is False


def test_loose_variants_are_the_documented_eight() -> None:
    variants = loose_variants("Sure:\n*a*\nbye")
    assert variants == [
        "Sure:\n*a*\nbye",
        "*a*\nbye",
        "Sure:\n*a*",
        "*a*",
        "Sure:\na\nbye",
        "a\nbye",
        "Sure:\na",
        "a",
    ]


def test_several_instructions_are_judged_one_by_one() -> None:
    instructions = parse_instructions(
        ["punctuation:no_comma", "detectable_format:title", "startend:end_checker"],
        [{}, None, {"end_phrase": "Bye."}],
    )
    verdicts = judge(instructions, "<<Note>>\nNo commas here. Bye.")
    assert [(v.instruction_id, v.strict) for v in verdicts] == [
        ("punctuation:no_comma", True),
        ("detectable_format:title", True),
        ("startend:end_checker", True),
    ]
    assert [v.strict for v in judge(instructions, "<<Note>>\nOne, two. Bye now.")] == [False, True, False]


@pytest.mark.parametrize(
    ("ids", "kwargs", "message"),
    [
        (
            ["keywords:nonsense"],
            [{}],
            "unknown instruction id 'keywords:nonsense'; known ids include: keywords:",
        ),
        (["keywords:frequency"], [{"keyword": "a", "frequency": 2, "relation": "about"}], "relation"),
        (
            ["keywords:frequency"],
            [{"keyword": "a", "frequency": "many", "relation": "at least"}],
            "frequency",
        ),
        (["punctuation:no_comma"], [{"typo": 1}], "typo"),
        (["detectable_format:title"], [{}, {}], "one object per instruction"),
        ([], [], "non-empty list"),
        (
            ["keywords:letter_frequency"],
            [{"letter": "ab", "let_frequency": 1, "let_relation": "at least"}],
            "letter",
        ),
        (
            ["length_constraints:nth_paragraph_first_word"],
            [{"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "so"}],
            "past num_paragraphs",
        ),
        (["detectable_format:title"], ["title"], "kwargs must be an object"),
    ],
)
def test_malformed_instructions_are_refused_with_the_reason(ids: list, kwargs: list, message: str) -> None:
    with pytest.raises(InstructionError, match=message.replace("(", r"\(")):
        parse_instructions(ids, kwargs)


def test_null_parameters_from_the_hub_copy_are_ignored() -> None:
    verifier = get_verifier("detectable_format:title")
    assert verifier.parse({"num_words": None, "keywords": None}) == verifier.params()


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        ("Mr. Smith met Dr. Jones at 3.30 p.m. today. They talked.", None),
        ("It costs 2.50 in the U.S.A. now. Really.", ["It costs 2.50 in the U.S.A. now.", "Really."]),
        ("Wait... what happened? Nothing", ["Wait... what happened?", "Nothing"]),
        ("A heading\n\nThen a sentence. And another.", ["A heading", "Then a sentence.", "And another."]),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("Visit example.com for more. Thanks.", ["Visit example.com for more.", "Thanks."]),
        ("J. R. Tolkien wrote books. Many.", ["J. R. Tolkien wrote books.", "Many."]),
        ("", []),
    ],
)
def test_sentence_splitting(text: str, sentences: list[str] | None) -> None:
    if sentences is None:  # only the count matters here
        assert len(split_sentences(text)) == 2
    else:
        assert split_sentences(text) == sentences


def test_words_paragraphs_first_words_and_relations() -> None:
    assert count_words("Don't stop: 3.5 e-mails, naïve café!") == 9  # Don t stop 3 5 e mails naïve café
    assert divider_paragraphs("a\n***\nb") == ["a", "b"]
    assert divider_paragraphs("a\n***\n***\nb") is None
    assert first_word("'Hello, world") == "hello" and first_word("") == ""
    assert compare(3, "at least", 3) and not compare(3, "less than", 3)
    with pytest.raises(ValueError, match="unknown relation"):
        compare(1, "more than", 0)


def test_language_detection_is_deterministic_and_offline() -> None:
    text = "Das ist ein kurzer Satz über das Wetter in der Stadt."
    assert {detect_language(text) for _ in range(5)} == {"de"}
    assert detect_language("12345 !!! ---") is None  # nothing to detect from


# One valid parameter set per instruction, for the property tests below.
SAMPLE_PARAMS = {case.instruction_id: case.kwargs for case in CASES}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [*"aZé,.!?*-[]<>{}\"' \n\t09", "***", "******", "\n\n", "P.S.", "word ", "SECTION 1"]
        ),
        max_size=60,
    ).map("".join)
)
def test_any_reply_gets_a_verdict_and_loose_never_takes_credit_away(reply: str) -> None:
    instructions = parse_instructions(list(SAMPLE_PARAMS), list(SAMPLE_PARAMS.values()))
    first = judge(instructions, reply)
    assert first == judge(instructions, reply)  # deterministic, language included
    assert all(v.loose or not v.strict for v in first)


def test_pathological_json_is_a_failed_instruction_not_a_crash() -> None:
    (instruction,) = parse_instructions(["detectable_format:json_format"], [{}])
    assert judge([instruction], "[" * 100_000 + "]" * 100_000)[0].loose is False
