"""`benchlab speed --profile quick` end to end against the real llama.cpp server and the smoke model.

The smoke model's speed depends on the machine, so these tests assert structure, exact prompt
lengths (counted by the server's own tokenizer), the server's figures beside the client's, and the
host metrics — never a speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'")

from benchlab.endpoints.managed import ServerProcess, free_port

pytestmark = pytest.mark.llamacpp


@pytest.fixture(scope="module")
def smoke_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    with ServerProcess(smoke=True, port=free_port(), parallel=2, env={"BENCHLAB_HOME": str(home)}) as server:
        yield server.base_url


def test_quick_profile_against_the_real_server(smoke_server: str, benchlab_home: Path) -> None:
    env = {**os.environ, "BENCHLAB_HOME": str(benchlab_home)}
    command = [sys.executable, "-m", "benchlab", "speed", "--profile", "quick", "--server", smoke_server]
    command += ["--lengths", "16,64,160", "--trials", "1", "--output-tokens", "8", "--json"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)["run"]
    summary = run["summary"]
    assert run["status"] == "finished" and run["benchmark"] == "speed:quick"
    assert run["endpoint"]["server_kind"] == "llama.cpp"
    assert summary["exact_prompt_lengths"] is True
    sizes = summary["sizes"]
    assert list(sizes) == ["short", "medium", "long"]
    for entry in sizes.values():
        assert entry["requests"] == 1 and entry["warmup"] == 1 and entry["failures"] == 0
        assert entry["output_tokens"] == 8  # ignore_eos: every answer has exactly the asked length
        assert entry["ttft_s"]["p50"] > 0 and entry["decode_tok_s"]["p50"] > 0
        server = entry["server"]
        assert server["source"] == "llama.cpp timings" and server["output_tokens"] == 8
        # The client's span and the server's predicted_ms measure the same interval.
        assert server["decode_rate"] > 0 and entry["decode_gap"] is not None
    # Exact lengths: the prompts differ by exactly the asked number of tokens, by the server's count.
    assert sizes["medium"]["prompt_tokens"] - sizes["short"]["prompt_tokens"] == 48
    assert sizes["long"]["prompt_tokens"] - sizes["medium"]["prompt_tokens"] == 96
    # llama.cpp exports Prometheus counters: they moved by the prompt and output tokens of the run.
    moved = summary["server_metrics"]
    assert moved["llamacpp:tokens_predicted_total"] == 6 * 8
    host = summary["host"]
    assert host["samples"] >= 1 and host["server_rss_bytes"]["max"] > 10 * 2**20
    assert summary["speed_score"]["endpoint"] == "local" and summary["speed_score"]["value"] > 0

    shown = subprocess.run(
        [sys.executable, "-m", "benchlab", "show", run["run_id"], "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    samples = json.loads(shown.stdout)["samples"]
    assert len(samples) == 6 and all(s["score"]["details"]["server"] for s in samples)
