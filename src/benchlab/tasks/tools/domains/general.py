"""The general set: weather, stocks, currency, email, search and a safe calculator
(fixture `tools_general.json`)."""

from __future__ import annotations

from typing import Any

from benchlab.tasks.tools.calculator import CalculatorError, evaluate
from benchlab.tasks.tools.environment import Environment, Tool, ToolError, params

FIXTURE = "tools_general.json"

_EMAIL = {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$"}
_CURRENCY = {"type": "string", "enum": ["USD", "EUR", "GBP", "JPY", "CAD"]}


def _weather(env: Environment, args: dict[str, Any]) -> Any:
    report = env.state["weather"].get(args["city"].strip().lower())
    if report is None:
        raise ToolError(f"no weather station for {args['city']!r}")
    result = dict(report)
    if args.get("unit") == "fahrenheit":
        result["temp_f"] = round(result.pop("temp_c") * 9 / 5 + 32, 1)
    return result


def _quote(env: Environment, args: dict[str, Any]) -> Any:
    symbol = args["symbol"].upper()
    quote = env.state["stocks"].get(symbol)
    if quote is None:
        raise ToolError(f"unknown symbol {symbol}")
    return {"symbol": symbol, **quote}


def _convert(env: Environment, args: dict[str, Any]) -> Any:
    rates = env.state["fx"]  # units per US dollar
    amount = args["amount"] / rates[args["from_currency"]] * rates[args["to_currency"]]
    return {"amount": round(amount, 2), "currency": args["to_currency"]}


def _send_email(env: Environment, args: dict[str, Any]) -> Any:
    message = {"id": env.next_id("msg-", "outbox"), **args}
    env.insert("outbox", message)
    return {"sent": message["id"]}


def _search(env: Environment, args: dict[str, Any]) -> Any:
    words = {word.strip(".,?!").lower() for word in args["query"].split()}
    ranked = sorted(env.state["documents"], key=lambda d: -len(words & set(d["keywords"])))
    hits = [{"title": d["title"], "url": d["url"]} for d in ranked if words & set(d["keywords"])]
    return {"results": hits[: args.get("max_results", 3)]}


def _calculate(env: Environment, args: dict[str, Any]) -> Any:
    try:
        return {"result": evaluate(args["expression"])}
    except CalculatorError as error:
        raise ToolError(str(error)) from None


TOOLS = [
    Tool(
        "get_weather",
        "Current weather for a city.",
        params(
            {
                "city": {"type": "string", "minLength": 2},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            ["city"],
        ),
        _weather,
    ),
    Tool(
        "get_stock_price",
        "Latest price and daily change of a listed stock.",
        params({"symbol": {"type": "string", "pattern": "^[A-Za-z.]{1,6}$"}}, ["symbol"]),
        _quote,
    ),
    Tool(
        "convert_currency",
        "Convert an amount between currencies at today's reference rate.",
        params(
            {
                "amount": {"type": "number", "exclusiveMinimum": 0},
                "from_currency": _CURRENCY,
                "to_currency": _CURRENCY,
            },
            ["amount", "from_currency", "to_currency"],
        ),
        _convert,
    ),
    Tool(
        "send_email",
        "Send an email.",
        params(
            {
                "to": _EMAIL,
                "subject": {"type": "string", "minLength": 1},
                "body": {"type": "string", "minLength": 1},
                "cc": {"type": "array", "items": _EMAIL},
            },
            ["to", "subject", "body"],
        ),
        _send_email,
    ),
    Tool(
        "web_search",
        "Search the documentation index.",
        params(
            {
                "query": {"type": "string", "minLength": 2},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 10},
            },
            ["query"],
        ),
        _search,
    ),
    Tool(
        "calculate",
        "Evaluate an arithmetic expression (+ - * / // % ** and abs, round, sqrt, min, max).",
        params({"expression": {"type": "string", "minLength": 1, "maxLength": 200}}, ["expression"]),
        _calculate,
    ),
]
