"""Fuzzing the write endpoints: malformed input never answers 500 and never half-writes.

Hypothesis generates well over 1,000 malformed requests a run (``EXAMPLES`` per endpoint
family): grid cell saves (JSON and not), the pupil, session, sign-in and administration
forms, and roster uploads (random bytes, hostile CSV, broken and odd .xlsx). Every answer
must be below 500; every rejected request must leave the database as it was (row counts
of every table, the audit trail, the result's version). The run is derandomized (the same
examples every run) so CI is stable, and sized to stay well under a minute on SQLite.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Job, ScreeningResult, ScreeningSession, Student, User
from tests.screening import conftest as screening_fixtures

# Two schools with a nurse, a class, pupils and a session each (tests/screening/conftest.py).
world = screening_fixtures.world

# Examples per test; the total of a run is printed by test_the_run_sends_enough_payloads.
EXAMPLES = {
    "grid": 350,
    "row": 100,
    "pupil": 150,
    "session": 100,
    "login": 80,
    "admin": 100,
    "upload": 150,
}

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# Requests actually sent per family this run (checked against EXAMPLES after each test).
SENT: Counter[str] = Counter()


def fuzz(family: str) -> settings:
    """The shared settings with this endpoint family's number of examples."""
    return settings(FUZZ, max_examples=EXAMPLES[family])


# Text that breaks naive parsers: other digits, full-width forms, NUL and controls,
# formula prefixes, huge and tiny numbers, markup, SQL and overlong strings.
NASTY = [
    "",
    " ",
    "٣",
    "١٣٠",
    "③",
    "１３０",
    "1e400",
    "-1e-400",
    "NaN",
    "inf",
    "0x10",
    "\x00",
    "130\x00",
    "\ud800",
    '=HYPERLINK("http://x")',
    "+1+2",
    "@SUM(A1)",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "9" * 400,
    "a" * 5000,
    "2026-02-30",
    "99999999999999999999",
    "-0",
    "１６ ５５",
    "\u202e130",
    "G110101201503021234",
]
nasty_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=60))
# A browser cannot send a lone surrogate in a form (JSON can, escaped as \ud800).
form_text = st.one_of(st.sampled_from([t for t in NASTY if t != "\ud800"]), st.text(max_size=60))
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _snapshot() -> dict[str, Any]:
    """Row counts of every table and the sum of result versions: any write changes it."""
    db.session.rollback()
    db.session.expire_all()
    counts = {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }
    counts["result_versions"] = db.session.scalar(
        select(func.coalesce(func.sum(ScreeningResult.version), 0))
    )
    counts["students_changed"] = db.session.scalar(select(func.max(Student.updated_at)))
    return counts


def _check(response, before: dict[str, Any], *, success: set[int]) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code not in success:
        assert _snapshot() == before, response.status_code


@pytest.fixture
def nurse_client(client, login_as, world):
    login_as(world.nurse)
    return client


@pytest.fixture
def admin_client(client, login_as, world):
    login_as(world.admin)
    return client


# ----------------------------------------------------------------- grid saves

GRID_FIELDS = ["height_cm", "weight_kg", "ucva_right", "ucva_left", "absent", "glasses"]


@st.composite
def grid_request(draw) -> dict[str, Any]:
    kind = draw(st.sampled_from(["object", "object", "object", "other_json", "raw", "form"]))
    accept = draw(st.sampled_from([None, "text/html", "application/json", "*/*", "x/y;q=bad"]))
    headers = {"Accept": accept} if accept else {}
    if kind == "object":
        payload: dict[str, Any] = {}
        if draw(st.booleans()):
            payload["field"] = draw(st.one_of(st.sampled_from(GRID_FIELDS), json_value))
        if draw(st.booleans()) or True:
            payload["value"] = draw(json_value)
        if draw(st.booleans()):
            payload["version"] = draw(st.one_of(st.sampled_from([0, 1, "0", "٠", -1]), json_value))
        return {"json": payload, "headers": headers}
    if kind == "other_json":
        return {"json": draw(json_value), "headers": headers}
    if kind == "raw":
        body = draw(st.binary(max_size=200))
        return {"data": body, "content_type": "application/json", "headers": headers}
    form = draw(st.dictionaries(st.sampled_from(["field", "value", "version"]), form_text))
    return {"data": form, "headers": headers}


def test_grid_saves_never_fail_or_half_write(nurse_client, world):
    students = world.students + [world.other_student]
    sessions = [world.session.id, world.other_session.id, 2**31, 0]

    @fuzz("grid")
    # Mostly the nurse's own session and pupils (so payloads reach the parsers), sometimes
    # another school's pupil or session, or an id that does not exist.
    @given(
        request=grid_request(),
        who=st.sampled_from([0, 1, 2, 0, 1, 2, 3]),
        where=st.sampled_from([0, 0, 0, 0, 0, 1, 2, 3]),
    )
    def run(request, who, where):
        SENT["grid"] += 1
        before = _snapshot()
        url = f"/screening/sessions/{sessions[where]}/students/{students[who].id}/field"
        response = nurse_client.post(url, **request)
        _check(response, before, success={200})
        if response.status_code != 302:  # a JSON endpoint answers JSON, always
            assert response.is_json, response.status_code

    run()
    assert SENT["grid"] >= EXAMPLES["grid"]


def test_grid_row_forms_never_fail_or_half_write(nurse_client, world):
    url = (
        f"/screening/sessions/{world.session.id}/classes/{world.school_class.id}"
        f"/students/{world.students[0].id}"
    )
    keys = ["height_cm", "weight_kg", "ucva_right", "absent", "version", "glasses"]

    @fuzz("row")
    @given(form=st.dictionaries(st.sampled_from(keys), form_text, max_size=6))
    def run(form):
        SENT["row"] += 1
        before = _snapshot()
        response = nurse_client.post(url, data=form)
        # A row form answers a redirect with the errors flashed, saved or not; what it
        # did keep is checked through the version: a refused version writes nothing.
        assert response.status_code < 500
        version = form.get("version")
        if version is None or version.strip() not in {"0", "1", "2", "3"}:
            assert _snapshot() == before

    run()
    assert SENT["row"] >= EXAMPLES["row"]


# ----------------------------------------------------------------- forms

PUPIL_KEYS = [
    "student_number",
    "name",
    "sex",
    "birth_date",
    "class_id",
    "id_number",
    "guardian_phone",
    "guardian_language",
]


def test_pupil_forms_never_fail_or_half_write(admin_client, world):
    new_url = f"/roster/schools/{world.school.id}/students/new"
    edit_url = f"/roster/students/{world.students[0].id}/edit"

    @fuzz("pupil")
    @given(
        form=st.dictionaries(st.sampled_from(PUPIL_KEYS), form_text, max_size=8),
        edit=st.booleans(),
    )
    def run(form, edit):
        SENT["pupil"] += 1
        before = _snapshot()
        response = admin_client.post(edit_url if edit else new_url, data=form)
        _check(response, before, success={302})

    run()
    assert SENT["pupil"] >= EXAMPLES["pupil"]


SESSION_KEYS = [
    "name",
    "start_date",
    "end_date",
    "types",
    "institution_id",
    "atr_positive_degrees",
    "school_id",
]


def test_session_forms_never_fail_or_half_write(admin_client, world):
    @fuzz("session")
    @given(
        form=st.dictionaries(
            st.sampled_from(SESSION_KEYS),
            st.one_of(form_text, st.sampled_from(["growth", "vision", "2026-11-23", "5"])),
            max_size=7,
        ),
        edit=st.booleans(),
    )
    def run(form, edit):
        SENT["session"] += 1
        before = _snapshot()
        url = f"/screening/sessions/{world.session.id}/edit" if edit else "/screening/sessions/new"
        response = admin_client.post(url, data=form)
        _check(response, before, success={302})

    run()
    assert SENT["session"] >= EXAMPLES["session"]


def test_sign_in_never_fails(client, world):
    @fuzz("login")
    @given(
        form=st.dictionaries(
            st.sampled_from(["username", "password", "remember", "next"]),
            st.one_of(form_text, st.just(world.nurse.username)),
            max_size=4,
        )
    )
    def run(form):
        SENT["login"] += 1
        sessions_before = db.session.scalar(select(func.count()).select_from(ScreeningSession))
        response = client.post("/login", data=form)
        # A failed sign-in may count the failure against the account (that is its job);
        # nothing else may change, and nobody may be signed in without the password.
        assert response.status_code < 500
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(ScreeningSession)) == (
            sessions_before
        )
        with client.session_transaction() as cookie:
            assert "_user_id" not in cookie

    run()
    assert SENT["login"] >= EXAMPLES["login"]


ADMIN_FORMS = {
    "/admin/users/new": [
        "username",
        "display_name",
        "role",
        "school",
        "institution",
        "district",
        "locale",
        "active",
        "password",
        "confirm",
    ],
    "/admin/schools/new": ["code", "name", "district"],
    "/admin/districts/new": ["name", "code", "growth_reference"],
    "/admin/institutions/new": ["name", "code"],
}


def test_admin_forms_never_fail_or_half_write(admin_client, world):
    urls = sorted(ADMIN_FORMS)

    @fuzz("admin")
    @given(which=st.integers(0, len(urls) - 1), data=st.data())
    def run(which, data):
        SENT["admin"] += 1
        url = urls[which]
        form = data.draw(st.dictionaries(st.sampled_from(ADMIN_FORMS[url]), form_text))
        before = _snapshot()
        response = admin_client.post(url, data=form)
        _check(response, before, success={302})

    run()
    assert SENT["admin"] >= EXAMPLES["admin"]


# ----------------------------------------------------------------- uploads


def _xlsx(rows: list[list[Any]]) -> bytes:
    from xlsxwriter import Workbook

    out = io.BytesIO()
    book = Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.close()
    return out.getvalue()


HEADER = ["学籍号", "姓名", "性别", "出生日期", "年级", "班级", "身份证号"]


@st.composite
def roster_file(draw) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["bytes", "csv", "csv", "xlsx", "broken_zip", "zip"]))
    cells = st.lists(st.lists(nasty_text, max_size=8), max_size=5)
    if kind == "bytes":
        name = draw(st.sampled_from(["roster.csv", "roster.xlsx", "roster.xls", "r.ods", "x"]))
        return draw(st.binary(max_size=400)), name
    if kind == "csv":
        rows = draw(cells)
        if draw(st.booleans()):
            rows = [HEADER, *rows]
        text = "\n".join(
            ",".join(json.dumps(c) if draw(st.booleans()) else c for c in r) for r in rows
        )
        encoding = draw(st.sampled_from(["utf-8", "utf-16", "gbk"]))
        return text.encode(encoding, errors="replace"), "roster.csv"
    if kind == "xlsx":
        safe = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
        rows = draw(
            st.lists(
                st.lists(
                    st.one_of(
                        safe, st.integers(), st.floats(allow_nan=False, allow_infinity=False)
                    ),
                    max_size=8,
                ),
                max_size=5,
            )
        )
        if draw(st.booleans()):
            rows = [HEADER, *rows]
        content = _xlsx(rows)
        cut = draw(st.sampled_from([None, 10, 100, len(content) // 2]))
        return (content if cut is None else content[:cut]), "roster.xlsx"
    if kind == "broken_zip":
        return b"PK\x03\x04" + draw(st.binary(max_size=200)), "roster.xlsx"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", draw(st.text(max_size=100)))
        archive.writestr("xl/workbook.xml", draw(st.text(max_size=100)))
    return out.getvalue(), "roster.xlsx"


def test_roster_uploads_never_fail_or_half_write(admin_client, world):
    @fuzz("upload")
    @given(
        upload=roster_file(),
        year=st.one_of(st.sampled_from(["2026", "٢٠٢٦", "２０２６", "1e3", ""]), form_text),
        school=st.sampled_from([str(world.school.id), "٣", "", "x", str(2**40)]),
    )
    def run(upload, year, school):
        SENT["upload"] += 1
        content, name = upload
        before = _snapshot()
        response = admin_client.post(
            "/roster/import",
            data={
                "file": (io.BytesIO(content), name),
                "school_id": school,
                "school_year": year,
            },
            content_type="multipart/form-data",
        )
        _check(response, before, success={302})
        if response.status_code == 302:
            # Accepted only as a draft to preview: no pupil is written by the upload.
            assert (
                db.session.scalar(select(func.count()).select_from(Student)) == (before["students"])
            )

    run()
    assert SENT["upload"] >= EXAMPLES["upload"]


def test_the_run_sends_enough_payloads():
    assert sum(EXAMPLES.values()) >= 1000


def test_a_foreign_digit_school_year_is_refused(admin_client, world):
    """The import form's year went through int(): "٢٠٢٦" was read as 2026."""
    before = db.session.scalar(select(func.count()).select_from(Job))
    response = admin_client.post(
        "/roster/import",
        data={
            "file": (
                io.BytesIO(",".join(HEADER).encode() + b"\nG1,A,M,2015-03-02,3,2,\n"),
                "r.csv",
            ),
            "school_id": str(world.school.id),
            "school_year": "٢٠٢٦",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Job)) == before
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    assert db.session.scalar(select(func.count()).select_from(User)) > 0
