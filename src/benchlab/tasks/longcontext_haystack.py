"""The long-context haystack: seeded filler prose, a seeded needle, and fitting to a token count.

Everything is a pure function of the row's seed except the fit, which asks a `TokenCounter` how
many tokens a candidate text has: the server's own tokenizer where it has one (llama.cpp
`POST /tokenize`), else an estimate of 4 characters per token that is flagged on every sample.
The fit searches for the longest filler prefix whose haystack has at most the target count, so
with a tokenizer the haystack lands on the exact count: where a merge across the cut skips it,
nearby cuts are tried, and a sample that still misses by a token records `exact_length: false`.

The haystack is never stored: `compose()` rebuilds it from the seed, the needle position and the
filler length recorded with the sample, and its SHA-256 is recorded to prove the rebuild.

The filler contains no digits, so the needle's number is the only number in the document.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass
from typing import Protocol

ESTIMATED_CHARS_PER_TOKEN = 4.0
NEARBY_CUTS = 12  # filler lengths tried on each side when the largest fitting one is a token short
_BOUNDARY = re.compile(r"\. ")

_SUBJECTS = (
    "the ferry captain",
    "a retired surveyor",
    "the night baker",
    "our neighbour's cat",
    "the choir",
    "a travelling tinsmith",
    "the lighthouse keeper",
    "the orchard crew",
    "a patient archivist",
    "the village clockmaker",
    "two cyclists",
    "the harbour master",
    "a quiet student",
    "the weaver",
    "the beekeeper",
    "a visiting botanist",
    "the station porter",
    "the carpenter's apprentice",
)
_VERBS = (
    "walked slowly past",
    "wrote a long letter about",
    "repainted",
    "argued cheerfully over",
    "sketched",
    "forgot all about",
    "carried a basket toward",
    "listened for",
    "measured",
    "told a story about",
    "waited patiently beside",
    "swept the path near",
    "counted the birds above",
    "tidied",
    "hummed an old tune near",
    "looked for shelter under",
)
_OBJECTS = (
    "the stone bridge",
    "the old granary",
    "a row of pear trees",
    "the flooded meadow",
    "the market square",
    "a crooked fence",
    "the chapel roof",
    "the river bend",
    "the mill wheel",
    "a stack of firewood",
    "the narrow lane",
    "the copper kettle",
    "the library steps",
    "a field of barley",
    "the north tower",
    "the garden gate",
    "the empty bandstand",
)
_CODAS = (
    "before the rain arrived",
    "while the tide turned",
    "as the bells rang",
    "in the late afternoon",
    "without saying a word",
    "just after breakfast",
    "under a pale sky",
    "as the wind picked up",
    "long after dusk",
    "with great care",
    "for no particular reason",
    "as everyone expected",
)
_LABELS = (
    "vault access",
    "harbour gate",
    "greenhouse alarm",
    "archive cabinet",
    "signal tower",
    "boathouse lock",
    "observatory door",
    "granary ledger",
    "courier locker",
    "clock tower",
)


@dataclass(frozen=True)
class Needle:
    label: str
    value: str

    @property
    def sentence(self) -> str:
        return f"The secret number for the {self.label} is {self.value}."

    @property
    def question(self) -> str:
        return f"What is the secret number for the {self.label}?"


def needle_for(seed: int) -> Needle:
    """A seeded fact: a label and a 4-to-7-digit number (never starting with 0)."""
    rng = random.Random(f"needle:{seed}")
    digits = rng.randint(4, 7)
    value = str(rng.randint(10 ** (digits - 1), 10**digits - 1))
    return Needle(label=rng.choice(_LABELS), value=value)


def filler(seed: int, min_chars: int) -> str:
    """Seeded prose of at least `min_chars` characters; a longer call extends a shorter one's text."""
    rng = random.Random(f"filler:{seed}")
    sentences: list[str] = []
    size = 0
    while size <= min_chars:  # `size` counts a separator after the last sentence that join omits
        sentence = (
            f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_CODAS)}."
        )
        sentence = sentence[0].upper() + sentence[1:]
        sentences.append(sentence)
        size += len(sentence) + 1
    return " ".join(sentences)


def needle_position(text: str, depth: float) -> int:
    """The sentence boundary nearest to `depth` (0–100 %) of `text`, so the needle never splits
    a word; 0 is the very start and 100 the very end."""
    if depth <= 0 or not text:
        return 0
    if depth >= 100:
        return len(text)
    target = len(text) * depth / 100
    boundaries = [0, len(text)] + [match.end() for match in _BOUNDARY.finditer(text)]
    return min(boundaries, key=lambda index: (abs(index - target), index))


def compose(seed: int, needle: Needle, filler_chars: int, depth: float) -> str:
    """The haystack: the first `filler_chars` characters of the filler with the needle at `depth`.

    Nothing is stripped, so one more filler character is one more character of haystack and the
    token count grows in single steps (what lets `build` land on an exact count)."""
    body = filler(seed, filler_chars)[:filler_chars]
    at = needle_position(body, depth)
    if not body:
        return needle.sentence
    if at == 0:
        return needle.sentence + " " + body
    if at >= len(body):
        # Always one separator, even after a space: every extra filler character must add one
        # character to the haystack, or the count jumps by two and the exact length is missed.
        return body + " " + needle.sentence
    return body[:at] + needle.sentence + " " + body[at:]  # `at` follows a ". ", so spacing is kept


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TokenCounter(Protocol):
    method: str  # "tokenizer" (the server counted) or "estimate" (4 characters per token)

    async def count(self, text: str) -> int: ...


class EstimatedCounter:
    method = "estimate"

    async def count(self, text: str) -> int:
        return math.ceil(len(text) / ESTIMATED_CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Haystack:
    text: str
    tokens: int  # as counted by the counter (an estimate when `method` is "estimate")
    target: int
    filler_chars: int
    method: str
    sha256: str

    @property
    def exact(self) -> bool:
        return self.method != "estimate" and self.tokens == self.target


async def build(seed: int, depth: float, target: int, counter: TokenCounter) -> Haystack:
    """The haystack of `target` tokens (as `counter` counts them) for this seed and depth."""
    needle = needle_for(seed)
    chars_per_token = await _chars_per_token(seed, counter)
    # Bracket the answer: the estimate from the measured ratio, widened until it brackets.
    low, high = 0, max(64, int(target * chars_per_token * 1.25))
    while await counter.count(compose(seed, needle, high, depth)) <= target:
        low, high = high, high * 2
    # Largest filler length whose haystack fits in `target` tokens (counts grow with length).
    while high - low > 1:
        middle = (low + high) // 2
        if await counter.count(compose(seed, needle, middle, depth)) <= target:
            low = middle
        else:
            high = middle
    text = compose(seed, needle, low, depth)
    tokens = await counter.count(text)
    if tokens < target and counter.method != "estimate":
        # A merge across the cut can skip the exact count at `low + 1`; a nearby cut usually hits it.
        for chars in (*range(low + 2, low + 2 + NEARBY_CUTS), *range(low - 1, max(0, low - NEARBY_CUTS), -1)):
            candidate = compose(seed, needle, chars, depth)
            if await counter.count(candidate) == target:
                return Haystack(candidate, target, target, chars, counter.method, sha256(candidate))
    return Haystack(text, tokens, target, low, counter.method, sha256(text))


async def _chars_per_token(seed: int, counter: TokenCounter) -> float:
    probe = filler(seed, 2000)[:2000]
    tokens = await counter.count(probe)
    return len(probe) / max(1, tokens)
