"""``python -m benchlab.testing.scripted_server``: serve a constant reply in a process of its own,
for the harness-overhead benchmarks."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from benchlab.testing.scripted_server.script import SERVER_KINDS, Pacing, Reply
from benchlab.testing.scripted_server.server import ScriptedServer


def _main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchlab.testing.scripted_server",
        description="Serve a constant scripted reply over the OpenAI chat API (for overhead benchmarks).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--reply", default="The answer is A", help="content of every reply")
    parser.add_argument("--model", default="scripted-model")
    parser.add_argument("--server-kind", default="generic", choices=sorted(SERVER_KINDS))
    parser.add_argument(
        "--slots", type=int, default=None, help="concurrent requests served (default: unlimited)"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply starts")
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds before the first streamed token")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between streamed chunks")
    parser.add_argument("--tokens-per-chunk", type=int, default=1)
    args = parser.parse_args(argv)
    pacing = Pacing(
        ttft=args.ttft, gap=args.gap, tokens_per_chunk=args.tokens_per_chunk, latency=args.latency
    )
    ScriptedServer(
        Reply.text(args.reply),
        pacing=pacing,
        slots=args.slots,
        model=args.model,
        server_kind=args.server_kind,
        host=args.host,
        port=args.port,
        record=False,
    ).run()


if __name__ == "__main__":
    _main()
