"""The plain data that flows between benchlab's layers (DESIGN §3).

Everything here is a pydantic model so that what the engine records, what the store keeps and
what the surfaces print are validated by the same definitions. Nothing here talks to the network,
the disk or the clock.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ErrorKind(StrEnum):
    """Who is to blame when a sample did not produce a clean answer.

    `model` counts against the model (unparseable, wrong format); `infra` is the transport's fault
    (timeouts, refused connections, 429/5xx, broken streams) and is retried and excluded from
    accuracy; `rejected` means the server refused the request itself (prompt too long, unknown
    parameter): never retried, never scored as the model's failure, always reported.
    """

    NONE = "none"
    MODEL = "model"
    INFRA = "infra"
    REJECTED = "rejected"


class ServerKind(StrEnum):
    LLAMACPP = "llama.cpp"
    VLLM = "vllm"
    SGLANG = "sglang"
    OLLAMA = "ollama"
    LMSTUDIO = "lmstudio"
    CLOUD = "cloud"
    UNKNOWN = "unknown"


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"
    INVALID = "invalid"
    FAILED = "failed"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Endpoint(Frozen):
    """Where the model lives. The API key never leaves this object: it is excluded from dumps."""

    base_url: str
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    model: str | None = None
    server_kind: ServerKind = ServerKind.UNKNOWN
    server_version: str | None = None
    slots: int | None = None

    @property
    def api_root(self) -> str:
        """The URL that `/chat/completions` and `/models` hang off (always ends in `/v1`)."""
        root = self.base_url.rstrip("/")
        return root if root.endswith("/v1") else root + "/v1"

    @property
    def server_root(self) -> str:
        """The server's own root, where llama.cpp serves `/health` and `/props`."""
        root = self.base_url.rstrip("/")
        return root[: -len("/v1")] if root.endswith("/v1") else root


class GenerationParams(Frozen):
    """Sampling settings sent with every request. Defaults are deterministic (greedy, fixed seed)."""

    temperature: float = 0.0
    top_p: float | None = None
    seed: int | None = 1234
    max_tokens: int | None = None
    think: bool | None = None  # None: leave the server's default alone
    stop: list[str] | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict)


class Usage(Frozen):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    approximate: bool = False  # true when counted from chunks because the server gave no usage


class Timings(Frozen):
    """Client-side timings, measured with a monotonic clock from the moment the request was sent.

    ttft: first chunk carrying content, reasoning or a tool call (a role-only chunk does not count);
    ttfot: first non-reasoning content; e2e: last byte of the response.
    """

    ttft: float | None = None
    ttfot: float | None = None
    e2e: float | None = None
    decode_rate: float | None = None  # (output tokens - 1) / (last token - first token), tokens/s
    chunks: int = 0
    decode_span: float | None = None  # last token - first token, seconds (what decode_rate divides by)
    reasoning_chunks: int = 0  # chunks that carried reasoning (the fallback reasoning token count)
    # Gaps between consecutive content-carrying chunks, kept compact: p50/p90/p99/max in seconds.
    inter_chunk: dict[str, float] | None = None


class Completion(Frozen):
    content: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = Usage()
    timings: Timings = Timings()
    server_timings: dict[str, Any] | None = None  # the server's own figures (llama.cpp `timings`)
    model: str | None = None
    tool_parse_error: str | None = None  # a prompt dialect's tool call that could not be parsed
    attempts: int = 1  # how many tries the transport needed (retries of infra failures)
    retry_reasons: list[str] = Field(default_factory=list)  # what went wrong on the failed tries


class Transcript(Frozen):
    """What was sent and what came back for one sample; one turn for MCQ, several for agents."""

    messages: list[dict[str, Any]]
    completions: list[Completion]
    state: dict[str, Any] = Field(default_factory=dict)  # task-specific facts (e.g. option permutation)


class Sample(Frozen):
    """One question. `id` comes from the source row, never from its position in the file."""

    id: str
    data: dict[str, Any]
    subject: str | None = None


class Score(Frozen):
    value: float = 0.0
    correct: bool | None = None
    extracted: str | None = None
    gold: str | None = None
    error_kind: ErrorKind = ErrorKind.NONE
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class SampleResult(Frozen):
    """A finished sample as the store keeps it."""

    sample_id: str
    subject: str | None = None
    score: Score
    transcript: Transcript | None = None
    attempts: int = 1
    finished_at: float


class Provenance(Frozen):
    benchlab_version: str
    git_sha: str | None = None
    host: dict[str, Any] = Field(default_factory=dict)
    python: str
    dataset_path: str | None = None
    dataset_sha256: str
    dataset_rows: int
    command: str | None = None


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    tag: str
    benchmark: str
    task_kind: str
    created_at: float
    finished_at: float | None = None
    status: RunStatus = RunStatus.RUNNING
    endpoint: Endpoint
    params: GenerationParams
    task_options: dict[str, Any] = Field(default_factory=dict)
    provenance: Provenance
    sample_ids: list[str] = Field(default_factory=list)  # the planned samples, in order
    summary: dict[str, Any] = Field(default_factory=dict)
    status_reason: str | None = None
