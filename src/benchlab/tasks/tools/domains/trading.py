"""A trader's journal: trades, strategies, P&L and risk (fixture `tools_trading.json`)."""

from __future__ import annotations

import math
from typing import Any

from benchlab.tasks.tools.environment import Environment, Tool, ToolError, params

FIXTURE = "tools_trading.json"

_SYMBOL = {"type": "string", "description": "Ticker symbol, e.g. AAPL", "pattern": "^[A-Za-z.]{1,6}$"}
_STRATEGY = {"type": "string", "enum": ["breakout", "mean_reversion", "momentum", "earnings_drift"]}
_DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_TRADE_ID = {"type": "string", "pattern": "^T-\\d{4}$", "description": "Trade id such as T-1001"}


def trade_pnl(trade: dict[str, Any]) -> float | None:
    """Realised P&L after fees; None while the trade is open. Shorts gain when the price falls."""
    if trade.get("exit_price") is None:
        return None
    direction = 1 if trade["side"] == "buy" else -1
    gross = (trade["exit_price"] - trade["entry_price"]) * trade["quantity"] * direction
    return round(gross - trade["fees"], 2)


def _list_trades(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("trades")
    if "symbol" in args:
        rows = [t for t in rows if t["symbol"] == args["symbol"].upper()]
    if "strategy" in args:
        rows = [t for t in rows if t["strategy"] == args["strategy"]]
    if "status" in args:
        want_open = args["status"] == "open"
        rows = [t for t in rows if (t["exit_price"] is None) == want_open]
    if "opened_after" in args:
        rows = [t for t in rows if t["opened"] >= args["opened_after"]]
    return {"trades": [{**t, "pnl": trade_pnl(t)} for t in rows], "count": len(rows)}


def _get_trade(env: Environment, args: dict[str, Any]) -> Any:
    trade = env.find("trades", args["trade_id"])
    notes = [n for n in env.table("notes") if n["trade_id"] == trade["id"]]
    return {**trade, "pnl": trade_pnl(trade), "notes": notes}


def _strategy_stats(env: Environment, args: dict[str, Any]) -> Any:
    closed = [
        t for t in env.table("trades") if t["strategy"] == args["strategy"] and t["exit_price"] is not None
    ]
    if "opened_after" in args:
        closed = [t for t in closed if t["opened"] >= args["opened_after"]]
    pnls = [trade_pnl(t) or 0.0 for t in closed]
    wins = sum(1 for p in pnls if p > 0)
    return {
        "strategy": args["strategy"],
        "closed_trades": len(closed),
        "wins": wins,
        "win_rate_pct": round(100 * wins / len(closed), 1) if closed else None,
        "total_pnl": round(sum(pnls), 2),
        "average_pnl": round(sum(pnls) / len(pnls), 2) if pnls else None,
    }


def _position_size(env: Environment, args: dict[str, Any]) -> Any:
    equity = args.get("account_equity", env.state["account"]["equity"])
    per_share = abs(args["entry_price"] - args["stop_price"])
    if per_share == 0:
        raise ToolError("entry_price and stop_price must differ")
    risk_amount = equity * args["risk_pct"] / 100
    shares = math.floor(risk_amount / per_share)
    return {"shares": shares, "risk_amount": round(risk_amount, 2), "risk_per_share": round(per_share, 2)}


def _add_note(env: Environment, args: dict[str, Any]) -> Any:
    trade = env.find("trades", args["trade_id"])
    note = {"id": env.next_id("N-", "notes"), "trade_id": trade["id"], "text": args["text"]}
    if "mood" in args:
        note["mood"] = args["mood"]
    env.insert("notes", note)
    return {"saved": note}


def _close_trade(env: Environment, args: dict[str, Any]) -> Any:
    trade = env.find("trades", args["trade_id"])
    if trade["exit_price"] is not None:
        raise ToolError(f"trade {trade['id']} is already closed")
    env.update("trades", trade, exit_price=args["exit_price"], closed=args.get("closed_on", "2026-04-01"))
    return {"closed": trade["id"], "pnl": trade_pnl(trade)}


def _quote(env: Environment, args: dict[str, Any]) -> Any:
    symbol = args["symbol"].upper()
    if symbol not in env.state["quotes"]:
        raise ToolError(f"no quote for {symbol}")
    return {"symbol": symbol, "last": env.state["quotes"][symbol]}


TOOLS = [
    Tool(
        "list_trades",
        "List journal trades, optionally filtered; closed trades include realised P&L after fees.",
        params(
            {
                "symbol": _SYMBOL,
                "strategy": _STRATEGY,
                "status": {"type": "string", "enum": ["open", "closed"]},
                "opened_after": {**_DATE, "description": "Only trades opened on or after this date"},
            }
        ),
        _list_trades,
    ),
    Tool(
        "get_trade",
        "One trade with its P&L and journal notes.",
        params({"trade_id": _TRADE_ID}, ["trade_id"]),
        _get_trade,
    ),
    Tool(
        "strategy_stats",
        "Win rate, total and average realised P&L of a strategy's closed trades.",
        params({"strategy": _STRATEGY, "opened_after": _DATE}, ["strategy"]),
        _strategy_stats,
    ),
    Tool(
        "position_size",
        "Shares to buy so that hitting the stop loses risk_pct of the account (fixed fractional sizing).",
        params(
            {
                "entry_price": {"type": "number", "exclusiveMinimum": 0},
                "stop_price": {"type": "number", "exclusiveMinimum": 0},
                "risk_pct": {"type": "number", "exclusiveMinimum": 0, "maximum": 5},
                "account_equity": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "Default: journal equity",
                },
            },
            ["entry_price", "stop_price", "risk_pct"],
        ),
        _position_size,
    ),
    Tool(
        "add_journal_note",
        "Attach a note to a trade.",
        params(
            {
                "trade_id": _TRADE_ID,
                "text": {"type": "string", "minLength": 1},
                "mood": {"type": "string", "enum": ["calm", "confident", "anxious", "frustrated"]},
            },
            ["trade_id", "text"],
        ),
        _add_note,
    ),
    Tool(
        "close_trade",
        "Close an open trade at an exit price.",
        params(
            {
                "trade_id": _TRADE_ID,
                "exit_price": {"type": "number", "exclusiveMinimum": 0},
                "closed_on": _DATE,
            },
            ["trade_id", "exit_price"],
        ),
        _close_trade,
    ),
    Tool("get_quote", "Last traded price of a symbol.", params({"symbol": _SYMBOL}, ["symbol"]), _quote),
]
