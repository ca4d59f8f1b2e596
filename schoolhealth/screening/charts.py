"""Growth and vision charts of one pupil, drawn as server-side SVG.

Pure functions: data in, an SVG string out (no Flask, no database, no JavaScript, no
CDN). The texts are passed in already translated (:class:`ChartText`), so the caller
decides the language. Each chart has ``<title>`` and ``<desc>`` for screen readers;
the page shows the same points as a table beside it.

The reference lines come from the rules core, never re-typed here:

* height-for-age: the WS/T 456-2014 stunting cutoff (``rules.stunting_cutoffs``);
* BMI-for-age: WS/T 586-2018 overweight and obesity and the WS/T 456-2014 thinness line
  (mild-thinness maximum), or the WHO 2007 / CDC 2000 curves of the session's growth
  reference (``rules.bmi_reference_cutoffs``);
* visual acuity: the 5.0 line (GB/T 11533 five-point notation; below it is reduced
  vision from 6 years of age).

WS/T rows hold for a half-year band ("9.5~" = 9.5 to < 10.0 y), so their lines are
drawn as steps: flat over each band. The WHO and CDC curves join their monthly rows.

Every plot carries ``data-x-domain``, ``data-y-domain`` and ``data-plot`` (left, top,
width, height in pixels), so a reader (or a test) can turn any coordinate back into
years, dates or measurement units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from html import escape

from .. import rules
from ..rules.tables import constants

Number = float | int | Decimal

WIDTH = 680
HEIGHT = 340
MARGIN_LEFT = 58
MARGIN_RIGHT = 170  # room for the names of the reference lines
MARGIN_TOP = 16
MARGIN_BOTTOM = 52
PLOT_WIDTH = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
PLOT_HEIGHT = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

# Visible date labels next to the points up to this many points (tooltips always).
MAX_POINT_LABELS = 10

WST_BAND_YEARS = 0.5
ACUITY_RANGE = (3.0, 5.3)  # GB/T 11533 five-point values the system accepts
ACUITY_NORMAL = 5.0


@dataclass(frozen=True)
class ChartText:
    """The words of one chart, already in the reader's language."""

    title: str
    description: str
    x_label: str
    y_label: str
    unit: str = ""
    no_data: str = "No measurements yet."
    lines: Mapping[str, str] = field(default_factory=dict)
    series: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChartPoint:
    """One measurement: x in years of age (or a date's ordinal), y in the chart's unit."""

    x: float
    y: float
    when: date


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    points: tuple[ChartPoint, ...]


@dataclass(frozen=True)
class ReferenceLine:
    """A cutoff line: ``points`` are its vertices in data units, or ``level`` a constant."""

    key: str
    label: str
    points: tuple[tuple[float, float], ...] = ()
    level: float | None = None


# ----------------------------------------------------------------- reference lines


def step_line(
    key: str, label: str, rows: Sequence[tuple[Number, Number]], last_band: float = WST_BAND_YEARS
) -> ReferenceLine:
    """A line that is flat over each half-year band of a WS/T table.

    ``rows`` are (band start in years, value); each value holds until the next band
    starts, the last one for ``last_band`` years.
    """
    ordered = sorted((float(a), float(v)) for a, v in rows)
    vertices: list[tuple[float, float]] = []
    for i, (start, value) in enumerate(ordered):
        end = ordered[i + 1][0] if i + 1 < len(ordered) else start + last_band
        vertices += [(start, value), (end, value)]
    return ReferenceLine(key, label, tuple(vertices))


def curve_line(key: str, label: str, rows: Sequence[tuple[Number, Number]]) -> ReferenceLine:
    """A line through (age, value) rows, e.g. a WHO or CDC monthly centile curve."""
    return ReferenceLine(key, label, tuple(sorted((float(a), float(v)) for a, v in rows)))


def stunting_line(sex: rules.Sex, label: str) -> ReferenceLine:
    """WS/T 456-2014: stunting if height <= the band's cutoff."""
    return step_line("stunting", label, rules.stunting_cutoffs(sex))


def _wst586_last_row_years() -> float:
    """The 18.0~ row of WS/T 586 is used up to this age (the rules core's constant)."""
    until = float(constants()["growth"]["wst586_last_row_until_years"])
    return max(WST_BAND_YEARS, until - 18.0)


def bmi_lines(sex: rules.Sex, reference: str, labels: Mapping[str, str]) -> list[ReferenceLine]:
    """The BMI-for-age lines of a growth reference for one sex.

    ``labels`` names "overweight", "obese" and "thinness". For WS/T 586 the thinness
    line is WS/T 456's mild-thinness maximum (thin if BMI <= it); for WHO 2007 it is
    -2 SD, for CDC 2000 the 5th percentile.
    """
    cutoffs = rules.bmi_reference_cutoffs(sex, reference)
    lines = []
    for key in ("obese", "overweight", "mild"):
        rows = [(age, cut[key]) for age, cut in cutoffs if key in cut]
        if not rows:
            continue
        name = "thinness" if key == "mild" else key
        label = labels.get(name, name)
        if reference == "wst586":
            last = _wst586_last_row_years() if key != "mild" else WST_BAND_YEARS
            lines.append(step_line(name, label, rows, last_band=last))
        else:
            lines.append(curve_line(name, label, rows))
    return lines


# ----------------------------------------------------------------- scales


def nice_step(span: float, target: int = 6) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``target`` ticks."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _ticks(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    value = first
    while value <= hi + 1e-9:
        out.append(round(value, 10))
        value += step
    return out


def age_domain(ages: Sequence[float], around: float | None = None) -> tuple[float, float]:
    """Whole years around the ages, at least three years wide."""
    if ages:
        lo, hi = math.floor(min(ages)), math.ceil(max(ages))
    elif around is not None:
        lo, hi = math.floor(around) - 1, math.floor(around) + 2
    else:
        lo, hi = 6, 18
    hi = max(hi, lo + 1)
    if hi - lo < 3:
        lo -= (3 - (hi - lo)) // 2
        hi = lo + 3
    if lo < 0:
        lo, hi = 0, max(hi, 3)
    return float(lo), float(hi)


def value_domain(
    values: Sequence[float], default: tuple[float, float], step_target: int = 6
) -> tuple[float, float]:
    """A padded range over the values, snapped to tick steps."""
    if not values:
        return default
    lo, hi = min(values), max(values)
    span = hi - lo
    pad = span * 0.08 if span > 0 else max(abs(hi) * 0.05, 1.0)
    lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, step_target)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


class _Scale:
    def __init__(self, x_domain: tuple[float, float], y_domain: tuple[float, float]) -> None:
        self.x0, self.x1 = x_domain
        self.y0, self.y1 = y_domain

    def x(self, value: float) -> float:
        return MARGIN_LEFT + (value - self.x0) / (self.x1 - self.x0) * PLOT_WIDTH

    def y(self, value: float) -> float:
        return MARGIN_TOP + (self.y1 - value) / (self.y1 - self.y0) * PLOT_HEIGHT


def _clip(
    vertices: Sequence[tuple[float, float]], lo: float, hi: float
) -> list[tuple[float, float]]:
    """The part of a polyline with lo <= x <= hi (its vertices sorted by x)."""
    out: list[tuple[float, float]] = []
    for (xa, ya), (xb, yb) in zip(vertices, vertices[1:], strict=False):
        if xb < lo or xa > hi or (xa != xb and (xb <= lo or xa >= hi)):
            continue  # outside, or touching the edge in a single point
        if xb == xa:
            # A step's riser; at the very edge it would lead into a band not shown.
            if lo < xa < hi:
                out += [(xa, ya), (xb, yb)]
            continue
        start = max(xa, lo)
        end = min(xb, hi)
        slope = (yb - ya) / (xb - xa)
        out += [(start, ya + slope * (start - xa)), (end, ya + slope * (end - xa))]
    deduped: list[tuple[float, float]] = []
    for point in out:
        if not deduped or deduped[-1] != point:
            deduped.append(point)
    return deduped


def _line_extent(line: ReferenceLine, lo: float, hi: float) -> list[tuple[float, float]]:
    if line.level is not None:
        return [(lo, line.level), (hi, line.level)]
    return _clip(line.points, lo, hi)


def _fmt(value: float) -> str:
    """A pixel coordinate."""
    return f"{value:.1f}"


def _tick_text(value: float, step: float) -> str:
    decimals = 0 if step >= 1 else 1 if step >= 0.1 else 2
    return f"{value:.{decimals}f}"


# ----------------------------------------------------------------- rendering


def render_chart(
    series: Sequence[Series],
    lines: Sequence[ReferenceLine],
    *,
    text: ChartText,
    chart_id: str,
    x_kind: str,
    x_domain: tuple[float, float],
    y_domain: tuple[float, float],
    css_class: str = "",
) -> str:
    """The SVG of one chart. ``x_kind`` is "age" (years) or "date" (date ordinals)."""
    scale = _Scale(x_domain, y_domain)
    ident = escape(chart_id, quote=True)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {escape(css_class, quote=True)}"'
        f' id="{ident}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"'
        f' role="img" aria-labelledby="{ident}-title {ident}-desc"'
        f' preserveAspectRatio="xMinYMin meet">',
        f'<title id="{ident}-title">{escape(text.title)}</title>',
        f'<desc id="{ident}-desc">{escape(text.description)}</desc>',
        f'<g class="plot" data-x-kind="{x_kind}"'
        f' data-x-domain="{x_domain[0]:g} {x_domain[1]:g}"'
        f' data-y-domain="{y_domain[0]:g} {y_domain[1]:g}"'
        f' data-plot="{MARGIN_LEFT} {MARGIN_TOP} {PLOT_WIDTH} {PLOT_HEIGHT}">',
        f'<rect class="plot-area" x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{PLOT_WIDTH}"'
        f' height="{PLOT_HEIGHT}" fill="#fff" stroke="#d9dee7"/>',
    ]
    parts += _y_axis(scale, text)
    parts += _x_axis(scale, text, x_kind)
    parts += _reference_lines(scale, lines)
    parts += _series(scale, series, text, x_kind)
    if not any(s.points for s in series):
        parts.append(
            f'<text class="no-data" x="{_fmt(MARGIN_LEFT + PLOT_WIDTH / 2)}"'
            f' y="{_fmt(MARGIN_TOP + PLOT_HEIGHT / 2)}" text-anchor="middle"'
            f' fill="#5b6475">{escape(text.no_data)}</text>'
        )
    parts.append("</g></svg>")
    return "".join(parts)


def _y_axis(scale: _Scale, text: ChartText) -> list[str]:
    step = nice_step(scale.y1 - scale.y0)
    parts = ['<g class="axis axis-y" font-size="13" fill="#5b6475">']
    for tick in _ticks(scale.y0, scale.y1, step):
        y = _fmt(scale.y(tick))
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + PLOT_WIDTH}" y1="{y}" y2="{y}"'
            f' stroke="#eef0f4"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y}" text-anchor="end"'
            f' dominant-baseline="middle">{_tick_text(tick, step)}</text>'
        )
    middle = _fmt(MARGIN_TOP + PLOT_HEIGHT / 2)
    label = text.y_label + (f" ({text.unit})" if text.unit else "")
    parts.append(
        f'<text class="axis-label" x="14" y="{middle}" text-anchor="middle"'
        f' transform="rotate(-90 14 {middle})">{escape(label)}</text></g>'
    )
    return parts


def _date_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    if lo < 1 or hi <= lo:
        return []  # an empty chart has no dates
    start, end = date.fromordinal(int(lo)), date.fromordinal(int(math.ceil(hi)))
    months = (end.year - start.year) * 12 + end.month - start.month
    every = 1 if months <= 8 else 3 if months <= 15 else 6 if months <= 36 else 12
    out = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        day = date(year, month, 1)
        if lo <= day.toordinal() <= hi and (month - 1) % every == 0:
            label = str(year) if every == 12 else f"{year}-{month:02d}"
            out.append((float(day.toordinal()), label))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def _x_axis(scale: _Scale, text: ChartText, x_kind: str) -> list[str]:
    parts = ['<g class="axis axis-x" font-size="13" fill="#5b6475">']
    bottom = MARGIN_TOP + PLOT_HEIGHT
    if x_kind == "date":
        ticks = _date_ticks(scale.x0, scale.x1)
    else:
        step = 1.0 if scale.x1 - scale.x0 <= 14 else 2.0
        ticks = [(t, f"{t:g}") for t in _ticks(scale.x0, scale.x1, step)]
    for value, label in ticks:
        x = _fmt(scale.x(value))
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{MARGIN_TOP}" y2="{bottom}" stroke="#eef0f4"/>'
            f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{_fmt(MARGIN_LEFT + PLOT_WIDTH / 2)}" y="{HEIGHT - 10}"'
        f' text-anchor="middle">{escape(text.x_label)}</text></g>'
    )
    return parts


LINE_STYLES = {
    "obese": ("#b3261e", "6 3"),
    "overweight": ("#b35c00", "6 3"),
    "thinness": ("#1f5fbf", "6 3"),
    "stunting": ("#b3261e", "6 3"),
    "normal_vision": ("#1c7c43", "4 3"),
}


def _reference_lines(scale: _Scale, lines: Sequence[ReferenceLine]) -> list[str]:
    parts = ['<g class="reference" font-size="13">']
    labels: list[tuple[float, ReferenceLine, str]] = []
    for line in lines:
        vertices = _line_extent(line, scale.x0, scale.x1)
        if len(vertices) < 2:
            continue
        color, dash = LINE_STYLES.get(line.key, ("#5b6475", "4 3"))
        path = " ".join(
            f"{'M' if i == 0 else 'L'} {_fmt(scale.x(x))} {_fmt(scale.y(y))}"
            for i, (x, y) in enumerate(vertices)
        )
        key = escape(line.key, quote=True)
        parts.append(
            f'<path class="cutoff cutoff-{key}" data-key="{key}" d="{path}" fill="none"'
            f' stroke="{color}" stroke-width="1.5" stroke-dasharray="{dash}">'
            f"<title>{escape(line.label)}</title></path>"
        )
        labels.append((scale.y(vertices[-1][1]), line, color))
    # The names sit right of the plot, pushed apart so they never overlap.
    labels.sort(key=lambda item: item[0])
    placed: list[float] = []
    for y, line, color in labels:
        y = min(max(y, MARGIN_TOP + 6), MARGIN_TOP + PLOT_HEIGHT)
        if placed and y - placed[-1] < 13:
            y = placed[-1] + 13
        placed.append(y)
        parts.append(
            f'<text class="cutoff-label" data-key="{escape(line.key, quote=True)}"'
            f' x="{MARGIN_LEFT + PLOT_WIDTH + 6}" y="{_fmt(y)}" dominant-baseline="middle"'
            f' fill="{color}">{escape(line.label)}</text>'
        )
    parts.append("</g>")
    return parts


SERIES_COLORS = ("#1d2433", "#1f5fbf", "#b35c00")
SERIES_SHAPES = ("circle", "square", "circle")


def _series(scale: _Scale, series: Sequence[Series], text: ChartText, x_kind: str) -> list[str]:
    parts = []
    show_labels = len({p.when for s in series for p in s.points}) <= MAX_POINT_LABELS
    # One visible date per measurement day, above the highest point of that day.
    top_of_day: dict[date, float] = {}
    for one in series:
        for p in one.points:
            top_of_day[p.when] = max(top_of_day.get(p.when, p.y), p.y)
    labelled: set[date] = set()
    multi = len(series) > 1
    for index, one in enumerate(series):
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        square = SERIES_SHAPES[index % len(SERIES_SHAPES)] == "square"
        key = escape(one.key, quote=True)
        parts.append(f'<g class="series series-{key}" data-key="{key}">')
        points = sorted(one.points, key=lambda p: p.x)
        if len(points) > 1:
            coords = " ".join(f"{_fmt(scale.x(p.x))},{_fmt(scale.y(p.y))}" for p in points)
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5"'
                + (' stroke-dasharray="6 3"/>' if square else "/>")
            )
        for p in points:
            cx, cy = scale.x(p.x), scale.y(p.y)
            value = f"{p.y:.1f}" + (f" {text.unit}" if text.unit else "")
            where = "" if x_kind == "date" else f" ({p.x:.2f})"
            tip = f"{p.when.isoformat()}{where}: {value}"
            if multi:
                tip = f"{one.label}, {tip}"
            if square:
                # hollow and larger, so a circle of the other eye at the same value shows
                # through: equal eyes are both visible
                mark = (
                    f'<rect class="point" x="{_fmt(cx - 5)}" y="{_fmt(cy - 5)}" width="10"'
                    f' height="10" fill="none" stroke="{color}" stroke-width="1.6"'
                )
            else:
                mark = f'<circle class="point" cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="3.5"'
                mark += f' fill="{color}"'
            parts.append(
                f'{mark} data-x="{p.x:g}" data-y="{p.y:g}" data-date="{p.when.isoformat()}">'
                f"<title>{escape(tip)}</title></{'rect' if square else 'circle'}>"
            )
            if show_labels and p.when not in labelled:
                labelled.add(p.when)
                y = max(scale.y(top_of_day[p.when]) - 9, MARGIN_TOP + 9)
                x = min(max(cx, MARGIN_LEFT + 30), MARGIN_LEFT + PLOT_WIDTH - 30)
                parts.append(
                    f'<text class="point-label" x="{_fmt(x)}" y="{_fmt(y)}"'
                    f' text-anchor="middle" font-size="12" fill="#5b6475">'
                    f"{escape(p.when.isoformat())}</text>"
                )
        parts.append("</g>")
    if multi:
        # The legend sits in the right margin, under the names of the reference lines.
        x = MARGIN_LEFT + PLOT_WIDTH + 6
        for index, one in enumerate(series):
            color = SERIES_COLORS[index % len(SERIES_COLORS)]
            y = MARGIN_TOP + PLOT_HEIGHT - 8 - 16 * (len(series) - 1 - index)
            parts.append(
                f'<g class="legend" font-size="13"><rect x="{x}" y="{y - 5}" width="10"'
                f' height="10" fill="{color}"/><text x="{x + 14}" y="{y}"'
                f' dominant-baseline="middle">{escape(one.label)}</text></g>'
            )
    return parts


# ----------------------------------------------------------------- the pupil's charts


def _age_points(points: Sequence[tuple[Number, Number, date]]) -> tuple[ChartPoint, ...]:
    return tuple(
        ChartPoint(float(age), float(value), when)
        for age, value, when in points
        if age is not None and value is not None
    )


def _age_chart(
    points: Sequence[tuple[Number, Number, date]],
    lines: Sequence[ReferenceLine],
    *,
    text: ChartText,
    chart_id: str,
    css_class: str,
    default_y: tuple[float, float],
    around_age: float | None,
) -> str:
    data = _age_points(points)
    x_domain = age_domain([p.x for p in data], around_age)
    ys = [p.y for p in data]
    for line in lines:
        ys += [y for _x, y in _line_extent(line, *x_domain)]
    y_domain = value_domain(ys, default_y)
    return render_chart(
        [Series("pupil", text.series.get("pupil", ""), data)],
        lines,
        text=text,
        chart_id=chart_id,
        x_kind="age",
        x_domain=x_domain,
        y_domain=y_domain,
        css_class=css_class,
    )


def height_for_age_chart(
    points: Sequence[tuple[Number, Number, date]],
    sex: rules.Sex,
    *,
    text: ChartText,
    chart_id: str = "chart-height",
    around_age: float | None = None,
) -> str:
    """Height (cm) by age (years) with the WS/T 456-2014 stunting line of ``sex``.

    ``points`` are (age in years, height in cm, date measured); ``around_age`` centres an
    empty chart on the pupil's age.
    """
    line = stunting_line(sex, text.lines.get("stunting", "stunting"))
    return _age_chart(
        points,
        [line],
        text=text,
        chart_id=chart_id,
        css_class="chart-height",
        default_y=(100.0, 180.0),
        around_age=around_age,
    )


def weight_lines_at_height(
    sex: rules.Sex, reference: str, height_cm: Number, labels: Mapping[str, str]
) -> list[ReferenceLine]:
    """The BMI cutoffs as weights for a pupil of ``height_cm``: weight = BMI x height².

    No national weight-for-age cutoff applies to 6-18 y (WS/T 586 and WS/T 456 judge
    BMI), so the weight chart shows where this pupil, at the latest height, would cross
    the overweight, obesity and thinness lines: the same decision, read in kilograms.
    """
    square = (float(height_cm) / 100) ** 2
    return [
        ReferenceLine(line.key, line.label, tuple((x, y * square) for x, y in line.points))
        for line in bmi_lines(sex, reference, labels)
    ]


def weight_for_age_chart(
    points: Sequence[tuple[Number, Number, date]],
    lines: Sequence[ReferenceLine] = (),
    *,
    text: ChartText,
    chart_id: str = "chart-weight",
    around_age: float | None = None,
) -> str:
    """Weight (kg) by age (years), with :func:`weight_lines_at_height` when a height is known."""
    return _age_chart(
        points,
        lines,
        text=text,
        chart_id=chart_id,
        css_class="chart-weight",
        default_y=(15.0, 80.0),
        around_age=around_age,
    )


def bmi_for_age_chart(
    points: Sequence[tuple[Number, Number, date]],
    sex: rules.Sex,
    reference: str = "wst586",
    *,
    text: ChartText,
    chart_id: str = "chart-bmi",
    around_age: float | None = None,
) -> str:
    """BMI (kg/m²) by age with the overweight, obesity and thinness lines of a reference.

    ``reference`` is the session's growth reference: "wst586" (WS/T 586 + WS/T 456
    thinness, half-year steps), "who2007" or "cdc2000" (their curves).
    """
    lines = bmi_lines(sex, reference, text.lines)
    return _age_chart(
        points,
        lines,
        text=text,
        chart_id=chart_id,
        css_class=f"chart-bmi chart-bmi-{reference}",
        default_y=(12.0, 30.0),
        around_age=around_age,
    )


def date_domain(days: Sequence[date]) -> tuple[float, float]:
    """Ordinal days around the dates, padded; at least six months wide."""
    if not days:
        return 0.0, 1.0
    lo, hi = min(days), max(days)
    pad = max(timedelta(days=30), (hi - lo) * 0.06)
    lo, hi = lo - pad, hi + pad
    if (hi - lo).days < 180:
        extra = timedelta(days=(180 - (hi - lo).days) // 2)
        lo, hi = lo - extra, hi + extra
    return float(lo.toordinal()), float(hi.toordinal())


def acuity_chart(
    right: Sequence[tuple[date, Number]],
    left: Sequence[tuple[date, Number]],
    *,
    text: ChartText,
    chart_id: str = "chart-acuity",
) -> str:
    """Uncorrected visual acuity of each eye over time, five-point scale 3.0-5.3.

    The line at 5.0 is normal vision; below it, from 6 years of age, is reduced vision.
    """
    eyes = []
    for key, points in (("right", right), ("left", left)):
        data = tuple(
            ChartPoint(float(when.toordinal()), float(value), when)
            for when, value in points
            if value is not None
        )
        eyes.append(Series(key, text.series.get(key, key), data))
    x_domain = date_domain([p.when for s in eyes for p in s.points])
    line = ReferenceLine(
        "normal_vision", text.lines.get("normal_vision", "5.0"), level=ACUITY_NORMAL
    )
    return render_chart(
        eyes,
        [line],
        text=text,
        chart_id=chart_id,
        x_kind="date",
        x_domain=x_domain,
        y_domain=ACUITY_RANGE,
        css_class="chart-acuity",
    )
