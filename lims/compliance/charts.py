"""The trend chart's geometry: open findings per day, drawn as the equipment's drift chart is (inline SVG)."""

from __future__ import annotations

from dataclasses import dataclass

from lims.compliance.service.dashboard import TrendDay

WIDTH, HEIGHT = 640, 220
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 16, 36


@dataclass(frozen=True)
class TrendPoint:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class TrendChart:
    polyline: str
    points: list[TrendPoint]
    baseline_y: float
    y_labels: list[tuple[float, str]]
    x_labels: list[tuple[float, str, str]]


def trend_chart(days: list[TrendDay]) -> TrendChart | None:
    """Scale the days to the chart: time across, open findings up from zero; None with nothing to draw."""
    if not days:
        return None
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    highest = max(max(day.open for day in days), 1)
    first, last = days[0].day, days[-1].day
    span = max((last - first).days, 1)

    def y_of(count: float) -> float:
        return round(MARGIN_TOP + plot_height * (1 - count / highest), 1)

    def x_of(day: TrendDay) -> float:
        offset = (day.day - first).days / span if len(days) > 1 else 0.5
        return round(MARGIN_LEFT + plot_width * offset, 1)

    points = [TrendPoint(x_of(day), y_of(day.open), f"{day.day.isoformat()}: {day.open} open") for day in days]
    return TrendChart(
        polyline=" ".join(f"{point.x},{point.y}" for point in points),
        points=points,
        baseline_y=y_of(0),
        y_labels=[(y_of(highest), str(highest)), (y_of(highest / 2), f"{highest / 2:g}"), (y_of(0), "0")],
        # The first date reads rightwards from its point, the last leftwards, so neither leaves the chart.
        x_labels=[(points[0].x, first.isoformat(), "start" if len(points) > 1 else "middle")]
        + ([(points[-1].x, last.isoformat(), "end")] if len(points) > 1 else []),
    )
