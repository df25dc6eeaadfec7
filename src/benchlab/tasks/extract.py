"""Structured extraction (DESIGN §5 "extract"): messy text in, one JSON object out, scored per field.

Rows are `{id, subject?, text, schema, expected}` (+ optional `instructions`): `schema` is a JSON
Schema for the object, `expected` the right object (the shipped `extract_core` tasks are checked
against their own schemas by the tests). The model gets the text and the schema and must reply with
one JSON object; `json_recovery` reads it (fences and prose allowed, no repairs), `extract_scoring`
scores it field by field after normalisation and records schema violations per field.

With `constrained=True` (`--option constrained=true`) the request carries the schema as
`response_format` (`{"type": "json_schema", …}`), which llama.cpp, vLLM and SGLang enforce with a
grammar; the prompt is the same either way, so constrained and free runs are comparable.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from benchlab.analysis.summary import count_summary, judged, mean_rate, rate
from benchlab.tasks.base import ChatFn
from benchlab.tasks.extract_scoring import score_fields
from benchlab.tasks.json_recovery import recover_json
from benchlab.types import ErrorKind, GenerationParams, Sample, SampleResult, Score, Transcript

# Token budgets when the user gives none: the objects are small; reasoning models get more room.
DEFAULT_MAX_TOKENS = {False: 1024, None: 4096, True: 16384}

PROMPT = """Extract the information in the text below into a JSON object that conforms to this JSON \
Schema. Use null for a field the text does not give. Copy names, codes and identifiers exactly as \
written; give dates as YYYY-MM-DD and times as HH:MM.{instructions}

Schema:
```json
{schema}
```

Text:
\"\"\"
{text}
\"\"\"

Reply with the JSON object only."""


class ExtractRowError(ValueError):
    """An extraction row that cannot be asked or scored; the message names the row and the fix."""


def check_row(sample: Sample) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(text, schema, expected) of a row, or `ExtractRowError` saying what is wrong with it."""
    text, schema, expected = (sample.data.get(name) for name in ("text", "schema", "expected"))
    if not isinstance(text, str) or not text.strip():
        raise ExtractRowError(f"extract row {sample.id!r}: 'text' must be the non-empty source text.")
    if not isinstance(schema, dict) or not isinstance(expected, dict):
        raise ExtractRowError(
            f"extract row {sample.id!r}: 'schema' (a JSON Schema) and 'expected' (the right object) "
            "must both be JSON objects."
        )
    problem = _schema_problem(json.dumps(schema, sort_keys=True))
    if problem is not None:
        raise ExtractRowError(f"extract row {sample.id!r}: the schema is not valid: {problem}")
    return text, schema, expected


@functools.lru_cache(maxsize=1024)
def _schema_problem(schema_json: str) -> str | None:
    # Cached: checking a schema against the metaschema costs milliseconds, and every sample's schema
    # is checked when it is asked, answered and scored.
    try:
        Draft202012Validator.check_schema(json.loads(schema_json))
    except SchemaError as error:
        return str(error.message)
    return None


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI-style `response_format` that asks the server to enforce `schema`."""
    return {"type": "json_schema", "json_schema": {"name": "extraction", "schema": schema, "strict": True}}


@dataclass(frozen=True)
class ExtractTask:
    constrained: bool = False
    kind: str = "extract"

    def options(self) -> dict[str, Any]:
        return {"constrained": self.constrained}

    def messages(self, sample: Sample) -> list[dict[str, Any]]:
        text, schema, _ = check_row(sample)
        instructions = sample.data.get("instructions")
        prompt = PROMPT.format(
            schema=json.dumps(schema, indent=2, ensure_ascii=False),
            text=text.strip("\n"),
            instructions=f" {instructions.strip()}" if isinstance(instructions, str) and instructions else "",
        )
        return [{"role": "user", "content": prompt}]

    async def solve(self, sample: Sample, chat: ChatFn, params: GenerationParams) -> Transcript:
        _, schema, _ = check_row(sample)
        if params.max_tokens is None:
            params = params.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS[params.think]})
        messages = self.messages(sample)
        fmt = response_format(schema) if self.constrained else None
        completion = await chat(messages, params, response_format=fmt)
        return Transcript(
            messages=messages, completions=[completion], state={"constrained": self.constrained}
        )

    def score(self, sample: Sample, transcript: Transcript) -> Score:
        _, schema, expected = check_row(sample)
        completion = transcript.completions[-1]
        recovery = recover_json(completion.content)
        details: dict[str, Any] = {
            "where": recovery.where,
            "finish_reason": completion.finish_reason,
            "constrained": bool(transcript.state.get("constrained")),
        }
        gold = json.dumps(expected, ensure_ascii=False, sort_keys=True)
        if recovery.value is None:
            cut = " (the reply was cut at the token limit)" if completion.finish_reason == "length" else ""
            details["fields"] = score_fields({}, expected, schema).total
            return Score(
                correct=False,
                gold=gold,
                error_kind=ErrorKind.MODEL,
                error=f"no usable JSON object{cut}: {recovery.error}",
                extracted=recovery.text,
                details=details,
            )
        fields = score_fields(recovery.value, expected, schema)
        details.update(
            fields=fields.total,
            right=fields.right,
            wrong=fields.wrong,
            violations=fields.violations,
            schema_valid=not fields.violations,
        )
        return Score(
            value=fields.value,
            correct=not fields.wrong,
            extracted=json.dumps(recovery.value, ensure_ascii=False, sort_keys=True),
            gold=gold,
            details=details,
        )

    def summarize(self, results: Sequence[SampleResult]) -> dict[str, Any]:
        summary = count_summary(results)
        scored = judged(results)
        parsed = [r for r in scored if r.score.error_kind is ErrorKind.NONE]
        summary["field_score"] = mean_rate([r.score.value for r in scored], n_resamples=2000)
        summary["accuracy"] = summary["field_score"]  # the figure every surface prints first
        summary["exact"] = rate(sum(1 for r in scored if r.score.correct), len(scored))
        summary["unparseable"] = rate(len(scored) - len(parsed), len(scored))
        summary["schema_valid"] = rate(
            sum(1 for r in parsed if r.score.details.get("schema_valid")), len(scored)
        )
        summary["truncated"] = sum(1 for r in scored if r.score.details.get("finish_reason") == "length")
        summary["fields"] = {
            "right": sum(len(r.score.details.get("right", [])) for r in scored),
            "expected": sum(int(r.score.details.get("fields", 0)) for r in scored),
        }
        missed: Counter[str] = Counter()
        for r in parsed:
            missed.update(r.score.details.get("wrong", {}).keys())
        summary["most_missed"] = dict(missed.most_common(5))
        subjects: dict[str, list[float]] = {}
        for r in scored:
            subjects.setdefault(r.subject or "(none)", []).append(r.score.value)
        summary["by_subject"] = {
            subject: mean_rate(values, n_resamples=2000) for subject, values in sorted(subjects.items())
        }
        summary["constrained"] = self.constrained
        return summary
