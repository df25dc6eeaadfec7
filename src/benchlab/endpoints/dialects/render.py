"""Writing tools and tool-calling history into plain chat messages for the prompt dialects.

The tools (their JSON schemas) and the instructions for the call format go into the system
prompt, after any system text the task already has. The OpenAI-shaped history is rewritten so a
server that knows nothing of tools can carry a multi-turn loop: an assistant message's
`tool_calls` become call markup in its text, and the `role: tool` results that follow become one
user turn of `<tool_response>` blocks.
"""

from __future__ import annotations

import json
from typing import Any

from benchlab.endpoints.dialects.lenient_json import decode

_HERMES_FORMAT = """\
# Tools

You can call the functions described below. Each line of the tools block is one function's \
JSON schema:
<tools>
{tools}
</tools>

To call a function, write a JSON object with the function's name and its arguments inside \
<tool_call></tool_call> tags, exactly like this:
<tool_call>
{{"name": "function_name", "arguments": {{"argument_name": "value"}}}}
</tool_call>
Write one <tool_call> block per call; several blocks in one reply are allowed. The arguments must \
be valid JSON that follows the schema. Each result comes back to you in a tool_response block. \
When no function is needed, or once you have what you need, answer in plain text with no \
tags."""

_PI_FORMAT = (
    """\
# How to answer

First think the request through inside <think></think> tags. After the closing </think> tag, \
either give your answer or call functions as described below; a call written inside the <think> \
block is not carried out.

"""
    + _HERMES_FORMAT
)

_QWEN_FORMAT = """\
# Tools

You can call the functions described below. Each line of the tools block is one function's \
JSON schema:
<tools>
{tools}
</tools>

To call a function, write this structure, with one <parameter> block per argument:
<tool_call>
<function=function_name>
<parameter=argument_name>
value
</parameter>
</function>
</tool_call>
Write text values as they are, numbers and true/false bare, and objects or arrays as JSON. Write \
one <tool_call> block per call; several blocks in one reply are allowed. Each result comes back to \
you in a tool_response block. When no function is needed, or once you have what you \
need, answer in plain text with no tags."""

_FORMATS = {"hermes": _HERMES_FORMAT, "qwen": _QWEN_FORMAT, "pi": _PI_FORMAT}


def system_prompt(dialect: str, tools: list[dict[str, Any]]) -> str:
    """The tool section of the system prompt for `dialect`."""
    # One function object per line, name first: the layout chat templates for tool-trained models use.
    listing = "\n".join(json.dumps(_function_of(tool), ensure_ascii=False) for tool in tools)
    return _FORMATS[dialect].format(tools=listing)


def _function_of(tool: dict[str, Any]) -> dict[str, Any]:
    inner = tool.get("function")
    function: dict[str, Any] = inner if isinstance(inner, dict) else tool
    name_first = {"name": function.get("name")}
    return {**name_first, **{key: value for key, value in function.items() if key != "name"}}


def render_call(dialect: str, name: str, arguments: dict[str, Any]) -> str:
    """One call written the way `dialect` asks the model to write it."""
    if dialect == "qwen":
        parameters = "".join(
            f"<parameter={key}>\n{_qwen_value(value)}\n</parameter>\n" for key, value in arguments.items()
        )
        return f"<tool_call>\n<function={name}>\n{parameters}</function>\n</tool_call>"
    payload = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{payload}\n</tool_call>"


def render_messages(
    dialect: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """The messages as a server without tool support should see them under `dialect`."""
    names_by_id: dict[str, str] = {}
    rendered: list[dict[str, Any]] = []
    pending_results: list[str] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            pending_results.append(_tool_result(dialect, message, names_by_id))
            continue
        if pending_results:
            results = "\n".join(pending_results)
            pending_results = []
            if role == "user" and isinstance(message.get("content"), str):
                # Two user turns in a row upset strict chat templates: the results lead this one.
                rendered.append({**message, "content": f"{results}\n\n{message['content']}"})
                continue
            rendered.append({"role": "user", "content": results})
        if role == "assistant" and message.get("tool_calls"):
            rendered.append(_assistant_with_calls(dialect, message, names_by_id))
        else:
            rendered.append(dict(message))
    if pending_results:
        rendered.append({"role": "user", "content": "\n".join(pending_results)})
    if tools:
        rendered = _with_system_prompt(rendered, system_prompt(dialect, tools))
    return rendered


def _assistant_with_calls(
    dialect: str, message: dict[str, Any], names_by_id: dict[str, str]
) -> dict[str, Any]:
    parts = [message["content"].strip()] if isinstance(message.get("content"), str) else []
    for call in message["tool_calls"]:
        function = call.get("function") or {}
        name = str(function.get("name") or "")
        if call.get("id"):
            names_by_id[str(call["id"])] = name
        raw = function.get("arguments")
        arguments = raw if isinstance(raw, dict) else _arguments_object(raw)
        parts.append(render_call(dialect, name, arguments))
    kept = {key: value for key, value in message.items() if key not in ("tool_calls", "content")}
    return {**kept, "content": "\n".join(part for part in parts if part)}


def _arguments_object(raw: Any) -> dict[str, Any]:
    """The arguments of a recorded call as an object; a string that is not an object is kept whole
    under `_raw` so the model still sees what it wrote."""
    if raw is None or raw == "":
        return {}
    decoded = decode(str(raw))
    if decoded.error is None and isinstance(decoded.value, dict):
        return decoded.value
    return {"_raw": str(raw)}


def _tool_result(dialect: str, message: dict[str, Any], names_by_id: dict[str, str]) -> str:
    content = _text(message.get("content"))
    if dialect == "qwen":
        return f"<tool_response>\n{content}\n</tool_response>"
    name = message.get("name") or names_by_id.get(str(message.get("tool_call_id")), "")
    try:
        result: Any = json.loads(content)
    except json.JSONDecodeError:
        result = content
    payload = json.dumps({"name": name, "content": result}, ensure_ascii=False)
    return f"<tool_response>\n{payload}\n</tool_response>"


def _with_system_prompt(messages: list[dict[str, Any]], section: str) -> list[dict[str, Any]]:
    if messages and messages[0].get("role") == "system":
        first = messages[0]
        content = first.get("content")
        if isinstance(content, list):  # content parts: add ours as one more text part
            merged: Any = [*content, {"type": "text", "text": section}]
        else:
            existing = _text(content).strip()
            merged = f"{existing}\n\n{section}" if existing else section
        return [{**first, "content": merged}, *messages[1:]]
    return [{"role": "system", "content": section}, *messages]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    if content is None:
        return ""
    return json.dumps(content, ensure_ascii=False)


def _qwen_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
