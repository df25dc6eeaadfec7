"""DevOps monitoring: deployments, incidents, metrics and alerts (fixture `tools_devops.json`).

Metrics hold 24 hourly samples per service, newest last; a window of N hours reads the last N.
"""

from __future__ import annotations

from typing import Any

from benchlab.tasks.tools.environment import Environment, Tool, ToolError, params

FIXTURE = "tools_devops.json"

_SERVICE = {"type": "string", "enum": ["checkout", "payments", "search", "auth", "inventory"]}
_ENVIRONMENT = {"type": "string", "enum": ["staging", "production"]}
_METRIC = {"type": "string", "enum": ["cpu_pct", "p95_latency_ms", "error_rate_pct", "rps"]}
_SEVERITY = {"type": "string", "enum": ["sev1", "sev2", "sev3", "sev4"]}
_INCIDENT_STATUS = {"type": "string", "enum": ["open", "mitigated", "resolved"]}


def _list_deployments(env: Environment, args: dict[str, Any]) -> Any:
    rows = sorted(env.table("deployments"), key=lambda d: d["deployed_at"], reverse=True)
    for name in ("service", "environment", "status"):
        if name in args:
            rows = [d for d in rows if d[name] == args[name]]
    rows = rows[: args.get("limit", 20)]
    return {"deployments": rows, "count": len(rows)}


def _rollback(env: Environment, args: dict[str, Any]) -> Any:
    deployment = env.find("deployments", args["deployment_id"])
    if deployment["status"] == "rolled_back":
        raise ToolError(f"{deployment['id']} is already rolled back")
    env.update("deployments", deployment, status="rolled_back", rollback_reason=args["reason"])
    return {
        "rolled_back": deployment["id"],
        "service": deployment["service"],
        "version": deployment["version"],
    }


def _metric(env: Environment, args: dict[str, Any]) -> Any:
    window = args.get("window_hours", 1)
    values = env.state["metrics"][args["service"]][args["metric"]][-window:]
    return {
        "service": args["service"],
        "metric": args["metric"],
        "window_hours": window,
        "average": round(sum(values) / len(values), 2),
        "max": max(values),
        "min": min(values),
        "latest": values[-1],
    }


def _list_incidents(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("incidents")
    for name in ("service", "status", "severity"):
        if name in args:
            rows = [i for i in rows if i[name] == args[name]]
    return {"incidents": rows, "count": len(rows)}


def _create_incident(env: Environment, args: dict[str, Any]) -> Any:
    incident = {
        "id": env.next_id("INC-", "incidents"),
        "service": args["service"],
        "severity": args["severity"],
        "status": "open",
        "title": args["title"],
        "opened_at": "2026-04-05T09:00:00Z",
        "notes": [],
    }
    env.insert("incidents", incident)
    return {"created": incident}


def _update_incident(env: Environment, args: dict[str, Any]) -> Any:
    incident = env.find("incidents", args["incident_id"])
    notes = [*incident["notes"], args["note"]] if "note" in args else incident["notes"]
    env.update("incidents", incident, status=args["status"], notes=notes)
    return {"updated": incident["id"], "status": incident["status"]}


def _create_alert(env: Environment, args: dict[str, Any]) -> Any:
    alert = {
        "id": env.next_id("AL-", "alerts", width=2),
        "service": args["service"],
        "metric": args["metric"],
        "comparison": args["comparison"],
        "threshold": args["threshold"],
        "window_minutes": args.get("window_minutes", 5),
        "status": "active",
    }
    env.insert("alerts", alert)
    return {"created": alert}


def _mute_alert(env: Environment, args: dict[str, Any]) -> Any:
    alert = env.find("alerts", args["alert_id"])
    env.update("alerts", alert, status="muted", muted_minutes=args["minutes"])
    return {"muted": alert["id"], "minutes": args["minutes"]}


def _list_alerts(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("alerts")
    for name in ("service", "status"):
        if name in args:
            rows = [a for a in rows if a[name] == args[name]]
    return {"alerts": rows, "count": len(rows)}


TOOLS = [
    Tool(
        "list_deployments",
        "Recent deployments, newest first.",
        params(
            {
                "service": _SERVICE,
                "environment": _ENVIRONMENT,
                "status": {"type": "string", "enum": ["succeeded", "failed", "in_progress", "rolled_back"]},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            }
        ),
        _list_deployments,
    ),
    Tool(
        "rollback_deployment",
        "Roll back a deployment.",
        params(
            {
                "deployment_id": {"type": "string", "pattern": "^dep-\\d+$"},
                "reason": {"type": "string", "minLength": 3},
            },
            ["deployment_id", "reason"],
        ),
        _rollback,
    ),
    Tool(
        "get_metric",
        "Average, max, min and latest of a service metric over the last hours.",
        params(
            {
                "service": _SERVICE,
                "metric": _METRIC,
                "window_hours": {"type": "integer", "minimum": 1, "maximum": 24},
            },
            ["service", "metric"],
        ),
        _metric,
    ),
    Tool(
        "list_incidents",
        "Incidents, optionally filtered.",
        params({"service": _SERVICE, "status": _INCIDENT_STATUS, "severity": _SEVERITY}),
        _list_incidents,
    ),
    Tool(
        "create_incident",
        "Open a new incident.",
        params(
            {"service": _SERVICE, "severity": _SEVERITY, "title": {"type": "string", "minLength": 3}},
            ["service", "severity", "title"],
        ),
        _create_incident,
    ),
    Tool(
        "update_incident",
        "Change an incident's status, optionally with a note.",
        params(
            {
                "incident_id": {"type": "string", "pattern": "^INC-\\d+$"},
                "status": _INCIDENT_STATUS,
                "note": {"type": "string"},
            },
            ["incident_id", "status"],
        ),
        _update_incident,
    ),
    Tool(
        "create_alert",
        "Create an alert rule on a service metric.",
        params(
            {
                "service": _SERVICE,
                "metric": _METRIC,
                "comparison": {"type": "string", "enum": ["above", "below"]},
                "threshold": {"type": "number"},
                "window_minutes": {"type": "integer", "minimum": 1, "maximum": 120},
            },
            ["service", "metric", "comparison", "threshold"],
        ),
        _create_alert,
    ),
    Tool(
        "mute_alert",
        "Mute an alert rule for some minutes.",
        params(
            {
                "alert_id": {"type": "string", "pattern": "^AL-\\d+$"},
                "minutes": {"type": "integer", "minimum": 5, "maximum": 1440},
            },
            ["alert_id", "minutes"],
        ),
        _mute_alert,
    ),
    Tool(
        "list_alerts",
        "Alert rules, optionally filtered.",
        params({"service": _SERVICE, "status": {"type": "string", "enum": ["active", "muted"]}}),
        _list_alerts,
    ),
]
