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

The package's modules: `tokenizer`, `template` (the chat template), `layout` (sizes and the
residual-stream layout), `circuit` (the hand-set weights) and `writer` (the GGUF file and its cache).
"""

from benchlab.endpoints.smoke_model.template import CHAT_TEMPLATE
from benchlab.endpoints.smoke_model.writer import (
    SMOKE_CONTEXT,
    SMOKE_FORMAT_VERSION,
    SMOKE_MODEL_ID,
    default_smoke_model_path,
    write_smoke_model,
)

__all__ = [
    "CHAT_TEMPLATE",
    "SMOKE_CONTEXT",
    "SMOKE_FORMAT_VERSION",
    "SMOKE_MODEL_ID",
    "default_smoke_model_path",
    "write_smoke_model",
]
