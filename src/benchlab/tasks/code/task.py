"""The code task: prompts, runs every completion's program in the sandbox during `solve()`, scores
the recorded outcomes and summarises pass@k."""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from benchlab.analysis.stats import pass_at_k
from benchlab.analysis.summary import count_summary, judged, mean_rate, rate
from benchlab.tasks.base import ChatFn
from benchlab.tasks.code.extraction import Extraction, extract_code
from benchlab.tasks.code.limits import ProblemLimits, TimeoutRule
from benchlab.tasks.code.outcomes import OUTCOMES, PASS_AT, judge, outcome_record
from benchlab.tasks.code.program import build_program, program_digest
from benchlab.tasks.code.prompts import (
    COMPLETION_PROMPT,
    DEFAULT_MAX_TOKENS,
    DEFAULT_SAMPLING_TEMPERATURE,
    INSTRUCTION_PROMPT,
)
from benchlab.tasks.sandbox import (
    ExecutionResult,
    IsolationMode,
    Limits,
    SandboxUnavailable,
    isolation_available,
    require_execution_allowed,
    run_python_async,
)
from benchlab.tasks.sandbox.host import usable_cores
from benchlab.types import Completion, ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript


@dataclass(eq=False)
class CodeTask:
    """Executed code benchmarks (HumanEval, MBPP): `samples` completions per problem, each run
    against the problem's tests in the sandbox.

    `limits` sets the memory, file-size, process and output limits of every program; its wall and
    CPU limits are replaced per problem by `timeout` (`TimeoutRule`). `workers` bounds how many
    programs run at once (default: one per usable core), `isolation` is the sandbox mode, and
    `challenge_tests` adds MBPP's challenge asserts where a row has them.
    """

    samples: int = 1
    limits: Limits | None = None
    timeout: TimeoutRule = field(default_factory=TimeoutRule)
    challenge_tests: bool = True
    workers: int | None = None
    isolation: IsolationMode = "auto"
    kind: str = "code"
    _reference: dict[str, ProblemLimits] = field(default_factory=dict, init=False, repr=False)
    _measuring: dict[str, asyncio.Future[ProblemLimits]] = field(default_factory=dict, init=False, repr=False)
    _gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be at least 1, not {self.samples}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")

    # -- settings ----------------------------------------------------------------------------------

    @property
    def base_limits(self) -> Limits:
        return self.limits or Limits()

    def isolation_summary(self) -> str:
        """The isolation programs get here (probed once per interpreter and cached by the sandbox)."""
        try:
            return isolation_available().summary
        except SandboxUnavailable as error:
            return f"unavailable: {error}"

    def options(self) -> dict[str, Any]:
        limits = asdict(self.base_limits)
        limits.pop("wall_seconds")
        limits.pop("cpu_seconds")
        return {
            "samples": self.samples,
            "sampling": (
                "greedy (the run's parameters)"
                if self.samples == 1
                else f"temperature = the run's if > 0, else {DEFAULT_SAMPLING_TEMPERATURE}; seed + i"
            ),
            "isolation": self.isolation_summary(),
            "isolation_mode": self.isolation,
            "limits": limits,
            "timeout": {**asdict(self.timeout), "rule": self.timeout.describe()},
            "challenge_tests": self.challenge_tests,
        }

    def check_ready(self) -> str:
        """Call before a run starts: raises `CodeExecutionDisabled` (with the sandbox's message) unless
        `BENCHLAB_ALLOW_CODE_EXEC=1`, `SandboxUnavailable` when programs cannot run here; returns the
        isolation summary to record and show."""
        require_execution_allowed()
        return isolation_available().summary

    # -- asking ------------------------------------------------------------------------------------

    def messages(self, sample: Sample) -> list[dict[str, Any]]:
        data = sample.data
        if data.get("style") == "completion":
            text = COMPLETION_PROMPT.format(prompt=data["prompt"].strip("\n"))
        else:
            examples = data.get("test_list") or [
                line for line in str(data.get("tests", "")).splitlines() if line.startswith("assert")
            ]
            text = INSTRUCTION_PROMPT.format(
                text=str(data["prompt"]).strip(),
                example=(examples[0] if examples else "").strip(),
                entry_point=data["entry_point"],
            )
        return [{"role": "user", "content": text}]

    def sampling(self, params: GenerationParams) -> list[GenerationParams]:
        """One parameter set per completion: the run's own for k = 1 (greedy by default); for k > 1 a
        temperature above 0 and seeds `seed, seed + 1, …` so the completions differ reproducibly."""
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        if self.samples == 1:
            return [params]
        temperature = params.temperature if params.temperature > 0 else DEFAULT_SAMPLING_TEMPERATURE
        base = params.seed if params.seed is not None else 1234
        return [
            params.model_copy(update={"temperature": temperature, "seed": base + index})
            for index in range(self.samples)
        ]

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        """Ask for `samples` completions (one request at a time, so the run's concurrency stays the
        number of requests in flight) and run each one's program as soon as it arrives."""
        require_execution_allowed()  # before the first request: nothing is asked that cannot be scored
        messages = self.messages(sample)
        plans = self.sampling(params)
        problem = asyncio.ensure_future(self.problem_limits(sample))
        runs: list[asyncio.Future[dict[str, Any] | None]] = []
        completions: list[Completion] = []
        try:
            for plan in plans:
                completion = await chat(messages, plan)
                completions.append(completion)
                runs.append(asyncio.ensure_future(self._execute_reply(sample, completion.content, problem)))
            executions = list(await asyncio.gather(*runs))
            limits = await problem
        finally:
            waiting: list[asyncio.Future[Any]] = [problem, *runs]
            for pending in waiting:
                if not pending.done():
                    pending.cancel()
        state: dict[str, Any] = {
            "style": sample.data.get("style"),
            "executions": executions,
            "limits": limits.record(),
            "isolation": self._isolation_of(executions),
        }
        if self.samples > 1:
            state["sampling"] = {"temperature": plans[0].temperature, "seeds": [p.seed for p in plans]}
        return Transcript(messages=messages, completions=completions, state=state)

    async def execute(self, sample: Sample, transcript: Transcript) -> Transcript:
        """Run a stored transcript's completions again (after a change of extraction rules, options
        or sandbox) and return it with fresh outcomes; `score()` of the result is then current."""
        require_execution_allowed()
        problem = asyncio.ensure_future(self.problem_limits(sample))
        try:
            executions = list(
                await asyncio.gather(
                    *(self._execute_reply(sample, c.content, problem) for c in transcript.completions)
                )
            )
            limits = await problem
        finally:
            if not problem.done():
                problem.cancel()
        state = {
            **transcript.state,
            "style": sample.data.get("style"),
            "executions": executions,
            "limits": limits.record(),
            "isolation": self._isolation_of(executions),
        }
        return transcript.model_copy(update={"state": state})

    # -- running -----------------------------------------------------------------------------------

    def extract(self, sample: Sample, reply: str) -> Extraction:
        prompt = sample.data["prompt"] if sample.data.get("style") == "completion" else None
        return extract_code(reply, entry_point=sample.data.get("entry_point"), prompt=prompt)

    def program(self, sample: Sample, code: str) -> str:
        return build_program(sample, code, challenge_tests=self.challenge_tests)

    def _gate(self) -> asyncio.Semaphore:
        """One program per usable core, across every sample of the run (per event loop, because a
        semaphore belongs to the loop it was first used on)."""
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.workers or usable_cores())
        return gate

    async def run_program(self, program: str, limits: Limits) -> ExecutionResult:
        async with self._gate():
            return await run_python_async(program, limits=limits, isolation=self.isolation)

    async def _execute_reply(
        self, sample: Sample, reply: str, problem: asyncio.Future[ProblemLimits]
    ) -> dict[str, Any] | None:
        extraction = self.extract(sample, reply)
        if extraction.code is None:
            return None
        program = self.program(sample, extraction.code)
        limits = (await asyncio.shield(problem)).limits
        result = await self.run_program(program, limits)
        return outcome_record(result, program_digest(program), limits.wall_seconds)

    def _limits(self, wall: float) -> Limits:
        return replace(self.base_limits, wall_seconds=wall, cpu_seconds=max(1, math.ceil(wall)))

    async def problem_limits(self, sample: Sample) -> ProblemLimits:
        """The limits for one problem's programs, measuring the reference solution the first time
        the problem is seen (cached on the task; concurrent callers share one measurement)."""
        reference = sample.data.get("reference")
        if self.timeout.factor == 0 or not isinstance(reference, str) or not reference.strip():
            status = "not measured" if self.timeout.factor == 0 else "no reference"
            return ProblemLimits(self._limits(self.timeout.wall_seconds(None)), None, status)
        program = self.program(sample, reference)
        key = program_digest(program)
        if key in self._reference:
            return self._reference[key]
        loop = asyncio.get_running_loop()
        pending = self._measuring.get(key)
        if pending is None or pending.get_loop() is not loop or pending.cancelled():
            pending = self._measuring[key] = asyncio.ensure_future(self._measure(program))
        try:
            measured = await asyncio.shield(pending)
        finally:
            if pending.done():
                self._measuring.pop(key, None)
        if measured.reference_status != "error":  # a sandbox hiccup is measured again next time
            self._reference[key] = measured
        return measured

    async def _measure(self, program: str) -> ProblemLimits:
        result = await self.run_program(program, self._limits(self.timeout.ceiling_s))
        seconds = round(result.duration, 4)
        status, _ = judge(result)
        if status != "passed":
            return ProblemLimits(self._limits(self.timeout.ceiling_s), seconds, status)
        return ProblemLimits(self._limits(self.timeout.wall_seconds(seconds)), seconds, "passed")

    def _isolation_of(self, executions: Sequence[dict[str, Any] | None]) -> str:
        seen = {e["isolation"] for e in executions if e is not None and e.get("isolation")}
        return " | ".join(sorted(seen)) if seen else self.isolation_summary()

    # -- scoring -----------------------------------------------------------------------------------

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        """Pure: re-extracts each completion's code, rebuilds its program and reads the recorded
        outcome of exactly that program. Never runs anything."""
        executions: list[dict[str, Any] | None] = list(transcript.state.get("executions") or [])
        completions = transcript.completions
        n = len(completions)
        extractions = [self.extract(sample, c.content) for c in completions]
        statuses: list[str] = []
        stale = 0
        for index, extraction in enumerate(extractions):
            if extraction.code is None:
                statuses.append("no code")
                continue
            record = executions[index] if index < len(executions) else None
            expected = program_digest(self.program(sample, extraction.code))
            if record is None or record.get("program_sha256") != expected:
                statuses.append("not executed")
                stale += 1
                continue
            statuses.append(str(record["status"]))
        c = statuses.count("passed")
        details: dict[str, Any] = {
            "n": n,
            "c": c,
            "statuses": statuses,
            "rules": [e.rule for e in extractions],
            "pass_at_k": {str(k): pass_at_k(n, c, k) for k in sorted({*PASS_AT, n}) if k <= n} if n else {},
            "finish_reasons": [completion.finish_reason for completion in completions],
            "limits": transcript.state.get("limits"),
            "isolation": transcript.state.get("isolation"),
        }
        failure = next(
            (e for e in executions if e is not None and e.get("status") not in ("passed", None)), None
        )
        if failure is not None:
            details["first_failure"] = {"status": failure["status"], "reason": failure.get("reason")}
            details["stderr_tail"] = str(failure.get("stderr", ""))[-600:]
        codes = [e.code for e in extractions if e.code is not None]
        passing = [e.code for e, s in zip(extractions, statuses, strict=True) if s == "passed"]
        extracted = passing[0] if passing else (codes[0] if codes else None)
        if n == 0:
            return Score(error_kind=ErrorKind.MODEL, error="no completion to score", details=details)
        if stale:
            return Score(
                error_kind=ErrorKind.INFRA,
                error=(
                    f"{stale} of {n} programs have no recorded outcome (the transcript was not executed, "
                    "or the extraction rules or task options changed since); re-run them with "
                    "CodeTask.execute(sample, transcript)"
                ),
                extracted=extracted,
                details=details,
            )
        if "error" in statuses:
            reason = next((e.get("reason") for e in executions if e and e.get("status") == "error"), "")
            return Score(
                error_kind=ErrorKind.INFRA,
                error=f"the sandbox could not run the program: {reason}",
                extracted=extracted,
                details=details,
            )
        if not codes:
            cut = any(completion.finish_reason == "length" for completion in completions)
            why = " (the reply was cut at the token limit)" if cut else ""
            return Score(
                value=0.0,
                correct=False,
                error_kind=ErrorKind.MODEL,
                error=f"no code found{why} ({extractions[-1].rule})",
                details=details,
            )
        return Score(value=c / n, correct=c > 0, extracted=extracted, details=details)

    # -- summarizing -------------------------------------------------------------------------------

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]:
        summary = count_summary(results)
        scored = judged(results)
        counts = [(int(r.score.details.get("n", 0)), int(r.score.details.get("c", 0))) for r in scored]
        counts = [(n, c) for n, c in counts if n > 0]
        summary["problems"] = len(counts)
        summary["samples_per_problem"] = sorted({n for n, _ in counts})
        single = all(n == 1 for n, _ in counts)
        pass_at: dict[str, Any] = {}
        smallest = min((n for n, _ in counts), default=0)
        for k in PASS_AT:
            if k > smallest:
                continue
            if single:
                entry = {**rate(sum(c for _, c in counts), len(counts)), "method": "wilson"}
            else:
                entry = mean_rate([pass_at_k(n, c, k) for n, c in counts])
            pass_at[str(k)] = entry
        summary["pass_at_k"] = pass_at
        summary["pass@1"] = pass_at.get("1") or rate(0, 0)
        summary["accuracy"] = summary["pass@1"]  # the field every surface prints first
        statuses: dict[str, int] = {name: 0 for name in (*OUTCOMES, "no code")}
        truncated = 0
        isolation: set[str] = set()
        for result in scored:
            for status in result.score.details.get("statuses", []):
                statuses[status] = statuses.get(status, 0) + 1
            truncated += sum(1 for f in result.score.details.get("finish_reasons", []) if f == "length")
            if result.score.details.get("isolation"):
                isolation.add(str(result.score.details["isolation"]))
        programs = sum(statuses.values())
        summary["outcomes"] = statuses
        summary["no_code"] = rate(statuses["no code"], programs)  # over completions
        summary["unparseable"] = rate(  # problems where no completion had any code
            sum(1 for r in scored if r.score.error_kind is ErrorKind.MODEL), len(scored)
        )
        summary["truncated"] = truncated
        walls = sorted(
            float(r.score.details["limits"]["wall_seconds"])
            for r in scored
            if isinstance(r.score.details.get("limits"), dict)
        )
        summary["timeout_s"] = {"min": walls[0], "max": walls[-1]} if walls else None
        summary["isolation"] = " | ".join(sorted(isolation)) if isolation else self.isolation_summary()
        return summary
