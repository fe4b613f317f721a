"""The geometry of the dashboard's charts, drawn as inline SVG by the templates.

Only numbers and short labels are computed here; the markup lives in the templates, where
autoescaping applies to every label. Coordinates are in the SVG's viewBox units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

WIDTH, HEIGHT = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 72, 56, 64, 48  # margins: axis labels, title and legend, day labels
TICKS = 4
LABEL_EVERY = 5  # days between two labels on the x axis


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    revenue: Decimal
    orders: int


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class Tick:
    y: float
    left: str  # revenue
    right: str  # orders


@dataclass(frozen=True)
class DayLabel:
    x: float
    day: date


@dataclass(frozen=True)
class DailyChart:
    width: int
    height: int
    left: int
    right: float  # x of the plot's right edge
    top: int
    bottom: float  # y of the plot's bottom edge (the x axis)
    bars: list[Bar]
    points: list[Point]
    ticks: list[Tick]
    labels: list[DayLabel]
    revenue_total: Decimal
    orders_total: int
    empty: bool

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def nice_step(maximum: float, ticks: int = TICKS) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) so that `ticks` steps reach
    `maximum`."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def compact(value: float, *, prefix: str = "") -> str:
    """An axis label: 0, 250, 2.5k, 1.2M."""
    for limit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            text = f"{scaled:.1f}".removesuffix(".0")
            return f"{prefix}{text}{suffix}"
    if value == int(value):
        return f"{prefix}{int(value):,}"
    return f"{prefix}{value:,.2f}"


def daily_chart(days: Sequence[Mapping[str, Any]], *, symbol: str = "") -> DailyChart:
    """Revenue per day as bars on the left axis, orders per day as a line on the right axis.

    `days` are the dashboard's `revenue_by_day` rows: date, revenue (a decimal string),
    orders. Each axis gets a round scale of its own, both with TICKS steps, so their grid
    lines coincide.
    """
    revenues = [Decimal(str(d["revenue"])) for d in days]
    orders = [int(d["orders"]) for d in days]
    revenue_step = nice_step(float(max(revenues, default=0)))
    orders_step = max(1.0, math.ceil(nice_step(max(orders, default=0))))
    revenue_top, orders_top = revenue_step * TICKS, orders_step * TICKS

    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    plot_width, plot_height = right - LEFT, bottom - TOP
    slot = plot_width / max(len(days), 1)
    bar_width = slot * 0.7

    bars, points, labels = [], [], []
    for index, (row, revenue, count) in enumerate(zip(days, revenues, orders, strict=True)):
        x = LEFT + index * slot
        height = plot_height * float(revenue) / revenue_top
        bars.append(
            Bar(
                x=round(x + (slot - bar_width) / 2, 1),
                y=round(bottom - height, 1),
                width=round(bar_width, 1),
                height=round(height, 1),
                day=row["date"],
                revenue=revenue,
                orders=count,
            )
        )
        center = x + slot / 2
        points.append(Point(center, bottom - plot_height * count / orders_top))
        # Today is always labelled; counting back from it keeps the labels evenly spaced.
        if (len(days) - 1 - index) % LABEL_EVERY == 0:
            labels.append(DayLabel(round(center, 1), row["date"]))

    ticks = [
        Tick(
            y=round(bottom - plot_height * n / TICKS, 1),
            left=compact(revenue_step * n, prefix=symbol),
            right=compact(orders_step * n),
        )
        for n in range(TICKS + 1)
    ]
    return DailyChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=right,
        top=TOP,
        bottom=bottom,
        bars=bars,
        points=points,
        ticks=ticks,
        labels=labels,
        revenue_total=sum(revenues, Decimal(0)),
        orders_total=sum(orders),
        empty=not any(revenues) and not any(orders),
    )


@dataclass(frozen=True)
class Share:
    label: str
    count: int
    width: float  # 0..100: the count relative to the largest


def shares(counts: Mapping[str, int]) -> list[Share]:
    """Orders by status as bars of a common scale, in the given (state machine) order."""
    largest = max(counts.values(), default=0) or 1
    return [Share(label, n, round(100 * n / largest, 1)) for label, n in counts.items()]
