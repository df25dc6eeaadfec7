"""Write benchlab's built-in chart suite (src/benchlab/catalog/builtin/chart_core.jsonl).

Every task is made up here: four domains (a trader's journal, DevOps monitoring, HR analytics, an
API gateway), two themes per chart type per domain. Values come from a seeded generator, so the
file is the same on every run: `python scripts/make_chart_tasks.py` rewrites it identically.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "benchlab" / "catalog" / "builtin" / "chart_core.jsonl"

# (title, request, chart type, columns, labels, value range, decimals)
Theme = tuple[str, str, str, list[str], list[str], tuple[float, float], int]

# fmt: off
THEMES: dict[str, list[Theme]] = {
    "trading": [
        ("Realised P&L by month",
         "Compare the realised profit and loss of each month; losses go below a zero baseline.",
         "bar", ["Month", "P&L (USD)"], ["Jan", "Feb", "Mar", "Apr", "May", "Jun"], (-900, 2400), 0),
        ("Win rate by setup", "Show how often each trade setup ended in profit.",
         "bar", ["Setup", "Win rate (%)"],
         ["Breakout", "Pullback", "Reversal", "Gap fill", "Range fade"], (28, 71), 1),
        ("Exposure by sector and side", "Stack long and short exposure for each sector.",
         "stacked_bar", ["Sector", "Long (k USD)", "Short (k USD)"],
         ["Energy", "Tech", "Banks", "Retail"], (5, 80), 0),
        ("Fees by broker and quarter", "Stack the fees paid per quarter, one segment per broker.",
         "stacked_bar", ["Quarter", "Broker North", "Broker South", "Broker West"],
         ["Q1", "Q2", "Q3", "Q4"], (40, 320), 0),
        ("Equity curve", "Plot the account equity at the end of each week.",
         "line", ["Week", "Equity (USD)"], ["W1", "W2", "W3", "W4", "W5", "W6", "W7"], (24000, 31000), 0),
        ("Drawdown against benchmark",
         "Plot the weekly drawdown of the account and of the index side by side.",
         "line", ["Week", "Account (%)", "Index (%)"], ["W1", "W2", "W3", "W4", "W5", "W6"], (-12, 0), 1),
        ("Cumulative commissions", "Show commissions accumulating over the trading days of a month.",
         "area", ["Day", "Commissions (USD)"],
         ["Day 1", "Day 5", "Day 10", "Day 15", "Day 20"], (12, 240), 0),
        ("Margin used by account", "Show margin used over the session for the cash and the swing account.",
         "area", ["Hour", "Cash acct (k USD)", "Swing acct (k USD)"],
         ["09:00", "11:00", "13:00", "15:00", "17:00"], (3, 45), 0),
        ("Trades by instrument", "Show the share of trades taken on each instrument.",
         "pie", ["Instrument", "Trades"], ["Futures", "Options", "Stocks", "FX"], (8, 90), 0),
        ("Losses by mistake type", "Show which journaled mistakes cost the most.",
         "pie", ["Mistake", "Loss (USD)"],
         ["Early exit", "No stop", "Oversized", "Chased entry", "Revenge trade"], (120, 1900), 0),
        ("Capital by strategy", "Show how capital is split between strategies.",
         "donut", ["Strategy", "Capital (k USD)"], ["Momentum", "Mean reversion", "Carry"], (20, 140), 0),
        ("Risk budget by desk", "Show each desk's share of the daily risk budget.",
         "donut", ["Desk", "Risk budget (%)"], ["Rates", "Credit", "Equities", "Commodities"], (10, 40), 1),
        ("Holding time versus return", "Relate how long each trade was held to its return.",
         "scatter", ["Trade", "Hours held", "Return (%)"],
         ["T-101", "T-102", "T-103", "T-104", "T-105", "T-106"], (1, 48), 1),
        ("Position size versus slippage", "Relate each order's size to the slippage it suffered.",
         "scatter", ["Order", "Size (lots)", "Slippage (ticks)"],
         ["O-11", "O-12", "O-13", "O-14", "O-15"], (1, 30), 0),
        ("P&L by weekday and session", "Colour each weekday and session by its average P&L.",
         "heatmap", ["Weekday", "Open", "Midday", "Close"],
         ["Mon", "Tue", "Wed", "Thu", "Fri"], (-300, 600), 0),
        ("Correlation of holdings", "Colour the correlation between the main holdings.",
         "heatmap", ["Holding", "Gold", "Bonds", "Oil"], ["Gold", "Bonds", "Oil"], (-0.8, 1.0), 2),
    ],
    "devops": [
        ("Deployments per service", "Compare how many deployments each service shipped this month.",
         "bar", ["Service", "Deployments"], ["checkout", "search", "auth", "billing", "catalog"], (3, 41), 0),
        ("Mean time to recovery", "Compare the mean time to recovery of each team's incidents.",
         "bar", ["Team", "MTTR (min)"],
         ["Platform", "Payments", "Mobile", "Data", "Edge", "Identity"], (12, 190), 0),
        ("Incidents by severity", "Stack incidents per month by severity.",
         "stacked_bar", ["Month", "SEV1", "SEV2", "SEV3"], ["Jul", "Aug", "Sep", "Oct", "Nov"], (0, 14), 0),
        ("Build minutes by runner", "Stack the build minutes of each repository by runner type.",
         "stacked_bar", ["Repository", "Linux", "macOS"],
         ["api-core", "web-app", "ios-app", "infra"], (40, 900), 0),
        ("p95 latency over the day", "Plot the p95 latency of the front door through the day.",
         "line", ["Time", "p95 (ms)"], ["00:00", "04:00", "08:00", "12:00", "16:00", "20:00"], (110, 480), 0),
        ("Error rate per region", "Plot the hourly error rate of two regions.",
         "line", ["Hour", "eu-west (%)", "us-east (%)"],
         ["10h", "11h", "12h", "13h", "14h", "15h", "16h"], (0.1, 3.5), 2),
        ("Disk usage on the log volume", "Show the log volume filling up across the week.",
         "area", ["Day", "Used (GB)"], ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat"], (120, 460), 0),
        ("CPU by node pool", "Show the CPU cores used by two node pools across the day.",
         "area", ["Time", "general (cores)", "batch (cores)"],
         ["06:00", "09:00", "12:00", "15:00", "18:00"], (8, 96), 0),
        ("Alerts by source", "Show the share of alerts raised by each monitoring source.",
         "pie", ["Source", "Alerts"], ["Probes", "Logs", "Metrics", "Traces"], (15, 220), 0),
        ("Change failures by cause", "Show what caused the failed changes of the quarter.",
         "pie", ["Cause", "Failed changes"],
         ["Config", "Schema", "Dependency", "Capacity", "Code"], (1, 17), 0),
        ("Cloud spend by environment", "Show how the monthly cloud bill splits across environments.",
         "donut", ["Environment", "Spend (USD)"],
         ["production", "staging", "dev", "sandbox"], (900, 14000), 0),
        ("On-call pages by rotation", "Show each rotation's share of this month's pages.",
         "donut", ["Rotation", "Pages"], ["Core", "Storage", "Network"], (6, 58), 0),
        ("Deploy size versus rollback time", "Relate each deploy's size to how long its rollback took.",
         "scatter", ["Deploy", "Changed files", "Rollback (min)"],
         ["d-310", "d-311", "d-312", "d-313", "d-314", "d-315"], (2, 120), 0),
        ("Memory versus restarts", "Relate each pod's memory limit to its restarts this week.",
         "scatter", ["Pod", "Memory (MiB)", "Restarts"],
         ["api-7f", "worker-2c", "cron-9a", "gateway-4d", "cache-1b"], (1, 900), 0),
        ("Incidents by service and weekday", "Colour each service and weekday by incident count.",
         "heatmap", ["Service", "Mon", "Tue", "Wed", "Thu"], ["checkout", "search", "auth"], (0, 9), 0),
        ("Saturation by cluster and resource", "Colour each cluster's saturation per resource.",
         "heatmap", ["Cluster", "CPU (%)", "Memory (%)", "Disk (%)"],
         ["alpha", "bravo", "charlie", "delta"], (12, 97), 0),
    ],
    "hr": [
        ("Headcount by department", "Compare the headcount of each department.",
         "bar", ["Department", "Headcount"],
         ["Engineering", "Sales", "Support", "Finance", "People"], (6, 140), 0),
        ("Average training hours", "Compare the average training hours per employee in each office.",
         "bar", ["Office", "Training hours"], ["Lisbon", "Toronto", "Nairobi", "Osaka"], (4, 38), 1),
        ("Hires by source and quarter", "Stack each quarter's hires by the channel they came from.",
         "stacked_bar", ["Quarter", "Referral", "Job board", "Agency"], ["Q1", "Q2", "Q3", "Q4"], (1, 25), 0),
        ("Leave taken by type", "Stack the days of leave taken per team by leave type.",
         "stacked_bar", ["Team", "Vacation", "Sick"],
         ["Design", "Backend", "Sales", "Legal", "Ops"], (5, 120), 0),
        ("Engagement score over time", "Plot the quarterly engagement survey score.",
         "line", ["Survey", "Engagement"],
         ["2023 Q1", "2023 Q2", "2023 Q3", "2023 Q4", "2024 Q1", "2024 Q2"], (61, 84), 0),
        ("Attrition by tenure band", "Plot attrition over the months for new joiners and veterans.",
         "line", ["Month", "Under 1 year (%)", "Over 5 years (%)"],
         ["Jan", "Feb", "Mar", "Apr", "May", "Jun"], (0.5, 6), 1),
        ("Open requisitions", "Show open requisitions across the hiring season.",
         "area", ["Week", "Open reqs"], ["Wk 1", "Wk 2", "Wk 3", "Wk 4", "Wk 5", "Wk 6"], (12, 58), 0),
        ("Course completions by format",
         "Show cumulative course completions for live and self-paced training.",
         "area", ["Month", "Live", "Self-paced"], ["Mar", "Apr", "May", "Jun", "Jul"], (10, 160), 0),
        ("Employees by contract type", "Show the mix of contract types.",
         "pie", ["Contract", "Employees"], ["Permanent", "Fixed term", "Contractor", "Intern"], (4, 210), 0),
        ("Exit reasons", "Show why people left in the last year.",
         "pie", ["Reason", "Leavers"], ["Pay", "Growth", "Manager", "Relocation", "Workload"], (2, 19), 0),
        ("Training budget by programme", "Show how the training budget splits across programmes.",
         "donut", ["Programme", "Budget (EUR)"], ["Leadership", "Technical", "Compliance"], (8000, 52000), 0),
        ("Survey response by site", "Show each site's share of survey responses.",
         "donut", ["Site", "Responses"], ["Head office", "Warehouse", "Plant", "Remote"], (30, 260), 0),
        ("Tenure versus salary", "Relate each role's median tenure to its median salary.",
         "scatter", ["Role", "Tenure (years)", "Salary (k EUR)"],
         ["Analyst", "Engineer", "Manager", "Designer", "Recruiter", "Accountant"], (1, 95), 1),
        ("Training hours versus rating", "Relate training hours to the performance rating of each team.",
         "scatter", ["Team", "Training hours", "Rating"],
         ["Apollo", "Borealis", "Cobalt", "Delta", "Ember"], (1, 60), 1),
        ("Survey scores by team and question", "Colour each team's average answer to each survey question.",
         "heatmap", ["Team", "Recognition", "Workload", "Growth"],
         ["Design", "Backend", "Sales", "Legal"], (2.1, 4.9), 1),
        ("Absence by month and site", "Colour absence days per site and month.",
         "heatmap", ["Site", "Jan", "Feb", "Mar", "Apr"], ["Head office", "Warehouse", "Plant"], (3, 44), 0),
    ],
    "gateway": [
        ("Requests per endpoint", "Compare the daily requests of each endpoint.",
         "bar", ["Endpoint", "Requests"],
         ["/v1/orders", "/v1/users", "/v1/search", "/v1/payments", "/v1/health"], (1200, 98000), 0),
        ("Rate-limit hits by key", "Compare how often each API key hit its rate limit.",
         "bar", ["API key", "Rate-limit hits"],
         ["key-alpha", "key-beta", "key-gamma", "key-delta"], (3, 640), 0),
        ("Responses by status class", "Stack each endpoint's responses by status class.",
         "stacked_bar", ["Endpoint", "2xx", "4xx", "5xx"],
         ["/v1/orders", "/v1/users", "/v1/search", "/v1/login"], (10, 900), 0),
        ("Traffic by plan and month", "Stack monthly calls by customer plan.",
         "stacked_bar", ["Month", "Free", "Pro"], ["Jan", "Feb", "Mar", "Apr", "May"], (100, 2400), 0),
        ("Latency through the day", "Plot the median gateway latency through the day.",
         "line", ["Hour", "Median latency (ms)"],
         ["00h", "03h", "06h", "09h", "12h", "15h", "18h", "21h"], (18, 140), 0),
        ("Auth failures by method", "Plot hourly authentication failures for API keys and OAuth tokens.",
         "line", ["Hour", "API key", "OAuth"], ["08h", "09h", "10h", "11h", "12h"], (0, 55), 0),
        ("Bandwidth served", "Show the bandwidth served per day.",
         "area", ["Day", "Egress (GB)"], ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], (40, 310), 0),
        ("Cache hits and misses", "Show cache hits and misses per hour as filled areas.",
         "area", ["Hour", "Hits (k)", "Misses (k)"], ["12h", "13h", "14h", "15h", "16h"], (2, 90), 0),
        ("Calls by client SDK", "Show the share of calls made by each client SDK.",
         "pie", ["SDK", "Calls"], ["python", "javascript", "go", "java"], (500, 9000), 0),
        ("Errors by upstream", "Show which upstream service the 5xx errors came from.",
         "pie", ["Upstream", "Errors"], ["inventory", "pricing", "profile", "ledger", "mailer"], (2, 75), 0),
        ("Keys by scope", "Show how issued API keys split by scope.",
         "donut", ["Scope", "Keys"], ["read", "write", "admin"], (4, 310), 0),
        ("Quota used by tenant", "Show each tenant's share of the monthly quota used.",
         "donut", ["Tenant", "Quota used (%)"], ["acme", "globex", "initech", "umbrella"], (5, 45), 1),
        ("Payload size versus latency", "Relate each endpoint's average payload to its p95 latency.",
         "scatter", ["Endpoint", "Payload (KB)", "p95 (ms)"],
         ["/v1/orders", "/v1/users", "/v1/search", "/v1/export", "/v1/login", "/v1/cart"], (2, 400), 0),
        ("Requests versus errors by key", "Relate each key's request volume to its error count.",
         "scatter", ["API key", "Requests (k)", "Errors"],
         ["key-01", "key-02", "key-03", "key-04", "key-05"], (1, 250), 0),
        ("Status codes by endpoint", "Colour each endpoint and status code by response count.",
         "heatmap", ["Endpoint", "200", "404", "429", "500"],
         ["/v1/orders", "/v1/users", "/v1/search"], (0, 480), 0),
        ("Latency by region and hour", "Colour median latency per region and hour.",
         "heatmap", ["Region", "06h", "12h", "18h"],
         ["eu-west", "us-east", "ap-south", "sa-east"], (20, 260), 0),
    ],
}
# fmt: on

PALETTES = [
    ["#1f6feb", "#2da44e", "#bf3989", "#d4a72c"],
    ["#0b7285", "#e8590c", "#5f3dc4", "#2b8a3e"],
    ["#3b5bdb", "#f08c00", "#c2255c", "#37b24d"],
    ["#1864ab", "#a61e4d", "#5c940d", "#e67700"],
    ["#364fc7", "#0ca678", "#f76707", "#862e9c"],
]
SURFACES = [("#ffffff", "#1b1f24"), ("#f8f9fa", "#212529"), ("#0d1117", "#e6edf3"), ("#fffdf7", "#2f2a1f")]
FONTS = ["Inter", "IBM Plex Sans", "Source Sans 3", "Atkinson Hyperlegible", "Fira Sans"]
RADII = [4, 6, 8, 10, 12]
EXTRA_BANS = [
    ["eval", "document_write"],
    ["inline_handlers", "eval"],
    ["document_write", "inner_html"],
    ["inline_handlers", "inner_html", "eval"],
]
INTERACTIONS = ["tooltip", "hover", "click", "none"]


def values(rng: random.Random, low: float, high: float, decimals: int) -> float | int:
    value = round(rng.uniform(low, high), decimals)
    return int(value) if decimals == 0 else value


def build() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    index = 0
    for domain, themes in THEMES.items():
        for number, (title, request, kind, columns, labels, (low, high), decimals) in enumerate(themes, 1):
            rng = random.Random(f"{domain}-{number}")
            table = [[label] + [values(rng, low, high, decimals) for _ in columns[1:]] for label in labels]
            if kind in ("pie", "donut"):  # shares must be positive
                table = [[row[0], abs(row[1]) or 1] for row in table]
            background, text = SURFACES[index % len(SURFACES)]
            rows.append(
                {
                    "id": f"chart-{domain}-{number:02d}",
                    "subject": domain,
                    "title": title,
                    "request": request,
                    "chart_type": kind,
                    "data": {"columns": columns, "rows": table},
                    "tokens": {
                        "palette": PALETTES[index % len(PALETTES)][: max(3, len(columns) - 1)],
                        "background": background,
                        "text": text,
                        "font": FONTS[index % len(FONTS)],
                        "radius": RADII[index % len(RADII)],
                    },
                    "banned": ["external_resources", *EXTRA_BANS[index % len(EXTRA_BANS)]],
                    "interactivity": INTERACTIONS[(index // 2) % len(INTERACTIONS)],
                    "width": 640,
                    "height": 400,
                }
            )
            index += 1
    return rows


def main() -> None:
    rows = build()
    OUT.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {len(rows)} tasks to {OUT}")


if __name__ == "__main__":
    main()
