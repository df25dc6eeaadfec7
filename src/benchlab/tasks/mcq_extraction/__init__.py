"""Multiple-choice answer extraction (DESIGN §5 "mcq").

`extract_choice` reads the option letter a model chose out of its reply, following a short ordered
list of anchored, case-sensitive rules (`RULES`, rendered in docs/answer-extraction.md). Anything the
rules cannot read with confidence is *unparseable* (`letter is None`) and is counted as such by the
run summary; a guess is never made.

Ground rules, in the order they matter:

* Reasoning is not the answer. `<think>…</think>` blocks, an unterminated `<think>` up to the end,
  and everything before a stray `</think>` are removed first; a reply that is empty afterwards is
  unparseable even if the reasoning named a letter.
* Capital letters only. "a" and "i" are words; a lowercase letter is read only right after an
  explicit answer marker and only when nothing but punctuation follows ("Answer: c").
* "A" and "I" are also English words when capitalised. Where either could be prose ("A common
  cause…", "I think…") it is read as prose, never as option A or I.
* Letters outside the question's options are never accepted ("Answer: F" on four options is
  unparseable, rule "out-of-range").
* A hedge between letters ("A or B", "either B or C") is unparseable ("ambiguous") unless a later
  explicit marker settles it: of several explicit markers, the last one decides.

Patterns are precompiled and each rule makes one linear pass over the reply (some tens of microseconds for a
short reply, a few hundred for several thousand characters).

The package's modules: `rules` (the `Extraction` type and `RULES`), `text` (normalising a reply and
reading letter tokens), `markers` (explicit answer markers), `letters` (the rules after them) and
`choice` (`extract_choice`, which tries the rules in order). `strip_reasoning` lives in
`benchlab.tasks.reasoning`, as every task kind uses it.
"""

from benchlab.tasks.mcq_extraction.choice import extract_choice
from benchlab.tasks.mcq_extraction.rules import RULES, Extraction
from benchlab.tasks.reasoning import strip_reasoning

__all__ = ["RULES", "Extraction", "extract_choice", "strip_reasoning"]
