"""Runs written straight into a store, for dashboard tests, screenshots and the scale benchmark.

A synthetic run goes through the same `Store`/`SampleWriter` path as a real one, so what the
dashboard reads is shaped exactly like a real run; only the model is imaginary. Answers are drawn
from a seeded generator so the same call always writes the same run.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable

from benchlab.analysis.summary import count_summary, judged, rate
from benchlab.store.db import SampleWriter, Store
from benchlab.types import (
    Completion,
    Endpoint,
    ErrorKind,
    GenerationParams,
    Provenance,
    RunRecord,
    RunStatus,
    SampleResult,
    Score,
    Timings,
    Transcript,
    Usage,
)

SUBJECTS = ("anatomy", "astronomy", "logic", "statistics", "virology")
LETTERS = "ABCD"

# Rewrites a finished sample before it is stored (e.g. to plant hostile text in a test).
Tweak = Callable[[int, SampleResult], SampleResult]


def write_run(
    store: Store,
    *,
    samples: int,
    accuracy: float = 0.6,
    model: str = "synthetic-model",
    benchmark: str = "synthetic",
    tag: str | None = None,
    seed: int = 7,
    status: RunStatus = RunStatus.FINISHED,
    tweak: Tweak | None = None,
) -> RunRecord:
    rng = random.Random(seed)
    created = time.time() - samples * 0.01
    run_id = time.strftime("%Y%m%d-%H%M%S", time.localtime(created)) + "-" + secrets.token_hex(2)
    ids = [f"s{index:05d}" for index in range(samples)]
    record = RunRecord(
        run_id=run_id,
        tag=tag or f"{model}@synthetic-{seed}",
        benchmark=benchmark,
        task_kind="mcq",
        created_at=created,
        endpoint=Endpoint(base_url="http://127.0.0.1:8080", model=model),
        params=GenerationParams(max_tokens=64),
        task_options={"shuffle": True, "sample_seed": seed, "limit": None},
        provenance=Provenance(
            benchlab_version="synthetic",
            python="3",
            dataset_sha256="0" * 64,
            dataset_rows=samples,
            command=f"synthetic {benchmark}",
        ),
        sample_ids=ids,
    )
    store.save_run(record)
    writer = SampleWriter(store, run_id)
    results = []
    for index, sample_id in enumerate(ids):
        result = _sample(rng, index, sample_id, accuracy, created)
        if tweak is not None:
            result = tweak(index, result)
        writer.put(result)
        results.append(result)
    writer.close()
    writer.check()
    scored = judged(results)
    summary = count_summary(results)
    summary["accuracy"] = rate(sum(1 for r in scored if r.score.correct), len(scored))
    subjects: dict[str, list[bool]] = {}
    for r in scored:
        subjects.setdefault(r.subject or "(none)", []).append(bool(r.score.correct))
    summary["by_subject"] = {name: rate(sum(flags), len(flags)) for name, flags in sorted(subjects.items())}
    finished = record.model_copy(
        update={"status": status, "summary": summary, "finished_at": created + samples * 0.01}
    )
    store.save_run(finished)
    return finished


def _sample(rng: random.Random, index: int, sample_id: str, accuracy: float, created: float) -> SampleResult:
    gold = LETTERS[rng.randrange(4)]
    roll = rng.random()
    latency = 0.2 + rng.random()
    if roll < 0.02:
        score = Score(
            error_kind=ErrorKind.MODEL, correct=False, gold=gold, error="unparseable: no option letter"
        )
        content = "I would rather not say."
    else:
        answer = gold if roll < accuracy else LETTERS[(LETTERS.index(gold) + 1 + rng.randrange(3)) % 4]
        score = Score(
            value=float(answer == gold),
            correct=answer == gold,
            extracted=answer,
            gold=gold,
            details={"rule": "answer-marker", "order": "ABCD", "options": 4, "finish_reason": "stop"},
        )
        content = f"Answer: {answer}"
    question = f"Synthetic question {index}: which option is listed as {gold}?"
    completion = Completion(
        content=content,
        finish_reason="stop",
        usage=Usage(prompt_tokens=60 + index % 40, completion_tokens=3),
        timings=Timings(ttft=latency * 0.6, e2e=latency, decode_rate=40.0, chunks=3),
    )
    return SampleResult(
        sample_id=sample_id,
        subject=SUBJECTS[index % len(SUBJECTS)],
        score=score,
        transcript=Transcript(
            messages=[{"role": "user", "content": question}],
            completions=[completion],
            state={"order": "ABCD"},
        ),
        finished_at=created + index * 0.01,
    )
