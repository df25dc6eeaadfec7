"""The architecture's sizes and the residual-stream layout: which dims carry what, and the RoPE
kernels that let a head attend a fixed distance back or over a window."""

from __future__ import annotations

from benchlab.endpoints.smoke_model.tokenizer import CALL_ARGS, CALL_HEAD

N_EMBD = 64
N_LAYER = 2
N_HEAD = 7
HEAD_DIM = 48
N_FF = 48
# RoPE base chosen so that pairs 0-5 rotate at geometrically spaced speeds (1 rad/token down to
# ~6e-5 rad/token: positional kernels) while pairs 6-23 barely move over the whole context
# (content matching that ignores position).
ROPE_BASE = 10.0 ** (0.85 * HEAD_DIM / 2)
FAST_PAIRS = 6
CODE = 16  # width of a token code
SHORT = 8  # width of the compressed code of the token three back

# Residual dims.  NX holds PREV2 after layer 0 and the next-token vector (NEXT) at the end: the
# last feed-forward layer cancels PREV2 out of it whenever no tool name is being copied.
ONE = 0
CUR = slice(1, 17)
PREV1 = slice(17, 33)
NX = slice(33, 49)
PREV2 = NX
PREV3 = slice(49, 57)
TM = 57  # tool mode: the prompt offers tools and holds no tool result yet (clean 0/1 in layer 1)
NP = 58  # a tool name is being copied (clean 0/1 in layer 1)
WIN = 59  # graded window just after `<tools>`: ~0.88 at it, 0.5 forty tokens later, ~0 after 160
LEN = 60  # grows with the distance to the last `<|im_start|>`
NS = 61  # 1.0 exactly on the first character of the first tool's name (at the end: "open with A-D")
CTX = slice(62, 64)  # a prompt hash that seeds the babble
# One-hot input markers of a few special tokens, so layer-0 heads can key on them exactly.  They
# share dims with flags that layer 0 writes; the circuit tolerates the leftover at those tokens.
MARK_DIM = {
    "<|endoftext|>": LEN,  # at layer 1, LEN - 1 is > 0 only on BOS: the copy heads' sink
    "<tool_response>": TM,
    CALL_HEAD: NP,
    CALL_ARGS: NS,
    "<tools>": WIN,
    "<|im_start|>": CTX.stop - 1,
}

LETTER_FREQUENCY = "etaoinshrdlcumwfgypbvkjxqz"
# A typical multiple-choice prompt: the prompt hash is measured from its mean code.
SAMPLE_TEXT = (
    "Which of the following statements about the water cycle is correct?\n"
    "A. Evaporation happens only at night.\nB. Clouds form when water vapour condenses.\n"
    "C. Rain is made of salt water.\nD. Rivers flow uphill to the sea.\nAnswer:"
)
ONE_SCALE = 30.0  # the constant channel dominates the norm, so RMSNorm is nearly a constant scale

# LP-optimal amplitudes over the fast RoPE pairs (the sixth gets none) for a kernel
# sum_i a_i cos(theta_i (d - c)) that peaks at d == c and stays at least 0.086 below the peak for
# every other d in [0, 8192).
PEAK_KERNEL = (0.1828, 0.2289, 0.2336, 0.1829, 0.1718)
PEAK_MARGIN = 0.0864
# (pair, amplitude, centre) of the tools-window kernel: with an offset of -40 its score falls
# linearly from +2 at d=0 to -6 at d=160 and stays below -8 up to the end of the context (LP fit).
WINDOW_KERNEL = ((3, 11.406, -501.94), (4, 56.569, -1972.83), (5, 40.001, -27815.83))
WINDOW_OFFSET = -40.0
# Turn-length kernel: relative to its value at d=48 it is +3 at d=16 and below -7 from d=90 on.
LENGTH_KERNEL = (0.0, 0.0, 7.0, 60.0, 55.0)
