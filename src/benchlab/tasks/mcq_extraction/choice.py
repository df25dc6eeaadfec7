"""`extract_choice`: the rules of `RULES`, tried in order; the first that applies decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from benchlab.tasks.mcq_extraction.letters import rule_hedge, rule_lines, rule_marked, rule_option_text
from benchlab.tasks.mcq_extraction.markers import rule_markers
from benchlab.tasks.mcq_extraction.rules import Extraction
from benchlab.tasks.mcq_extraction.text import choice_context, normalize, strip_markup
from benchlab.tasks.reasoning import strip_reasoning


def extract_choice(
    reply: str | None, letters: Sequence[str], option_texts: Mapping[str, str] | None = None
) -> Extraction:
    """The option letter chosen in `reply`, or an unparseable result naming why.

    `letters` are this question's option letters ("ABCD", or a list such as ["A", …, "J"]);
    `option_texts` optionally maps each letter to its option text, which lets a reply that gives the
    text instead of the letter be read. Rules are tried in the order of `RULES`; the first that
    applies decides.
    """
    ctx = choice_context(letters, option_texts)
    raw = reply or ""
    text = normalize(strip_reasoning(raw))
    if not text.strip():
        why = "only reasoning, no answer" if raw.strip() else "empty reply"
        return Extraction(None, "empty", why)
    plain = strip_markup(text)
    if not plain.strip():
        return Extraction(None, "none", "only markup")
    got = (
        rule_markers(plain, ctx)
        or rule_lines(text, ctx)
        or rule_marked(text, ctx)
        or rule_option_text(plain, ctx)
        or rule_hedge(plain, ctx)
    )
    return got if got is not None else Extraction(None, "none", "no rule applies")
