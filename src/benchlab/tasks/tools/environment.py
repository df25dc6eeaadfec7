"""A deterministic in-memory environment that executes tool calls for one sample.

A domain is a set of `Tool`s (an OpenAI function schema and a handler) and a fixture (JSON in
`catalog/builtin/`). Every sample gets a fresh `Environment` built from a deep copy of the fixture,
so nothing one sample changes is seen by another. Arguments are validated against the tool's JSON
schema (jsonschema, Draft 2020-12) before the handler runs; every problem comes back to the model
as a JSON `{"error": ...}` result and is kept in the call log, never raised.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

Handler = Callable[["Environment", dict[str, Any]], Any]


class ToolError(Exception):
    """A call the domain refuses (unknown id, impossible change); shown to the model as an error."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler = field(compare=False, repr=False)

    def __post_init__(self) -> None:
        Draft202012Validator.check_schema(self.parameters)

    @functools.cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.parameters)

    def spec(self) -> dict[str, Any]:
        """The OpenAI `tools` entry for this tool."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def problems(self, arguments: Any) -> list[str]:
        """Why `arguments` do not fit the schema (empty when they do)."""
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or 'arguments'}: {error.message}"
            for error in sorted(self.validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        ]


def params(properties: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    """An object schema that refuses arguments it does not declare (a hallucinated argument)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class CallOutcome:
    """One executed call. `problem` is `unknown_tool`, `invalid_arguments`, `refused` or None."""

    name: str
    arguments: Any
    result: Any
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arguments": self.arguments,
            "result": self.result,
            "problem": self.problem,
        }


class Environment:
    """One sample's world: its state, the tools it exposes, and the log of what happened."""

    def __init__(self, domain: str, tools: Mapping[str, Tool], state: dict[str, Any]) -> None:
        self.domain = domain
        self.tools = dict(tools)
        self.state = state
        self.calls: list[CallOutcome] = []
        self.changes: list[dict[str, Any]] = []

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self.tools.values()]

    def execute(self, name: str, arguments: Any) -> CallOutcome:
        tool = self.tools.get(name)
        if tool is None:
            available = ", ".join(sorted(self.tools))
            outcome = CallOutcome(
                name,
                arguments,
                {"error": f"unknown tool {name!r}; available tools: {available}"},
                "unknown_tool",
            )
        elif problems := tool.problems(arguments):
            outcome = CallOutcome(
                name, arguments, {"error": "invalid arguments: " + "; ".join(problems)}, "invalid_arguments"
            )
        else:
            try:
                result = tool.handler(self, copy.deepcopy(arguments))
                outcome = CallOutcome(name, arguments, json.loads(json.dumps(result)))
            except ToolError as error:
                outcome = CallOutcome(name, arguments, {"error": str(error)}, "refused")
        self.calls.append(outcome)
        return outcome

    # -- helpers for handlers ------------------------------------------------------------------------

    def table(self, collection: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.state[collection]
        return rows

    def find(self, collection: str, record_id: str, *, key: str = "id") -> dict[str, Any]:
        for row in self.table(collection):
            if str(row.get(key)).lower() == str(record_id).lower():
                return row
        raise ToolError(
            f"no {collection[:-1] if collection.endswith('s') else collection} with {key} {record_id!r}"
        )

    def next_id(self, prefix: str, collection: str, *, width: int = 3) -> str:
        """The next id after the highest numbered `<prefix><n>` in `collection` (deterministic)."""
        numbers = [
            int(str(row["id"])[len(prefix) :])
            for row in self.table(collection)
            if str(row.get("id", "")).startswith(prefix) and str(row["id"])[len(prefix) :].isdigit()
        ]
        return f"{prefix}{(max(numbers) + 1 if numbers else 1):0{width}d}"

    def insert(self, collection: str, row: dict[str, Any]) -> dict[str, Any]:
        self.table(collection).append(row)
        self.changes.append({"action": "insert", "collection": collection, "id": row.get("id"), "row": row})
        return row

    def update(self, collection: str, row: dict[str, Any], **fields: Any) -> dict[str, Any]:
        before = {name: row.get(name) for name in fields}
        row.update(fields)
        self.changes.append(
            {
                "action": "update",
                "collection": collection,
                "id": row.get("id"),
                "before": before,
                "after": fields,
            }
        )
        return row


@functools.lru_cache(maxsize=16)
def _fixture_text(name: str) -> str:
    return (resources.files("benchlab.catalog") / "builtin" / name).read_text(encoding="utf-8")


def load_fixture(name: str) -> dict[str, Any]:
    """A fresh copy of a domain fixture (parsed anew, so no sample shares objects with another)."""
    data: dict[str, Any] = json.loads(_fixture_text(name))
    return data
