"""Taking the code out of a reply (pure): a documented rule list over fenced blocks, whole replies,
continuations of the prompt and code wrapped in prose."""

from __future__ import annotations

import ast
import re
import textwrap
import warnings
from dataclasses import dataclass

from benchlab.tasks.reasoning import strip_reasoning

#: Every rule `extract_code` can report, in the order they are tried (docs/code-tasks.md).
EXTRACTION_RULES: dict[str, str] = {
    "empty": "Nothing is left once reasoning is removed, or only empty code blocks: no code.",
    "fence-only": (
        "Exactly one fenced Python block (```python, ```py, ```python3 or an untagged ```; "
        "also ~~~ fences, indented fences and a fence left open at the end): that block, dedented."
    ),
    "fence-entry-point": (
        "Several fenced Python blocks, and one or more define the entry point at top level: the last "
        "of those (a reply that revises its answer ends with the revision)."
    ),
    "fence-longest": "Several fenced Python blocks, none defining the entry point: the longest.",
    "fence-other-language": "Only fenced blocks of another language (```bash, ```text…): no code.",
    "whole-reply": "No fence, and the whole reply is Python (it parses and is more than a word).",
    "continuation": (
        "No fence, and the reply is a function body that parses as a continuation of the "
        "HumanEval prompt (completion-style reply)."
    ),
    "prose-trimmed": (
        "No fence, prose around code: from the first line that starts a definition or an import "
        "(`def`, `class`, `import`, `from … import`, `@`) to the longest stretch that parses."
    ),
    "code-unparsed": (
        "No fence, a line that starts a definition or import but nothing that parses: from that "
        "line to the end (the program then fails with the syntax error, as wrong code)."
    ),
    "none": "No fence and nothing that looks like Python: no code.",
}

_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "ipython"}
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_FENCE_CLOSE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*$")
_CODE_START = re.compile(
    r"^(?:(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(|class[ \t]+\w+[ \t]*[:(]|import[ \t]+[\w.]+"
    r"|from[ \t]+[\w.]+[ \t]+import\b|@[\w.]+)"
)


@dataclass(frozen=True)
class Extraction:
    """The code read from one reply (`None`: no code found) and the rule that decided."""

    code: str | None
    rule: str
    detail: str = ""


@dataclass(frozen=True)
class _Block:
    info: str
    code: str
    closed: bool

    @property
    def python(self) -> bool:
        tag = self.info.split()[0].strip("{}.").lower() if self.info.split() else ""
        return tag in _PYTHON_TAGS


def _fenced_blocks(text: str) -> list[_Block]:
    """Markdown fenced blocks (``` or ~~~, any indentation), in order. A block left open at the end
    of the reply (cut at the token limit, or never closed) runs to the end."""
    blocks: list[_Block] = []
    opened: tuple[str, str] | None = None
    body: list[str] = []
    for line in text.splitlines():
        if opened is None:
            match = _FENCE_OPEN.match(line)
            if match:
                opened, body = (match.group("fence"), match.group("info")), []
            continue
        close = _FENCE_CLOSE.match(line)
        fence = opened[0]
        if close and close.group("fence")[0] == fence[0] and len(close.group("fence")) >= len(fence):
            blocks.append(_Block(opened[1], textwrap.dedent("\n".join(body)).strip("\n"), closed=True))
            opened = None
            continue
        body.append(line)
    if opened is not None:
        blocks.append(_Block(opened[1], textwrap.dedent("\n".join(body)).strip("\n"), closed=False))
    return blocks


def defines(code: str, name: str) -> bool:
    """Whether `code` defines function `name` at top level (column 0, after dedenting)."""
    return re.search(rf"^(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.MULTILINE) is not None


def _parse(code: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like are not our concern here
            return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _is_python(code: str) -> bool:
    """Parses, and is more than a bare word or literal ("Sorry" parses as a name)."""
    tree = _parse(code)
    if tree is None or not tree.body:
        return False
    return any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.Name | ast.Attribute))
        for node in tree.body
    )


def _body_indent(prompt: str) -> str:
    """The indentation of a completion prompt's function body: that of its last non-blank line (the
    docstring's closing quotes in every HumanEval prompt)."""
    for line in reversed(prompt.splitlines()):
        if line.strip():
            return line[: len(line) - len(line.lstrip())] or "    "
    return "    "


def continue_prompt(prompt: str, body: str) -> str:
    """The prompt continued with a function body. A body that lost its indentation (column 0, as
    many chat replies give it) is re-indented to the prompt's; one that parses as given is kept."""
    body = body.strip("\n")
    indent = _body_indent(prompt)
    joined = prompt.rstrip("\n") + "\n"
    as_given = joined + body + "\n"
    reindented = joined + textwrap.indent(textwrap.dedent(body), indent, lambda line: True) + "\n"
    first = next((line for line in body.splitlines() if line.strip()), "")
    if first.startswith(indent) and _parse(as_given) is not None:
        return as_given
    if _parse(reindented) is not None:
        return reindented
    return as_given


def _prose_trimmed(text: str) -> Extraction | None:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return None
    # Candidate ends: the end of the reply, and every line back at column 0 (where prose resumes).
    ends = [len(lines)] + [
        i for i in range(len(lines) - 1, start, -1) if lines[i].strip() and not lines[i][0].isspace()
    ]
    for end in ends:
        code = "\n".join(lines[start:end]).strip("\n")
        if _is_python(code):
            return Extraction(code, "prose-trimmed", f"lines {start + 1}–{end}")
    return Extraction("\n".join(lines[start:]).strip("\n"), "code-unparsed", f"from line {start + 1}")


def extract_code(reply: str, *, entry_point: str | None = None, prompt: str | None = None) -> Extraction:
    """The code in a model's reply, by the first rule of `EXTRACTION_RULES` that applies.

    `entry_point` lets the rule pick the block that defines the function under test; `prompt` (the
    HumanEval prompt, for completion-style rows) lets a bare function body count as code. Pure and
    deterministic: scoring calls it again on stored transcripts.
    """
    text = strip_reasoning(reply or "").strip("\n")
    if not text.strip():
        return Extraction(None, "empty")
    blocks = _fenced_blocks(text)
    if blocks:
        python = [block for block in blocks if block.python and block.code.strip()]
        if not python and any(block.python for block in blocks):
            return Extraction(None, "empty", "only empty code blocks")
        if not python:
            tags = ", ".join(sorted({block.info.split()[0] for block in blocks if block.info.split()}))
            return Extraction(None, "fence-other-language", tags or "empty blocks")
        note = "" if all(block.closed for block in python) else "unclosed fence"
        if len(python) == 1:
            return Extraction(python[0].code, "fence-only", note)
        detail = f"{len(python)} blocks; {note}".strip("; ")
        defining = [b for b in python if entry_point and defines(b.code, entry_point)]
        if defining:
            return Extraction(defining[-1].code, "fence-entry-point", detail)
        longest = max(python, key=lambda block: len(block.code))  # max keeps the first of equals
        return Extraction(longest.code, "fence-longest", detail)
    whole = textwrap.dedent(text).strip("\n")
    if _is_python(whole):
        return Extraction(whole, "whole-reply")
    if prompt is not None and _parse(whole) is None and _CODE_START.match(whole) is None:
        continued = continue_prompt(prompt, text)
        if _parse(continued) is not None and continued.strip() != prompt.strip():
            return Extraction(text, "continuation")
    trimmed = _prose_trimmed(whole)
    if trimmed is not None:
        return trimmed
    return Extraction(None, "none")
