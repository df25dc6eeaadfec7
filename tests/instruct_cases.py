"""Hand-written responses for every IFEval instruction type, with the verdict each must get.

Shared by the verifier tests (benchlab's verdicts) and the reference comparison (the published
definitions' verdicts), so both read the same table. This module holds no tests itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    instruction_id: str
    kwargs: dict[str, Any]
    response: str
    strict: bool
    loose: bool | None = None  # None: the same as strict
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def expected_loose(self) -> bool:
        return self.strict if self.loose is None else self.loose

    @property
    def label(self) -> str:
        return f"{self.instruction_id}:{'pass' if self.strict else 'fail'}:{self.note or self.response[:24]}"


PARAGRAPHS_3 = "The first part.\n***\nThe second part.\n***\nThe third part."
LOWER_EN = "the rain taps softly on the roof and the whole house seems to listen to it all night long."
UPPER_EN = "KEEP TO THE LEFT SIDE OF THE BRIDGE AND HOLD THE RAIL WHEN THE WOOD IS WET."

CASES: tuple[Case, ...] = (
    # keywords:existence
    Case(
        "keywords:existence",
        {"keywords": ["kettle", "foghorn"]},
        "The FOGHORN sang while the kettle hissed.",
        True,
    ),
    Case(
        "keywords:existence",
        {"keywords": ["kettle", "foghorn"]},
        "Only the kettle hissed this morning.",
        False,
    ),
    # keywords:frequency
    Case(
        "keywords:frequency",
        {"keyword": "patience", "frequency": 3, "relation": "at least"},
        "Patience wins. patience builds. Keep your PATIENCE.",
        True,
    ),
    Case(
        "keywords:frequency",
        {"keyword": "patience", "frequency": 3, "relation": "at least"},
        "Patience wins games and patience builds skill.",
        False,
    ),
    Case(
        "keywords:frequency",
        {"keyword": "very", "frequency": 2, "relation": "less than"},
        "It was very cold.",
        True,
    ),
    Case(
        "keywords:frequency",
        {"keyword": "very", "frequency": 2, "relation": "less than"},
        "It was very, very cold.",
        False,
    ),
    # keywords:forbidden_words
    Case(
        "keywords:forbidden_words",
        {"forbidden_words": ["ratio", "torque"]},
        "Small gears turn fast; big gears turn slowly. Ratios aside, pedal on.",
        True,
        note="'Ratios' is not the word 'ratio'",
    ),
    Case(
        "keywords:forbidden_words",
        {"forbidden_words": ["ratio", "torque"]},
        "The gear Ratio decides how hard you pedal.",
        False,
    ),
    # keywords:letter_frequency
    Case(
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 4, "let_relation": "at least"},
        "Zzz, the lazy walrus dozed.",
        True,
    ),
    Case(
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 4, "let_relation": "at least"},
        "The lazy walrus slept.",
        False,
    ),
    Case(
        "keywords:letter_frequency",
        {"letter": "e", "let_frequency": 3, "let_relation": "less than"},
        "Knead dough.",
        True,
    ),
    Case(
        "keywords:letter_frequency",
        {"letter": "e", "let_frequency": 3, "let_relation": "less than"},
        "Knead the dough well.",
        False,
    ),
    # language:response_language
    Case(
        "language:response_language",
        {"language": "de"},
        "Die bunten Blätter fallen langsam auf den nassen Weg im Stadtpark, und der Wind trägt sie fort.",
        True,
    ),
    Case(
        "language:response_language",
        {"language": "de"},
        "The colourful leaves fall slowly onto the wet path in the city park, carried away by the wind.",
        False,
    ),
    Case(
        "language:response_language",
        {"language": "es"},
        "Mi desayuno ideal tiene pan tostado con tomate, café con leche y fruta fresca del mercado.",
        True,
    ),
    # length_constraints:number_sentences
    Case(
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "less than"},
        "Plants clean the air. They also calm people down.",
        True,
    ),
    Case(
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "less than"},
        "Plants clean the air. They calm people. They are pretty!",
        False,
    ),
    Case(
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "at least"},
        "Dr. Lee planted a fern. It grew. Why? Because it had 2.5 litres of water.",
        True,
        note="abbreviation and decimal do not split",
        tags=("sentences",),
    ),
    Case(
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "at least"},
        "Dr. Lee planted a fern on Jan. 3 and it grew.",
        False,
        tags=("sentences",),
    ),
    # length_constraints:number_words
    Case(
        "length_constraints:number_words",
        {"num_words": 5, "relation": "less than"},
        "A compass shows north.",
        True,
    ),
    Case(
        "length_constraints:number_words",
        {"num_words": 5, "relation": "less than"},
        "A compass shows which way is north.",
        False,
    ),
    Case(
        "length_constraints:number_words",
        {"num_words": 6, "relation": "at least"},
        "A compass shows which way is north.",
        True,
    ),
    # length_constraints:number_paragraphs
    Case("length_constraints:number_paragraphs", {"num_paragraphs": 3}, PARAGRAPHS_3, True),
    Case(
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 3},
        "The first part.\n***\nThe second part.",
        False,
    ),
    Case(
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 3},
        "The first part.\n***\n***\nThe second part.\n***\nThe third part.",
        False,
        note="an empty paragraph between dividers",
    ),
    Case(
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
        "***\nThe first part.\n***\nThe second part.",
        True,
        note="a divider that opens the reply",
    ),
    # length_constraints:nth_paragraph_first_word
    Case(
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "recently"},
        "Dear neighbour, I hope you are well.\n\nRecently, I began painting the fence.",
        True,
    ),
    Case(
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "recently"},
        "Dear neighbour, I hope you are well.\n\nLately, I began painting the fence.",
        False,
    ),
    Case(
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "dawn"},
        '"Dawn came early.\n\nWe paddled on.\n\nThen we slept.',
        False,
        loose=True,
        note="three paragraphs, not two; loose drops the last line",
    ),
    Case(
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "dawn"},
        '"Dawn" came early.\n\nWe paddled on.',
        True,
        note="quotes around the first word",
    ),
    # detectable_content:postscript
    Case(
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        "Thank you for fixing the roof.\n\nP.S. The biscuits are on the shelf.",
        True,
    ),
    Case(
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        "Thank you for fixing the roof. The biscuits are on the shelf.",
        False,
    ),
    Case(
        "detectable_content:postscript",
        {"postscript_marker": "P.P.S"},
        "Deadline is Friday.\nP.S. Bring coffee.\nP.P.S. Bring cake too.",
        True,
    ),
    Case(
        "detectable_content:postscript",
        {"postscript_marker": "P.P.S"},
        "Deadline is Friday.\nP.S. Bring coffee.",
        False,
    ),
    # detectable_content:number_placeholders
    Case(
        "detectable_content:number_placeholders",
        {"num_placeholders": 2},
        "This agreement between [tenant name] and [owner] starts on [start date].",
        True,
    ),
    Case(
        "detectable_content:number_placeholders",
        {"num_placeholders": 2},
        "This agreement between [tenant name] and the owner starts soon.",
        False,
    ),
    # detectable_format:number_bullet_lists
    Case(
        "detectable_format:number_bullet_lists",
        {"num_bullets": 3},
        "Steps:\n* Water the cactus.\n* Lift it out.\n- Place it in the new pot.",
        True,
    ),
    Case(
        "detectable_format:number_bullet_lists",
        {"num_bullets": 3},
        "Steps:\n* Water the cactus.\n* Lift it out.\n**Done** when it sits straight.",
        False,
        note="bold text is not a bullet",
    ),
    Case(
        "detectable_format:number_bullet_lists",
        {"num_bullets": 2},
        "* one\n* two\n* three",
        False,
        loose=True,
        note="one too many; loose drops the first line",
    ),
    # detectable_format:constrained_response
    Case(
        "detectable_format:constrained_response",
        {},
        "My answer is maybe. It depends on how you feel.",
        True,
    ),
    Case("detectable_format:constrained_response", {}, "Maybe, it depends.", False),
    Case("detectable_format:constrained_response", {}, "My answer is yes", False, note="full stop missing"),
    # detectable_format:number_highlighted_sections
    Case(
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "Visit for the *local food* and stay for the **mountain views**.",
        True,
    ),
    Case(
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "Visit for the *local food* and stay for the views. ** **",
        False,
        note="an empty highlight does not count",
    ),
    # detectable_format:multiple_sections
    Case(
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 2},
        "SECTION 1\nGather materials.\nSECTION 2\nBuild the bin.",
        True,
    ),
    Case(
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 2},
        "SECTION 1\nGather materials and build the bin.",
        False,
    ),
    Case(
        "detectable_format:multiple_sections",
        {"section_spliter": "Section", "num_sections": 2},
        "Section 1: tools. Section 2: parts.",
        True,
    ),
    # detectable_format:json_format
    Case("detectable_format:json_format", {}, '```json\n{"name": "Angel Falls", "height": 979}\n```', True),
    Case("detectable_format:json_format", {}, '[{"name": "Iguazu"}]', True),
    Case("detectable_format:json_format", {}, 'Here it is: {"name": "Iguazu"}', False, loose=False),
    Case(
        "detectable_format:json_format",
        {},
        'Here is the JSON:\n{"name": "Iguazu"}',
        False,
        loose=True,
        note="a chatty first line: loose only",
    ),
    # detectable_format:title
    Case("detectable_format:title", {}, "<<Midnight Platform>>\nThe last train sighs.", True),
    Case("detectable_format:title", {}, "Midnight Platform\nThe last train sighs.", False),
    Case("detectable_format:title", {}, "<< >>\nThe last train sighs.", False, note="blank title"),
    Case("detectable_format:title", {}, "<<<>>>\nThe last train sighs.", False, note="only brackets"),
    # combination:repeat_prompt
    Case(
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a riddle about a shadow."},
        "write a riddle about a shadow. I follow you all day but vanish at night.",
        True,
    ),
    Case(
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a riddle about a shadow."},
        "Sure! Write a riddle about a shadow. I follow you all day.",
        False,
        loose=False,
        note="words before the repeat (same line)",
    ),
    Case(
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a riddle about a shadow."},
        "Sure!\nWrite a riddle about a shadow. I follow you all day.",
        False,
        loose=True,
        note="a preamble line: loose only",
    ),
    # combination:two_responses
    Case("combination:two_responses", {}, "Crumb & Co.\n******\nThe Rising Loaf", True),
    Case("combination:two_responses", {}, "Crumb & Co.\n******\nCrumb & Co.", False, note="the same twice"),
    Case("combination:two_responses", {}, "Crumb & Co.", False),
    Case("combination:two_responses", {}, "A\n******\n******\nB", False, note="empty answer in between"),
    # startend:quotation
    Case("startend:quotation", {}, '"Winter nights are best for stars."', True),
    Case("startend:quotation", {}, "Winter nights are best for stars.", False),
    Case("startend:quotation", {}, '"', False, note="a lone quote"),
    # startend:end_checker
    Case(
        "startend:end_checker",
        {"end_phrase": "And the mitten was warm again."},
        "The fox found it by the gate. and the MITTEN was warm again.",
        True,
    ),
    Case(
        "startend:end_checker",
        {"end_phrase": "And the mitten was warm again."},
        "And the mitten was warm again. The end.",
        False,
        loose=False,
        note="words after the phrase, on the same line",
    ),
    Case(
        "startend:end_checker",
        {"end_phrase": "Happy baking!"},
        "Feed it daily.\nHappy baking!\nLet me know if you need more.",
        False,
        loose=True,
        note="a closing remark line: loose only",
    ),
    # change_case:capital_word_frequency
    Case(
        "change_case:capital_word_frequency",
        {"capital_frequency": 3, "capital_relation": "at least"},
        "You CAN do this. NEVER stop. Run STRONG.",
        True,
    ),
    Case(
        "change_case:capital_word_frequency",
        {"capital_frequency": 3, "capital_relation": "at least"},
        "You CAN do this. Never stop.",
        False,
    ),
    Case(
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "less than"},
        "Brew the tea, then add ICE.",
        True,
    ),
    Case(
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "less than"},
        "Brew the TEA, then add ICE.",
        False,
    ),
    # change_case:english_capital
    Case("change_case:english_capital", {}, UPPER_EN, True),
    Case("change_case:english_capital", {}, UPPER_EN.capitalize(), False),
    Case(
        "change_case:english_capital",
        {},
        "HALTEN SIE SICH BITTE AM GELÄNDER FEST, WENN DAS HOLZ DER BRÜCKE NASS UND GLATT IST.",
        False,
        note="capitals, but German",
    ),
    # change_case:english_lowercase
    Case("change_case:english_lowercase", {}, LOWER_EN, True),
    Case("change_case:english_lowercase", {}, "The " + LOWER_EN[4:], False),
    # punctuation:no_comma
    Case("punctuation:no_comma", {}, "Fold the paper in half then fold the corners down.", True),
    Case("punctuation:no_comma", {}, "Fold the paper in half, then fold the corners down.", False),
)

# Verdicts that hinge on a sentence or word tokenizer (the reference needs NLTK's data for them).
TOKENIZER_IDS = frozenset({"length_constraints:number_sentences", "change_case:capital_word_frequency"})
