"""`benchlab doctor`: find servers and say what each one supports, and what to fix.

Each check is a real request: a model listing, a short streamed reply with usage requested, a reply
with one tool offered (natively, then through each prompt dialect). Nothing is assumed from the
server's name.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from pydantic import SecretStr

from benchlab.endpoints.client import ChatClient, RetryPolicy
from benchlab.endpoints.detect import detect_server
from benchlab.endpoints.dialects import DIALECTS, with_dialect
from benchlab.endpoints.errors import EndpointError
from benchlab.types import Endpoint, GenerationParams

USUAL_PORTS = {
    8000: "vLLM / llama.cpp",
    8080: "llama.cpp",
    11434: "Ollama",
    1234: "LM Studio",
    30000: "SGLang",
}

_PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: could not tell
    detail: str


@dataclass
class ServerReport:
    url: str
    reachable: bool
    kind: str | None = None
    version: str | None = None
    models: list[str] = field(default_factory=list)
    slots: int | None = None
    checks: list[Check] = field(default_factory=list)
    problem: str | None = None


async def probe_servers(urls: list[str] | None, *, api_key: str | None) -> list[ServerReport]:
    targets = urls or [f"http://127.0.0.1:{port}" for port in USUAL_PORTS]
    return list(await asyncio.gather(*(probe(url, api_key=api_key) for url in targets)))


async def probe(url: str, *, api_key: str | None) -> ServerReport:
    endpoint = Endpoint(base_url=url, api_key=SecretStr(api_key) if api_key else None)
    async with ChatClient(
        endpoint, timeout=60.0, connect_timeout=2.0, retry=RetryPolicy(attempts=1)
    ) as client:
        try:
            model, listing = await client.resolve_model(None)
        except EndpointError as error:
            return ServerReport(url=url, reachable=False, problem=str(error))
        info = await detect_server(client, listing)
        client.endpoint = endpoint.model_copy(update={"model": model})
        report = ServerReport(
            url=url,
            reachable=True,
            kind=info.kind.value,
            version=info.version,
            models=[str(entry["id"]) for entry in listing],
            slots=info.slots,
        )
        report.checks.extend(await _check_stream(client))
        report.checks.append(await _check_tools(client))
        report.checks.append(await _check_prompt_dialects(client))
        if info.slots:
            report.checks.append(Check("parallel slots", True, f"{info.slots} (used by --concurrency auto)"))
        return report


async def _check_stream(client: ChatClient) -> list[Check]:
    params = GenerationParams(max_tokens=16)
    messages = [{"role": "user", "content": "Say hello."}]
    try:
        completion = await client.chat(messages, params)
    except EndpointError as error:
        return [Check("streamed chat", False, f"{error}")]
    checks = [Check("streamed chat", True, f"first token after {_ms(completion.timings.ttft)}")]
    if completion.usage.approximate:
        checks.append(
            Check(
                "usage in stream",
                False,
                "no token counts with stream_options.include_usage; token figures will be approximate",
            )
        )
    else:
        checks.append(Check("usage in stream", True, f"{completion.usage.completion_tokens} output tokens"))
    if completion.server_timings:
        checks.append(Check("server timings", True, "the server reports its own prefill/decode timings"))
    else:
        checks.append(Check("server timings", None, "none reported; speed figures are client-side only"))
    if completion.reasoning:
        checks.append(Check("reasoning split", True, "reasoning arrives apart from the answer"))
    return checks


async def _check_tools(client: ChatClient) -> Check:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    try:
        completion = await client.chat(messages, GenerationParams(max_tokens=96), tools=[_PROBE_TOOL])
    except EndpointError as error:
        return Check(
            "native tool calls",
            False,
            f"the server refused `tools` ({error}); for llama.cpp start it with --jinja",
        )
    if not completion.tool_calls:
        return Check(
            "native tool calls",
            None,
            "accepted `tools` but the model answered in text; try a prompt dialect for tool tasks",
        )
    call = completion.tool_calls[0]["function"]
    try:
        json.loads(call.get("arguments") or "{}")
        parsed = "valid JSON arguments"
    except json.JSONDecodeError:
        parsed = "arguments are not valid JSON"
    return Check("native tool calls", True, f"called {call.get('name')!r}, {parsed}")


async def _check_prompt_dialects(client: ChatClient) -> Check:
    """The same tool request through each prompt dialect (tools in the prompt, calls read from text)."""
    prompt_dialects = [dialect for dialect in DIALECTS if dialect != "raw"]
    outcomes = await asyncio.gather(*(_try_dialect(client, dialect) for dialect in prompt_dialects))
    results = dict(zip(prompt_dialects, outcomes, strict=True))
    detail = "; ".join(f"{dialect}: {what}" for dialect, (_, what) in results.items())
    # None, not False, when none works: a model may answer a weather question in text on purpose.
    return Check("prompt dialects", True if any(ok for ok, _ in outcomes) else None, detail)


async def _try_dialect(client: ChatClient, dialect: str) -> tuple[bool, str]:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    chat = with_dialect(client.chat, dialect)
    try:
        completion = await chat(messages, GenerationParams(max_tokens=160), tools=[_PROBE_TOOL])
    except EndpointError as error:
        return False, f"request failed ({error})"
    names = [call["function"]["name"] for call in completion.tool_calls]
    if names:
        return True, f"called {', '.join(repr(name) for name in names)}"
    if completion.tool_parse_error:
        return False, "unreadable call"
    return False, "answered in text"


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"
