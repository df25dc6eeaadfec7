"""Rubric judging and long context against the real llama.cpp server (xllamacpp) and the smoke model.

The smoke model is a null model: these tests assert structure (verdicts parsed or recorded as
judge failures, the judge model recorded, haystacks of exact token counts), never scores.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

pytest.importorskip("xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'")

from benchlab import api
from benchlab.endpoints.client import ChatClient
from benchlab.endpoints.managed import ServerProcess, free_port
from benchlab.tasks import longcontext_haystack as haystacks
from benchlab.tasks.longcontext import PROMPT, TEMPLATE_MARGIN, ServerTokenCounter
from benchlab.tasks.rubric_judge import PROMPT_SHA256
from benchlab.types import Endpoint, ErrorKind
from test_longcontext import write_definition
from test_rubric import write_definition as write_rubric_definition

pytestmark = pytest.mark.llamacpp


@pytest.fixture(scope="module")
def smoke_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    # The smoke model's tokenizer is byte-level (about one token per byte): give each slot 8k tokens.
    with ServerProcess(
        smoke=True, port=free_port(), parallel=2, ctx=16384, env={"BENCHLAB_HOME": str(home)}
    ) as server:
        yield server.base_url


async def count_with_server(base_url: str, text: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/tokenize", json={"content": text, "add_special": False}) as response,
    ):
        body = await response.json()
    return len(body["tokens"])


@pytest.mark.parametrize(
    ("length", "depth", "seed"),
    [(1000, 0, 1), (1000, 50, 2), (3000, 100, 3), (2500, 25, 9), (4000, 75, 4), (1000, 100, 1001001)],
)
async def test_haystack_has_the_exact_token_count(
    smoke_server: str, length: int, depth: int, seed: int
) -> None:
    async with ChatClient(Endpoint(base_url=smoke_server)) as client:
        built = await haystacks.build(seed, depth, length, ServerTokenCounter(client))
    assert built.method == "tokenizer" and built.exact
    assert await count_with_server(smoke_server, built.text) == length  # counted independently
    assert haystacks.needle_for(seed).sentence in built.text


def test_longcontext_run_on_the_real_server(smoke_server: str, benchlab_home: Path) -> None:
    rows = [
        # Prefill of the byte-level smoke model is slow on a shared CPU: keep the documents short.
        {"id": "a", "length": 400, "depth": 0, "seed": 1},
        {"id": "b", "length": 700, "depth": 100, "seed": 2},
        {"id": "d", "length": 8000, "depth": 50, "seed": 4},  # beyond the 8192-token slot with the prompt
    ]
    key = write_definition(benchlab_home, rows)
    record = api.run(key, server=smoke_server, max_tokens=16)
    summary = record.summary
    assert summary["skipped_lengths"] == {"8000": 1}
    assert summary["token_counts"] == {"tokenizer": 2, "estimate": 0, "exact_length": 2}
    assert summary["accuracy"]["n"] == 2
    assert set(summary["grid"]) == {"400", "700"}
    for result in api.results(record.run_id):
        if result.sample_id == "d":
            assert result.score.error_kind is ErrorKind.REJECTED and "8192" in (result.score.error or "")
            continue
        details = result.score.details
        assert details["haystack_tokens"] == details["length"]
        assert result.transcript is not None
        usage = result.transcript.completions[0].usage
        # The server's own prompt count: the document, the question around it and the chat template.
        question = haystacks.needle_for(int(details["seed"])).question
        wrapper = asyncio.run(count_with_server(smoke_server, PROMPT.format(document="", question=question)))
        assert usage.prompt_tokens is not None
        assert 0 <= usage.prompt_tokens - details["length"] - wrapper <= TEMPLATE_MARGIN


def test_smoke_server_as_judge(smoke_server: str, benchlab_home: Path) -> None:
    row = {
        "id": "kettle",
        "conversation": [{"role": "user", "content": "Is it safe to descale a kettle with vinegar?"}],
        "rubric": [
            {
                "criterion": "Says vinegar works.",
                "points": 2,
                "rule": {"kind": "must_mention", "terms": ["yes"]},
            },
            {"criterion": "Advises rinsing the kettle well afterwards.", "points": 3},
        ],
    }
    # One judged item: the smoke model prefills slowly on a shared CPU (the judge prompt is ~900
    # tokens of its byte-level vocabulary, twice when the first reply cannot be read).
    key = write_rubric_definition(benchlab_home, [row])
    record = api.run(
        key, server=smoke_server, judge_server=smoke_server, max_tokens=24, options={"judge_max_tokens": 24}
    )
    summary = record.summary
    assert record.task_options["judge_prompt_sha256"] == PROMPT_SHA256
    assert smoke_server in record.task_options["judge"]
    assert summary["metric"] == "rubric_score" and "accuracy" not in summary
    rule_items = judge_items = 0
    item_failures = {"infra": 0, "parse": 0}
    for result in api.results(record.run_id):
        verdicts = result.score.details.get("verdicts") or []
        assert result.transcript is not None
        if not result.transcript.completions[0].content.strip():
            assert result.score.error_kind is ErrorKind.MODEL
            continue
        for verdict in verdicts:
            if verdict["source"] == "rule":
                rule_items += 1
                assert isinstance(verdict["met"], bool)
                continue
            judge_items += 1
            if verdict["failure"] is None:  # parsed: a boolean verdict from the judge
                assert isinstance(verdict["met"], bool) and verdict["judge_model"] == "benchlab-smoke"
            else:  # recorded as a judge failure, never as "not met"
                assert verdict["met"] is None and verdict["failure"] in item_failures
                item_failures[verdict["failure"]] += 1
                assert verdict["attempts"] >= 1 and verdict["error"]
        failed = any(v.get("failure") for v in verdicts)
        assert (result.score.error_kind is ErrorKind.INFRA) == failed
    assert summary["items"] == {"rule_decided": rule_items, "judge_decided": judge_items}
    assert summary["judge_failures"]["items"] == item_failures
    assert judge_items > 0 and rule_items > 0
    assert summary["judge"]["models"] in ([], ["benchlab-smoke"])
    json.dumps(summary)  # the summary is plain data, as the store and the surfaces need
