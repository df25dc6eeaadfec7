"""Speed profiles against scripted servers with known pacing and slot counts."""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import psutil
import pytest

from benchlab.speed import aggregate
from benchlab.speed.profiles import SpeedError, SpeedSettings
from benchlab.speed.suite import SpeedRequest, run_speed
from benchlab.store.db import Store
from benchlab.testing.scripted_server import Fault, Pacing, Reply, ScriptedServer
from benchlab.types import Endpoint, RunStatus

WORDS = " ".join(f"w{i}" for i in range(20))  # 20 tokens per reply
# One request: 0.1 s to the first token, then 19 gaps of 10 ms: 0.29 s in a slot.
PACING = Pacing(ttft=0.1, gap=0.01)
# Slower for the concurrency sweep, so that scheduling delays on a busy machine stay small beside it.
SLOW = Pacing(ttft=0.2, gap=0.02)  # 0.58 s per request in a slot


def speed(server: ScriptedServer, store: Store, **settings: object):
    request = SpeedRequest(
        endpoint=Endpoint(base_url=server.v1_url),
        settings=SpeedSettings(ignore_eos=False, output_tokens=64, **settings),  # type: ignore[arg-type]
        host_interval=0.1,
    )
    return asyncio.run(run_speed(request, store))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "speed.db")


def test_concurrency_rises_to_the_slot_count_then_flattens_and_the_knee_is_marked(store: Store) -> None:
    with ScriptedServer(Reply.text(WORDS), pacing=SLOW, slots=4) as server:
        record, outcome = speed(
            server, store, profile="concurrency", levels=(1, 2, 4, 8), requests_per_level=2
        )
    assert outcome is not None and record.status is RunStatus.FINISHED
    levels = {entry["level"]: entry for entry in outcome.summary["levels"]}
    rate = {level: entry["output_tok_s"] for level, entry in levels.items()}
    # 20 tokens per 0.58 s per slot: about 34 tokens/s for each request in flight, up to 4 slots.
    assert rate[1] == pytest.approx(20 / 0.58, rel=0.2)
    assert rate[2] / rate[1] == pytest.approx(2, rel=0.2)
    assert rate[4] / rate[1] == pytest.approx(4, rel=0.25)
    # The slots are full: no more throughput (without the slot limit this ratio would be 2).
    assert rate[8] / rate[4] == pytest.approx(1, rel=0.2)
    assert outcome.summary["knee"] == 4
    # Beyond the slots the extra requests queue: their TTFT grows while decode stays the same.
    assert levels[8]["ttft_s"]["p90"] > levels[4]["ttft_s"]["p90"] + 0.4
    assert levels[8]["decode_tok_s"]["p50"] == pytest.approx(levels[1]["decode_tok_s"]["p50"], rel=0.25)
    assert all(
        entry["failures"] == 0 and entry["requests"] == 2 * entry["level"] for entry in levels.values()
    )
    assert record.summary["warmup"] == 1 and record.summary["requests"] == 2 * (1 + 2 + 4 + 8)


def test_the_sweep_stops_when_latency_runs_away(store: Store) -> None:
    with ScriptedServer(Reply.text(WORDS), pacing=PACING, slots=1) as server:
        _, outcome = speed(
            server, store, profile="concurrency", levels=(1, 2, 4), requests_per_level=2, runaway_factor=1.5
        )
    assert outcome is not None
    assert outcome.summary["saturated_at"] == 2
    assert [entry["level"] for entry in outcome.summary["levels"]] == [1, 2]  # level 4 never ran


def test_failures_are_counted_apart_from_latencies(store: Store) -> None:
    with ScriptedServer(
        Reply.text(WORDS), pacing=PACING, faults=[Fault("status", status=503, times=2)]
    ) as server:
        _, outcome = speed(server, store, profile="concurrency", levels=(1,), requests_per_level=4)
    assert outcome is not None
    level = outcome.summary["levels"][0]
    # The first two requests (the warm-up and one counted) got a 503 and were not retried.
    assert level["failures"] == 1 and level["requests"] == 3
    assert level["failure_kinds"] == {"infra": 1}
    assert level["e2e_s"]["n"] == 3 and level["e2e_s"]["min"] > 0.25  # failures are not fast "successes"


def test_quick_profile_drops_the_warmup_and_stores_a_run(store: Store) -> None:
    sizes = {"short": 8, "long": 400}
    with ScriptedServer(Reply.text(WORDS), pacing=PACING, server_kind="llama.cpp") as server:
        record, outcome = speed(server, store, profile="quick", sizes=sizes, trials=2)
    assert outcome is not None
    summary = record.summary
    assert set(summary["sizes"]) == {"short", "long"}
    for name, entry in summary["sizes"].items():
        assert entry["requests"] == 2 and entry["warmup"] == 1
        assert entry["ttft_s"]["min"] >= 0.1  # the server never answers early
        # Exact prompt lengths through /tokenize: the scripted usage counts the same 4-character tokens.
        assert entry["prompt_tokens"] >= sizes[name]
        # The least disturbed request of the size (a busy machine can stall any one) meets the pacing.
        calm = min((m for m in outcome.measures if m.group == name and m.counted), key=lambda m: m.e2e or 0)
        assert calm.ttft == pytest.approx(0.1, abs=0.03)
        assert calm.decode_rate == pytest.approx(19 / 0.19, rel=0.2)
    assert summary["exact_prompt_lengths"] is True
    assert summary["headline"]["decode_tok_s"] == summary["sizes"]["short"]["decode_tok_s"]["p50"]
    assert summary["speed_score"]["endpoint"] == "local" and summary["speed_score"]["value"] > 0
    # Stored like any run: the record, one sample per request (warm-ups included, marked) and events.
    stored = store.run(record.run_id)
    assert stored is not None and stored.task_kind == "speed" and stored.benchmark == "speed:quick"
    results = store.results(record.run_id)
    assert len(results) == 6 and sum(r.score.details["warmup"] for r in results) == 2
    assert {r.subject for r in results} == {"short", "long"}


def test_host_metrics_find_the_server_process_by_its_port(store: Store) -> None:
    with ScriptedServer(Reply.text(WORDS), pacing=PACING) as server:
        record, _ = speed(server, store, profile="quick", sizes={"short": 8}, trials=3)
    host = record.summary["host"]
    assert host["samples"] >= 2
    assert host["cpu_percent"]["max"] >= 0 and host["memory_used_bytes"]["max"] > 0
    # The scripted server listens in this very process, so its RSS is ours.
    assert "server_rss_bytes" in host, host.get("note")
    assert host["server_rss_bytes"]["max"] == pytest.approx(
        psutil.Process(os.getpid()).memory_info().rss, rel=0.5
    )


def test_rate_profile_follows_the_seeded_poisson_schedule(store: Store) -> None:
    with ScriptedServer(Reply.text(WORDS), pacing=PACING) as server:
        _, outcome = speed(server, store, profile="rate", rates=(8.0,), requests_per_rate=6, seed=7)
    assert outcome is not None
    rng = random.Random("7:8.0")
    expected, clock = [], 0.0
    for _ in range(6):
        expected.append(clock)
        clock += rng.expovariate(8.0)
    lateness = {m.index: m.started - expected[m.index] for m in outcome.measures if m.group == "r8"}
    assert sorted(lateness) == list(range(6))
    # Relative to the least late send, no request goes early and the typical one is on time: a busy
    # machine may delay one send, never move the schedule.
    residuals = sorted(late - min(lateness.values()) for late in lateness.values())
    assert residuals[3] <= 0.03  # the median of six
    assert outcome.summary["rates"][0]["requests"] == 6


def test_context_profile_fits_lengths_and_reports_prefill(store: Store) -> None:
    # The scripted server spends no time on prefill, so only the structure is checked here; the real
    # server's prefill is compared in bench/speed_agreement.py and the llama.cpp integration test.
    with ScriptedServer(Reply.text(WORDS), server_kind="llama.cpp", context_length=1000) as server:
        record, outcome = speed(server, store, profile="context", lengths=(100, 300, 5000), trials=1)
    assert outcome is not None
    assert [entry["target_tokens"] for entry in outcome.summary["lengths"]] == [100, 300]
    assert any("5000" in note for note in record.summary["notes"])
    tokens = [entry["prompt_tokens"] for entry in outcome.summary["lengths"]]
    assert tokens[1] - tokens[0] == pytest.approx(200, abs=2)  # exact lengths: the difference is exact


def test_settings_are_checked() -> None:
    with pytest.raises(SpeedError, match="profile"):
        SpeedSettings(profile="fast")
    with pytest.raises(SpeedError, match="levels"):
        SpeedSettings(levels=(0, 2))


def test_knee_and_prefill_helpers() -> None:
    assert aggregate.find_knee([1, 2, 4, 8, 16], [10, 20, 39, 41, 40]) == 4
    assert aggregate.find_knee([1, 2], [None, None]) is None
    # TTFT = 0.05 s overhead + tokens / 1000 tok/s: the slope recovers 1000 and ignores the overhead.
    points = [(tokens, 0.05 + tokens / 1000) for tokens in (100, 500, 2000)]
    assert aggregate.prefill_by_difference(points) == pytest.approx(1000)
    assert aggregate.prefill_by_difference([(100, 0.1)]) is None
    stats = aggregate.percentiles([0.1 * i for i in range(1, 101)])
    assert stats is not None and stats["p50"] == pytest.approx(5.05) and stats["p99"] == pytest.approx(9.901)


def test_ollama_gets_its_own_figures_from_a_native_twin_request(store: Store) -> None:
    with ScriptedServer(Reply.text(WORDS), pacing=PACING, server_kind="ollama") as server:
        record, outcome = speed(server, store, profile="quick", sizes={"short": 8, "long": 400}, trials=1)
    assert outcome is not None and record.endpoint.server_kind.value == "ollama"
    for entry in record.summary["sizes"].values():
        server_figures = entry["server"]
        assert server_figures["source"] == "ollama eval counters (native twin request)"
        # The scripted /api/chat reports ttft as prompt evaluation and 10 ms per generated token.
        assert server_figures["output_tokens"] == 20
        assert server_figures["decode_rate"] == pytest.approx(100.0)
        assert server_figures["prompt_ms"] == pytest.approx(100.0)
        # The client streams at 19 gaps of 10 ms per 19 intervals: the same rate, within the clock.
        assert entry["decode_gap"] == pytest.approx(0.0, abs=0.25)


def test_lmstudio_gets_its_own_stats_from_a_native_twin_request(store: Store) -> None:
    with ScriptedServer(Reply.text(WORDS), pacing=PACING, server_kind="lmstudio") as server:
        record, _ = speed(server, store, profile="quick", sizes={"short": 8}, trials=1)
    assert record.endpoint.server_kind.value == "lmstudio"
    server_figures = record.summary["sizes"]["short"]["server"]
    assert server_figures["source"] == "lmstudio stats (native twin request)"
    assert server_figures["decode_rate"] == pytest.approx(100.0)  # 1 / gap
    assert server_figures["prompt_ms"] == pytest.approx(100.0)  # its time to first token
