"""Growth and vision charts (schoolhealth/screening/charts.py): pure SVG, no app.

The cutoff lines are checked against the *shared* standard tables
(tests/reference/*.csv), not the package copies: each line's pixel coordinates are
turned back into years and kg/m² (or cm) with the plot's declared domain, and every
table row must appear as a flat segment over its half-year band at its value.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from schoolhealth.rules import Sex
from schoolhealth.screening import charts

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
SVG = "{http://www.w3.org/2000/svg}"
# x is written to 0.1 px: about 0.03 months on a 12-year chart; rows are a month apart.
MONTH_TOLERANCE = 0.1

TEXT = charts.ChartText(
    title="Height for age",
    description="The pupil's height.",
    x_label="Age (years)",
    y_label="Height",
    unit="cm",
    no_data="Nothing measured",
    lines={
        "stunting": "Stunting",
        "overweight": "Overweight",
        "obese": "Obesity",
        "thinness": "Thinness",
        "normal_vision": "5.0 normal",
    },
    series={"right": "Right eye", "left": "Left eye"},
)


def shared_rows(name: str) -> list[dict[str, str]]:
    with open(REFERENCE / name, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass
class Plot:
    """The plot area of a rendered chart, able to map pixels back to data."""

    root: ET.Element
    x0: float
    x1: float
    y0: float
    y1: float
    left: float
    top: float
    width: float
    height: float

    @classmethod
    def of(cls, svg: str) -> Plot:
        root = ET.fromstring(svg)
        plot = root.find(f"{SVG}g[@class='plot']")
        assert plot is not None
        x0, x1 = map(float, plot.get("data-x-domain").split())
        y0, y1 = map(float, plot.get("data-y-domain").split())
        left, top, width, height = map(float, plot.get("data-plot").split())
        return cls(root, x0, x1, y0, y1, left, top, width, height)

    def data_x(self, px: float) -> float:
        return self.x0 + (px - self.left) / self.width * (self.x1 - self.x0)

    def data_y(self, py: float) -> float:
        return self.y1 - (py - self.top) / self.height * (self.y1 - self.y0)

    def px_y(self, value: float) -> float:
        return self.top + (self.y1 - value) / (self.y1 - self.y0) * self.height

    @property
    def y_tolerance(self) -> float:
        """Coordinates are written to 0.1 px: half a pixel in data units is safe."""
        return 0.5 / self.height * (self.y1 - self.y0)

    @property
    def x_tolerance(self) -> float:
        return 0.5 / self.width * (self.x1 - self.x0)

    def line(self, key: str) -> list[tuple[float, float]]:
        """The vertices of a cutoff line, in data units."""
        paths = [p for p in self.root.iter(f"{SVG}path") if p.get("data-key") == key]
        assert len(paths) == 1, f"expected one {key} line, found {len(paths)}"
        numbers = re.findall(r"[ML] (-?[\d.]+) (-?[\d.]+)", paths[0].get("d"))
        return [(self.data_x(float(x)), self.data_y(float(y))) for x, y in numbers]

    def has_segment(self, lines: list[tuple[float, float]], start, end, value) -> bool:
        """A flat segment from x=start to x=end at y=value (within drawing precision)."""
        for (xa, ya), (xb, yb) in zip(lines, lines[1:], strict=False):
            if (
                abs(xa - start) <= self.x_tolerance
                and abs(xb - end) <= self.x_tolerance
                and abs(ya - value) <= self.y_tolerance
                and abs(yb - value) <= self.y_tolerance
            ):
                return True
        return False

    def points(self, series: str) -> list[ET.Element]:
        group = next(
            g for g in self.root.iter(f"{SVG}g") if g.get("class") == f"series series-{series}"
        )
        return [e for e in group if e.get("class") == "point"]


def _whole_range(values=(20.0, 30.0)) -> list[tuple[float, float, date]]:
    """Two points at 6.1 and 17.9 y, so the chart spans every WS/T band (6-18 y)."""
    return [(6.1, values[0], date(2014, 10, 1)), (17.9, values[1], date(2026, 10, 1))]


# ----------------------------------------------------------------- WS/T lines


@pytest.mark.parametrize("sex", ["M", "F"])
def test_height_chart_draws_the_stunting_cutoffs_of_the_pupils_sex(sex):
    svg = charts.height_for_age_chart(_whole_range((110.0, 160.0)), Sex(sex), text=TEXT)
    plot = Plot.of(svg)
    assert (plot.x0, plot.x1) == (6.0, 18.0)
    line = plot.line("stunting")
    rows = [r for r in shared_rows("wst456_stunting_height_cutoffs.csv") if r["sex"] == sex]
    assert len(rows) == 24
    for row in rows:
        start = float(row["age_years"])
        value = float(row["stunting_height_cm_max"])
        assert plot.has_segment(line, start, start + 0.5, value), (sex, row)


def test_stunting_lines_differ_between_boys_and_girls_where_the_tables_do():
    boys = Plot.of(charts.height_for_age_chart(_whole_range((110.0, 160.0)), Sex.MALE, text=TEXT))
    girls = Plot.of(
        charts.height_for_age_chart(_whole_range((110.0, 160.0)), Sex.FEMALE, text=TEXT)
    )
    # 15.0~: boys 149.6 cm, girls 145.4 cm (WS/T 456-2014)
    assert boys.has_segment(boys.line("stunting"), 15.0, 15.5, 149.6)
    assert not boys.has_segment(boys.line("stunting"), 15.0, 15.5, 145.4)
    assert girls.has_segment(girls.line("stunting"), 15.0, 15.5, 145.4)


@pytest.mark.parametrize("sex", ["M", "F"])
def test_bmi_chart_draws_wst586_overweight_and_obesity_and_wst456_thinness(sex):
    svg = charts.bmi_for_age_chart(_whole_range((15.0, 22.0)), Sex(sex), "wst586", text=TEXT)
    plot = Plot.of(svg)
    overweight, obese, thin = plot.line("overweight"), plot.line("obese"), plot.line("thinness")
    cutoffs = [r for r in shared_rows("wst586_bmi_cutoffs.csv") if r["sex"] == sex]
    assert len(cutoffs) == 25
    for row in cutoffs:
        start = float(row["age_years"])
        if start + 0.5 > plot.x1:
            continue  # the 18.0~ row starts at the chart's right edge
        assert plot.has_segment(overweight, start, start + 0.5, float(row["overweight_bmi"]))
        assert plot.has_segment(obese, start, start + 0.5, float(row["obesity_bmi"]))
    thinness = [r for r in shared_rows("wst456_thinness_bmi_cutoffs.csv") if r["sex"] == sex]
    for row in thinness:
        start = float(row["age_years"])
        assert plot.has_segment(thin, start, start + 0.5, float(row["mild_thinness_bmi_max"]))


def test_girls_95_overweight_line_sits_at_19_and_obesity_at_21():
    """The README's worked example: girls 9.5~ overweight 19.0, obesity 21.0."""
    plot = Plot.of(
        charts.bmi_for_age_chart([(9.7, 20.0, date(2026, 10, 12))], Sex.FEMALE, "wst586", text=TEXT)
    )
    assert plot.has_segment(plot.line("overweight"), 9.5, 10.0, 19.0)
    assert plot.has_segment(plot.line("obese"), 9.5, 10.0, 21.0)
    # the boys' values for that band (18.9 / 21.4) are not what a girl's chart shows
    assert not plot.has_segment(plot.line("overweight"), 9.5, 10.0, 18.9)
    # and the pixel position is exactly where 19.0 kg/m² is on the axis
    path = next(p for p in plot.root.iter(f"{SVG}path") if p.get("data-key") == "overweight")
    ys = {float(y) for y in re.findall(r"[ML] [\d.]+ ([\d.]+)", path.get("d"))}
    assert any(abs(y - plot.px_y(19.0)) <= 0.051 for y in ys)


def test_the_wst586_18_row_reaches_the_adult_age_the_rules_use():
    plot = Plot.of(
        charts.bmi_for_age_chart([(18.4, 23.0, date(2026, 10, 12))], Sex.MALE, text=TEXT)
    )
    assert plot.x1 >= 19.0
    assert plot.has_segment(plot.line("overweight"), 18.0, 19.0, 24.0)
    assert plot.has_segment(plot.line("obese"), 18.0, 19.0, 28.0)


def test_lines_are_clipped_to_the_pupils_ages():
    plot = Plot.of(
        charts.height_for_age_chart([(7.3, 120.0, date(2026, 10, 12))], Sex.MALE, text=TEXT)
    )
    assert (plot.x0, plot.x1) == (6.0, 9.0)
    line = plot.line("stunting")
    assert min(x for x, _ in line) >= plot.x0 - plot.x_tolerance
    assert max(x for x, _ in line) <= plot.x1 + plot.x_tolerance
    assert plot.has_segment(line, 8.5, 9.0, 117.6)
    # the 9.0~ row (120.6) is outside the chart: no riser at its right edge
    assert all(abs(y - 120.6) > plot.y_tolerance for _, y in line)


# ----------------------------------------------------------------- WHO / CDC curves


@pytest.mark.parametrize("sex", ["M", "F"])
def test_who2007_curves_pass_through_the_tables_rows(sex):
    plot = Plot.of(
        charts.bmi_for_age_chart(_whole_range((15.0, 22.0)), Sex(sex), "who2007", text=TEXT)
    )
    rows = {
        int(r["age_months"]): r
        for r in shared_rows("who2007_bmi_for_age_5_19.csv")
        if r["sex"] == sex
    }
    for key, column in (
        ("overweight", "bmi_plus1sd_overweight"),
        ("obese", "bmi_plus2sd_obesity"),
        ("thinness", "bmi_minus2sd_thinness"),
    ):
        checked = 0
        for x, y in plot.line(key):
            months = round(x * 12)
            if abs(x * 12 - months) > MONTH_TOLERANCE or months not in rows:
                continue  # a vertex where the line was clipped at the chart's edge
            assert abs(y - float(rows[months][column])) <= plot.y_tolerance, (key, x)
            checked += 1
        assert checked >= 140, (key, checked)  # months 73-215 lie inside 6.0-18.0


def test_cdc2000_curves_pass_through_the_tables_rows():
    plot = Plot.of(
        charts.bmi_for_age_chart(_whole_range((15.0, 22.0)), Sex.FEMALE, "cdc2000", text=TEXT)
    )
    rows = {
        int(Decimal(r["agemos"]) - Decimal("0.5")): r
        for r in shared_rows("cdc2000_bmi_for_age_2_20.csv")
        if r["sex"] == "F" and Decimal(r["agemos"]) % 1 == Decimal("0.5")
    }
    for key, column in (
        ("overweight", "P85_overweight"),
        ("obese", "P95_obesity"),
        ("thinness", "P5_underweight"),
    ):
        checked = 0
        for x, y in plot.line(key):
            months = round(x * 12)
            if abs(x * 12 - months) > MONTH_TOLERANCE or months not in rows:
                continue
            assert abs(y - float(rows[months][column])) <= plot.y_tolerance, (key, months)
            checked += 1
        assert checked >= 140


# ----------------------------------------------------------------- vision


def test_acuity_chart_has_both_eyes_on_the_five_point_scale_and_the_50_line():
    right = [(date(2025, 4, 1), Decimal("4.8")), (date(2026, 10, 1), Decimal("4.6"))]
    left = [(date(2025, 4, 1), Decimal("5.0")), (date(2026, 10, 1), Decimal("4.9"))]
    plot = Plot.of(charts.acuity_chart(right, left, text=TEXT))
    assert (plot.y0, plot.y1) == (3.0, 5.3)
    line = plot.line("normal_vision")
    assert all(abs(y - 5.0) <= plot.y_tolerance for _, y in line)
    assert line[0][0] == pytest.approx(plot.x0, abs=plot.x_tolerance)
    assert line[-1][0] == pytest.approx(plot.x1, abs=plot.x_tolerance)
    for key, values in (("right", right), ("left", left)):
        points = plot.points(key)
        assert [p.get("data-date") for p in points] == [d.isoformat() for d, _ in values]
        for point, (when, value) in zip(points, values, strict=True):
            cx = float(point.get("cx") or float(point.get("x")) + 5)
            cy = float(point.get("cy") or float(point.get("y")) + 5)
            assert plot.data_y(cy) == pytest.approx(float(value), abs=plot.y_tolerance)
            assert plot.data_x(cx) == pytest.approx(when.toordinal(), abs=plot.x_tolerance)
    legend = [
        t.text
        for g in plot.root.iter(f"{SVG}g")
        if g.get("class") == "legend"
        for t in g.iter(f"{SVG}text")
    ]
    assert legend == ["Right eye", "Left eye"]


# ----------------------------------------------------------------- 0, 1, many points


def test_a_chart_without_points_says_so_and_still_draws_the_reference():
    svg = charts.height_for_age_chart([], Sex.FEMALE, text=TEXT, around_age=10.4)
    plot = Plot.of(svg)
    assert (plot.x0, plot.x1) == (9.0, 12.0)
    assert plot.points("pupil") == []
    assert "Nothing measured" in svg
    assert plot.has_segment(plot.line("stunting"), 10.0, 10.5, 123.9)


def test_an_acuity_chart_without_points_renders():
    svg = charts.acuity_chart([], [], text=TEXT)
    plot = Plot.of(svg)
    assert plot.points("right") == []
    assert plot.points("left") == []
    assert "Nothing measured" in svg


def test_one_point_has_no_line_but_a_dated_label_and_tooltip():
    plot = Plot.of(
        charts.weight_for_age_chart([(9.42, Decimal("31.5"), date(2026, 10, 12))], text=TEXT)
    )
    (point,) = plot.points("pupil")
    assert point.find(f"{SVG}title").text == "2026-10-12 (9.42): 31.5 cm"
    assert plot.data_y(float(point.get("cy"))) == pytest.approx(31.5, abs=plot.y_tolerance)
    assert plot.data_x(float(point.get("cx"))) == pytest.approx(9.42, abs=plot.x_tolerance)
    assert not list(plot.root.iter(f"{SVG}polyline"))
    labels = [t.text for t in plot.root.iter(f"{SVG}text") if t.get("class") == "point-label"]
    assert labels == ["2026-10-12"]


def test_many_points_are_joined_in_age_order_and_all_have_tooltips():
    points = [(6.5 + i, 115.0 + 6 * i, date(2020 + i, 10, 1)) for i in range(11)]
    plot = Plot.of(charts.height_for_age_chart(list(reversed(points)), Sex.MALE, text=TEXT))
    marks = plot.points("pupil")
    assert [m.get("data-date") for m in marks] == [p[2].isoformat() for p in points]
    assert all(m.find(f"{SVG}title") is not None for m in marks)
    (polyline,) = plot.root.iter(f"{SVG}polyline")
    assert len(polyline.get("points").split()) == 11
    # more than ten dates: tooltips only, no crowded labels
    assert not [t for t in plot.root.iter(f"{SVG}text") if t.get("class") == "point-label"]
    assert plot.y0 <= 115.0
    assert plot.y1 >= 175.0


# ----------------------------------------------------------------- accessibility, safety


def test_chart_is_labelled_for_screen_readers():
    svg = charts.height_for_age_chart(
        _whole_range((110.0, 160.0)), Sex.MALE, text=TEXT, chart_id="growth-1"
    )
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "growth-1-title growth-1-desc"
    assert root.find(f"{SVG}title").get("id") == "growth-1-title"
    assert root.find(f"{SVG}title").text == "Height for age"
    assert root.find(f"{SVG}desc").text == "The pupil's height."
    axis_labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "axis-label"]
    assert axis_labels == ["Height (cm)", "Age (years)"]


def test_texts_are_escaped():
    text = charts.ChartText(
        title="<script>alert(1)</script>",
        description="a & b",
        x_label="x <",
        y_label='y "',
        lines={"stunting": "</text><script>"},
    )
    svg = charts.height_for_age_chart(_whole_range((110.0, 160.0)), Sex.MALE, text=text)
    assert "<script>" not in svg
    root = ET.fromstring(svg)  # still well-formed XML
    assert root.find(f"{SVG}title").text == "<script>alert(1)</script>"


# ----------------------------------------------------------------- scales


@pytest.mark.parametrize(
    ("ages", "around", "expected"),
    [
        ([7.0], None, (6.0, 9.0)),
        ([7.3, 8.2], None, (7.0, 10.0)),
        ([6.1, 17.9], None, (6.0, 18.0)),
        ([], 10.4, (9.0, 12.0)),
        ([], None, (6.0, 18.0)),
        ([0.4], None, (0.0, 3.0)),
    ],
)
def test_age_domain(ages, around, expected):
    assert charts.age_domain(ages, around) == expected


@pytest.mark.parametrize(
    ("span", "step"), [(60, 10), (8, 2), (5, 1), (2.3, 0.5), (0.9, 0.2), (0, 1.0)]
)
def test_nice_step(span, step):
    assert charts.nice_step(span) == pytest.approx(step)


@pytest.mark.parametrize("sex", [Sex.MALE, Sex.FEMALE])
def test_weight_lines_are_the_bmi_cutoffs_at_the_pupils_height(sex):
    """A pupil of 140 cm is overweight from (BMI cutoff x 1.96) kg: the chart shows that."""
    labels = {"overweight": "Overweight", "obese": "Obesity", "thinness": "Thinness"}
    bmi = {line.key: line for line in charts.bmi_lines(sex, "wst586", labels)}
    weight = {line.key: line for line in charts.weight_lines_at_height(sex, "wst586", 140, labels)}
    assert set(weight) == set(bmi)
    for key, line in weight.items():
        for (x, kg), (bx, cutoff) in zip(line.points, bmi[key].points, strict=True):
            assert x == bx
            assert kg == pytest.approx(cutoff * 1.96)
    svg = charts.weight_for_age_chart(
        [(9.42, Decimal("31.5"), date(2026, 10, 12))], list(weight.values()), text=TEXT
    )
    assert {p.get("data-key") for p in Plot.of(svg).root.iter(f"{SVG}path")} >= set(weight)
