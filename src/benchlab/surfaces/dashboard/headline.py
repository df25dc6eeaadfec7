"""Each run kind's headline figure and kind-specific rows, labelled for what they are.

Task kinds report different figures: a rubric run's mean share of points, a tool-calling run's
difficulty-weighted score, an extraction run's field score, an instruction run's prompt-level strict
rate, a speed run's tokens per second. The run page, the runs table and the leaderboard all take
their label from here, so a rubric mean is never shown as an accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Summary = dict[str, Any]

# kind → (summary key, label, interval method shown beside it)
SHARE_HEADLINES: dict[str, tuple[str, str, str]] = {
    "mcq": ("accuracy", "accuracy", "Wilson 95%"),
    "math": ("accuracy", "accuracy", "Wilson 95%"),
    "longcontext": ("accuracy", "accuracy", "Wilson 95%"),
    "code": ("pass@1", "pass@1", "95%"),
    "instruct": ("prompt_strict", "prompt-level strict", "Wilson 95%"),
    "rubric": ("rubric_score", "rubric mean", "bootstrap 95%"),
    "toolcall": ("score", "weighted score", "weighted bootstrap 95%"),
    "agent": ("score", "weighted score", "weighted bootstrap 95%"),
    "extract": ("field_score", "field score", "bootstrap 95%"),
    "chart": ("score", "chart score", "bootstrap 95%"),
}


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _share(entry: Any, key: str, label: str, interval: str) -> dict[str, Any] | None:
    """A share in [0, 1] with its interval; `rate()` entries carry `rate`, rubric means carry `mean`."""
    if not isinstance(entry, dict):
        return None
    value = _finite(entry.get("rate", entry.get("mean")))
    return {
        "metric": key,
        "label": label,
        "unit": "share",
        "value": value,
        "low": _finite(entry.get("ci_low")) if value is not None else None,
        "high": _finite(entry.get("ci_high")) if value is not None else None,
        "n": entry.get("n"),
        "interval": interval,
    }


def headline(task_kind: str | None, summary: Summary | None) -> dict[str, Any] | None:
    """The figure a run is ranked by, with its label and unit; None when the run has none yet."""
    summary = summary or {}
    if task_kind == "speed":
        return _speed_headline(summary)
    if task_kind == "lm-eval":
        return _imported_headline(summary)
    key, label, interval = SHARE_HEADLINES.get(task_kind or "", ("accuracy", "accuracy", "Wilson 95%"))
    return _share(summary.get(key), key, label, interval)


def _speed_headline(summary: Summary) -> dict[str, Any] | None:
    figures = summary.get("headline") or {}
    for key, label in (("output_tok_s", "output tok/s (best)"), ("decode_tok_s", "decode tok/s (p50)")):
        value = _finite(figures.get(key))
        if value is not None:
            return {
                "metric": key,
                "label": label,
                "unit": "tok/s",
                "value": value,
                "low": None,
                "high": None,
                "n": summary.get("requests"),
                "interval": None,
            }
    return None


def _imported_headline(summary: Summary) -> dict[str, Any] | None:
    """An imported lm-eval run: its own accuracy when per-sample results came along, else its metric."""
    if isinstance(summary.get("accuracy"), dict):
        return _share(summary["accuracy"], "accuracy", "accuracy", "Wilson 95%")
    metric = summary.get("metric")
    entry = (summary.get("lm_eval_metrics") or {}).get(metric) if metric else None
    value = _finite((entry or {}).get("value"))
    if value is None:
        return None
    stderr = _finite((entry or {}).get("stderr"))
    low, high = (value - 1.96 * stderr, value + 1.96 * stderr) if stderr is not None else (None, None)
    unit = "share" if 0.0 <= value <= 1.0 else "number"
    return {
        "metric": metric,
        "label": f"{str(metric).split(',')[0]} (lm-eval)",
        "unit": unit,
        "value": value,
        "low": low,
        "high": high,
        "n": summary.get("scored"),
        "interval": "±1.96 stderr" if stderr else None,
    }


# ---- kind-specific rows for the run page -------------------------------------------------------


def pct(value: Any, digits: int = 1) -> str:
    number = _finite(value)
    return "–" if number is None else f"{100 * number:.{digits}f}%"


def rate_text(entry: Any) -> str:
    """`61.0% [51.2%–70.0%] (k/n)` for a rate, or the mean form for a bootstrap mean."""
    if not isinstance(entry, dict) or not entry.get("n"):
        return "–"
    value = entry.get("rate", entry.get("mean"))
    text = f"{pct(value)} [{pct(entry.get('ci_low'))}–{pct(entry.get('ci_high'))}]"
    k = entry.get("k")
    return f"{text} ({k:g}/{entry['n']})" if isinstance(k, int | float) else f"{text} (n {entry['n']})"


def _tool_rows(summary: Summary, kind: str) -> list[tuple[str, str]]:
    rows = [
        ("weighted score", rate_text(summary.get("score")) + " difficulty-weighted"),
        ("full marks" if kind == "toolcall" else "solved", rate_text(summary.get("accuracy"))),
        ("schema adherence", rate_text(summary.get("schema_adherence"))),
    ]
    if kind == "toolcall":
        rows.append(("no-call tasks right", rate_text(summary.get("irrelevance"))))
        rows.append(("hallucinated tool calls", str(summary.get("hallucinated_tool_calls", "–"))))
    else:
        rows += [
            ("turn limit hit", rate_text(summary.get("turn_limit_hit"))),
            ("loops", rate_text(summary.get("loops"))),
        ]
    levels = summary.get("by_difficulty") or {}
    rows.append(
        (
            "by difficulty",
            " · ".join(f"{name} {pct(e.get('mean'), 0)} (n {e.get('n')})" for name, e in levels.items())
            or "–",
        )
    )
    return rows


def _rubric_rows(summary: Summary) -> list[tuple[str, str]]:
    items = summary.get("items") or {}
    failures = (summary.get("judge_failures") or {}).get("items") or {}
    judge = summary.get("judge") or {}
    return [
        ("rubric mean", rate_text(summary.get("rubric_score")) + " of points (not an accuracy)"),
        (
            "rubric items",
            f"{items.get('rule_decided', 0)} by rule · {items.get('judge_decided', 0)} by the judge",
        ),
        ("judge failures", f"{failures.get('infra', 0)} unreachable · {failures.get('parse', 0)} unreadable"),
        (
            "judge",
            f"{judge.get('endpoint', '?')} ({', '.join(judge.get('models') or []) or 'none answered'})",
        ),
        ("empty replies", rate_text(summary.get("unparseable"))),
    ]


def _extract_rows(summary: Summary) -> list[tuple[str, str]]:
    fields = summary.get("fields") or {}
    return [
        ("field score", rate_text(summary.get("field_score"))),
        ("all fields right", rate_text(summary.get("exact"))),
        ("schema valid", rate_text(summary.get("schema_valid"))),
        ("no usable JSON", rate_text(summary.get("unparseable"))),
        ("fields right", f"{fields.get('right', '–')} of {fields.get('expected', '–')}"),
        ("most missed", ", ".join(f"{k} ×{v}" for k, v in (summary.get("most_missed") or {}).items()) or "–"),
    ]


def _instruct_rows(summary: Summary) -> list[tuple[str, str]]:
    rows = [
        (f"{level}-level {mode}", rate_text(summary.get(f"{level}_{mode}")))
        for level in ("prompt", "instruction")
        for mode in ("strict", "loose")
    ]
    return [*rows, ("empty replies", rate_text(summary.get("unparseable")))]


def _chart_rows(summary: Summary) -> list[tuple[str, str]]:
    criteria = summary.get("criteria") or {}
    return [
        ("chart score", rate_text(summary.get("score"))),
        ("criteria", " · ".join(f"{k} {v.get('mean')}/{v.get('max')}" for k, v in criteria.items()) or "–"),
        ("perfect charts", rate_text(summary.get("perfect"))),
        ("no chart found", rate_text(summary.get("unparseable"))),
    ]


def _code_rows(summary: Summary) -> list[tuple[str, str]]:
    rows = [(f"pass@{k}", rate_text(entry)) for k, entry in (summary.get("pass_at_k") or {}).items()]
    outcomes = summary.get("outcomes") or {}
    rows.append(("outcomes", " · ".join(f"{name} {count}" for name, count in outcomes.items()) or "–"))
    rows.append(("no code found", rate_text(summary.get("unparseable"))))
    return rows


def _accuracy_rows(summary: Summary) -> list[tuple[str, str]]:
    rows = [
        ("accuracy", rate_text(summary.get("accuracy")) + " Wilson 95%"),
        ("unparseable", rate_text(summary.get("unparseable"))),
    ]
    if summary.get("rules"):  # math: which extraction rule read each answer
        rows.append(("answer read by", " · ".join(f"{k} {v}" for k, v in summary["rules"].items())))
    if summary.get("token_count_note"):
        rows.append(("token counts", summary["token_count_note"]))
    return rows


def _imported_rows(summary: Summary) -> list[tuple[str, str]]:
    rows = []
    for name, entry in (summary.get("lm_eval_metrics") or {}).items():
        stderr = entry.get("stderr")
        rows.append(
            (name, f"{entry.get('value')}" + (f" ± {stderr:.4f} stderr" if stderr is not None else ""))
        )
    return [("imported from", "lm-eval"), *rows]


KIND_ROWS: dict[str, Callable[[Summary], list[tuple[str, str]]]] = {
    "toolcall": lambda s: _tool_rows(s, "toolcall"),
    "agent": lambda s: _tool_rows(s, "agent"),
    "rubric": _rubric_rows,
    "extract": _extract_rows,
    "instruct": _instruct_rows,
    "chart": _chart_rows,
    "code": _code_rows,
    "lm-eval": _imported_rows,
}


def kind_rows(task_kind: str | None, summary: Summary | None) -> list[tuple[str, str]]:
    """The rows that explain a run's headline, in the order a reader needs them (speed: none here,
    its page draws figures instead)."""
    summary = summary or {}
    if task_kind == "speed":
        return []
    return KIND_ROWS.get(task_kind or "", _accuracy_rows)(summary)


def grid(summary: Summary | None) -> dict[str, Any] | None:
    """A long-context run's length × depth grid as rows and columns, for a table and a heatmap."""
    cells = (summary or {}).get("grid") or {}
    if not cells:
        return None
    lengths = sorted(cells, key=int)
    depths = sorted({depth for row in cells.values() for depth in row}, key=int)
    values = [[(cells[length].get(depth) or {}).get("rate") for depth in depths] for length in lengths]
    counts = [
        [[(cells[length].get(depth) or {}).get(x) for x in ("k", "n")] for depth in depths]
        for length in lengths
    ]
    return {"lengths": lengths, "depths": depths, "rates": values, "counts": counts}
