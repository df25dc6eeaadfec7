"""Reading a model's chart: the HTML recovered from its reply, parsed, with what the page carries.

Pure functions only. `recover_html` takes the markup out of a reply (a fenced block or the whole
reply); `parse_chart` parses it with html5lib (the WHATWG parsing algorithm browsers use, so the
tree is the one a browser would build) and collects the parts the criteria look at: visible text,
attribute values, script and style sources, each *without comments* — data that sits only in an
`<!-- HTML comment -->`, a `/* CSS comment */` or a `// JS comment` is not on the chart.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field

import html5lib

from benchlab.tasks.mcq_extraction import strip_reasoning

SVG_NS = "http://www.w3.org/2000/svg"
HTML_NS = "http://www.w3.org/1999/xhtml"

# Fenced blocks whose info string says they hold markup; an untagged fence counts when it has tags.
_MARKUP_TAGS = {"html", "htm", "svg", "xml", "xhtml", "vue", "markup"}
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\n`]*)\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
_TAG = re.compile(r"<\s*(?:!doctype|html|svg|canvas|body|div|table|head)\b", re.I)

# Parse errors that say nothing about whether the chart's markup is broken.
_HARMLESS_ERRORS = {"expected-doctype-but-got-start-tag", "unknown-doctype", "expected-doctype-but-got-chars"}

# JavaScript comments: a small scanner keeps string and template literals (which may hold `//`,
# as in URLs) intact and drops `// …` and `/* … */`.
_JS_TOKENS = re.compile(
    r"""(?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)"""
    r"""|(?P<block>/\*.*?(?:\*/|\Z))|(?P<line>//[^\n]*)""",
    re.S,
)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.S)


@dataclass(frozen=True)
class Recovered:
    """The markup read from a reply (`None`: none found) and the rule that found it."""

    html: str | None
    rule: str


def recover_html(reply: str) -> Recovered:
    """The chart's markup: the longest fenced block tagged as markup (```html, ```svg…), else the
    longest untagged fence that contains tags, else the reply itself from its first tag on."""
    text = strip_reasoning(reply or "")
    blocks = [(m.group(2).strip().lower(), m.group(3)) for m in _FENCE.finditer(text)]
    tagged = [body for info, body in blocks if info.split()[:1] and info.split()[0] in _MARKUP_TAGS]
    if tagged and max(tagged, key=len).strip():
        return Recovered(max(tagged, key=len).strip(), "fence-markup")
    untagged = [body for info, body in blocks if not info and _TAG.search(body)]
    if untagged:
        return Recovered(max(untagged, key=len).strip(), "fence-untagged")
    found = _TAG.search(text)
    if found:
        end = text.rfind(">")
        body = text[found.start() : end + 1] if end > found.start() else text[found.start() :]
        return Recovered(body.strip(), "whole-reply")
    return Recovered(None, "none")


def strip_js_comments(source: str) -> str:
    return _JS_TOKENS.sub(lambda m: m.group("string") or (" " if m.group("block") else ""), source)


def strip_css_comments(source: str) -> str:
    return _CSS_COMMENT.sub(" ", source)


@dataclass(frozen=True)
class Element:
    tag: str  # local name, lower case (`rect`, `div`)
    svg: bool  # inside an <svg>
    attrs: dict[str, str]
    text: str  # own text, comments excluded


@dataclass
class ParsedChart:
    """What the criteria read from one chart's markup."""

    html: str
    errors: list[str]
    elements: list[Element] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # visible text nodes (not scripts or styles)
    scripts: list[str] = field(default_factory=list)  # inline script sources, comments removed
    styles: list[str] = field(default_factory=list)  # <style> sources and style="" values, no comments

    @property
    def serious_errors(self) -> list[str]:
        return [error for error in self.errors if error not in _HARMLESS_ERRORS]

    @property
    def script(self) -> str:
        return "\n".join(self.scripts)

    @property
    def css(self) -> str:
        return "\n".join(self.styles)

    def count(self, *tags: str, svg: bool | None = None) -> int:
        return sum(1 for e in self.elements if e.tag in tags and (svg is None or e.svg == svg))

    def tag_counts(self) -> Counter[str]:
        return Counter(e.tag for e in self.elements)

    def attribute_text(self) -> str:
        """Every attribute as `name="value"`, one element per line, for pattern checks."""
        return "\n".join(
            " ".join(f'{name}="{value}"' for name, value in e.attrs.items()) for e in self.elements if e.attrs
        )

    def evidence(self) -> str:
        """Where a data value may legitimately appear: text, attribute values, scripts (no comments)."""
        # Namespace declarations are boilerplate, not data ("2000" in the SVG namespace URL).
        values = [v for e in self.elements for k, v in e.attrs.items() if not k.startswith("xmlns")]
        return "\n".join([*self.texts, *values, *self.scripts])


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name.lower()
    return "", tag.lower()


def _attr_name(name: str) -> str:
    return _local(name)[1] if name.startswith("{") else name.lower()


def parse_chart(html: str) -> ParsedChart:
    """Parse with html5lib and walk the tree once; comments are dropped, their tails kept."""
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"), namespaceHTMLElements=True)
    root = parser.parse(html)
    errors = [code for _, code, _ in parser.errors]
    parsed = ParsedChart(html=html, errors=errors)
    _walk(root, parsed, in_svg=False, raw=False)
    return parsed


def _walk(node: ET.Element, parsed: ParsedChart, *, in_svg: bool, raw: bool) -> None:
    for child in node:
        if not isinstance(child.tag, str):  # a comment (or processing instruction): skip, keep its tail
            if child.tail and child.tail.strip() and not raw:
                parsed.texts.append(child.tail.strip())
            continue
        namespace, tag = _local(child.tag)
        svg = in_svg or namespace == SVG_NS
        attrs = {_attr_name(name): value for name, value in child.attrib.items()}
        own = child.text or ""
        parsed.elements.append(Element(tag, svg, attrs, own))
        if "style" in attrs:
            parsed.styles.append(strip_css_comments(attrs["style"]))
        if tag == "script" and namespace in (HTML_NS, SVG_NS, ""):
            kind = attrs.get("type", "").lower()
            if kind in ("", "text/javascript", "module", "application/javascript"):
                parsed.scripts.append(strip_js_comments(own))
        elif tag == "style":
            parsed.styles.append(strip_css_comments(own))
        elif (tag not in ("noscript", "template", "title") or svg) and own.strip():
            parsed.texts.append(own.strip())
        _walk(child, parsed, in_svg=svg, raw=tag in ("script", "style"))
        if child.tail and child.tail.strip():
            parsed.texts.append(child.tail.strip())


__all__ = [
    "ParsedChart",
    "Recovered",
    "parse_chart",
    "recover_html",
    "strip_css_comments",
    "strip_js_comments",
]
