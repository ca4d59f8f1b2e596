"""Server-rendered SVG geometry for the report charts (no JavaScript, no CDN).

The templates draw what these functions compute: bars with their 95% interval
whiskers for one finding across groups, and year-on-year lines of the headline figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from .services import Report, ReportRow


def _percent_tick(rate: float) -> str:
    return f"{rate * 100:.1f}".rstrip("0").rstrip(".") + "%"


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    width: float
    low: float
    high: float
    text: str


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    left: int
    scale_max: float
    bars: list[Bar]
    ticks: list[tuple[float, str]]


def _nice_max(value: float) -> float:
    """The axis end: the first of a few round values (each splits into 4 round ticks)."""
    for step in (0.02, 0.04, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0):
        if value <= step:
            return step
    return 1.0


def bar_chart(report: Report, indicator: str, title: str, width: int = 640) -> BarChart:
    """Bars of ``indicator``'s rate per group of ``report`` (hidden cells are left out)."""
    left, bar_height, gap = 150, 18, 8
    plot = width - left - 70
    shown: list[tuple[ReportRow, float, tuple[float, float]]] = []
    for row in report.rows:
        cell = row.cells[indicator]
        rate, interval = cell.proportion.rate, cell.proportion.interval
        if cell.hidden or rate is None or interval is None:
            continue
        shown.append((row, rate, interval))
    scale_max = _nice_max(max((hi for _r, _p, (_lo, hi) in shown), default=0.05))
    bars = []
    for index, (row, rate, (low, high)) in enumerate(shown):
        bars.append(
            Bar(
                label=row.label,
                y=10 + index * (bar_height + gap),
                width=plot * rate / scale_max,
                low=left + plot * low / scale_max,
                high=left + plot * high / scale_max,
                text=f"{rate * 100:.1f}%",
            )
        )
    ticks = [(left + plot * f, _percent_tick(scale_max * f)) for f in (0, 0.25, 0.5, 0.75, 1)]
    height = 10 + max(len(bars), 1) * (bar_height + gap) + 24
    return BarChart(title, width, height, left, scale_max, bars, ticks)


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    points: str  # SVG polyline points
    dots: list[tuple[float, float, str]]


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    years: list[tuple[float, str]]
    ticks: list[tuple[float, str]]
    lines: list[Line]


def trend_chart(
    series: list[tuple[int, ReportRow]], indicators: list[tuple[str, str]], width: int = 640
) -> LineChart:
    """One line per headline indicator across school years (years without data skipped)."""
    left, top, height = 50, 12, 200
    plot_w, plot_h = width - left - 20, height - top - 30
    rates = [
        row.cells[key].proportion.rate
        for _year, row in series
        for key, _label in indicators
        if row.cells[key].proportion.rate is not None
    ]
    scale_max = _nice_max(max(rates, default=0.05))
    count = max(len(series) - 1, 1)

    def x(index: int) -> float:
        return left + plot_w * index / count

    def y(rate: float) -> float:
        return top + plot_h * (1 - rate / scale_max)

    lines = []
    for key, label in indicators:
        dots = []
        for index, (_year, row) in enumerate(series):
            rate = row.cells[key].proportion.rate
            if rate is not None and not row.cells[key].hidden:
                dots.append((x(index), y(rate), f"{rate * 100:.1f}%"))
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py, _t in dots)
        lines.append(Line(key, label, points, dots))
    years = [(x(i), f"{year}–{(year + 1) % 100:02d}") for i, (year, _row) in enumerate(series)]
    ticks = [(y(scale_max * f), _percent_tick(scale_max * f)) for f in (0, 0.5, 1)]
    return LineChart(width, height, years, ticks, lines)
