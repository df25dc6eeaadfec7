"""Long context: the seeded haystack, whole-number needle matching, and runs against a scripted model
that reads the needle (exact scores, estimated token counts flagged, lengths beyond the context
skipped)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from benchlab import api
from benchlab.tasks import longcontext_haystack as haystacks
from benchlab.tasks.longcontext import LongContextRowError, LongContextTask, reply_numbers
from benchlab.testing.scripted_server import Reply, ScriptedServer, last_user_text
from benchlab.types import Completion, ErrorKind, Sample, Transcript


class ByteCounter:
    """A stand-in tokenizer with one token per UTF-8 byte (like the smoke model's)."""

    method = "tokenizer"

    async def count(self, text: str) -> int:
        return len(text.encode())


def test_whole_numbers_only() -> None:
    assert reply_numbers("The number is 48217.") == ["48217"]
    assert "4821" not in reply_numbers("The number is 48217.")
    assert reply_numbers("It is 4,821 (not 4821-b).") == ["4821", "4821"]
    assert reply_numbers("codes 12,34 and 1,234,567") == ["12", "34", "1234567"]
    assert reply_numbers("no digits here") == []


def score_reply(content: str, needle: str = "4821") -> Any:
    task = LongContextTask()
    state = {"length": 1000, "depth": 50, "needle": needle, "token_count": "tokenizer"}
    transcript = Transcript(messages=[], completions=[Completion(content=content)], state=state)
    return task.score(Sample(id="x", data={"length": 1000, "depth": 50, "seed": 1}), transcript)


def test_score_exact_needle_not_substring() -> None:
    assert score_reply("4821").correct is True
    assert score_reply("The secret number for the vault access is 4821.").value == 1.0
    wrong = score_reply("48217")
    assert wrong.correct is False and wrong.extracted == "48217" and wrong.error_kind is ErrorKind.NONE
    assert score_reply("14821").correct is False
    none = score_reply("I could not find it.")
    assert none.error_kind is ErrorKind.MODEL and none.value == 0.0


@pytest.mark.parametrize("depth", [0, 25, 50, 75, 100])
async def test_haystack_hits_the_token_count_and_rebuilds(depth: int) -> None:
    built = await haystacks.build(31, depth, 1500, ByteCounter())
    assert built.tokens == 1500 and built.exact
    needle = haystacks.needle_for(31)
    assert built.text.count(needle.sentence) == 1
    assert re.findall(r"\d+", built.text) == [needle.value]  # the filler holds no digits
    rebuilt = haystacks.compose(31, needle, built.filler_chars, depth)
    assert rebuilt == built.text and haystacks.sha256(rebuilt) == built.sha256
    position = built.text.index(needle.sentence) / len(built.text)
    assert abs(position - depth / 100) < 0.1


async def test_estimated_counts_are_flagged_and_seeds_differ() -> None:
    built = await haystacks.build(5, 50, 2000, haystacks.EstimatedCounter())
    assert built.method == "estimate" and not built.exact
    assert abs(len(built.text) / 4 - 2000) <= 1
    assert haystacks.needle_for(5) != haystacks.needle_for(6)
    assert haystacks.needle_for(5) == haystacks.needle_for(5)
    assert haystacks.filler(5, 500) != haystacks.filler(6, 500)


def write_definition(home: Path, rows: list[dict[str, Any]], key: str = "needles") -> str:
    folder = home / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / f"{key}.toml").write_text(
        f'key = "{key}"\nname = "needles"\ndomain = "test"\ntier = "current"\nkind = "longcontext"\n'
        'fit = "needle"\nlicense = "Apache-2.0"\ncitation = "test rows"\n\n'
        f'[[sources]]\ntype = "file"\npath = "{key}.jsonl"\n'
    )
    return key


ROWS = [
    {"id": f"L{length}-D{depth}", "length": length, "depth": depth, "seed": length + depth}
    for length in (500, 1000, 3000)
    for depth in (0, 50, 100)
]


def needle_reader(wrong_depth: int) -> Any:
    """Answers with the needle it reads in the prompt, except at one depth where it adds a digit."""

    def respond(body: dict[str, Any]) -> Reply:
        prompt = last_user_text(body)
        value = re.search(r"The secret number for the [a-z ]+ is (\d+)\.", prompt)
        assert value, "no needle in the prompt"
        document = prompt[prompt.index("<document>") : prompt.index("</document>")]
        depth = round(100 * document.index(value.group(0)) / len(document), -1)
        wrong = (wrong_depth == 0 and depth == 0) or (wrong_depth == 100 and depth >= 90)
        return Reply.text(f"{value.group(1)}7" if wrong else f"The number is {value.group(1)}.")

    return respond


def test_scripted_reader_gives_exact_grid(benchlab_home: Path) -> None:
    key = write_definition(benchlab_home, ROWS)
    with ScriptedServer(needle_reader(wrong_depth=0)) as server:
        record = api.run(key, server=server.base_url, max_tokens=32)
        prompts = [last_user_text(body) for body in server.requests]
    summary = record.summary
    assert summary["accuracy"]["k"] == 6 and summary["accuracy"]["n"] == 9
    assert summary["grid"]["1000"]["0"]["rate"] == 0.0
    assert summary["grid"]["1000"]["50"]["rate"] == 1.0
    assert summary["by_depth"]["0"]["k"] == 0 and summary["by_depth"]["100"]["k"] == 3
    assert summary["by_length"]["3000"] == {**summary["by_length"]["3000"], "k": 2, "n": 3}
    assert 0 < summary["grid"]["500"]["50"]["ci_low"] < 1  # Wilson interval on every cell
    # The scripted server has no /tokenize: every length is an estimate, and the summary says so.
    assert summary["token_counts"] == {"tokenizer": 0, "estimate": 9, "exact_length": 0}
    assert "estimate" in summary["token_count_note"]
    longest = max(prompts, key=len)
    assert 3000 * 4 - 10 <= len(longest) - len("".join(longest.split("<document>")[::2])) < 3000 * 4 + 200
    result = next(r for r in api.results(record.run_id) if r.sample_id == "L1000-D50")
    assert len(result.score.details["haystack_sha256"]) == 64
    assert "[haystack: " in result.transcript.messages[0]["content"]  # type: ignore[union-attr]


def test_lengths_beyond_the_context_are_skipped_not_failed(benchlab_home: Path) -> None:
    key = write_definition(benchlab_home, ROWS)
    with ScriptedServer(
        needle_reader(wrong_depth=-1), server_kind="llama.cpp", context_length=1200
    ) as server:
        record = api.run(key, server=server.base_url, max_tokens=32)
        asked = len(server.requests)
    summary = record.summary
    assert asked == 6  # the 3000-token rows never reached the server
    assert summary["skipped_lengths"] == {"3000": 3}
    assert summary["rejected"] == 3 and "larger context" in summary["rejected_messages"][0]
    assert len(summary["rejected_messages"]) == 1  # one message per skipped length, not per row
    assert summary["accuracy"]["k"] == 6 and summary["accuracy"]["n"] == 6
    assert set(summary["grid"]) == {"500", "1000"}


def test_context_option_caps_lengths(benchlab_home: Path) -> None:
    key = write_definition(benchlab_home, ROWS)
    with ScriptedServer(needle_reader(wrong_depth=-1)) as server:
        record = api.run(key, server=server.base_url, max_tokens=32, options={"context": 700})
    assert record.summary["skipped_lengths"] == {"1000": 3, "3000": 3}
    assert record.task_options["context_limit"] == 700


def test_malformed_row_names_the_field(benchlab_home: Path) -> None:
    key = write_definition(benchlab_home, [{"id": "bad", "length": "long", "depth": 0, "seed": 1}])
    with ScriptedServer(Reply.text("1")) as server:
        with pytest.raises(LongContextRowError) as caught:
            api.run(key, server=server.base_url)
        assert server.requests == []
    assert "row 'bad': `length` must be a whole number, got 'long'" in str(caught.value)


def test_builtin_grid_covers_lengths_and_depths() -> None:
    dataset = api.load("longcontext_core")
    cells = {(s.data["length"], s.data["depth"]) for s in dataset.samples}
    lengths = (1000, 2000, 4000, 8000, 16000, 32000)
    assert cells == {(n, d) for n in lengths for d in (0, 25, 50, 75, 100)}
    assert len({s.data["seed"] for s in dataset.samples}) == len(dataset)


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("longcontext", {"ctx": 4096}, "no option ctx; known: answer_tokens, context"),
        ("longcontext", {"context": "big"}, "whole numbers"),
        ("longcontext", {"context": 0}, "at least 1"),
        ("rubric", {"judge_tokens": 5}, "no option judge_tokens; known: judge_concurrency, judge_max_tokens"),
        ("rubric", {"judge_concurrency": 0}, "at least 1"),
    ],
)
def test_bad_options_name_the_fix(kind: str, options: dict[str, Any], message: str) -> None:
    from benchlab.tasks.registry import TaskSettings, TaskSettingsError, build_task

    with pytest.raises(TaskSettingsError, match=re.escape(message)):
        build_task(kind, TaskSettings(options=options))


@pytest.mark.parametrize("depth", [0, 50, 100])
def test_each_filler_character_adds_one_haystack_character(depth: int) -> None:
    needle = haystacks.needle_for(3)
    assert all(len(haystacks.filler(3, chars)) >= chars for chars in range(1, 400))
    sizes = [len(haystacks.compose(3, needle, chars, depth)) for chars in range(200, 400)]
    assert all(later - earlier == 1 for earlier, later in itertools.pairwise(sizes))
