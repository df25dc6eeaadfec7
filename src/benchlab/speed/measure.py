"""One timed request of a sweep: what the client measured and what the server said, side by side."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from benchlab.speed import server_truth
from benchlab.types import Completion, ErrorKind


class RequestMeasure(BaseModel):
    """The figures of one request. Times are seconds; `started` is relative to the sweep's start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str  # unique within a sweep: "<group>/<index>"
    group: str  # what the request varied: a prompt size, a context length, a concurrency level, a rate
    index: int
    warmup: bool = False
    ok: bool = True
    error_kind: ErrorKind = ErrorKind.NONE
    error: str | None = None
    started: float = 0.0
    ttft: float | None = None
    ttfot: float | None = None
    e2e: float | None = None
    decode_rate: float | None = None
    decode_span: float | None = None
    inter_chunk: dict[str, float] | None = None
    chunks: int = 0
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    approximate: bool = False
    finish_reason: str | None = None
    server: dict[str, Any] | None = None  # `server_truth.normalize` of the server's own figures

    @property
    def counted(self) -> bool:
        """A finished request outside the warm-up: what every statistic is computed from."""
        return self.ok and not self.warmup


def from_completion(
    completion: Completion, *, group: str, index: int, started: float, warmup: bool = False
) -> RequestMeasure:
    timings, usage = completion.timings, completion.usage
    return RequestMeasure(
        id=f"{group}/{index}",
        group=group,
        index=index,
        warmup=warmup,
        started=started,
        ttft=timings.ttft,
        ttfot=timings.ttfot,
        e2e=timings.e2e,
        decode_rate=timings.decode_rate,
        decode_span=timings.decode_span,
        inter_chunk=timings.inter_chunk,
        chunks=timings.chunks,
        prompt_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cached_tokens=usage.cached_tokens,
        approximate=usage.approximate,
        finish_reason=completion.finish_reason,
        server=server_truth.normalize(completion.server_timings),
    )


def failed(
    error: Exception,
    kind: ErrorKind,
    *,
    group: str,
    index: int,
    started: float,
    elapsed: float,
    warmup: bool = False,
) -> RequestMeasure:
    return RequestMeasure(
        id=f"{group}/{index}",
        group=group,
        index=index,
        warmup=warmup,
        ok=False,
        error_kind=kind,
        error=str(error),
        started=started,
        e2e=elapsed,
    )
