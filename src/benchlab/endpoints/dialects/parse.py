"""Reading tool calls back out of a model's reply text, one reader per dialect family.

Every reader returns the calls it could read, the prose left around them and, when the reply
attempted a call that could not be read, an error naming the call and the problem. Readers never
raise on model output: a malformed call is the model's mistake and is recorded as such.

- hermes: `<tool_call>{"name": …, "arguments": {…}}</tool_call>`, one block per call (a block may
  also hold a JSON list of calls). Tolerated: fenced JSON inside or instead of the tags, a reply
  that is nothing but a call object, `arguments` as an object or a JSON string (or `parameters`),
  an OpenAI-shaped `{"function": {…}}` object, a missing final closing tag, and the JSON slips
  that `lenient_json` mends.
- qwen: the Qwen3-Coder XML form, `<tool_call><function=NAME><parameter=KEY>value</parameter>
  </function></tool_call>`, with values typed by the tool's JSON schema. Tolerated: a
  `<function_call>` wrapper or none at all, missing closing tags, a JSON object as the function
  body, and a hermes JSON call inside the wrapper.
- pi: a `<think>` block of reasoning, then hermes calls. Calls written only inside the reasoning
  are drafts, not calls, and are reported as a format error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from benchlab.endpoints.dialects.lenient_json import decode, snippet, strip_fence
from benchlab.endpoints.reasoning import split_reasoning


@dataclass(frozen=True)
class ParsedCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Parsed:
    calls: list[ParsedCall] = field(default_factory=list)
    prose: str = ""
    error: str | None = None  # an attempted call that could not be read, and why
    reasoning: str = ""  # pi: the reasoning split off the reply


@dataclass(frozen=True)
class _Block:
    opening: re.Match[str]
    body: str


_HERMES_OPEN = re.compile(r"<tool_call\s*>", re.IGNORECASE)
_HERMES_CLOSE = re.compile(r"</tool_call\s*>", re.IGNORECASE)
_WRAPPER_OPEN = re.compile(r"<(?:tool_call|function_call)\s*>", re.IGNORECASE)
_WRAPPER_CLOSE = re.compile(r"</(?:tool_call|function_call)\s*>", re.IGNORECASE)
_FUNCTION_OPEN = re.compile(r"<function\s*=\s*([^>\n]*)>", re.IGNORECASE)
_FUNCTION_CLOSE = re.compile(r"</function\s*>", re.IGNORECASE)
_PARAMETER_OPEN = re.compile(r"<parameter\s*=\s*([^>\n]*)>", re.IGNORECASE)
_PARAMETER_CLOSE = re.compile(r"</parameter\s*>", re.IGNORECASE)
_FENCED = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)
_INTEGER = re.compile(r"[+-]?\d+")
# An untagged JSON object is taken for an attempted call only when it names these keys.
_CALL_KEYS = re.compile(r"""(?=.*["']name["'])(?=.*["'](?:arguments|parameters)["'])""", re.DOTALL)


# ---- hermes ------------------------------------------------------------------------------------


def parse_hermes(text: str, tool_names: Iterable[str] | None = None) -> Parsed:
    """Calls in hermes form; `tool_names` lets an untagged JSON reply count as a call."""
    blocks, outside = _find_blocks(text, _HERMES_OPEN, _HERMES_CLOSE)
    prose = _HERMES_CLOSE.sub("", outside)  # a stray closing tag: the template opened the block
    if blocks:
        calls, errors = _read_json_blocks([block.body for block in blocks])
        return Parsed(calls, _tidy(prose), _join(errors, len(blocks)))
    return _untagged_json_calls(prose, None if tool_names is None else set(tool_names))


def _read_json_blocks(bodies: list[str]) -> tuple[list[ParsedCall], list[str]]:
    calls: list[ParsedCall] = []
    errors: list[str] = []
    for position, body in enumerate(bodies, 1):
        read, error = _json_block(body)
        calls.extend(read)
        if error:
            errors.append(f"call {position}: {error}")
    return calls, errors


def _json_block(body: str) -> tuple[list[ParsedCall], str | None]:
    inner = strip_fence(body)
    start = min((i for i in (inner.find("{"), inner.find("[")) if i >= 0), default=-1)
    if not inner:
        return [], "the <tool_call> block is empty"
    if start < 0:
        return [], f"no JSON object in the <tool_call> block ({snippet(inner)!r})"
    decoded = decode(inner[start:])
    if decoded.error:
        return [], f"{decoded.error}: {snippet(inner)!r}"
    objects = decoded.value if isinstance(decoded.value, list) else [decoded.value]
    calls: list[ParsedCall] = []
    for item in objects:
        call = _call_from_object(item)
        if isinstance(call, str):
            return calls, f"{call}: {snippet(inner)!r}"
        calls.append(call)
    if not calls:
        return [], "the <tool_call> block holds an empty list"
    return calls, None


def _call_from_object(item: Any) -> ParsedCall | str:
    """A call from a decoded `{"name", "arguments"}` object, or what is wrong with it."""
    if not isinstance(item, dict):
        return f"expected a call object, found {type(item).__name__}"
    if isinstance(item.get("function"), dict):  # the OpenAI shape
        item = item["function"]
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        return "the call has no function name"
    arguments = item.get("arguments", item.get("parameters"))
    if arguments is None or arguments == "":
        return ParsedCall(name.strip(), {})
    if isinstance(arguments, str):
        decoded = decode(arguments)
        if decoded.error:
            return f"the arguments string of {name!r} is not JSON ({decoded.error})"
        arguments = decoded.value
    if not isinstance(arguments, dict):
        return f"the arguments of {name!r} are not an object"
    return ParsedCall(name.strip(), arguments)


def _untagged_json_calls(text: str, tool_names: set[str] | None) -> Parsed:
    """A reply with no tags whose fenced blocks, or whole text, are call objects.

    Only objects shaped like calls (`name` plus `arguments`/`parameters`, and a known tool name
    when the names are given) count, so a JSON answer to a JSON question is not taken for a call.
    """
    fenced = list(_FENCED.finditer(text))
    candidates = [(m.group(1), m.span()) for m in fenced] or [(text, (0, len(text)))]
    calls: list[ParsedCall] = []
    errors: list[str] = []
    prose = text
    for body, (start, end) in reversed(candidates):
        stripped = body.strip()
        if not (stripped.startswith(("{", "[")) and _CALL_KEYS.match(stripped)):
            continue
        decoded = decode(stripped)
        if decoded.error:
            errors.append(
                f"a call-like JSON object could not be read: {decoded.error}: {snippet(stripped)!r}"
            )
            prose = prose[:start] + prose[end:]
            continue
        objects = decoded.value if isinstance(decoded.value, list) else [decoded.value]
        read = [_call_from_object(o) for o in objects if _looks_like_call(o, tool_names)]
        if not read or len(read) != len(objects):
            continue
        bad = [r for r in read if isinstance(r, str)]
        if bad:
            errors.append(bad[0])
        calls[:0] = [r for r in read if isinstance(r, ParsedCall)]
        prose = prose[:start] + prose[end:]
    return Parsed(calls, _tidy(prose), "; ".join(reversed(errors)) or None)


def _looks_like_call(item: Any, tool_names: set[str] | None) -> bool:
    if not isinstance(item, dict):
        return False
    if isinstance(item.get("function"), dict):
        item = item["function"]
    if "name" not in item or not ({"arguments", "parameters"} & item.keys()):
        return False
    return tool_names is None or item["name"] in tool_names


# ---- qwen --------------------------------------------------------------------------------------


def parse_qwen(text: str, tools: list[dict[str, Any]] | None = None) -> Parsed:
    """Calls in the Qwen3-Coder XML form; `tools` types the parameter values."""
    schemas = _parameter_schemas(tools or [])
    wrappers, outside = _find_blocks(text, _WRAPPER_OPEN, _WRAPPER_CLOSE)
    attempts: list[ParsedCall | str] = []  # in reply order: a call, or why it could not be read
    for wrapper in wrappers:
        if not _FUNCTION_OPEN.search(wrapper.body):  # a hermes JSON call in the wrapper
            read, error = _json_block(wrapper.body)
            attempts.extend(read if error is None else [*read, error])
            continue
        functions, rest = _find_blocks(wrapper.body, _FUNCTION_OPEN, _FUNCTION_CLOSE)
        attempts.extend(_qwen_function(function, schemas) for function in functions)
        outside += "\n" + rest
    bare, outside = _find_blocks(_WRAPPER_CLOSE.sub("", outside), _FUNCTION_OPEN, _FUNCTION_CLOSE)
    attempts.extend(_qwen_function(function, schemas) for function in bare)  # the wrapper left out
    outside = _FUNCTION_CLOSE.sub("", outside)
    if not attempts:  # no XML at all: a bare JSON call still counts, as under hermes
        return _untagged_json_calls(outside, set(schemas) or None)
    calls = [attempt for attempt in attempts if isinstance(attempt, ParsedCall)]
    errors = [f"call {n}: {a}" for n, a in enumerate(attempts, 1) if isinstance(a, str)]
    return Parsed(calls, _tidy(outside), _join(errors, len(attempts)))


def _qwen_function(block: _Block, schemas: Mapping[str, Mapping[str, Any]]) -> ParsedCall | str:
    name = block.opening.group(1).strip().strip("\"'")
    if not name:
        return "the <function=…> tag names no function"
    properties = schemas.get(name, {})
    parameters, rest = _find_blocks(block.body, _PARAMETER_OPEN, _PARAMETER_CLOSE)
    rest = rest.strip()
    if not parameters:
        if not rest:
            return ParsedCall(name, {})
        decoded = decode(rest)
        if decoded.error or not isinstance(decoded.value, dict):
            reason = decoded.error or "it is not an object"
            return (
                f"the body of {name!r} holds neither <parameter=…> blocks nor a JSON object "
                f"({reason}): {snippet(rest)!r}"
            )
        return ParsedCall(name, decoded.value)
    arguments: dict[str, Any] = {}
    for parameter in parameters:
        key = parameter.opening.group(1).strip().strip("\"'")
        if not key:
            return f"a <parameter=…> tag of {name!r} names no parameter"
        value = _typed_value(_trim_value(parameter.body), properties.get(key))
        if isinstance(value, _Unreadable):
            return f"parameter {key!r} of {name!r} should be JSON {value.expected} but {value.reason}"
        arguments[key] = value
    return ParsedCall(name, arguments)


@dataclass(frozen=True)
class _Unreadable:
    expected: str
    reason: str


def _trim_value(raw: str) -> str:
    """Drop the newline after the opening tag and before the closing one (the documented layout)."""
    value = raw[1:] if raw.startswith("\n") else raw
    return value[:-1] if value.endswith("\n") else value


def _typed_value(value: str, schema: Mapping[str, Any] | None) -> Any:
    """The value as the schema types it. A value that does not fit a scalar type stays the string
    the model wrote (the task scores it as a wrong argument); a broken object or array is an error."""
    types = _schema_types(schema)
    text = value.strip()
    if "null" in types and text.lower() in ("null", "none"):
        return None
    if "string" in types and not types & {"object", "array"}:
        return value
    if types & {"object", "array"}:
        decoded = decode(text)
        if decoded.error:
            return _Unreadable("/".join(sorted(types & {"object", "array"})), decoded.error)
        return decoded.value
    if "integer" in types and _INTEGER.fullmatch(text):
        return int(text)
    if "number" in types:
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if _INTEGER.fullmatch(text) else number
    if "boolean" in types and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if not types:  # no schema: a JSON literal is read as one, anything else is text
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return value
    return value


def _schema_types(schema: Mapping[str, Any] | None) -> set[str]:
    if not schema:
        return set()
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    if "enum" in schema:
        return {"string"} if all(isinstance(v, str) for v in schema["enum"]) else set()
    return set()


def _parameter_schemas(tools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for tool in tools:
        function = tool.get("function", tool)
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            parameters = function.get("parameters") or {}
            schemas[function["name"]] = dict(parameters.get("properties") or {})
    return schemas


# ---- pi ----------------------------------------------------------------------------------------


def parse_pi(text: str, tool_names: Iterable[str] | None = None, *, reasoning: str = "") -> Parsed:
    """A `<think>` block, then hermes calls. `reasoning` is what the server already split off."""
    split = split_reasoning(text)
    thought = "\n".join(part for part in (reasoning.strip(), split.reasoning) if part)
    parsed = parse_hermes(split.answer, tool_names)
    error = parsed.error
    if not parsed.calls and not error and _HERMES_OPEN.search(thought):
        error = (
            "the tool call is inside the <think> block, where it is a draft; "
            "the pi dialect expects calls after </think>"
        )
    return Parsed(parsed.calls, parsed.prose, error, thought)


# ---- shared ------------------------------------------------------------------------------------


def tool_names_of(tools: list[dict[str, Any]] | None) -> list[str]:
    names: list[str] = []
    for tool in tools or []:
        function = tool.get("function", tool)
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.append(function["name"])
    return names


def _find_blocks(text: str, opening: re.Pattern[str], closing: re.Pattern[str]) -> tuple[list[_Block], str]:
    """Tagged blocks and the text outside them. A block ends at its closing tag, or, when that is
    missing, at the next opening tag or the end of the text (the model stopped early)."""
    blocks: list[_Block] = []
    outside: list[str] = []
    cursor = 0
    while (start := opening.search(text, cursor)) is not None:
        outside.append(text[cursor : start.start()])
        close = closing.search(text, start.end())
        following = opening.search(text, start.end())
        if close is not None and (following is None or close.start() <= following.start()):
            body_end, cursor = close.start(), close.end()
        else:
            body_end = cursor = following.start() if following is not None else len(text)
        blocks.append(_Block(start, text[start.end() : body_end]))
    outside.append(text[cursor:])
    return blocks, "".join(outside)


def _tidy(prose: str) -> str:
    """Prose with the blank runs left by removed blocks collapsed."""
    return re.sub(r"\n{3,}", "\n\n", prose).strip()


def _join(errors: list[str], attempts: int) -> str | None:
    if not errors:
        return None
    return f"{len(errors)} of {attempts} tool calls could not be read: " + "; ".join(errors)
