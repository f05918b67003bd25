"""A report: a title, a summary, charts and tables; rendered as HTML, CSV or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

KINDS = ("inventory", "health", "capacity", "compliance", "changes")
Format = Literal["html", "csv", "json"]


@dataclass
class Chart:
    """A bar chart (one value per label) or a line chart (series over the labels)."""

    title: str
    kind: Literal["bar", "line"]
    labels: list[str]
    series: dict[str, list[float | None]]
    unit: str = ""
    limit: float | None = None  # a threshold line (capacity) or None


@dataclass
class Table:
    """Rows under named columns; the first table of a report is its CSV."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Report:
    """One report of one kind."""

    kind: str
    title: str
    generated_at: float
    summary: dict[str, Any] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return asdict(self)
