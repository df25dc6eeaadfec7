"""The bodies a chat reply is sent as: the usage it reports, the error object of a fault, and the
server-sent events of a stream (pure, so that the server only decides when to write them)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from benchlab.testing.scripted_server.planning import ReplyPlan, group_pieces, prompt_tokens, split_words
from benchlab.testing.scripted_server.script import Fault, Pacing, Reply

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
DONE = b"data: [DONE]\n\n"


def fault_error(fault: Fault) -> dict[str, Any]:
    message = fault.message or "scripted failure after the response had started"
    return {"code": fault.status, "message": message, "type": "server_error"}


def usage_of(body: Mapping[str, Any], plan: ReplyPlan) -> dict[str, Any]:
    prompt = prompt_tokens(body)
    n_reasoning, n_other = plan.tokens
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": n_reasoning + n_other,
        "total_tokens": prompt + n_reasoning + n_other,
    }
    if n_reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": n_reasoning}
    return usage


def stream_events(
    body: Mapping[str, Any],
    reply: Reply,
    plan: ReplyPlan,
    pacing: Pacing,
    rid: str,
    *,
    model: str,
    reasoning_field: str,
) -> list[tuple[float, bytes]]:
    """The SSE events of a stream as ``(delay_before, bytes)``; delays fall on content chunks."""
    head = (
        f'data: {{"id":"{rid}","object":"chat.completion.chunk","created":{int(time.time())},'
        f'"model":{json.dumps(model)},"choices":[{{"index":0,"delta":'
    )
    open_tail = ',"finish_reason":null}]}\n\n'
    size = pacing.tokens_per_chunk
    deltas: list[dict[str, Any]] = [
        {reasoning_field: p} for p in group_pieces(split_words(plan.reasoning), size)
    ]
    deltas += [{"content": p} for p in group_pieces(split_words(plan.content), size)]
    for index, call in enumerate(plan.tool_calls):
        function = call["function"]
        first = {"index": index, "id": call["id"], "type": "function"}
        deltas.append({"tool_calls": [{**first, "function": {"name": function["name"], "arguments": ""}}]})
        for piece in group_pieces(split_words(function["arguments"]), size):
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})

    events: list[tuple[float, bytes]] = []
    if pacing.role_chunk:
        events.append((0.0, (head + '{"role":"assistant","content":""}' + open_tail).encode()))
    elif deltas:
        deltas[0] = {"role": "assistant", **deltas[0]}
    else:
        deltas.append({"role": "assistant", "content": ""})
    for i, delta in enumerate(deltas):
        events.append(
            (pacing.ttft if i == 0 else pacing.gap, (head + json.dumps(delta) + open_tail).encode())
        )

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    final = f'{head}{{}},"finish_reason":{json.dumps(plan.finish_reason)}}}]'
    extras: dict[str, Any] = {}
    if include_usage:
        events.append((0.0, (final + "}\n\n").encode()))
        final = head.split('"choices":')[0] + '"choices":[]'
        extras["usage"] = reply.usage or usage_of(body, plan)
    if reply.timings is not None:
        extras["timings"] = reply.timings
    tail = "".join(f",{json.dumps(k)}:{json.dumps(v)}" for k, v in extras.items())
    events.append((0.0, (final + tail + "}\n\n").encode()))
    events.append((0.0, DONE))
    return events
