"""Prompts for speed runs: unique per request (so no prompt cache hides prefill), of a chosen length.

Lengths are exact when the server has a tokenizer endpoint (llama.cpp `/tokenize` and
`/detokenize`): the filler is tokenized, cut to the wanted count and turned back into text, then
checked. Elsewhere a token is taken as four characters and the length is marked approximate; the
server's `usage.prompt_tokens` (recorded per request) says what was really sent.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

import aiohttp

# Original filler prose; shuffled per request so prompts differ from their first words on.
_SENTENCES = (
    "The harbour clock struck nine while the ferry waited for the last crate of lemons.",
    "A cartographer counted the bridges twice and still found one more on the third walk.",
    "Rain moved across the valley in slow grey curtains, pausing over the orchard.",
    "The apprentice sharpened every pencil in the workshop before the drawings arrived.",
    "Someone had left a violin case on the tram, and nobody dared to open it.",
    "By noon the market smelled of bread, wet stone and the river's cold breath.",
    "Two engineers argued about a gear ratio until the kettle settled the matter.",
    "The lighthouse keeper logged the wind each hour in a careful, looping hand.",
    "Snow on the pass closed the road, so the letters travelled by mule that week.",
    "An old map showed a lake where the library now stands, drawn in faded blue.",
    "The choir practised the same four bars until the echo began to sound tired.",
    "A heron stood in the canal as if it had been hired to guard the locks.",
)
# After the story, not before it: a shared first line would let a prompt cache skip part of the prefill.
INSTRUCTION = "\n\nContinue this story for as long as you can, in plain prose."
CHARS_PER_TOKEN = 4  # the usual rough ratio for English with BPE vocabularies

# The quick profile's prompt sizes, in tokens of user content.
QUICK_SIZES = {"short": 32, "medium": 512, "long": 2048}


@dataclass(frozen=True)
class Prompt:
    text: str
    target_tokens: int
    exact: bool  # counted with the server's tokenizer, not estimated


def filler(seed: int, min_chars: int) -> str:
    """Seeded prose of at least `min_chars` characters; a different seed starts differently."""
    rng = random.Random(seed)
    parts: list[str] = [f"Story {seed}."]
    size = len(parts[0])
    for _ in itertools.count():
        if size >= min_chars:
            break
        sentence = rng.choice(_SENTENCES)
        parts.append(sentence)
        size += len(sentence) + 1
    return " ".join(parts)


class Tokenizer:
    """The server's tokenizer endpoints (llama.cpp); `available` is False when it has none."""

    def __init__(self, session: aiohttp.ClientSession, server_root: str) -> None:
        self.session = session
        self.root = server_root
        self.available: bool | None = None

    async def _post(self, path: str, body: dict[str, Any]) -> Any | None:
        try:
            async with self.session.post(
                self.root + path, json=body, timeout=aiohttp.ClientTimeout(total=30)
            ) as response:
                if response.status != 200:
                    return None
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def tokenize(self, text: str) -> list[int] | None:
        answer = await self._post("/tokenize", {"content": text, "add_special": False})
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            return None
        return tokens

    async def detokenize(self, tokens: list[int]) -> str | None:
        answer = await self._post("/detokenize", {"tokens": tokens})
        content = answer.get("content") if isinstance(answer, dict) else None
        return content if isinstance(content, str) else None

    async def probe(self) -> bool:
        if self.available is None:
            self.available = await self.tokenize("probe") is not None
        return self.available


async def make_prompt(tokenizer: Tokenizer | None, target_tokens: int, seed: int) -> Prompt:
    """A unique prompt whose story part is `target_tokens` long (exactly, when the server can count)."""
    target_tokens = max(1, target_tokens)
    text = filler(seed, target_tokens * CHARS_PER_TOKEN * 2)
    if tokenizer is not None and await tokenizer.probe():
        exact = await _fit(tokenizer, text, target_tokens)
        if exact is not None:
            return Prompt(exact + INSTRUCTION, target_tokens, exact=True)
    return Prompt(text[: target_tokens * CHARS_PER_TOKEN] + INSTRUCTION, target_tokens, exact=False)


async def _fit(tokenizer: Tokenizer, text: str, target: int) -> str | None:
    tokens = await tokenizer.tokenize(text)
    if tokens is None or len(tokens) < target:
        return None
    cut = await tokenizer.detokenize(tokens[:target])
    if cut is None:
        return None
    # Re-tokenizing may merge pieces differently at the cut; trim a few characters until it fits.
    for _ in range(8):
        count = await tokenizer.tokenize(cut)
        if count is None:
            return None
        if len(count) == target:
            return cut
        if len(count) < target:
            return None
        cut = cut[:-1]
    return None
