"""Detectable content (postscript, placeholders) and detectable format (bullets, fixed answers,
highlights, sections, JSON, title)."""

from __future__ import annotations

import json
import re

from pydantic import Field

from benchlab.tasks.instruct.verifiers.base import NoParams, Params, Verifier


class Postscript(Params):
    postscript_marker: str = Field(min_length=1)


def _marker_pattern(marker: str) -> re.Pattern[str]:
    """ "P.S." also matches "p.s." and "P. S."; "P.P.S" also "P. P. S". Other markers literally."""
    letters = marker.strip().lower()
    if re.fullmatch(r"(?:[a-z]\.\s?)+[a-z]\.?", letters):
        pieces = [re.escape(part) for part in re.findall(r"[a-z]", letters)]
        pattern = r"\.\s?".join(pieces) + (r"\." if letters.endswith(".") else "")
    else:
        pattern = re.escape(letters)
    return re.compile(pattern)


def _postscript(response: str, params: Postscript) -> bool:
    return _marker_pattern(params.postscript_marker).search(response.lower()) is not None


class Placeholders(Params):
    num_placeholders: int = Field(ge=0)


def _placeholders(response: str, params: Placeholders) -> bool:
    return len(re.findall(r"\[.*?\]", response)) >= params.num_placeholders


class Bullets(Params):
    num_bullets: int = Field(ge=0)


_STAR_BULLET = re.compile(r"^\s*\*[^*].*$", re.MULTILINE)  # "* item", not "**bold**"
_DASH_BULLET = re.compile(r"^\s*-.*$", re.MULTILINE)


def _bullets(response: str, params: Bullets) -> bool:
    count = len(_STAR_BULLET.findall(response)) + len(_DASH_BULLET.findall(response))
    return count == params.num_bullets


CONSTRAINED_ANSWERS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _constrained(response: str, params: NoParams) -> bool:
    return any(answer in response for answer in CONSTRAINED_ANSWERS)


class Highlights(Params):
    num_highlights: int = Field(ge=0)


def _highlights(response: str, params: Highlights) -> bool:
    # *single* and **double** emphasis on one line, each with something inside besides spaces.
    single = [m for m in re.findall(r"\*[^\n*]*\*", response) if m.strip("*").strip()]
    double = [m for m in re.findall(r"\*\*[^\n*]*\*\*", response) if m[2:-2].strip()]
    return len(single) + len(double) >= params.num_highlights


class Sections(Params):
    section_spliter: str = Field(min_length=1)  # IFEval's spelling of the key
    num_sections: int = Field(ge=0)


def _sections(response: str, params: Sections) -> bool:
    # Headers are the splitter word followed by a number ("SECTION 1"), case as given.
    parts = re.split(rf"\s?{re.escape(params.section_spliter.strip())}\s?\d+\s?", response)
    return len(parts) - 1 >= params.num_sections


_OPENING_FENCE = re.compile(r"^```(?:json)?", re.IGNORECASE)


def _json(response: str, params: NoParams) -> bool:
    # An opening ```json (or ```) and a closing ``` are taken off independently, so a fence the
    # reply never closed does not hide valid JSON.
    text = _OPENING_FENCE.sub("", response.strip()).removesuffix("```").strip()
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser allows
        return False
    return True


def _title(response: str, params: NoParams) -> bool:
    # "<<<>>>" holds only brackets: not a title.
    return any(title.lstrip("<").rstrip(">").strip() for title in re.findall(r"<<([^\n]+)>>", response))


VERIFIERS: tuple[Verifier, ...] = (
    Verifier(
        "detectable_content:postscript",
        "a postscript marked with the given marker (P.S., P.P.S…)",
        Postscript,
        _postscript,
    ),
    Verifier(
        "detectable_content:number_placeholders",
        "at least N placeholders in square brackets, like [name]",
        Placeholders,
        _placeholders,
    ),
    Verifier(
        "detectable_format:number_bullet_lists",
        "exactly N markdown bullet points (* or -)",
        Bullets,
        _bullets,
    ),
    Verifier(
        "detectable_format:constrained_response",
        "contains one of 'My answer is yes.', 'My answer is no.', 'My answer is maybe.'",
        NoParams,
        _constrained,
    ),
    Verifier(
        "detectable_format:number_highlighted_sections",
        "at least N sections highlighted with markdown *emphasis*",
        Highlights,
        _highlights,
    ),
    Verifier(
        "detectable_format:multiple_sections",
        "at least N sections headed by the splitter word and a number (SECTION 1…)",
        Sections,
        _sections,
    ),
    Verifier(
        "detectable_format:json_format",
        "the whole response is JSON (a ```json fence around it is allowed)",
        NoParams,
        _json,
    ),
    Verifier("detectable_format:title", "a title in double angle brackets, like <<title>>", NoParams, _title),
)
