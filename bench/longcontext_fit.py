"""How exactly long-context haystacks hit their token counts on the real llama.cpp server.

    python bench/longcontext_fit.py [--max-length 8000]

Starts the smoke model on the embedded llama.cpp server (8k tokens per slot), builds the haystack
of every `longcontext_core` row up to `--max-length` with the server's tokenizer (`POST
/tokenize`), and prints how many landed on the exact count, the tokenize calls per haystack and
the wall time. Nothing is sent to the model: this measures the fit, not retrieval.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from benchlab import api
from benchlab.endpoints.client import ChatClient
from benchlab.endpoints.managed import ServerProcess, free_port
from benchlab.tasks import longcontext_haystack as haystacks
from benchlab.tasks.longcontext import ServerTokenCounter
from benchlab.types import Endpoint


class CountingCounter(ServerTokenCounter):
    calls = 0

    async def count(self, text: str) -> int:
        CountingCounter.calls += 1
        return await super().count(text)


async def fit_all(base_url: str, max_length: int) -> None:
    rows = [s.data for s in api.load("longcontext_core").samples if s.data["length"] <= max_length]
    exact, started = 0, time.perf_counter()
    async with ChatClient(Endpoint(base_url=base_url)) as client:
        for row in rows:
            built = await haystacks.build(row["seed"], row["depth"], row["length"], CountingCounter(client))
            exact += built.exact
            if not built.exact:
                print(f"missed: {row} -> {built.tokens} tokens")
    seconds = time.perf_counter() - started
    print(
        f"exact token count: {exact}/{len(rows)} haystacks · {CountingCounter.calls / max(1, len(rows)):.1f} "
        f"tokenize calls each · {seconds:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-length", type=int, default=8000)
    args = parser.parse_args()
    with ServerProcess(smoke=True, port=free_port(), parallel=2, ctx=16384) as server:
        asyncio.run(fit_all(server.base_url, args.max_length))


if __name__ == "__main__":
    main()
