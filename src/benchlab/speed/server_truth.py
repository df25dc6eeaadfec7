"""The server's own figures, beside the client's: per-request timings and Prometheus counters.

Servers report their timings in different shapes; `normalize` maps each to one set of names so a
report can put the server's prefill and decode rates next to the client's and show the gap:

- llama.cpp `timings`: `prompt_n`/`prompt_ms` (prefill), `predicted_n`/`predicted_ms` (decode, from
  the first generated token to the last), `cache_n` (prompt tokens reused from the cache).
- Ollama native counters: `prompt_eval_count`/`prompt_eval_duration`, `eval_count`/`eval_duration`
  (durations in nanoseconds).
- LM Studio `stats`: `tokens_per_second`, `time_to_first_token` and `generation_time` (seconds).

The decode rate compared with the client's is `(predicted_n - 1) / predicted_ms` for llama.cpp,
because its `predicted_ms` runs from the first generated token to the last — the same span the
client divides by. The rate the server itself prints (`predicted_n / predicted_ms`) is kept as
`reported_decode_rate`.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from benchlab.types import ServerKind

# Counters worth a before/after difference, by the names vLLM, SGLang and llama.cpp export.
COUNTER_HINTS = (
    "prompt_tokens_total",
    "generation_tokens_total",
    "tokens_predicted_total",
    "request_success_total",
    "num_requests_total",
    "requests_processing",
)


def normalize(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """One shape for every server's per-request figures; None when there are none."""
    if not raw:
        return None
    if "predicted_n" in raw or "prompt_n" in raw:
        return _llamacpp(raw)
    if "eval_count" in raw or "prompt_eval_count" in raw:
        return _ollama(raw)
    if "tokens_per_second" in raw or "time_to_first_token" in raw:
        return _lmstudio(raw)
    return None


def _rate(tokens: Any, milliseconds: Any) -> float | None:
    if not isinstance(tokens, int | float) or not isinstance(milliseconds, int | float) or milliseconds <= 0:
        return None
    return tokens / (milliseconds / 1000.0)


def _llamacpp(raw: dict[str, Any]) -> dict[str, Any]:
    predicted_n, predicted_ms = raw.get("predicted_n"), raw.get("predicted_ms")
    decode = None
    if isinstance(predicted_n, int) and predicted_n > 1:
        decode = _rate(predicted_n - 1, predicted_ms)
    return {
        "source": "llama.cpp timings",
        "prompt_tokens": raw.get("prompt_n"),
        "prompt_ms": raw.get("prompt_ms"),
        "prefill_rate": _rate(raw.get("prompt_n"), raw.get("prompt_ms")),
        "output_tokens": predicted_n,
        "decode_ms": predicted_ms,
        "decode_rate": decode,
        "reported_decode_rate": raw.get("predicted_per_second"),
        "cached_tokens": raw.get("cache_n"),
    }


def _ollama(raw: dict[str, Any]) -> dict[str, Any]:
    def ms(key: str) -> float | None:
        value = raw.get(key)
        return value / 1e6 if isinstance(value, int | float) else None

    return {
        "source": "ollama eval counters",
        "prompt_tokens": raw.get("prompt_eval_count"),
        "prompt_ms": ms("prompt_eval_duration"),
        "prefill_rate": _rate(raw.get("prompt_eval_count"), ms("prompt_eval_duration")),
        "output_tokens": raw.get("eval_count"),
        "decode_ms": ms("eval_duration"),
        "decode_rate": _rate(raw.get("eval_count"), ms("eval_duration")),
        "reported_decode_rate": _rate(raw.get("eval_count"), ms("eval_duration")),
        "cached_tokens": None,
    }


def _lmstudio(raw: dict[str, Any]) -> dict[str, Any]:
    ttft, generation = raw.get("time_to_first_token"), raw.get("generation_time")
    return {
        "source": "lmstudio stats",
        "prompt_tokens": None,
        "prompt_ms": ttft * 1000.0 if isinstance(ttft, int | float) else None,
        "prefill_rate": None,
        "output_tokens": None,
        "decode_ms": generation * 1000.0 if isinstance(generation, int | float) else None,
        "decode_rate": raw.get("tokens_per_second"),
        "reported_decode_rate": raw.get("tokens_per_second"),
        "cached_tokens": None,
    }


TWIN_KINDS = frozenset({ServerKind.OLLAMA, ServerKind.LMSTUDIO})


async def native_twin(
    session: aiohttp.ClientSession,
    kind: ServerKind,
    server_root: str,
    model: str,
    text: str,
    *,
    max_tokens: int,
    seed: int,
) -> dict[str, Any] | None:
    """The server's own figures for a twin of a measured request, asked on its native API.

    Ollama's and LM Studio's OpenAI-compatible streams carry no timings, so the same prompt is sent
    once more natively (not streamed, same length limit and seed): Ollama's `/api/chat` answers
    with `eval_*` counters, LM Studio's `/api/v0/chat/completions` with `stats`. They describe a
    twin request, not the measured ones, and are labelled so.
    """
    messages = [{"role": "user", "content": text}]
    if kind is ServerKind.OLLAMA:
        path = "/api/chat"
        options = {"num_predict": max_tokens, "seed": seed, "temperature": 0}
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": False, "options": options}
    elif kind is ServerKind.LMSTUDIO:
        path = "/api/v0/chat/completions"
        body = {"model": model, "messages": messages, "stream": False, "max_tokens": max_tokens, "seed": seed}
    else:
        return None
    try:
        async with session.post(
            server_root + path, json=body, timeout=aiohttp.ClientTimeout(total=600)
        ) as response:
            if response.status != 200:
                return None
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    if not isinstance(answer, dict):
        return None
    figures = normalize(answer.get("stats") if kind is ServerKind.LMSTUDIO else answer)
    return None if figures is None else {**figures, "source": f"{figures['source']} (native twin request)"}


def relative_gap(client: float | None, server: float | None) -> float | None:
    """(client − server) / server: how far the client's figure is from the server's own."""
    if client is None or server is None or server == 0:
        return None
    return (client - server) / server


# ---- Prometheus /metrics ----------------------------------------------------------------------


class MetricsUnavailable(RuntimeError):
    """The Prometheus parser is not installed; the message says how to add it."""


def parse_counters(text: str) -> dict[str, float]:
    """The samples of a Prometheus text page whose names look like throughput counters, summed over
    their labels (one model per server, usually)."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError as error:
        raise MetricsUnavailable(
            "reading /metrics needs prometheus-client: pip install 'benchlab[speed]'"
        ) from error
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if any(hint in sample.name for hint in COUNTER_HINTS):
                totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
    return totals


async def scrape(session: aiohttp.ClientSession, server_root: str) -> dict[str, float] | None:
    """The counters at `<server>/metrics`, or None when the server does not export them."""
    try:
        async with session.get(server_root + "/metrics", timeout=aiohttp.ClientTimeout(total=5)) as response:
            if response.status != 200:
                return None
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError):
        return None
    try:
        counters = parse_counters(text)
    except ValueError:  # not a Prometheus page after all
        return None
    return counters or None


def counter_delta(before: dict[str, float] | None, after: dict[str, float] | None) -> dict[str, float] | None:
    """What each counter moved by during a sweep (gauges that went down are left out)."""
    if not before or not after:
        return None
    return {
        name: after[name] - before.get(name, 0.0)
        for name in sorted(after)
        if after[name] >= before.get(name, 0.0)
    }
