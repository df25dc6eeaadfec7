import pytest

from benchlab.endpoints.reasoning import split_reasoning, strip_think


@pytest.mark.parametrize(
    ("raw", "reasoning", "answer"),
    [
        ("Answer: B", "", "Answer: B"),
        ("<think>weigh A and B</think>Answer: B", "weigh A and B", "Answer: B"),
        ("<think>\nlong\n</think>\n\nAnswer: C", "long", "Answer: C"),
        ("<think>never closed, the answer is A", "never closed, the answer is A", ""),
        ("template opened it</think>Answer: D", "template opened it", "Answer: D"),
        ("<think>one</think>mid<think>two</think>end", "onetwo", "midend"),
        ("", "", ""),
    ],
)
def test_split_reasoning(raw: str, reasoning: str, answer: str) -> None:
    split = split_reasoning(raw)
    assert split.reasoning == reasoning
    assert split.answer == answer


def test_answer_start_points_at_first_answer_character() -> None:
    raw = "<think>abc</think>  Answer: B"
    split = split_reasoning(raw)
    assert split.answer_start is not None
    assert raw[split.answer_start] == "A"
    assert split_reasoning("<think>only thinking").answer_start is None


def test_strip_think_keeps_plain_text() -> None:
    assert strip_think("  plain  ") == "plain"
    assert strip_think("<think>x</think>y") == "y"
