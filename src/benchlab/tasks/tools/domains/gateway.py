"""An API gateway: endpoints, API keys, request logs and webhooks (fixture `tools_gateway.json`)."""

from __future__ import annotations

import math
from typing import Any

from benchlab.tasks.tools.environment import Environment, Tool, ToolError, params

FIXTURE = "tools_gateway.json"

_ENDPOINT_ID = {"type": "string", "pattern": "^ep-[a-z-]+$", "description": "e.g. ep-orders-list"}
_KEY_ID = {"type": "string", "pattern": "^key-[0-9a-f]{4}$"}
_SCOPES = ["orders:read", "orders:write", "catalog:read", "payments:write", "accounts:read"]
_EVENTS = ["order.created", "order.cancelled", "payment.refunded", "key.revoked", "rate_limit.exceeded"]


def _p95(values: list[int]) -> int | None:
    """Nearest-rank 95th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def _list_endpoints(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("endpoints")
    for name in ("service", "method"):
        if name in args:
            rows = [e for e in rows if e[name] == args[name]]
    return {"endpoints": rows, "count": len(rows)}


def _request_stats(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("request_logs")
    for name in ("endpoint_id", "key_id", "date"):
        if name in args:
            rows = [r for r in rows if r[name] == args[name]]
    errors = [r for r in rows if r["status"] >= 400]
    server_errors = [r for r in rows if r["status"] >= 500]
    return {
        "requests": len(rows),
        "errors_4xx": len(errors) - len(server_errors),
        "errors_5xx": len(server_errors),
        "error_rate_pct": round(100 * len(errors) / len(rows), 1) if rows else None,
        "p95_latency_ms": _p95([r["latency_ms"] for r in rows]),
        "throttled_429": sum(1 for r in rows if r["status"] == 429),
    }


def _list_keys(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("api_keys")
    for name in ("owner", "status"):
        if name in args:
            rows = [k for k in rows if k[name] == args[name]]
    return {"api_keys": rows, "count": len(rows)}


def _create_key(env: Environment, args: dict[str, Any]) -> Any:
    number = len(env.table("api_keys")) + 1
    key = {
        "id": f"key-{number:04x}",
        "owner": args["owner"],
        "scopes": sorted(set(args["scopes"])),
        "status": "active",
        "created": "2026-05-04",
        "expires_in_days": args.get("expires_in_days", 365),
    }
    env.insert("api_keys", key)
    return {"created": key}


def _revoke_key(env: Environment, args: dict[str, Any]) -> Any:
    key = env.find("api_keys", args["key_id"])
    if key["status"] == "revoked":
        raise ToolError(f"{key['id']} is already revoked")
    env.update("api_keys", key, status="revoked", revoke_reason=args.get("reason", ""))
    return {"revoked": key["id"], "owner": key["owner"]}


def _set_rate_limit(env: Environment, args: dict[str, Any]) -> Any:
    endpoint = env.find("endpoints", args["endpoint_id"])
    before = endpoint["rate_limit_per_min"]
    env.update("endpoints", endpoint, rate_limit_per_min=args["requests_per_minute"])
    return {"endpoint_id": endpoint["id"], "before": before, "after": args["requests_per_minute"]}


def _register_webhook(env: Environment, args: dict[str, Any]) -> Any:
    hook = {
        "id": env.next_id("wh-", "webhooks", width=2),
        "url": args["url"],
        "events": sorted(set(args["events"])),
        "active": True,
    }
    env.insert("webhooks", hook)
    return {"created": hook}


def _list_webhooks(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("webhooks")
    if "event" in args:
        rows = [w for w in rows if args["event"] in w["events"]]
    return {"webhooks": rows, "count": len(rows)}


TOOLS = [
    Tool(
        "list_endpoints",
        "Gateway endpoints with their rate limits.",
        params(
            {
                "service": {"type": "string"},
                "method": {"type": "string", "enum": ["GET", "POST", "PUT", "DELETE"]},
            }
        ),
        _list_endpoints,
    ),
    Tool(
        "request_stats",
        "Request counts, error rates and nearest-rank p95 latency from the request log.",
        params(
            {
                "endpoint_id": _ENDPOINT_ID,
                "key_id": _KEY_ID,
                "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            }
        ),
        _request_stats,
    ),
    Tool(
        "list_api_keys",
        "API keys, by owner or status.",
        params({"owner": {"type": "string"}, "status": {"type": "string", "enum": ["active", "revoked"]}}),
        _list_keys,
    ),
    Tool(
        "create_api_key",
        "Issue a new API key.",
        params(
            {
                "owner": {"type": "string", "minLength": 2},
                "scopes": {"type": "array", "items": {"type": "string", "enum": _SCOPES}, "minItems": 1},
                "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 730},
            },
            ["owner", "scopes"],
        ),
        _create_key,
    ),
    Tool(
        "revoke_api_key",
        "Revoke an API key.",
        params({"key_id": _KEY_ID, "reason": {"type": "string"}}, ["key_id"]),
        _revoke_key,
    ),
    Tool(
        "set_rate_limit",
        "Change an endpoint's rate limit.",
        params(
            {
                "endpoint_id": _ENDPOINT_ID,
                "requests_per_minute": {"type": "integer", "minimum": 1, "maximum": 10000},
            },
            ["endpoint_id", "requests_per_minute"],
        ),
        _set_rate_limit,
    ),
    Tool(
        "register_webhook",
        "Register an HTTPS webhook for gateway events.",
        params(
            {
                "url": {"type": "string", "pattern": "^https://"},
                "events": {"type": "array", "items": {"type": "string", "enum": _EVENTS}, "minItems": 1},
            },
            ["url", "events"],
        ),
        _register_webhook,
    ),
    Tool(
        "list_webhooks",
        "Registered webhooks, optionally those subscribed to one event.",
        params({"event": {"type": "string", "enum": _EVENTS}}),
        _list_webhooks,
    ),
]
