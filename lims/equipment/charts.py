"""The drift chart's geometry: as-found error per point over time, inside its tolerance band."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lims.equipment.service.calibrations import DriftSeries

WIDTH, HEIGHT = 640, 220
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 16, 36


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    passed: bool
    label: str
    #: where a written label beside the marker starts, and which way it reads, so it stays inside the chart
    label_x: float
    label_anchor: str

    @property
    def cross(self) -> str:
        """An out-of-tolerance reading is drawn as a cross, not a dot: told apart without its colour."""
        size = 6
        return (
            f"M{self.x - size},{self.y - size} L{self.x + size},{self.y + size} "
            f"M{self.x - size},{self.y + size} L{self.x + size},{self.y - size}"
        )


@dataclass(frozen=True)
class PointChart:
    """One calibration point's panel: error markers joined by a line, the ± tolerance band."""

    title: str
    unit: str
    polyline: str
    markers: list[Marker]
    band_top: float
    band_bottom: float
    zero_y: float
    y_labels: list[tuple[float, str]]
    x_labels: list[tuple[float, str, str]]


def drift_chart(series_list: list[DriftSeries]) -> list[PointChart]:
    """Scale each point's series to the panel: the y range always shows the tolerance band."""
    return [_point_chart(series) for series in series_list if series.values]


def _point_chart(series: DriftSeries) -> PointChart:
    tolerance = float(series.tolerance)
    largest = max([abs(float(value.error)) for value in series.values] + [tolerance]) * 1.2
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def y_of(error: float) -> float:
        return round(MARGIN_TOP + plot_height * (largest - error) / (2 * largest), 1)

    first, last = series.values[0].performed_on, series.values[-1].performed_on
    span = max((last - first).days, 1)

    def x_of(index: int) -> float:
        day = series.values[index].performed_on
        offset = (day - first).days / span if len(series.values) > 1 else 0.5
        return round(MARGIN_LEFT + plot_width * offset, 1)

    markers = []
    for i, value in enumerate(series.values):
        x = x_of(i)
        # A label past the middle reads leftwards from its marker, so it never leaves the chart.
        leftwards = x > MARGIN_LEFT + plot_width / 2
        markers.append(
            Marker(
                x,
                y_of(float(value.error)),
                value.passed,
                f"{value.performed_on.isoformat()}: {_signed(value.error)} {series.point.nominal.unit}",
                label_x=x - 10 if leftwards else x + 10,
                label_anchor="end" if leftwards else "start",
            )
        )
    return PointChart(
        title=f"{series.point.name} (nominal {series.point.nominal}, ± {series.tolerance})",
        unit=series.point.nominal.unit,
        polyline=" ".join(f"{marker.x},{marker.y}" for marker in markers),
        markers=markers,
        band_top=y_of(tolerance),
        band_bottom=y_of(-tolerance),
        zero_y=y_of(0.0),
        y_labels=[
            (y_of(tolerance), f"+{series.tolerance}"),
            (y_of(0.0), "0"),
            (y_of(-tolerance), f"-{series.tolerance}"),
        ],
        # The first date reads rightwards from its marker, the last leftwards, so neither leaves the chart.
        x_labels=[(markers[0].x, first.isoformat(), "start" if len(markers) > 1 else "middle")]
        + ([(markers[-1].x, last.isoformat(), "end")] if len(markers) > 1 else []),
    )


def _signed(value: Decimal) -> str:
    return f"+{value}" if value > 0 else str(value)
