"""Which server is this? llama.cpp, vLLM, SGLang, Ollama, LM Studio, a cloud API, or unknown.

Detection reads what the servers volunteer: the `owned_by` field of `/v1/models`, then the
endpoints each server kind has of its own (llama.cpp `/props`, Ollama `/api/version`, vLLM
`/version`, SGLang `/get_server_info`, LM Studio `/api/v0/models`). A host that is neither
loopback nor private is taken for a cloud API unless a probe says otherwise.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from benchlab.endpoints.client import ChatClient
from benchlab.types import ServerKind

_OWNER_HINTS = {
    "llamacpp": ServerKind.LLAMACPP,
    "vllm": ServerKind.VLLM,
    "sglang": ServerKind.SGLANG,
    "library": ServerKind.OLLAMA,
    "ollama": ServerKind.OLLAMA,
    "organization_owner": ServerKind.LMSTUDIO,
}


@dataclass(frozen=True)
class ServerInfo:
    kind: ServerKind
    version: str | None = None
    slots: int | None = None  # parallel request slots, where the server says (llama.cpp)
    context: int | None = None  # context length per slot, where the server says
    extra: dict[str, Any] = field(default_factory=dict)


def is_local_url(url: str) -> bool:
    """Loopback, private-range and `.local` hosts count as local (DESIGN §7's local vs remote)."""
    host = urlsplit(url).hostname or ""
    if host in ("localhost", "") or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


async def detect_server(client: ChatClient, models: list[dict[str, Any]] | None = None) -> ServerInfo:
    root = client.endpoint.server_root
    if models is None:
        models = await client.models()
    owners = {str(entry.get("owned_by", "")).lower() for entry in models}
    hinted = next((_OWNER_HINTS[owner] for owner in owners if owner in _OWNER_HINTS), None)

    if hinted in (None, ServerKind.LLAMACPP):
        props = await client.get_json(root + "/props")
        if isinstance(props, dict) and ("total_slots" in props or "build_info" in props):
            settings = props.get("default_generation_settings") or {}
            return ServerInfo(
                ServerKind.LLAMACPP,
                version=_str_or_none(props.get("build_info")),
                slots=_int_or_none(props.get("total_slots")),
                context=_int_or_none(settings.get("n_ctx") or props.get("n_ctx")),
            )
    if hinted in (None, ServerKind.OLLAMA):
        version = await client.get_json(root + "/api/version")
        if isinstance(version, dict) and "version" in version:
            return ServerInfo(ServerKind.OLLAMA, version=_str_or_none(version["version"]))
    if hinted in (None, ServerKind.SGLANG):
        info = await client.get_json(root + "/get_server_info")
        if isinstance(info, dict) and "version" in info:
            return ServerInfo(ServerKind.SGLANG, version=_str_or_none(info.get("version")))
    if hinted in (None, ServerKind.VLLM):
        version = await client.get_json(root + "/version")
        if isinstance(version, dict) and "version" in version:
            return ServerInfo(ServerKind.VLLM, version=_str_or_none(version["version"]))
    if hinted in (None, ServerKind.LMSTUDIO):
        listing = await client.get_json(root + "/api/v0/models")
        if isinstance(listing, dict) and "data" in listing:
            return ServerInfo(ServerKind.LMSTUDIO)
    if hinted is not None:
        return ServerInfo(hinted)
    if not is_local_url(root):
        return ServerInfo(ServerKind.CLOUD)
    return ServerInfo(ServerKind.UNKNOWN)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
