"""The tool domains: each module holds its tools and names its fixture."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from types import ModuleType

from benchlab.tasks.tools.domains import devops, gateway, general, hr, trading
from benchlab.tasks.tools.environment import Environment, Tool, load_fixture

_MODULES: dict[str, ModuleType] = {
    "trading": trading,
    "devops": devops,
    "hr": hr,
    "gateway": gateway,
    "general": general,
}

DOMAINS: tuple[str, ...] = tuple(_MODULES)


class UnknownToolError(ValueError):
    pass


def domain_tools(domain: str) -> dict[str, Tool]:
    """Every tool of a domain by name; the general set's tools are available to every domain."""
    if domain not in _MODULES:
        raise ValueError(f"unknown tool domain {domain!r}; domains: {', '.join(DOMAINS)}")
    tools = {tool.name: tool for tool in _MODULES[domain].TOOLS}
    if domain != "general":
        tools.update({tool.name: tool for tool in general.TOOLS if tool.name not in tools})
    return tools


def build_environment(domain: str, exposed: Iterable[str] | None = None) -> Environment:
    """A fresh environment for one sample, exposing `exposed` tools (default: all of the domain's).

    Tasks outside `general` may expose general tools (a calculator next to the journal); their
    state comes from the general fixture, merged under its own keys."""
    available = domain_tools(domain)
    names = list(available) if exposed is None else list(exposed)
    missing = [name for name in names if name not in available]
    if missing:
        raise UnknownToolError(f"domain {domain!r} has no tool(s) {', '.join(missing)}")
    state = load_fixture(_MODULES[domain].FIXTURE)
    if domain != "general":
        for key, value in load_fixture(general.FIXTURE).items():
            state.setdefault(key, value)
    return Environment(domain, {name: available[name] for name in names}, state)


def presented_order(names: Sequence[str], seed_text: str) -> list[str]:
    """The task's tools in the order the model sees them: shuffled with a seed from the task id, so
    a model that favours the first tool listed gains nothing systematic, and every model sees the
    same order for the same task."""
    seed = int.from_bytes(hashlib.sha256(seed_text.encode("utf-8")).digest()[:8], "big")
    order = list(names)
    random.Random(seed).shuffle(order)
    return order
