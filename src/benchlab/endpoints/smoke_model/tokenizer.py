"""The smoke model's tokenizer: byte-level "gpt2" BPE with 256 byte tokens, a few merges, the ChatML
specials, the tool markup and the tokens of the model's own tool-call program."""

from __future__ import annotations

from dataclasses import dataclass

# BPE merges, in rank order.  The JSON punctuation merges make a tool's JSON line tokenize the same
# way every time (`{"`, `name`, `":`, ` "`), which fixes where the first tool's name starts; the
# `assistant` merges make the start of an assistant turn a two-token pattern.
MERGES: tuple[tuple[str, str], ...] = (
    ("Ġ", '"'),
    ("{", '"'),
    ('"', ":"),
    ('"', ","),
    ("n", "a"),
    ("na", "m"),
    ("nam", "e"),
    ("a", "s"),
    ("as", "s"),
    ("ass", "i"),
    ("assi", "s"),
    ("assis", "t"),
    ("assist", "a"),
    ("assista", "n"),
    ("assistan", "t"),
)
_CONTROL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_TEXT_MARKERS = ("<tools>", "</tools>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
# Tokens only the model emits (no merge produces them from text): the pieces of its tool-call
# "program" around the copied tool name.
CALL_HEAD = '\n{"name": "'
CALL_ARGS = ' "arguments": {'
CALL_CLOSE = "}}\n"
PROGRAM_TOKENS = (CALL_HEAD, CALL_ARGS, CALL_CLOSE)

# The tools block puts the name of the first tool exactly this many tokens after `<tools>`:
# `<tools>` `\n` `{"` `name` `":` ` "` <name>.
NAME_OFFSET = 6


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable-character map used by "gpt2" BPE vocabularies."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


@dataclass(frozen=True)
class Vocab:
    """Token strings and types plus the ids the circuit refers to."""

    tokens: list[str]
    types: list[int]
    merges: list[str]
    ids: dict[str, int]  # text of every non-byte token and of every single byte -> id

    def id(self, text: str) -> int:
        """The id of a token given by its text (a single byte's text is its latin-1 character)."""
        return self.ids[text]


def build_vocab() -> Vocab:
    from gguf import TokenType

    b2u = _byte_to_unicode()
    u2b = {u: b for b, u in b2u.items()}
    tokens = [b2u[b] for b in range(256)]
    types = [int(TokenType.NORMAL)] * 256
    ids = {bytes([b]).decode("latin-1"): b for b in range(256)}
    for left, right in MERGES:
        tokens.append(left + right)
        types.append(int(TokenType.NORMAL))
        ids[bytes(u2b[ch] for ch in left + right).decode("latin-1")] = len(tokens) - 1
    for text in _CONTROL_TOKENS:
        ids[text] = len(tokens)
        tokens.append(text)
        types.append(int(TokenType.CONTROL))
    for text in _TEXT_MARKERS:
        ids[text] = len(tokens)
        tokens.append(text)
        types.append(int(TokenType.USER_DEFINED))
    for text in PROGRAM_TOKENS:
        ids[text] = len(tokens)
        tokens.append("".join(b2u[b] for b in text.encode()))
        types.append(int(TokenType.NORMAL))
    return Vocab(tokens=tokens, types=types, merges=[f"{a} {b}" for a, b in MERGES], ids=ids)
