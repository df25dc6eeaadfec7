"""What an extraction is, and the ordered list of rules that can decide one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Extraction:
    """What `extract_choice` read from a reply."""

    letter: str | None
    """The chosen option letter, or None when the reply is unparseable."""
    rule: str
    """Name of the rule that decided (one of `RULES`)."""
    detail: str = ""
    """Short explanation for drill-downs, usually the span that decided."""


RULES: list[tuple[str, str]] = [
    (
        "empty",
        "Nothing is left once reasoning is removed (`<think>…</think>` blocks, an unterminated `<think>` "
        "up to the end, everything before a stray `</think>`): unparseable.",
    ),
    (
        "answer-marker",
        "The last explicit answer statement names a letter: `Answer: C`, `The correct answer is (C)`, "
        "`Final answer: **C**`, `\\boxed{C}`, `Correct option: C`, `I choose C`, `C is the correct answer`. "
        "A lowercase letter counts here only when nothing but punctuation follows it (`answer: c`).",
    ),
    (
        "marker-text",
        "The last explicit answer statement is followed by exactly one option's text instead of a letter "
        "(`The answer is mitochondria.`).",
    ),
    (
        "bare-letter",
        "The whole reply is one capital letter, possibly decorated: `C`, `(C)`, `C.`, `C)`, `[C]`, `**C**`, "
        "`**(C)**`, `Option C`.",
    ),
    (
        "leading-letter",
        "The reply starts with a decorated capital letter followed by more text: `C) text`, `C: text`, "
        "`(B) because…`, `**B** — …`, `B. Text`. Undecorated prose such as `A common cause…`, `I think…` "
        "or an abbreviation such as `E. coli` does not qualify; neither does a reply that lists several "
        "labelled options.",
    ),
    (
        "closing-letter",
        "The last line of a multi-line reply is only a (decorated) capital letter; if the first line "
        "starts with a different letter the reply is ambiguous instead.",
    ),
    (
        "marked-letter",
        "Exactly one distinct option letter appears in parentheses, brackets or bold anywhere in the "
        "reply (`… so (C) fits best`).",
    ),
    (
        "option-text",
        "The whole reply, or its first or last line, equals exactly one option's text, ignoring case, "
        "punctuation, spacing and a leading `the`.",
    ),
    (
        "ambiguous",
        "Unparseable: the deciding statement names several different options (`A or B`, `either B or C`, "
        "`(B) … (C)`, a list of labelled options) and no later explicit marker settles it.",
    ),
    (
        "out-of-range",
        "Unparseable: the deciding statement names a letter that is not one of this question's options "
        "(`Answer: F` on a four-option question).",
    ),
    ("none", "Unparseable: no rule above applies."),
]
