"""The protocol every task kind implements (DESIGN §5).

A task turns a sample into requests, drives the model through a `ChatFn` it is handed (so tasks
never see the engine or the transport), scores the transcript, and summarizes a run. Scoring is
pure: given the sample and the transcript it always gives the same score, so a run can be re-scored
without asking the model again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from benchlab.types import Completion, GenerationParams, Sample, SampleResult, Score, Transcript


class ChatFn(Protocol):
    async def __call__(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Completion: ...


class Task(Protocol):
    @property
    def kind(self) -> str:
        """The task kind's name (`mcq`, `code`, …), recorded on the run."""
        ...

    def options(self) -> dict[str, Any]:
        """The task settings that change what is asked or how it is scored (recorded on the run)."""
        ...

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript: ...

    def score(self, sample: Sample, transcript: Transcript) -> Score: ...

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]: ...
