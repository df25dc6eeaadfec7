"""Do the client's speed figures agree with the server's own? Against the real llama.cpp server.

Starts llama.cpp (xllamacpp) serving benchlab's smoke model with ONE slot (so no request shares the
engine with another), and compares, request by request, what benchlab's client measures on the
wire with what llama.cpp reports in its `timings`:

Decode. Every request asks for OUTPUT tokens with `ignore_eos`, so all of them are generated.
  The client's decode span is the time between the first and the last token-carrying chunk; the
  server's `predicted_ms` runs from the first generated token to the last — the same interval, seen
  from the two ends of the socket. The client's rate is (tokens − 1) / span; the server's is
  compared the same way, (predicted_n − 1) / predicted_ms (the server's own printed
  `predicted_per_second` divides n, not n − 1, by that span, and is shown for reference).
  Agreement: the median relative gap within 5%, or the median span difference within 2 ms.

Prefill. The client cannot see prefill alone: its TTFT = fixed overhead (HTTP, chat template,
  tokenization, scheduling, sampling the first token) + prompt tokens / prefill rate. So prompts
  of several exact lengths (counted with the server's `/tokenize`) are sent, each request starting
  with unique text so the prompt cache never helps (every request's `cache_n` is checked to be
  small), and the prefill rate is the inverse of the slope of TTFT over prompt tokens (Theil–Sen:
  the median of pairwise slopes, so a request that waited behind something cannot tilt it), which
  the fixed overhead does not change. The server's rate is the inverse slope of its
  `prompt_ms` over `prompt_n` on the same requests. Agreement: within 5%. The naive
  prompt_tokens / TTFT is printed too, to show how far off it is.

    python bench/speed_agreement.py            # ~1-3 minutes on a quiet machine
    python bench/speed_agreement.py --quick    # fewer requests

Exit status 0 when both agree, 1 when not (the figures are printed either way).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from benchlab.endpoints.client import ChatClient
from benchlab.endpoints.managed import ServerProcess, free_port
from benchlab.speed.aggregate import prefill_by_difference, ttft_line
from benchlab.speed.workload import Tokenizer, make_prompt
from benchlab.types import Endpoint, GenerationParams, ServerKind

TOLERANCE = 0.05
SPAN_TOLERANCE_S = 0.002


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


async def decode_agreement(client: ChatClient, tokenizer: Tokenizer, requests: int, output: int) -> bool:
    params = GenerationParams(max_tokens=output, extra_body={"ignore_eos": True})
    rows, gaps, span_diffs = [], [], []
    for index in range(requests + 1):
        prompt = await make_prompt(tokenizer, 64, seed=10_000 + index)
        completion = await client.chat([{"role": "user", "content": prompt.text}], params)
        if index == 0:
            continue  # warm-up
        timings, server = completion.timings, completion.server_timings or {}
        span, server_ms = timings.decode_span, server.get("predicted_ms")
        n, server_n = completion.usage.completion_tokens, server.get("predicted_n")
        if not span or not server_ms or not n or not server_n:
            print(f"request {index}: missing figures (span {span}, server {server_ms})")
            return False
        client_rate = (n - 1) / span
        server_rate = (server_n - 1) / (server_ms / 1000)
        gaps.append((client_rate - server_rate) / server_rate)
        span_diffs.append(span - server_ms / 1000)
        rows.append(
            [index, n, server_n, span * 1000, server_ms, client_rate, server_rate,
             server.get("predicted_per_second"), f"{gaps[-1]:+.2%}"]
        )  # fmt: skip
    print(f"\nDecode: {requests} requests of {output} tokens (ignore_eos), one slot, after one warm-up")
    headers = [
        "req",
        "tokens",
        "srv n",
        "span ms",
        "srv ms",
        "client tok/s",
        "server tok/s",
        "srv printed",
        "gap",
    ]
    print(table(headers, rows))
    median_gap, median_diff = statistics.median(gaps), statistics.median(span_diffs)
    ok = abs(median_gap) <= TOLERANCE or abs(median_diff) <= SPAN_TOLERANCE_S
    print(
        f"median gap {median_gap:+.2%} (span difference {median_diff * 1000:+.2f} ms): "
        f"{'AGREE' if ok else 'DISAGREE'} (within 5% or 2 ms)"
    )
    return ok


async def prefill_agreement(
    client: ChatClient, tokenizer: Tokenizer, lengths: list[int], repeats: int
) -> bool:
    params = GenerationParams(max_tokens=2)
    client_points, server_points, rows, cached = [], [], [], []
    seed = 20_000
    await client.chat([{"role": "user", "content": (await make_prompt(tokenizer, 32, seed)).text}], params)
    for length in lengths:
        for _ in range(repeats):
            seed += 1
            prompt = await make_prompt(tokenizer, length, seed)
            completion = await client.chat([{"role": "user", "content": prompt.text}], params)
            server = completion.server_timings or {}
            ttft, tokens = completion.timings.ttft, completion.usage.prompt_tokens
            if ttft is None or not tokens or server.get("prompt_ms") is None:
                print(f"length {length}: missing figures")
                return False
            cached.append(server.get("cache_n") or 0)
            client_points.append((float(tokens), ttft))
            server_points.append((float(server["prompt_n"]), server["prompt_ms"] / 1000))
            rows.append(
                [length, tokens, server["prompt_n"], server.get("cache_n"), ttft * 1000, server["prompt_ms"],
                 tokens / ttft, server["prompt_per_second"]]
            )  # fmt: skip
    print(f"\nPrefill: exact lengths {lengths} (user text, via /tokenize), {repeats} each, 2 output tokens")
    headers = ["length", "prompt", "srv n", "cache_n", "TTFT ms", "srv prompt ms", "tokens/TTFT", "srv tok/s"]
    print(table(headers, rows))
    client_rate = prefill_by_difference(client_points)
    server_rate = prefill_by_difference(server_points)
    if client_rate is None or server_rate is None:
        print("prefill: TTFT did not grow measurably with length; use longer --lengths")
        return False
    gap = (client_rate - server_rate) / server_rate
    line = ttft_line(client_points)
    intercept = line[1] if line else float("nan")
    ok = abs(gap) <= TOLERANCE
    print(
        f"prefill from the slope: client {client_rate:.1f} tok/s, server {server_rate:.1f} tok/s, "
        f"gap {gap:+.2%}: {'AGREE' if ok else 'DISAGREE'} (within 5%); fixed overhead (intercept) "
        f"{intercept * 1000:.1f} ms; prompt tokens served from cache at most {max(cached)}"
    )
    return ok


async def main_async(args: argparse.Namespace) -> int:
    with ServerProcess(smoke=True, port=free_port(), parallel=1) as server:
        endpoint = Endpoint(base_url=server.base_url, model=server.model_id, server_kind=ServerKind.LLAMACPP)
        async with ChatClient(endpoint, max_connections=4) as client:
            tokenizer = Tokenizer(client.session, endpoint.server_root)
            if not await tokenizer.probe():
                print("the server has no /tokenize endpoint")
                return 1
            decode_ok = await decode_agreement(client, tokenizer, args.requests, args.output)
            prefill_ok = await prefill_agreement(client, tokenizer, args.lengths, args.repeats)
    return 0 if decode_ok and prefill_ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--requests", type=int, default=8, help="decode: measured requests")
    parser.add_argument("--output", type=int, default=128, help="decode: tokens per request")
    parser.add_argument(
        "--lengths", type=lambda t: [int(x) for x in t.split(",")], default=[128, 512, 1024, 2048]
    )
    parser.add_argument("--repeats", type=int, default=3, help="prefill: requests per length")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.repeats, args.output = 4, 2, 64
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
