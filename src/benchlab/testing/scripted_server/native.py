"""The bodies that the imitated servers' own endpoints answer with (llama.cpp's ``/props``, LM
Studio's and Ollama's native chat, vLLM's Prometheus ``/metrics``), so that the server only routes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchlab.testing.scripted_server.planning import ReplyPlan
from benchlab.testing.scripted_server.script import Pacing, ServerKind

METRIC_HELP = {
    "vllm:prompt_tokens_total": "Prompt tokens processed.",
    "vllm:generation_tokens_total": "Generation tokens produced.",
    "vllm:request_success_total": "Requests finished.",
}


class FourCharTokenizer:
    """llama.cpp's ``/tokenize`` and ``/detokenize``, with a token every four characters like the
    usage estimate; ids are handed out in order of first sight, so a round trip is exact."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._pieces: list[str] = []

    def encode(self, text: str) -> list[int]:
        ids = []
        for start in range(0, len(text), 4):
            piece = text[start : start + 4]
            if piece not in self._ids:
                self._ids[piece] = len(self._pieces)
                self._pieces.append(piece)
            ids.append(self._ids[piece])
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self._pieces[i] for i in ids if i < len(self._pieces))


def model_entry(
    server_kind: ServerKind, model: str, owned_by: str, context_length: int | None
) -> dict[str, Any]:
    """The one entry of ``/v1/models``, with the extra fields the imitated server adds."""
    entry: dict[str, Any] = {"id": model, "object": "model", "created": 0, "owned_by": owned_by}
    if server_kind == "llama.cpp":
        entry["meta"] = {"n_ctx_train": context_length or 4096, "n_params": 1000000, "n_vocab": 256}
    elif server_kind == "vllm":
        entry.update(root=model, max_model_len=context_length or 4096)
    return entry


def llamacpp_props(model: str, slots: int | None, context_length: int | None, version: str) -> dict[str, Any]:
    n_ctx = context_length or 4096
    return {
        "default_generation_settings": {"n_ctx": n_ctx, "params": {"temperature": 0.8, "seed": -1}},
        "total_slots": slots or 1,
        "model_path": f"/models/{model}.gguf",
        "chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}",
        "modalities": {"vision": False, "audio": False},
        "build_info": version,
    }


def lmstudio_chat(
    rid: str, model: str, plan: ReplyPlan, pacing: Pacing, usage: dict[str, Any]
) -> dict[str, Any]:
    """LM Studio's non-streamed reply: time to first token is ``ttft``, ``gap`` per token."""
    tokens = sum(plan.tokens)
    return {
        "id": rid,
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": plan.content},
                "finish_reason": plan.finish_reason,
            }
        ],
        "usage": usage,
        "stats": {
            "tokens_per_second": 1.0 / pacing.gap if pacing.gap else None,
            "time_to_first_token": pacing.ttft,
            "generation_time": pacing.gap * tokens,
            "stop_reason": "eosFound" if plan.finish_reason == "stop" else "maxPredictedTokensReached",
        },
    }


def ollama_chat(model: str, plan: ReplyPlan, pacing: Pacing, prompt_tokens: int) -> dict[str, Any]:
    """Ollama's non-streamed reply: prompt evaluation takes ``ttft``, each generated token ``gap``."""
    tokens = sum(plan.tokens)
    return {
        "model": model,
        "message": {"role": "assistant", "content": plan.content},
        "done": True,
        "done_reason": plan.finish_reason,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": int(pacing.ttft * 1e9),
        "eval_count": tokens,
        "eval_duration": int(pacing.gap * tokens * 1e9),
    }


def vllm_metrics(model: str, totals: Mapping[str, float]) -> str:
    """vLLM's Prometheus text: the three counters benchlab reads."""
    lines = []
    for name, help_text in METRIC_HELP.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        lines.append(f'{name}{{model_name="{model}"}} {float(totals.get(name, 0))}')
    return "\n".join(lines) + "\n"
