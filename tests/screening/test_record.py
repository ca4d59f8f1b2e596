"""One pupil's screening record: results per screening, charts, change history, access."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent
from schoolhealth.screening import results


def _url(student) -> str:
    return f"/screening/pupils/{student.id}"


def _record(session, student, user, **values):
    change = results.record_measurements(
        session, student, values, user=user, screening_date=session.start_date
    )
    assert change.ok, change.errors
    db.session.commit()
    return change.result


def _section(html: str, element_id: str) -> str:
    """The HTML of the element with this id up to its closing section/table/div."""
    start = html.index(f'id="{element_id}"')
    return html[start:]


def _table(html: str, screening_type: str) -> str:
    part = _section(html, f"results-{screening_type}")
    return part[: part.index("</table>")]


def _views(student) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "view",
                AuditEvent.entity == "student",
                AuditEvent.entity_id == str(student.id),
            )
        )
    )


@pytest.fixture
def pupil(world):
    student = world.students[1]  # G0002 "Pupil 2", a girl born 2017-05-14
    student.id_number = "110101201705140028"
    db.session.commit()
    return student


def _session(factories, world, start: date, **kwargs):
    """A past session of the pupil's school (results get its start date as their date)."""
    return factories.ScreeningSessionFactory(
        school=world.school,
        start_date=start,
        end_date=start + timedelta(days=4),
        name=f"Screening {start.year}",
        **kwargs,
    )


# ----------------------------------------------------------------- 0, 1, many results


def test_record_of_a_pupil_without_results(client, sign_in, world, pupil):
    sign_in(world.nurse)
    response = client.get(_url(pupil))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    facts = _section(html, "pupil-facts")
    assert "Pupil 2" in html
    assert "G0002" in facts
    assert "Female" in facts
    assert "Grade 3, class 2" in facts
    assert "1101**********0028" in facts
    assert "110101201705140028" not in html
    assert 'id="no-results"' in html
    assert "<svg" not in html
    assert 'id="history"' not in html
    # no letters and no follow-up cases: neither section is shown
    assert "letter" not in html.lower()
    assert 'id="followup"' not in html  # no follow-up cases: no section


def test_record_with_one_result(client, sign_in, world, pupil):
    _record(
        world.session,
        pupil,
        world.nurse,
        height_cm="130",
        weight_kg="33",
        ucva_right="4.8",
        ucva_left="4.9",
    )
    sign_in(world.nurse)
    html = client.get(_url(pupil)).get_data(as_text=True)
    growth = _table(html, "growth")
    assert growth.count('data-result-id="') == 1
    assert "2026-10-12" in growth
    assert world.session.name in growth
    assert "9.41" in growth  # age at screening
    assert "130.0" in growth
    assert "33.0" in growth
    assert "19.5" in growth
    assert '<td class="code code-abnormal">Overweight</td>' in growth
    assert '<td class="code">None</td>' in growth  # thinness: none, in words
    assert 'data-code="weight_status"' in growth
    vision = _table(html, "vision")
    assert "Reduced vision (moderate)" in vision
    assert "Reduced vision (mild)" in vision
    assert "Reduced vision (moderate) R" in vision  # the chip
    assert 'id="results-spine"' not in html  # not screened in this session
    # charts: one point each, with the girls' cutoff lines
    for chart in ("chart-height", "chart-weight", "chart-bmi", "chart-acuity"):
        assert f'id="{chart}"' in html
    height_svg = html[
        html.index('id="chart-height"') : html.index("</svg>", html.index('id="chart-height"'))
    ]
    assert height_svg.count('class="point"') == 1
    assert 'data-key="stunting"' in height_svg
    assert "for girls" in height_svg
    bmi_svg = html[html.index('id="chart-bmi"') :]
    assert 'class="chart chart-bmi chart-bmi-wst586"' in html
    for key in ("overweight", "obese", "thinness"):
        assert f'data-key="{key}"' in bmi_svg.split("</svg>")[0]
    # the data tables behind the charts
    growth_data = _section(html, "growth-chart-group")
    assert "<summary>Growth measurements as a table</summary>" in growth_data
    assert '<th scope="row">2026-10-12</th><td class="num">9.41</td>' in growth_data


def test_record_with_many_results_across_years(client, sign_in, world, pupil, factories):
    sessions = [
        _session(factories, world, date(2024, 10, 14), types="growth,vision"),
        _session(factories, world, date(2025, 10, 13), types="growth,vision,spine"),
    ]
    _record(
        sessions[0],
        pupil,
        world.nurse,
        height_cm="118",
        weight_kg="21",
        ucva_right="5.0",
        ucva_left="5.0",
    )
    _record(
        sessions[1],
        pupil,
        world.nurse,
        height_cm="124.5",
        weight_kg="26",
        ucva_right="4.9",
        ucva_left="5.0",
        spine_general="normal",
        adams="negative",
        atr_thoracic="2",
    )
    _record(
        world.session,
        pupil,
        world.nurse,
        height_cm="130",
        weight_kg="33",
        ucva_right="4.8",
        ucva_left="4.9",
    )
    sign_in(world.nurse)
    html = client.get(_url(pupil)).get_data(as_text=True)
    growth = _table(html, "growth")
    dates = re.findall(r'<th scope="row">(\d{4}-\d\d-\d\d)</th>', growth)
    assert dates == ["2026-10-12", "2025-10-13", "2024-10-14"]  # newest first
    spine = _table(html, "spine")
    assert spine.count('data-result-id="') == 1
    assert "2025-10-13" in spine
    assert '<td class="code">Normal</td>' in spine
    height_svg = html[html.index('id="chart-height"') :]
    height_svg = height_svg[: height_svg.index("</svg>")]
    assert re.findall(r'data-date="([\d-]+)"', height_svg) == [
        "2024-10-14",
        "2025-10-13",
        "2026-10-12",
    ]
    assert "<polyline" in height_svg
    acuity_svg = html[html.index('id="chart-acuity"') :]
    acuity_svg = acuity_svg[: acuity_svg.index("</svg>")]
    assert acuity_svg.count('class="point"') == 6  # two eyes, three dates


def test_absent_results_are_listed_as_absent(client, sign_in, world, pupil):
    results.set_absent(world.session, pupil, True, user=world.nurse)
    db.session.commit()
    sign_in(world.nurse)
    html = client.get(_url(pupil)).get_data(as_text=True)
    growth = _table(html, "growth")
    assert ">Not screened: Absent</td>" in growth
    assert "<svg" not in html  # nothing measured, no charts


def test_bmi_chart_uses_the_sessions_growth_reference(client, sign_in, world, pupil, factories):
    session = _session(
        factories,
        world,
        date(2026, 11, 2),
        types="growth",
        rule_options={"growth_reference": "who2007"},
    )
    _record(session, pupil, world.nurse, height_cm="130", weight_kg="33")
    sign_in(world.nurse)
    html = client.get(_url(pupil)).get_data(as_text=True)
    assert 'class="chart chart-bmi chart-bmi-who2007"' in html
    assert "WHO 2007" in html
    assert "Overweight (&gt; +1 SD)" in html


# ----------------------------------------------------------------- change history


def test_history_shows_who_changed_which_field_when(client, sign_in, world, pupil):
    _record(world.session, pupil, world.nurse, height_cm="130", weight_kg="33")
    _record(world.session, pupil, world.admin, height_cm="131.5")
    sign_in(world.nurse)
    html = client.get(_url(pupil)).get_data(as_text=True)
    history = _section(html, "history")
    assert "2 changes" in history
    rows = re.findall(r"<tr>(.*?)</tr>", history, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    cells = [[c.strip() for c in row] for row in cells if row]
    # creation: one row per field entered, before "—"
    assert ["Height (cm)", "—", "130.0"] in [row[-3:] for row in cells]
    assert ["Weight (kg)", "—", "33.0"] in [row[-3:] for row in cells]
    # the change by the administrator: before -> after, with who
    change = next(row for row in cells if row[-3:] == ["Height (cm)", "130.0", "131.5"])
    assert world.admin.display_name in change
    assert re.search(r"\d{4}", change[0])  # a date and time


def test_history_of_absence(client, sign_in, world, pupil):
    results.set_absent(world.session, pupil, True, user=world.nurse)
    db.session.commit()
    results.set_absent(world.session, pupil, False, user=world.nurse)
    db.session.commit()
    sign_in(world.nurse)
    history = _section(client.get(_url(pupil)).get_data(as_text=True), "history")
    assert "<td>Absent</td><td>—</td><td>Yes</td>" in history  # created as absent
    assert "<td>Absent</td><td>Yes</td><td>No</td>" in history


# ----------------------------------------------------------------- audit of reading


def test_reading_the_record_is_audited(client, sign_in, world, pupil):
    sign_in(world.nurse)
    client.get(_url(pupil))
    client.get(_url(pupil))
    views = _views(pupil)
    assert len(views) == 2
    assert {(v.user_id, v.school_id) for v in views} == {(world.nurse.id, world.school.id)}


# ----------------------------------------------------------------- access


def test_another_schools_nurse_gets_404_and_nothing_is_audited(client, sign_in, world, pupil):
    sign_in(world.other_nurse)
    assert client.get(_url(pupil)).status_code == 404
    assert _views(pupil) == []


def test_officials_get_403(client, sign_in, world, pupil):
    sign_in(world.official)
    assert client.get(_url(pupil)).status_code == 403
    assert _views(pupil) == []


def test_anonymous_users_are_sent_to_sign_in(client, world, pupil):
    response = client.get(_url(pupil))
    assert response.status_code == 302
    assert "login" in response.headers["Location"]


def test_a_pupil_that_does_not_exist_is_404(client, sign_in, world):
    sign_in(world.admin)
    assert client.get("/screening/pupils/999999").status_code == 404


def test_admin_reads_any_pupil(client, sign_in, world):
    sign_in(world.admin)
    assert client.get(_url(world.other_student)).status_code == 200


def test_institution_users_see_only_results_of_their_sessions(
    client, sign_in, world, pupil, factories
):
    own = _record(world.session, pupil, world.nurse, height_cm="130", weight_kg="33")
    unassigned = _session(factories, world, date(2025, 10, 13), types="growth")
    theirs_not = _record(unassigned, pupil, world.nurse, height_cm="124", weight_kg="26")
    sign_in(world.institution_user)
    response = client.get(_url(pupil))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-result-id="{own.id}"' in html
    assert f'data-result-id="{theirs_not.id}"' not in html
    assert "Screening 2025" not in html
    # a pupil of a school the institution does not screen
    assert client.get(_url(world.other_student)).status_code == 404


def test_a_nurse_sees_the_pupils_results_from_every_session(
    client, sign_in, world, pupil, factories
):
    earlier = _session(factories, world, date(2025, 10, 13), types="growth")
    _record(earlier, pupil, world.nurse, height_cm="124", weight_kg="26")
    _record(world.session, pupil, world.nurse, height_cm="130", weight_kg="33")
    sign_in(world.nurse)
    growth = _table(client.get(_url(pupil)).get_data(as_text=True), "growth")
    assert growth.count('data-result-id="') == 2
    assert f'href="/screening/sessions/{earlier.id}"' in growth


def test_the_page_reads_in_a_fixed_number_of_queries(app, client, sign_in, world, pupil, factories):
    from sqlalchemy import event

    def statements() -> int:
        seen = []

        def listener(*args):
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get(_url(pupil)).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    sign_in(world.nurse)
    _record(world.session, pupil, world.nurse, height_cm="130", weight_kg="33")
    one = statements()
    for year in (2022, 2023, 2024, 2025):
        session = _session(factories, world, date(year, 10, 12), types="growth,vision")
        _record(
            session,
            pupil,
            world.nurse,
            height_cm=str(100 + year - 2000),
            weight_kg="25",
            ucva_right="4.9",
            ucva_left="5.0",
        )
        _record(session, pupil, world.admin, weight_kg="26")
    db.session.expire_all()
    many = statements()
    assert many == one
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) > 10


def test_the_record_says_why_a_pupil_was_not_screened(client, sign_in, world, pupil):
    results.set_absent(world.session, pupil, True, user=world.nurse, reason="refused")
    db.session.commit()
    sign_in(world.nurse)
    html = client.get(_url(pupil)).get_data(as_text=True)
    assert ">Not screened: Refused</td>" in _table(html, "growth")


def test_the_record_shows_sph_cyl_as_se_and_the_evidence_of_flags(client, sign_in, world, pupil):
    world.session.records_refraction = True
    _record(
        world.session,
        pupil,
        world.nurse,
        ucva_right="4.7",
        ucva_left="5.0",
        sph_right="-1.25",
        cyl_right="-0.50",
    )
    sign_in(world.nurse)
    vision = _table(client.get(_url(pupil)).get_data(as_text=True), "vision")
    assert ">-1.50<" in vision  # SE R, computed from sphere and cylinder
    assert '<small class="evidence">UCVA R 4.7 · SE R -1.50 D</small>' in vision
