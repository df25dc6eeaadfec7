"""The driver's side of results that come back from Ray workers: seeds out, envelopes in.

A job's seed is the envelope of its partial run in the driver's store (samples with transcripts),
so the worker's private store can resume it. What comes back are envelopes too: batches of
finished samples while the job runs, then the final record. Merging is idempotent: a sample the
store already holds settled is never overwritten (the store's own upsert only replaces infra
failures), and a batch never downgrades a record already here.
"""

from __future__ import annotations

from typing import Any

from benchlab.exchange import envelope
from benchlab.store.db import SampleWriter, Store
from benchlab.types import RunRecord


def seed(store: Store, tag: str, *, trigger: str) -> dict[str, Any] | None:
    """The envelope of the newest run tagged `tag`, with its samples, or None for a new job."""
    runs = store.runs(tag=tag)
    if not runs:
        return None
    record = runs[0]
    return envelope.build(record, store.results(record.run_id, with_transcripts=True), trigger=trigger)


def merge_batch(store: Store, batch: dict[str, Any]) -> int:
    """Store a batch of finished samples (and its run, if new here); the number of samples."""
    record, samples = envelope.read(batch)
    if store.run(record.run_id) is None:
        store.save_run(record)
    writer = SampleWriter(store, record.run_id)
    for result in samples:
        writer.put(result)
    writer.close()
    writer.check()
    return len(samples)


def merge_final(store: Store, final: dict[str, Any]) -> RunRecord:
    """Store a job's final record (status, summary), after its batches."""
    record, samples = envelope.read(final)
    store.save_run(record)
    if samples:
        merge_batch(store, final)
    return record
