"""How a finished campaign reads in the terminal: its jobs, then its paired comparisons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table

if TYPE_CHECKING:
    from benchlab.campaign.execute import CampaignResult


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def campaign_report(result: CampaignResult) -> Group:
    jobs = Table(title=f"campaign {result.plan.name}: jobs", title_justify="left")
    for column in ("job", "replica", "status", "run", "accuracy"):
        jobs.add_column(column)
    for outcome in result.jobs:
        record = outcome.record
        accuracy = (record.summary.get("accuracy") or {}).get("rate") if record else None
        jobs.add_row(
            outcome.tag,
            outcome.replica or "",
            record.status.value if record else f"[red]failed[/]: {outcome.error}",
            record.run_id if record else "",
            _pct(accuracy),
        )
    parts: list[Any] = [jobs]
    if result.comparisons:
        pairs = Table(title="paired comparisons (B − A, exact McNemar)", title_justify="left")
        for column in ("by", "A", "B", "pairs", "only A", "only B", "B − A [95%]", "p", ""):
            pairs.add_column(column)
        for pair in result.comparisons:
            c = pair.comparison
            if c is None:
                pairs.add_row(pair.by, pair.a, pair.b, "", "", "", f"[yellow]{pair.error}[/]", "", "")
                continue
            pairs.add_row(
                pair.by,
                pair.a,
                pair.b,
                str(c.n_pairs),
                str(c.only_a),
                str(c.only_b),
                f"{c.difference:+.1%} [{c.ci_low:+.1%}, {c.ci_high:+.1%}]",
                f"{c.p_value:.3g}",
                "[green]significant[/]" if c.significant else "",
            )
        parts.append(pairs)
    return Group(*parts)


def campaign_dict(result: CampaignResult) -> dict[str, Any]:
    return {
        "campaign": result.plan.name,
        "ok": result.ok,
        "jobs": [
            {
                "tag": o.tag,
                "endpoint": o.job.endpoint,
                "benchmark": o.job.benchmark,
                "settings": dict(o.job.settings),
                "replica": o.replica,
                "run": o.record.model_dump(mode="json") if o.record else None,
                "error": o.error,
            }
            for o in result.jobs
        ],
        "comparisons": [
            {
                "by": p.by,
                "a": p.a,
                "b": p.b,
                "comparison": p.comparison.as_dict() if p.comparison else None,
                "error": p.error,
            }
            for p in result.comparisons
        ],
    }
