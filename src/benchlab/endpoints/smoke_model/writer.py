"""Writing the smoke model as a GGUF file, and the cached copy that servers load."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchlab.endpoints.smoke_model.circuit import Circuit
from benchlab.endpoints.smoke_model.layout import HEAD_DIM, N_EMBD, N_FF, N_HEAD, N_LAYER, ROPE_BASE
from benchlab.endpoints.smoke_model.template import CHAT_TEMPLATE
from benchlab.endpoints.smoke_model.tokenizer import build_vocab

SMOKE_MODEL_ID = "benchlab-smoke"
# The tokenizer is byte-level (about one token per byte), so the context must hold the longest
# built-in prompt in bytes.
SMOKE_CONTEXT = 8192
# Bump whenever the bytes written for a given seed change, so cached files are rewritten.
SMOKE_FORMAT_VERSION = 2


def write_smoke_model(path: Path, *, seed: int = 0) -> Path:
    """Write the smoke model to ``path`` and return it.  Same seed, same bytes."""
    try:
        import gguf
    except ImportError as exc:
        from benchlab.endpoints.managed import MissingServeExtra

        raise MissingServeExtra() from exc

    vocab = build_vocab()
    circuit = Circuit(vocab, seed)
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
