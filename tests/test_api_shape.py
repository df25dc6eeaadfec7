"""The stable Python API: names, parameters and returned shapes that callers rely on.

A change that breaks this test is a breaking change: bump `API_VERSION` and say so in the CHANGELOG.
"""

from __future__ import annotations

import inspect

from benchlab import api

EXPECTED_PARAMETERS = {
    "run": [
        "benchmark",
        "server",
        "model",
        "api_key",
        "n",
        "tag",
        "concurrency",
        "think",
        "seed",
        "sample_seed",
        "shuffle",
        "max_tokens",
        "temperature",
        "resume",
        "timeout",
        "retries",
        "observer",
        "command",
        "allow_drift",
        "samples",
        "dialect",
        "judge_server",
        "judge_model",
        "judge_api_key",
        "render",
        "options",
        "llm_judge",
        "visual_judge",
        "selection",
    ],
    "runs": ["tag", "benchmark", "model", "limit"],
    "get_run": ["reference"],
    "results": ["reference", "with_transcripts"],
    "compare": ["a", "b"],
    "dashboard": ["port", "host", "token", "on_ready"],
    "doctor": ["servers", "api_key"],
    "load": ["benchmark", "allow_drift"],
    "registry": [],
    "fetch": ["key", "force", "source", "progress"],
    "lock_status": ["keys", "check_upstream"],
    "prelock": ["keys"],
    "lock": ["keys", "all_sources", "progress"],
    "relock": ["keys", "all_sources", "progress"],
    "verify": ["keys"],
    "healthcheck": ["keys", "download", "strict"],
    "open_store": [],
    "export": ["reference", "fmt", "output"],
    "import_results": ["source", "location", "tag"],
    "publish": ["references", "repo", "dry_run"],
    "log_to_mlflow": ["reference", "uri", "experiment"],
    "campaign": ["plan", "say", "command", "ray"],
    "speed": [
        "profile",
        "server",
        "model",
        "api_key",
        "tag",
        "output_tokens",
        "ignore_eos",
        "trials",
        "lengths",
        "levels",
        "requests_per_level",
        "rates",
        "requests_per_rate",
        "seed",
        "remote",
        "timeout",
        "observer",
        "command",
    ],
    "speed_plots": ["reference", "folder", "fmt"],
    "panel_score": ["references"],
}


def test_version_is_pinned() -> None:
    assert api.API_VERSION == 1


def test_every_public_function_keeps_its_parameters() -> None:
    for name, parameters in EXPECTED_PARAMETERS.items():
        assert name in api.__all__, name
        signature = inspect.signature(getattr(api, name))
        assert list(signature.parameters) == parameters, name


def test_only_the_first_parameter_is_positional() -> None:
    for name in EXPECTED_PARAMETERS:
        kinds = [p.kind for p in inspect.signature(getattr(api, name)).parameters.values()]
        positional = [k for k in kinds if k is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        assert len(positional) <= 2, name  # compare(a, b) has two; the rest at most one


def test_registry_entries_carry_the_documented_fields() -> None:
    specs = api.registry()
    assert {"humaneval", "mmlu_formal_logic", "gpqa_diamond"} <= {spec.key for spec in specs}
    for spec in specs:
        for field in ("key", "name", "domain", "tier", "kind", "fit", "license", "citation", "sources"):
            assert getattr(spec, field) is not None, (spec.key, field)


def test_run_record_shape() -> None:
    from benchlab.types import RunRecord

    fields = set(RunRecord.model_fields)
    assert {
        "run_id",
        "tag",
        "benchmark",
        "task_kind",
        "created_at",
        "finished_at",
        "status",
        "endpoint",
        "params",
        "task_options",
        "provenance",
        "sample_ids",
        "summary",
        "status_reason",
    } == fields
