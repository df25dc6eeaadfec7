"""The shape of one chart task (a row of a chart suite), validated with pydantic.

A row carries a small data table, the chart type asked for, design tokens, the banned patterns and
the interactivity asked for. `ChartSpec.of(sample)` validates it and says which field is wrong, so
a malformed row in a user's file fails with a message naming the row and the field.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from benchlab.types import Sample

ChartType = Literal["bar", "stacked_bar", "line", "area", "pie", "donut", "scatter", "heatmap"]
Interactivity = Literal["tooltip", "hover", "click", "none"]
Banned = Literal["external_resources", "eval", "document_write", "inline_handlers", "inner_html"]

CHART_TYPES: tuple[str, ...] = ChartType.__args__  # type: ignore[attr-defined]
BANNED_PATTERNS: dict[str, str] = {
    "external_resources": "no external scripts, stylesheets, fonts or images and no network requests "
    "(fetch, XMLHttpRequest, WebSocket): the page must work offline",
    "eval": "no eval(), new Function() or string timers",
    "document_write": "no document.write()",
    "inline_handlers": "no inline event-handler attributes (onclick=, onmouseover=…) and no "
    "javascript: URLs; attach listeners from a script",
    "inner_html": "no innerHTML/outerHTML assignment or insertAdjacentHTML; build elements with the DOM API",
}
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")

Cell = str | int | float


class RowError(ValueError):
    """A chart row that cannot be asked; the message names the row, the field and the fix."""


class DataTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: list[str] = Field(min_length=2)
    rows: list[list[Cell]] = Field(min_length=2, max_length=24)

    @model_validator(mode="after")
    def _rectangular(self) -> DataTable:
        for index, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"row {index} has {len(row)} cells for {len(self.columns)} columns")
            if not isinstance(row[0], str) or not row[0].strip():
                raise ValueError(f"row {index}: the first cell is the label and must be text")
            for cell in row[1:]:
                if isinstance(cell, bool) or not isinstance(cell, int | float):
                    raise ValueError(f"row {index}: value {cell!r} is not a number")
        labels = [row[0] for row in self.rows]
        if len(set(labels)) != len(labels):
            raise ValueError("labels (first column) must be distinct")
        return self

    @property
    def labels(self) -> list[str]:
        return [str(row[0]) for row in self.rows]

    @property
    def series(self) -> list[str]:
        return self.columns[1:]

    @property
    def values(self) -> list[float]:
        return [float(cell) for row in self.rows for cell in row[1:]]


class DesignTokens(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    palette: list[str] = Field(min_length=1, max_length=8)
    background: str
    text: str
    font: str = Field(min_length=2)
    radius: int = Field(ge=1, le=40)

    @field_validator("palette", "background", "text")
    @classmethod
    def _hex(cls, value: Any) -> Any:
        for colour in value if isinstance(value, list) else [value]:
            if not _HEX.match(colour):
                raise ValueError(f"colour {colour!r} is not #rrggbb")
        return value


class ChartSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    title: str = Field(min_length=3)
    request: str = Field(min_length=20)
    chart_type: ChartType
    data: DataTable
    tokens: DesignTokens
    banned: list[Banned] = Field(min_length=1)
    interactivity: Interactivity
    width: int = Field(default=640, ge=200, le=2000)
    height: int = Field(default=400, ge=150, le=2000)

    @model_validator(mode="after")
    def _fits_the_type(self) -> ChartSpec:
        value_columns = len(self.data.series)
        if self.chart_type == "scatter" and value_columns != 2:
            raise ValueError("a scatter task needs exactly two value columns (x, y)")
        if self.chart_type in ("pie", "donut") and value_columns != 1:
            raise ValueError("a pie or donut task needs exactly one value column")
        if self.chart_type in ("stacked_bar", "heatmap") and value_columns < 2:
            raise ValueError(f"a {self.chart_type} task needs at least two value columns")
        if "external_resources" not in self.banned:
            raise ValueError("every chart must work offline: 'external_resources' must be banned")
        if len(self.tokens.palette) < min(value_columns, 3):
            raise ValueError("the palette needs a colour per series (at least min(series, 3))")
        return self

    @classmethod
    def of(cls, sample: Sample) -> ChartSpec:
        try:
            return cls.model_validate(sample.data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc']) or 'row'}: {item['msg']}"
                for item in error.errors()
            )
            raise RowError(
                f"chart task {sample.id!r} is malformed ({problems}); fix the row in its JSONL file "
                "(fields: title, request, chart_type, data{columns, rows}, tokens{palette, background, "
                "text, font, radius}, banned, interactivity)."
            ) from None


__all__ = [
    "BANNED_PATTERNS",
    "CHART_TYPES",
    "ChartSpec",
    "DataTable",
    "DesignTokens",
    "RowError",
]
