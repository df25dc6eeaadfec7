"""A tiny, deterministic llama-architecture GGUF model written without any model hub.

benchlab needs a real model behind a real llama.cpp server for its demo, for ``doctor`` and for the
integration tests, and it must not depend on downloading weights.  :func:`write_smoke_model` writes
one from scratch with the ``gguf`` package: 2 layers, width 64, a byte-level "gpt2" BPE tokenizer
(256 byte tokens, a few merges, ChatML specials) and a ChatML chat template with Hermes-style
tool-call markup that llama.cpp's chat parser recognises.  The file is under 1 MB, takes a few
milliseconds to write and is byte-for-byte the same for the same seed.

Random weights print control bytes and never call a tool, so the weights are hand-set: a small
circuit wired around a seeded random "babble" generator.

* The residual stream carries a large constant channel (so RMSNorm is nearly a fixed scale and
  every weight reads raw values), the code of the current token, and features built by layer 0.
* RoPE is made into a positional instrument: six RoPE pairs rotate at geometrically spaced speeds
  and the rest barely move, so a head can attend exactly *k* tokens back (LP-designed kernels), to a
  graded window after a marker, or purely by content.
* Layer 0 (7 heads): the tokens 1, 2 and 3 back; the marker tokens ``<tools>`` /
  ``<tool_response>`` and the model's own call markers (tool mode on/off, name being copied, and a
  prompt hash when there are no markers); a window just after ``<tools>``; the distance to the last
  ``<|im_start|>`` (turn length); and the exact position where the first tool's name starts.  Its
  feed-forward layer turns the two mode features into clean 0/1 switches.
* Layer 1: two induction ("copy") heads that copy the first tool's name out of the tools block, and
  a feed-forward layer that runs a short token program around the name
  (``<tool_call>``, ``\\n{"name": "``, name, ``", "arguments": {``, ``}}\\n``, ``</tool_call>``,
  end of turn), opens text answers with a letter A-D chosen by the prompt hash, and otherwise lets
  the seeded babble propose printable text.
* The output embedding scores the next-token vector against token codes, plus biases that keep text
  to printable ASCII, tool-mode preferences (``",``, ``"``, ``}``, ``]``, ``</tool_call>``) that let
  llama.cpp's tool-call grammar, when it forces required arguments, close them quickly, and an
  end-of-turn push that grows with the turn length.

Greedy at temperature 0 the model therefore answers in printable text that ends after a few dozen
tokens, calls the first offered tool (with empty arguments, or whatever the grammar requires) when
the prompt offers tools and holds no ``<tool_response>`` yet, and answers in text once a tool result
is in the history.  Everything else it says is noise: it is benchlab's *null model*, which must
score at chance on multiple choice and near zero on generative suites.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SMOKE_MODEL_ID = "benchlab-smoke"
# The tokenizer is byte-level (about one token per byte), so the context must hold the longest
# built-in prompt in bytes.
SMOKE_CONTEXT = 8192
# Bump whenever the bytes written for a given seed change, so cached files are rewritten.
SMOKE_FORMAT_VERSION = 2

# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------

# BPE merges, in rank order.  The JSON punctuation merges make a tool's JSON line tokenize the same
# way every time (`{"`, `name`, `":`, ` "`), which fixes where the first tool's name starts; the
# `assistant` merges make the start of an assistant turn a two-token pattern.
_MERGES: tuple[tuple[str, str], ...] = (
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
_CALL_HEAD = '\n{"name": "'
_CALL_ARGS = ' "arguments": {'
_CALL_CLOSE = "}}\n"
_PROGRAM_TOKENS = (_CALL_HEAD, _CALL_ARGS, _CALL_CLOSE)

# The tools block puts the name of the first tool exactly this many tokens after `<tools>`:
# `<tools>` `\n` `{"` `name` `":` ` "` <name>.
_NAME_OFFSET = 6

CHAT_TEMPLATE = """\
{%- macro render_content(content) -%}
{%- if content is string -%}{{- content -}}
{%- elif content is iterable -%}{%- for part in content -%}{%- if part.type == 'text' -%}{{- part.text -}}\
{%- endif -%}{%- endfor -%}
{%- elif content is not none -%}{{- content | string -}}
{%- endif -%}
{%- endmacro -%}
{%- if tools %}
{{- '<|im_start|>system\\n' }}
{%- if messages and messages[0].role == 'system' %}\
{{- render_content(messages[0].content) + '\\n\\n' }}{%- endif %}
{{- '# Tools\\n\\nYou can call the functions listed in the tools block below.\\n\\n<tools>' }}
{%- for tool in tools %}
{%- set fn = tool.function if tool.function is defined else tool %}
{{- '\\n{"name": ' + (fn.name | tojson) + ', "description": ' + ((fn.description or '') | tojson) }}
{%- if fn.parameters is defined %}{{- ', "parameters": ' + (fn.parameters | tojson) }}{%- endif %}
{{- '}' }}
{%- endfor %}
{{- '\\n</tools>\\n\\nTo call a function, reply with its name and arguments as a JSON object between '
    'tool-call tags:\\n<tool_call>\\n{"name": <function name>, "arguments": <arguments object>}'
    '\\n</tool_call><|im_end|>\\n' }}
{%- elif messages and messages[0].role == 'system' %}
{{- '<|im_start|>system\\n' + render_content(messages[0].content) + '<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}
{{- '<|im_start|>' + message.role + '\\n' + render_content(message.content) + '<|im_end|>\\n' }}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant' }}
{%- if message.content %}{{- '\\n' + render_content(message.content) }}{%- endif %}
{%- if message.tool_calls %}
{%- for tool_call in message.tool_calls %}
{%- set call = tool_call.function if tool_call.function is defined else tool_call %}
{{- '\\n<tool_call>\\n{"name": "' + call.name + '", "arguments": ' }}
{%- if call.arguments is string %}{{- call.arguments }}{%- else %}{{- call.arguments | tojson }}{%- endif %}
{{- '}\\n</tool_call>' }}
{%- endfor %}
{%- endif %}
{{- '<|im_end|>\\n' }}
{%- elif message.role == 'tool' %}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}
{{- '\\n<tool_response>\\n' + render_content(message.content) + '\\n</tool_response>' }}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""


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
class _Vocab:
    """Token strings and types plus the ids the circuit refers to."""

    tokens: list[str]
    types: list[int]
    merges: list[str]
    ids: dict[str, int]  # text of every non-byte token and of every single byte -> id

    def id(self, text: str) -> int:
        """The id of a token given by its text (a single byte's text is its latin-1 character)."""
        return self.ids[text]


def _build_vocab() -> _Vocab:
    from gguf import TokenType

    b2u = _byte_to_unicode()
    u2b = {u: b for b, u in b2u.items()}
    tokens = [b2u[b] for b in range(256)]
    types = [int(TokenType.NORMAL)] * 256
    ids = {bytes([b]).decode("latin-1"): b for b in range(256)}
    for left, right in _MERGES:
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
    for text in _PROGRAM_TOKENS:
        ids[text] = len(tokens)
        tokens.append("".join(b2u[b] for b in text.encode()))
        types.append(int(TokenType.NORMAL))
    return _Vocab(tokens=tokens, types=types, merges=[f"{a} {b}" for a, b in _MERGES], ids=ids)


# ---------------------------------------------------------------------------------------------
# Architecture and residual-stream layout
# ---------------------------------------------------------------------------------------------

N_EMBD = 64
N_LAYER = 2
N_HEAD = 7
HEAD_DIM = 48
N_FF = 48
# RoPE base chosen so that pairs 0-5 rotate at geometrically spaced speeds (1 rad/token down to
# ~6e-5 rad/token: positional kernels) while pairs 6-23 barely move over the whole context
# (content matching that ignores position).
ROPE_BASE = 10.0 ** (0.85 * HEAD_DIM / 2)
_FAST_PAIRS = 6
_CODE = 16  # width of a token code
_SHORT = 8  # width of the compressed code of the token three back

# Residual dims.  NX holds PREV2 after layer 0 and the next-token vector (NEXT) at the end: the
# last feed-forward layer cancels PREV2 out of it whenever no tool name is being copied.
_ONE = 0
_CUR = slice(1, 17)
_PREV1 = slice(17, 33)
_NX = slice(33, 49)
_PREV2 = _NX
_PREV3 = slice(49, 57)
_TM = 57  # tool mode: the prompt offers tools and holds no tool result yet (clean 0/1 in layer 1)
_NP = 58  # a tool name is being copied (clean 0/1 in layer 1)
_WIN = 59  # graded window just after `<tools>`: ~0.88 at it, 0.5 forty tokens later, ~0 after 160
_LEN = 60  # grows with the distance to the last `<|im_start|>`
_NS = 61  # 1.0 exactly on the first character of the first tool's name (at the end: "open with A-D")
_CTX = slice(62, 64)  # a prompt hash that seeds the babble
# One-hot input markers of a few special tokens, so layer-0 heads can key on them exactly.  They
# share dims with flags that layer 0 writes; the circuit tolerates the leftover at those tokens.
_MARK_DIM = {
    "<|endoftext|>": _LEN,  # at layer 1, LEN - 1 is > 0 only on BOS: the copy heads' sink
    "<tool_response>": _TM,
    _CALL_HEAD: _NP,
    _CALL_ARGS: _NS,
    "<tools>": _WIN,
    "<|im_start|>": _CTX.stop - 1,
}

_LETTER_FREQUENCY = "etaoinshrdlcumwfgypbvkjxqz"
# A typical multiple-choice prompt: the prompt hash is measured from its mean code.
_SAMPLE_TEXT = (
    "Which of the following statements about the water cycle is correct?\n"
    "A. Evaporation happens only at night.\nB. Clouds form when water vapour condenses.\n"
    "C. Rain is made of salt water.\nD. Rivers flow uphill to the sea.\nAnswer:"
)
_ONE_SCALE = 30.0  # the constant channel dominates the norm, so RMSNorm is nearly a constant scale

# LP-optimal amplitudes over the fast RoPE pairs (the sixth gets none) for a kernel
# sum_i a_i cos(theta_i (d - c)) that peaks at d == c and stays at least 0.086 below the peak for
# every other d in [0, 8192).
_PEAK_KERNEL = (0.1828, 0.2289, 0.2336, 0.1829, 0.1718)
_PEAK_MARGIN = 0.0864
# (pair, amplitude, centre) of the tools-window kernel: with an offset of -40 its score falls
# linearly from +2 at d=0 to -6 at d=160 and stays below -8 up to the end of the context (LP fit).
_WINDOW_KERNEL = ((3, 11.406, -501.94), (4, 56.569, -1972.83), (5, 40.001, -27815.83))
_WINDOW_OFFSET = -40.0
# Turn-length kernel: relative to its value at d=48 it is +3 at d=16 and below -7 from d=90 on.
_LENGTH_KERNEL = (0.0, 0.0, 7.0, 60.0, 55.0)


def _thetas() -> npt.NDArray[np.float64]:
    import numpy as np

    return np.asarray(ROPE_BASE ** (-2.0 * np.arange(HEAD_DIM // 2) / HEAD_DIM), dtype=np.float64)


def _codebook(rng: np.random.Generator, n_tokens: int, important: list[int]) -> npt.NDArray[np.float64]:
    """Unit token codes.  Important tokens are picked greedily among random candidates so that no two
    of them are too similar: the copy heads and the feed-forward rules compare codes by dot product."""
    import numpy as np

    codes = rng.standard_normal((n_tokens, _CODE))
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    chosen = np.zeros((0, _CODE))
    for token in important:
        candidates = rng.standard_normal((128, _CODE))
        candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
        worst = np.abs(candidates @ chosen.T).max(axis=1) if len(chosen) else np.zeros(len(candidates))
        codes[token] = candidates[int(np.argmin(worst))]
        chosen = np.vstack([chosen, codes[token]])
    return codes


class _Circuit:
    """Builds every tensor of the model.  Each ``_add_*`` method wires one piece of the circuit."""

    # attention strengths, in score units after llama.cpp's 1/sqrt(head_dim) scaling
    PEAK_SCALE = 180.0  # previous-token kernels: >= 15 below the peak anywhere else
    SINK = 20.0  # score of the BOS "attention sink" in the look-back heads
    MARKER = 20.0  # content score of a marker token in the marker head
    RIPPLE = 2.5  # positional ripple on the prompt average (see _add_marker_head)
    COPY_MATCH = 60.0  # copy heads: current token == token before the key
    COPY_MATCH_EARLIER = 60.0  # copy heads: an earlier token == the one two/three before the key
    # copy heads: preference for keys early in the tools block.  Head 0 only needs to stay in the
    # block; head 1's stronger preference settles a name that recurs in its own description.
    COPY_WINDOW = (10.0, 25.0)
    COPY_START = 500.0  # copy heads: the first step jumps to the first tool name, whatever else matches
    COPY_SINK = 250.0  # copy heads: park on BOS unless a name is being copied
    # NX stays small next to the constant channel, so RMSNorm stays a near-constant scale and the
    # feed-forward thresholds after the copy heads still hold.
    COPY_GAIN = (6.0, 4.3)  # head 0 decides; head 1 breaks its ties
    SHARP = 20.0  # feed-forward rule sharpness
    RULE_GAIN = 20.0
    BABBLE_GATE = 10.0
    BABBLE_GAIN = 0.25
    READOUT_GAIN = 20.0

    def __init__(self, vocab: _Vocab, seed: int) -> None:
        import numpy as np

        self.np = np
        self.vocab = vocab
        self.rng = np.random.default_rng(seed)
        self.theta = _thetas()
        n_vocab = len(vocab.tokens)
        printable = [vocab.id(chr(c)) for c in range(32, 127)] + [vocab.id("\n")]
        # merges, specials and program tokens first: everything else keeps away from them
        self.code = _codebook(self.rng, n_vocab, list(range(256, n_vocab)) + printable)
        self.code[vocab.id("<|endoftext|>")] = 0.0  # BOS carries no content: the copy heads park on it
        # code -> short code: the directions along which the codes of name characters differ most
        name_chars = [
            vocab.id(ch) for ch in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
        ]
        self.short = np.linalg.svd(self.code[name_chars], full_matrices=False)[2][:_SHORT]
        width = N_HEAD * HEAD_DIM
        self.embd = np.zeros((n_vocab, N_EMBD))
        self.wq = np.zeros((N_LAYER, width, N_EMBD))
        self.wk = np.zeros((N_LAYER, width, N_EMBD))
        self.wv = np.zeros((N_LAYER, width, N_EMBD))
        self.wo = np.zeros((N_LAYER, N_EMBD, width))
        self.gate = np.zeros((N_LAYER, N_FF, N_EMBD))
        self.up = np.zeros((N_LAYER, N_FF, N_EMBD))
        self.down = np.zeros((N_LAYER, N_EMBD, N_FF))
        self.out = np.zeros((n_vocab, N_EMBD))
        self._ffn_units = [0] * N_LAYER
        # RMS of the residual entering each layer; the norm weights undo it so weights read raw values
        self.rms = tuple(np.sqrt((_ONE_SCALE**2 + extra) / N_EMBD) for extra in (1.0, 3.5, 4.0))

    # -- reading and writing the residual stream ------------------------------------------------

    def _dim(self, dim: int, scale: float = 1.0) -> npt.NDArray[np.float64]:
        """Reads (or writes) ``scale`` times one residual dim."""
        v = self.np.zeros(N_EMBD)
        v[dim] = scale
        return v

    def _one(self) -> npt.NDArray[np.float64]:
        """Reads 1.0 from the constant channel."""
        return self._dim(_ONE, 1.0 / _ONE_SCALE)

    def _mark(self, text: str) -> npt.NDArray[np.float64]:
        """Reads 1.0 on a special token's input marker (layer 0 only)."""
        return self._dim(_MARK_DIM[text])

    def _code(self, text: str) -> npt.NDArray[np.float64]:
        """A token's code (its direction in CUR, PREV1, PREV2 and NEXT)."""
        return self.code[self.vocab.id(text)]

    def _is(self, block: slice, text: str) -> npt.NDArray[np.float64]:
        """Reads the similarity of a code block to a token's code (1.0 on a match)."""
        v = self.np.zeros(N_EMBD)
        v[block] = self._code(text)
        return v

    def _to_next(self, direction: npt.NDArray[np.float64], gain: float) -> npt.NDArray[np.float64]:
        """Writes ``gain * direction`` into NEXT."""
        v = self.np.zeros(N_EMBD)
        v[_NX] = gain * direction
        return v

    def _kernel_at(self, amps: tuple[float, ...], distance: float) -> float:
        """The value of a centre-0 kernel (see ``_kernel``) at a distance."""
        return float(sum(a * self.np.cos(self.theta[i] * distance) for i, a in enumerate(amps)))

    def _kernel(
        self, layer: int, head: int, key: npt.NDArray[np.float64], amps: tuple[float, ...], centre: float
    ) -> None:
        """Score += key(j) * sum_i amps[i] * cos(theta_i * (p - j - centre)), on the fast pairs."""
        np = self.np
        for pair, amp in enumerate(amps):
            if amp <= 0.0:
                continue
            row = head * HEAD_DIM + 2 * pair
            angle = centre * self.theta[pair]
            root = np.sqrt(amp)
            self.wk[layer, row] += root * key
            self.wq[layer, row] += root * np.cos(angle) * np.sqrt(HEAD_DIM) * self._one()
            self.wq[layer, row + 1] += -root * np.sin(angle) * np.sqrt(HEAD_DIM) * self._one()

    def _static(
        self, layer: int, head: int, slot: int, query: npt.NDArray[np.float64], key: npt.NDArray[np.float64]
    ) -> None:
        """Score += query(p) * key(j) through a dimension RoPE leaves (nearly) unrotated."""
        row = head * HEAD_DIM + 2 * _FAST_PAIRS + slot
        self.wq[layer, row] += self.np.sqrt(HEAD_DIM) * query
        self.wk[layer, row] += key

    def _value(
        self, layer: int, head: int, slot: int, read: npt.NDArray[np.float64], write: npt.NDArray[np.float64]
    ) -> None:
        """The head adds write * (attention-weighted read) to the residual stream."""
        row = head * HEAD_DIM + slot
        self.wv[layer, row] += read
        self.wo[layer, :, row] += write

    def _ffn(
        self,
        layer: int,
        gate: npt.NDArray[np.float64],
        up: npt.NDArray[np.float64],
        down: npt.NDArray[np.float64],
    ) -> None:
        """One SwiGLU unit: residual += down * silu(gate . x) * (up . x)."""
        unit = self._ffn_units[layer]
        self._ffn_units[layer] += 1
        self.gate[layer, unit] = gate
        self.up[layer, unit] = up
        self.down[layer, :, unit] = down

    # -- the circuit ----------------------------------------------------------------------------

    def build(self) -> None:
        """Wire the whole circuit (each piece adds to the weight arrays)."""
        self._add_embeddings()
        self._add_look_back_heads()
        self._add_marker_head()
        self._add_tools_heads()
        self._add_turn_length_head()
        self._add_clean_switches()
        self._add_copy_heads()
        self._add_program_rules()
        self._add_opening_letter()
        self._add_babble()
        self._add_readout()

    def _add_embeddings(self) -> None:
        """The constant channel, the token's code, and the one-hot markers of special tokens."""
        self.embd[:, _ONE] = _ONE_SCALE
        self.embd[:, _CUR] = self.code
        for text, dim in _MARK_DIM.items():
            self.embd[self.vocab.id(text), dim] = 1.0

    def _add_look_back_heads(self) -> None:
        """Heads 0-2 of layer 0 attend exactly one, two and three tokens back and copy that token's
        code into PREV1, PREV2 (full width) and PREV3 (short code)."""
        amps = tuple(self.PEAK_SCALE * a for a in _PEAK_KERNEL)
        for head, back in enumerate((1, 2, 3)):
            self._kernel(0, head, self._one(), amps, float(back))
        for head, block in ((0, _PREV1), (1, _PREV2)):
            for m in range(_CODE):
                self._value(0, head, m, self._dim(_CUR.start + m), self._dim(block.start + m))
        for m in range(_SHORT):
            read = self.np.zeros(N_EMBD)
            read[_CUR] = self.short[m]
            self._value(0, 2, m, read, self._dim(_PREV3.start + m))

    def _add_marker_head(self) -> None:
        """Head 3 attends to the marker tokens wherever they are.  TM gets +1 per `<tools>` and -2 per
        `<tool_response>`, NP +1 per `\\n{"name": "` and -1 per ` "arguments": {`, both averaged
        over the markers present.  With no marker it averages the whole prompt instead and leaves a
        prompt-dependent hash in CTX that seeds the babble; a small positional ripple re-weights that
        average at every position, so the hash keeps changing while the model writes."""
        np = self.np
        one = self._one()
        marks = [self._mark(t) for t in ("<tools>", "<tool_response>", _CALL_HEAD, _CALL_ARGS)]
        any_mark = np.sum(marks, axis=0)
        self._static(0, 3, 0, self.MARKER * one, any_mark)
        self._kernel(0, 3, one - any_mark, (self.RIPPLE, self.RIPPLE), 0.0)  # markers keep equal weights
        self._value(0, 3, 0, marks[0] - 2.0 * marks[1], self._dim(_TM))
        self._value(0, 3, 1, marks[2] - marks[3], self._dim(_NP))
        mix = self.rng.standard_normal((2, _CODE))
        # blind to the markers' own codes: when the head sits on markers the hash is ~0, not large
        basis = np.linalg.qr(
            np.stack([self._code(t) for t in ("<tools>", "<tool_response>", _CALL_HEAD, _CALL_ARGS)]).T
        )[0]
        mix -= (mix @ basis) @ basis.T
        # centred on plain English text, so the hash's signs vary from prompt to prompt
        typical = np.mean([self._code(ch) for ch in _SAMPLE_TEXT], axis=0)
        for k in range(2):
            read = np.zeros(N_EMBD)
            read[_CUR] = mix[k]
            self._value(0, 3, 2 + k, read - (mix[k] @ typical) * one, self._dim(_CTX.start + k))

    def _add_tools_heads(self) -> None:
        """Heads 4 and 6 look back at `<tools>` against a BOS sink.  Head 4 gives WIN, a graded
        window over the first ~150 tokens of the tools block (higher = earlier); head 6 gives NS, 1.0
        exactly `_NAME_OFFSET` tokens after `<tools>`, where the first tool's name starts."""
        one, tools, bos = self._one(), self._mark("<tools>"), self._mark("<|endoftext|>")
        for pair, amp, centre in _WINDOW_KERNEL:
            self._kernel(0, 4, tools, (0.0,) * pair + (amp,), centre)
        self._static(0, 4, 0, one, (self.SINK + _WINDOW_OFFSET) * tools + self.SINK * bos)
        self._value(0, 4, 0, tools, self._dim(_WIN))
        # a peak kernel 16 above the sink at d = 6 and >= 8 below it elsewhere
        scale = 16.0 / _PEAK_MARGIN
        self._kernel(0, 6, tools, tuple(scale * a for a in _PEAK_KERNEL), float(_NAME_OFFSET))
        self._static(0, 6, 0, one, (self.SINK + 8.0 - scale) * tools + self.SINK * bos)
        self._value(0, 6, 0, tools, self._dim(_NS))

    def _add_turn_length_head(self) -> None:
        """Head 5 looks back at `<|im_start|>` with a recency kernel against a BOS sink and reports
        the weight left on BOS: LEN ~ 0 for the first ~20 tokens of a turn, ~0.5 at ~48, ~1 after
        ~90.  The readout turns it into end-of-turn pressure."""
        one, start, bos = self._one(), self._mark("<|im_start|>"), self._mark("<|endoftext|>")
        self._kernel(0, 5, start, _LENGTH_KERNEL, 0.0)
        self._static(
            0, 5, 0, one, (self.SINK - self._kernel_at(_LENGTH_KERNEL, 48.0)) * start + self.SINK * bos
        )
        self._value(0, 5, 0, bos, self._dim(_LEN))

    def _add_clean_switches(self) -> None:
        """Layer 0's feed-forward turns the averaged TM and NP into clean 0/1 switches (a clipped
        ramp from 0.1 to 0.3, minus the raw value), so layer 1 gates on them with a constant gain."""
        one, s = self._one(), 50.0
        low, high = 0.1, 0.3
        for dim in (_TM, _NP):
            flag = self._dim(dim)
            step = self._dim(dim, 1.0 / (s * (high - low)))
            self._ffn(0, s * (flag - low * one), one, step)
            self._ffn(0, s * (flag - high * one), one, -step)
            self._ffn(0, s * one, flag, self._dim(dim, -1.0 / s))

    def _add_copy_heads(self) -> None:
        """Heads 0 and 1 of layer 1 are induction heads over the tools block.  While NP is on, head 0
        attends to the key whose previous token equals the current token and whose token two back
        equals the previous token; head 1 matches the current token and, instead, the token three
        back (short code) against the token two back.  Their first step jumps to NS.  Each writes the
        key's token into NEXT: they agree on a name like ``get_weather``, and where head 0 is split
        (a name repeating a pair of letters, as in ``translate_text``) head 1 decides.  With NP off
        they park on BOS, whose code is 0.  Keys early in the tools block are preferred, so a name
        wins over the same letters later in its description."""
        np = self.np
        short = self.short
        head_code, quote_code = self._code(_CALL_HEAD), self._code(' "')
        call_code, colon_code = self._code("<tool_call>"), self._code('":')
        # the program's tokens stand for the prompt's `": "` context of the first name
        prev1_to_prev2 = np.eye(_CODE) + np.outer(quote_code - head_code, head_code)
        prev2_to_prev3 = short + np.outer(short @ quote_code - short @ head_code, head_code)
        prev2_to_prev3 += np.outer(short @ colon_code - short @ call_code, call_code)
        for head, (key_block, mapping) in enumerate(((_PREV2, prev1_to_prev2), (_PREV3, prev2_to_prev3))):
            query_block = _PREV1 if head == 0 else _PREV2
            slot = 0
            for m in range(_CODE):
                self._static(
                    1, head, slot, self.COPY_MATCH * self._dim(_CUR.start + m), self._dim(_PREV1.start + m)
                )
                slot += 1
            for m in range(mapping.shape[0]):
                query = np.zeros(N_EMBD)
                query[query_block] = self.COPY_MATCH_EARLIER * mapping[m]
                self._static(1, head, slot, query, self._dim(key_block.start + m))
                slot += 1
            self._static(1, head, slot, self.COPY_WINDOW[head] * self._one(), self._dim(_WIN))
            start_query = self.COPY_START * (self._is(_CUR, _CALL_HEAD) - 0.6 * self._one())
            self._static(1, head, slot + 1, start_query, self._dim(_NS))
            sink_key = self._dim(_LEN) - self._one()
            self._static(1, head, slot + 2, self.COPY_SINK * (self._one() - self._dim(_NP)), sink_key)
            for m in range(_CODE):
                self._value(
                    1, head, m, self._dim(_CUR.start + m), self._dim(_NX.start + m, self.COPY_GAIN[head])
                )

    def _rule(
        self,
        gate: npt.NDArray[np.float64],
        direction: npt.NDArray[np.float64],
        up: npt.NDArray[np.float64] | None = None,
        gain: float | None = None,
    ) -> None:
        """A layer-1 feed-forward unit that pushes NEXT along ``direction`` (times ``up``, 1 by
        default) when ``gate`` > 0; ``gate`` is 0.4 when all its conditions hold."""
        one = self._one()
        gain = self.RULE_GAIN if gain is None else gain
        down = self._to_next(direction, gain / (0.4 * self.SHARP))
        self._ffn(1, self.SHARP * gate, one if up is None else up, down)

    def _add_program_rules(self) -> None:
        """The tool-call program around the copied name, as layer-1 feed-forward rules."""
        one, cur, code = self._one(), self._is, self._code
        tm, np_ = self._dim(_TM), self._dim(_NP)
        turn_start = cur(_CUR, "\n") + cur(_PREV1, "assistant")
        self._rule(turn_start + tm - 2.6 * one, code("<tool_call>"))
        self._rule(cur(_CUR, "<tool_call>") + tm - 1.6 * one, code(_CALL_HEAD))
        self._rule(cur(_CUR, '",') + np_ - 1.6 * one, code(_CALL_ARGS))  # the copy reached the name's end
        self._rule(cur(_CUR, _CALL_ARGS) - 0.6 * one, code(_CALL_CLOSE))
        self._rule(cur(_CUR, _CALL_CLOSE) - 0.6 * one, code("</tool_call>"))
        self._rule(cur(_CUR, "</tool_call>") + tm - 1.6 * one, code("<|im_end|>"))

    def _add_opening_letter(self) -> None:
        """A text answer opens with one of the letters A-D picked by the prompt hash, so multiple
        choice answers parse and land on each option about equally often (chance level).  One unit
        raises all four letters through the NS dim (free again after the copy heads read it, and 0
        at a turn start); two more tip the balance between A/B and C/D by the hash's signs."""
        one, cur = self._one(), self._is
        gate = cur(_CUR, "\n") + cur(_PREV1, "assistant") - self._dim(_TM) - 1.6 * one
        self._ffn(1, self.SHARP * gate, one, self._dim(_NS, 1.0 / (0.4 * self.SHARP)))
        a, b, c, d = (self._code(letter) for letter in "ABCD")
        for k, direction in ((0, a - b), (1, c - d)):
            self._rule(gate, direction, self._dim(_CTX.start + k, 20.0), gain=1.0)
        # Then ")": "B) …" reads as a choice, where "B …" would read as prose and not count.
        after_letter = cur(_PREV1, "\n") + cur(_PREV2, "assistant") - self._dim(_TM) - 1.6 * one
        self._rule(after_letter, self._code(")"), gain=2.0)

    def _add_babble(self) -> None:
        """Outside a tool call, a seeded random linear map of the last four tokens and the prompt
        hash proposes the next token (the readout biases keep it to printable text), and PREV2 is
        cancelled out of NEXT."""
        np = self.np
        one, tm, np_ = self._one(), self._dim(_TM), self._dim(_NP)
        reads = np.r_[_CUR, _PREV1, _PREV2, _PREV3, _CTX]
        mix = self.rng.standard_normal((_CODE, len(reads))) / np.sqrt(len(reads))
        mix[:, :_CODE] -= 0.8 * np.eye(_CODE)  # discourage repeating the current token
        mix[:, -2:] *= 12.0  # the hash is an average, hence small
        gate = self.BABBLE_GATE * (0.5 * one - tm)
        for m in range(_CODE):
            up = np.zeros(N_EMBD)
            up[reads] = self.BABBLE_GAIN * mix[m]
            self._ffn(1, gate, up, self._dim(_NX.start + m, 1.0 / (0.5 * self.BABBLE_GATE)))
        cancel = self.SHARP * (0.5 * one - np_)
        for m in range(_CODE):
            self._ffn(
                1, cancel, self._dim(_NX.start + m), self._dim(_NX.start + m, -1.0 / (0.5 * self.SHARP))
            )

    def _add_readout(self) -> None:
        """Output embedding: NEXT scored against token codes, per-token biases on the constant
        channel, tool-mode preferences on TM and end-of-turn pressure on LEN."""
        vocab = self.vocab
        bias = self.np.full(len(vocab.tokens), -40.0)  # control bytes, non-ASCII bytes, specials
        for c in range(32, 127):
            ch = chr(c)
            bias[vocab.id(ch)] = -0.5 if ch.isupper() else -1.5 if ch.isdigit() else -3.0
        for rank, ch in enumerate(_LETTER_FREQUENCY):  # common letters a little more likely
            bias[vocab.id(ch)] = 3.0 - 2.5 * rank / len(_LETTER_FREQUENCY)
        bias[vocab.id(" ")] = 3.5
        bias[vocab.id("\n")] = -8.0  # answers stay on one line
        for left, right in _MERGES:
            bias[vocab.id((left + right).replace("Ġ", " "))] = -6.0
        for text in (*_PROGRAM_TOKENS, "<tool_call>", "</tool_call>"):
            bias[vocab.id(text)] = -15.0
        bias[vocab.id("<|im_end|>")] = -6.0
        self.out[:, _ONE] = bias / _ONE_SCALE
        self.out[:, _NX] = self.READOUT_GAIN * self.code
        # in tool mode the text biases go; what is left ranks what a grammar may force next
        printable = [vocab.id(chr(c)) for c in range(32, 127)]
        self.out[printable, _TM] = -bias[printable]
        for text, pref in {'",': 12.0, '"': 10.0, "}": 7.0, "]": 5.0, "</tool_call>": 16.0}.items():
            self.out[vocab.id(text), _TM] += pref
        self.out[vocab.id("<|im_end|>"), _LEN] = 30.0
        for letter in "ABCD":
            self.out[vocab.id(letter), _NS] = 40.0  # see _add_opening_letter

    def tensors(self) -> dict[str, npt.NDArray[np.float32]]:
        """All tensors by GGUF name, as float32 in llama.cpp's (rows = outputs) layout."""
        f32 = self.np.float32
        out = {
            "token_embd.weight": self.embd.astype(f32),
            # the norm weights undo RMSNorm's scaling, so every weight above reads raw values
            "output_norm.weight": self.np.full(N_EMBD, self.rms[2], dtype=f32),
            "output.weight": self.out.astype(f32),
        }
        for layer in range(N_LAYER):
            norm = self.np.full(N_EMBD, self.rms[layer], dtype=f32)
            out[f"blk.{layer}.attn_norm.weight"] = norm
            out[f"blk.{layer}.ffn_norm.weight"] = norm
            out[f"blk.{layer}.attn_q.weight"] = self.wq[layer].astype(f32)
            out[f"blk.{layer}.attn_k.weight"] = self.wk[layer].astype(f32)
            out[f"blk.{layer}.attn_v.weight"] = self.wv[layer].astype(f32)
            out[f"blk.{layer}.attn_output.weight"] = self.wo[layer].astype(f32)
            out[f"blk.{layer}.ffn_gate.weight"] = self.gate[layer].astype(f32)
            out[f"blk.{layer}.ffn_up.weight"] = self.up[layer].astype(f32)
            out[f"blk.{layer}.ffn_down.weight"] = self.down[layer].astype(f32)
        return out


def write_smoke_model(path: Path, *, seed: int = 0) -> Path:
    """Write the smoke model to ``path`` and return it.  Same seed, same bytes."""
    try:
        import gguf
    except ImportError as exc:
        from benchlab.endpoints.managed import MissingServeExtra

        raise MissingServeExtra() from exc

    vocab = _build_vocab()
    circuit = _Circuit(vocab, seed)
    circuit.build()
    path = Path(path)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(SMOKE_MODEL_ID)
    writer.add_description("benchlab smoke model: a hand-wired null model (chance-level scores)")
    writer.add_context_length(SMOKE_CONTEXT)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_key_length(HEAD_DIM)
    writer.add_value_length(HEAD_DIM)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_rope_freq_base(ROPE_BASE)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(vocab.tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    writer.add_token_merges(vocab.merges)
    writer.add_bos_token_id(vocab.id("<|endoftext|>"))
    writer.add_eos_token_id(vocab.id("<|im_end|>"))
    writer.add_pad_token_id(vocab.id("<|endoftext|>"))
    writer.add_add_bos_token(True)
    writer.add_chat_template(CHAT_TEMPLATE)
    for name, tensor in circuit.tensors().items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def default_smoke_model_path(cache_dir: Path) -> Path:
    """The smoke model in ``cache_dir``, written once per format version and reused afterwards.

    The file is written under a temporary name and renamed into place, so concurrent callers never
    see a half-written model."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{SMOKE_MODEL_ID}-v{SMOKE_FORMAT_VERSION}.gguf"
    if target.is_file():
        return target
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=cache_dir)
    os.close(fd)
    try:
        write_smoke_model(Path(tmp))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
