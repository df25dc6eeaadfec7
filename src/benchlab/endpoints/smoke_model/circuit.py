"""The hand-set weights: the circuit of heads and feed-forward rules described in the package's
docstring, wired around a seeded babble generator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchlab.endpoints.smoke_model.layout import (
    CODE,
    CTX,
    CUR,
    FAST_PAIRS,
    HEAD_DIM,
    LEN,
    LENGTH_KERNEL,
    LETTER_FREQUENCY,
    MARK_DIM,
    N_EMBD,
    N_FF,
    N_HEAD,
    N_LAYER,
    NP,
    NS,
    NX,
    ONE,
    ONE_SCALE,
    PEAK_KERNEL,
    PEAK_MARGIN,
    PREV1,
    PREV2,
    PREV3,
    ROPE_BASE,
    SAMPLE_TEXT,
    SHORT,
    TM,
    WIN,
    WINDOW_KERNEL,
    WINDOW_OFFSET,
)
from benchlab.endpoints.smoke_model.tokenizer import (
    CALL_ARGS,
    CALL_CLOSE,
    CALL_HEAD,
    MERGES,
    NAME_OFFSET,
    PROGRAM_TOKENS,
    Vocab,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def _thetas() -> npt.NDArray[np.float64]:
    import numpy as np

    return np.asarray(ROPE_BASE ** (-2.0 * np.arange(HEAD_DIM // 2) / HEAD_DIM), dtype=np.float64)


def _codebook(rng: np.random.Generator, n_tokens: int, important: list[int]) -> npt.NDArray[np.float64]:
    """Unit token codes.  Important tokens are picked greedily among random candidates so that no two
    of them are too similar: the copy heads and the feed-forward rules compare codes by dot product."""
    import numpy as np

    codes = rng.standard_normal((n_tokens, CODE))
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    chosen = np.zeros((0, CODE))
    for token in important:
        candidates = rng.standard_normal((128, CODE))
        candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
        worst = np.abs(candidates @ chosen.T).max(axis=1) if len(chosen) else np.zeros(len(candidates))
        codes[token] = candidates[int(np.argmin(worst))]
        chosen = np.vstack([chosen, codes[token]])
    return codes


class Circuit:
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

    def __init__(self, vocab: Vocab, seed: int) -> None:
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
        self.short = np.linalg.svd(self.code[name_chars], full_matrices=False)[2][:SHORT]
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
        self.rms = tuple(np.sqrt((ONE_SCALE**2 + extra) / N_EMBD) for extra in (1.0, 3.5, 4.0))

    # -- reading and writing the residual stream ------------------------------------------------

    def _dim(self, dim: int, scale: float = 1.0) -> npt.NDArray[np.float64]:
        """Reads (or writes) ``scale`` times one residual dim."""
        v = self.np.zeros(N_EMBD)
        v[dim] = scale
        return v

    def _one(self) -> npt.NDArray[np.float64]:
        """Reads 1.0 from the constant channel."""
        return self._dim(ONE, 1.0 / ONE_SCALE)

    def _mark(self, text: str) -> npt.NDArray[np.float64]:
        """Reads 1.0 on a special token's input marker (layer 0 only)."""
        return self._dim(MARK_DIM[text])

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
        v[NX] = gain * direction
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
        row = head * HEAD_DIM + 2 * FAST_PAIRS + slot
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
        self.embd[:, ONE] = ONE_SCALE
        self.embd[:, CUR] = self.code
        for text, dim in MARK_DIM.items():
            self.embd[self.vocab.id(text), dim] = 1.0

    def _add_look_back_heads(self) -> None:
        """Heads 0-2 of layer 0 attend exactly one, two and three tokens back and copy that token's
        code into PREV1, PREV2 (full width) and PREV3 (short code)."""
        amps = tuple(self.PEAK_SCALE * a for a in PEAK_KERNEL)
        for head, back in enumerate((1, 2, 3)):
            self._kernel(0, head, self._one(), amps, float(back))
        for head, block in ((0, PREV1), (1, PREV2)):
            for m in range(CODE):
                self._value(0, head, m, self._dim(CUR.start + m), self._dim(block.start + m))
        for m in range(SHORT):
            read = self.np.zeros(N_EMBD)
            read[CUR] = self.short[m]
            self._value(0, 2, m, read, self._dim(PREV3.start + m))

    def _add_marker_head(self) -> None:
        """Head 3 attends to the marker tokens wherever they are.  TM gets +1 per `<tools>` and -2 per
        `<tool_response>`, NP +1 per `\\n{"name": "` and -1 per ` "arguments": {`, both averaged
        over the markers present.  With no marker it averages the whole prompt instead and leaves a
        prompt-dependent hash in CTX that seeds the babble; a small positional ripple re-weights that
        average at every position, so the hash keeps changing while the model writes."""
        np = self.np
        one = self._one()
        marks = [self._mark(t) for t in ("<tools>", "<tool_response>", CALL_HEAD, CALL_ARGS)]
        any_mark = np.sum(marks, axis=0)
        self._static(0, 3, 0, self.MARKER * one, any_mark)
        self._kernel(0, 3, one - any_mark, (self.RIPPLE, self.RIPPLE), 0.0)  # markers keep equal weights
        self._value(0, 3, 0, marks[0] - 2.0 * marks[1], self._dim(TM))
        self._value(0, 3, 1, marks[2] - marks[3], self._dim(NP))
        mix = self.rng.standard_normal((2, CODE))
        # blind to the markers' own codes: when the head sits on markers the hash is ~0, not large
        basis = np.linalg.qr(
            np.stack([self._code(t) for t in ("<tools>", "<tool_response>", CALL_HEAD, CALL_ARGS)]).T
        )[0]
        mix -= (mix @ basis) @ basis.T
        # centred on plain English text, so the hash's signs vary from prompt to prompt
        typical = np.mean([self._code(ch) for ch in SAMPLE_TEXT], axis=0)
        for k in range(2):
            read = np.zeros(N_EMBD)
            read[CUR] = mix[k]
            self._value(0, 3, 2 + k, read - (mix[k] @ typical) * one, self._dim(CTX.start + k))

    def _add_tools_heads(self) -> None:
        """Heads 4 and 6 look back at `<tools>` against a BOS sink.  Head 4 gives WIN, a graded
        window over the first ~150 tokens of the tools block (higher = earlier); head 6 gives NS, 1.0
        exactly `NAME_OFFSET` tokens after `<tools>`, where the first tool's name starts."""
        one, tools, bos = self._one(), self._mark("<tools>"), self._mark("<|endoftext|>")
        for pair, amp, centre in WINDOW_KERNEL:
            self._kernel(0, 4, tools, (0.0,) * pair + (amp,), centre)
        self._static(0, 4, 0, one, (self.SINK + WINDOW_OFFSET) * tools + self.SINK * bos)
        self._value(0, 4, 0, tools, self._dim(WIN))
        # a peak kernel 16 above the sink at d = 6 and >= 8 below it elsewhere
        scale = 16.0 / PEAK_MARGIN
        self._kernel(0, 6, tools, tuple(scale * a for a in PEAK_KERNEL), float(NAME_OFFSET))
        self._static(0, 6, 0, one, (self.SINK + 8.0 - scale) * tools + self.SINK * bos)
        self._value(0, 6, 0, tools, self._dim(NS))

    def _add_turn_length_head(self) -> None:
        """Head 5 looks back at `<|im_start|>` with a recency kernel against a BOS sink and reports
        the weight left on BOS: LEN ~ 0 for the first ~20 tokens of a turn, ~0.5 at ~48, ~1 after
        ~90.  The readout turns it into end-of-turn pressure."""
        one, start, bos = self._one(), self._mark("<|im_start|>"), self._mark("<|endoftext|>")
        self._kernel(0, 5, start, LENGTH_KERNEL, 0.0)
        self._static(
            0, 5, 0, one, (self.SINK - self._kernel_at(LENGTH_KERNEL, 48.0)) * start + self.SINK * bos
        )
        self._value(0, 5, 0, bos, self._dim(LEN))

    def _add_clean_switches(self) -> None:
        """Layer 0's feed-forward turns the averaged TM and NP into clean 0/1 switches (a clipped
        ramp from 0.1 to 0.3, minus the raw value), so layer 1 gates on them with a constant gain."""
        one, s = self._one(), 50.0
        low, high = 0.1, 0.3
        for dim in (TM, NP):
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
        head_code, quote_code = self._code(CALL_HEAD), self._code(' "')
        call_code, colon_code = self._code("<tool_call>"), self._code('":')
        # the program's tokens stand for the prompt's `": "` context of the first name
        prev1_to_prev2 = np.eye(CODE) + np.outer(quote_code - head_code, head_code)
        prev2_to_prev3 = short + np.outer(short @ quote_code - short @ head_code, head_code)
        prev2_to_prev3 += np.outer(short @ colon_code - short @ call_code, call_code)
        for head, (key_block, mapping) in enumerate(((PREV2, prev1_to_prev2), (PREV3, prev2_to_prev3))):
            query_block = PREV1 if head == 0 else PREV2
            slot = 0
            for m in range(CODE):
                self._static(
                    1, head, slot, self.COPY_MATCH * self._dim(CUR.start + m), self._dim(PREV1.start + m)
                )
                slot += 1
            for m in range(mapping.shape[0]):
                query = np.zeros(N_EMBD)
                query[query_block] = self.COPY_MATCH_EARLIER * mapping[m]
                self._static(1, head, slot, query, self._dim(key_block.start + m))
                slot += 1
            self._static(1, head, slot, self.COPY_WINDOW[head] * self._one(), self._dim(WIN))
            start_query = self.COPY_START * (self._is(CUR, CALL_HEAD) - 0.6 * self._one())
            self._static(1, head, slot + 1, start_query, self._dim(NS))
            sink_key = self._dim(LEN) - self._one()
            self._static(1, head, slot + 2, self.COPY_SINK * (self._one() - self._dim(NP)), sink_key)
            for m in range(CODE):
                self._value(
                    1, head, m, self._dim(CUR.start + m), self._dim(NX.start + m, self.COPY_GAIN[head])
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
        tm, np_ = self._dim(TM), self._dim(NP)
        turn_start = cur(CUR, "\n") + cur(PREV1, "assistant")
        self._rule(turn_start + tm - 2.6 * one, code("<tool_call>"))
        self._rule(cur(CUR, "<tool_call>") + tm - 1.6 * one, code(CALL_HEAD))
        self._rule(cur(CUR, '",') + np_ - 1.6 * one, code(CALL_ARGS))  # the copy reached the name's end
        self._rule(cur(CUR, CALL_ARGS) - 0.6 * one, code(CALL_CLOSE))
        self._rule(cur(CUR, CALL_CLOSE) - 0.6 * one, code("</tool_call>"))
        self._rule(cur(CUR, "</tool_call>") + tm - 1.6 * one, code("<|im_end|>"))

    def _add_opening_letter(self) -> None:
        """A text answer opens with one of the letters A-D picked by the prompt hash, so multiple
        choice answers parse and land on each option about equally often (chance level).  One unit
        raises all four letters through the NS dim (free again after the copy heads read it, and 0
        at a turn start); two more tip the balance between A/B and C/D by the hash's signs."""
        one, cur = self._one(), self._is
        gate = cur(CUR, "\n") + cur(PREV1, "assistant") - self._dim(TM) - 1.6 * one
        self._ffn(1, self.SHARP * gate, one, self._dim(NS, 1.0 / (0.4 * self.SHARP)))
        a, b, c, d = (self._code(letter) for letter in "ABCD")
        for k, direction in ((0, a - b), (1, c - d)):
            self._rule(gate, direction, self._dim(CTX.start + k, 20.0), gain=1.0)
        # Then ")": "B) …" reads as a choice, where "B …" would read as prose and not count.
        after_letter = cur(PREV1, "\n") + cur(PREV2, "assistant") - self._dim(TM) - 1.6 * one
        self._rule(after_letter, self._code(")"), gain=2.0)

    def _add_babble(self) -> None:
        """Outside a tool call, a seeded random linear map of the last four tokens and the prompt
        hash proposes the next token (the readout biases keep it to printable text), and PREV2 is
        cancelled out of NEXT."""
        np = self.np
        one, tm, np_ = self._one(), self._dim(TM), self._dim(NP)
        reads = np.r_[CUR, PREV1, PREV2, PREV3, CTX]
        mix = self.rng.standard_normal((CODE, len(reads))) / np.sqrt(len(reads))
        mix[:, :CODE] -= 0.8 * np.eye(CODE)  # discourage repeating the current token
        mix[:, -2:] *= 12.0  # the hash is an average, hence small
        gate = self.BABBLE_GATE * (0.5 * one - tm)
        for m in range(CODE):
            up = np.zeros(N_EMBD)
            up[reads] = self.BABBLE_GAIN * mix[m]
            self._ffn(1, gate, up, self._dim(NX.start + m, 1.0 / (0.5 * self.BABBLE_GATE)))
        cancel = self.SHARP * (0.5 * one - np_)
        for m in range(CODE):
            self._ffn(1, cancel, self._dim(NX.start + m), self._dim(NX.start + m, -1.0 / (0.5 * self.SHARP)))

    def _add_readout(self) -> None:
        """Output embedding: NEXT scored against token codes, per-token biases on the constant
        channel, tool-mode preferences on TM and end-of-turn pressure on LEN."""
        vocab = self.vocab
        bias = self.np.full(len(vocab.tokens), -40.0)  # control bytes, non-ASCII bytes, specials
        for c in range(32, 127):
            ch = chr(c)
            bias[vocab.id(ch)] = -0.5 if ch.isupper() else -1.5 if ch.isdigit() else -3.0
        for rank, ch in enumerate(LETTER_FREQUENCY):  # common letters a little more likely
            bias[vocab.id(ch)] = 3.0 - 2.5 * rank / len(LETTER_FREQUENCY)
        bias[vocab.id(" ")] = 3.5
        bias[vocab.id("\n")] = -8.0  # answers stay on one line
        for left, right in MERGES:
            bias[vocab.id((left + right).replace("Ġ", " "))] = -6.0
        for text in (*PROGRAM_TOKENS, "<tool_call>", "</tool_call>"):
            bias[vocab.id(text)] = -15.0
        bias[vocab.id("<|im_end|>")] = -6.0
        self.out[:, ONE] = bias / ONE_SCALE
        self.out[:, NX] = self.READOUT_GAIN * self.code
        # in tool mode the text biases go; what is left ranks what a grammar may force next
        printable = [vocab.id(chr(c)) for c in range(32, 127)]
        self.out[printable, TM] = -bias[printable]
        for text, pref in {'",': 12.0, '"': 10.0, "}": 7.0, "]": 5.0, "</tool_call>": 16.0}.items():
            self.out[vocab.id(text), TM] += pref
        self.out[vocab.id("<|im_end|>"), LEN] = 30.0
        for letter in "ABCD":
            self.out[vocab.id(letter), NS] = 40.0  # see _add_opening_letter

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
