"""No page or export of any blueprint shows a resident ID number unmasked (issue 7 §2, §7).

A school is seeded whose pupils have national student numbers "G" + their ID number (as
most do), screening results (with flags), letters, an edited pupil (audit), a roster
import whose preview has error rows naming an ID number, and an export. Then every role
signs in and the test walks the site as a browser would: every GET route of the url_map
filled with the seeded ids, plus every link and export found on the pages (breadth
first). Each answer (HTML, JSON, CSV, the .xlsx's XML, the PDF's text, the ZIP's PDFs)
is scanned for 18-character ID patterns. The one allowed exception, the admin's
explicit full-ID roster export, is checked to contain them, so the scanner is proved
to see what it looks for.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import deque
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin, urlsplit

import pytest
from flask import g
from pypdf import PdfReader
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, FollowupCase, Job, Letter, LetterBatch, mask_ids
from schoolhealth.screening import results as screening_results
from tests.roster.fixtures.rosters import csv_bytes
from tests.roster.helpers import make_id_number

# An 18-character ID (17 digits and a check digit) anywhere, also inside "G" + ID.
ID_PATTERN = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
HREF = re.compile(r'(?:href|src|action)="([^"#]+)"')
SKIP = ("/logout", "/static/", "/language")
MAX_PAGES_PER_ROLE = 400


@dataclass
class Seeded:
    ids: list[str]  # the pupils' resident ID numbers (their student numbers are "G" + these)
    admin: object
    nurse: object
    institution_user: object
    official: object
    url_values: dict[str, object]


@pytest.fixture
def seeded(factories, client):
    f = factories
    institution = f.InstitutionFactory()
    school = f.SchoolFactory(code="S-P")
    school_class = f.SchoolClassFactory(school=school, grade=3, name="2")
    births = [date(2017, 5, 14), date(2017, 2, 3), date(2016, 11, 30)]
    pupils = []
    for n, birth in enumerate(births, start=1):
        sex = "M" if n % 2 else "F"
        number = make_id_number(birth, sex, seq=f"{n:02d}")
        pupils.append(
            f.StudentFactory(
                school_class=school_class,
                school=school,
                student_number="G" + number,
                id_number=number,
                name=f"Pupil {n}",
                sex=sex,
                birth_date=birth,
                guardian_language="zh",
            )
        )
    session = f.ScreeningSessionFactory(
        school=school,
        types="growth,vision",
        start_date=date(2026, 10, 12),
        end_date=date(2026, 10, 16),
        institution=institution,
    )
    nurse = f.NurseFactory(school=school)
    admin = f.AdminFactory()
    values = [
        {"height_cm": "130", "weight_kg": "37.2", "ucva_right": "4.7", "ucva_left": "5.0"},
        {"height_cm": "130", "weight_kg": "27", "ucva_right": "5.0", "ucva_left": "5.0"},
        {"height_cm": "128", "weight_kg": "33", "ucva_right": "4.8", "ucva_left": "4.8"},
    ]
    for pupil, measured in zip(pupils, values, strict=True):
        assert screening_results.record_measurements(session, pupil, measured, user=nurse).ok
    db.session.commit()

    _sign_in(client, nurse)
    # An edit: the audit trail gets a summary naming the pupil's student number.
    edit = {
        "student_number": pupils[1].masked_student_number,
        "name": "Pupil 2b",
        "sex": pupils[1].sex,
        "birth_date": pupils[1].birth_date.isoformat(),
        "class_id": str(school_class.id),
        "id_number": pupils[1].masked_id_number,
        "guardian_phone": "",
        "guardian_language": "zh",
    }
    assert client.post(f"/roster/students/{pupils[1].id}/edit", data=edit).status_code == 302
    # Letters for the class: the register, the batch PDF, a parent's code.
    start = {"language": "zh", "class_id": school_class.id, "include_normal": "y"}
    assert client.post(f"/letters/sessions/{session.id}/batches", data=start).status_code == 302
    # A roster import whose preview has error rows holding ID numbers (a new pupil whose
    # ID contradicts the birth date; one whose ID another pupil has).
    stray = make_id_number(date(2015, 1, 1), "M", seq="77")
    header = ["学籍号", "姓名", "性别", "出生日期", "年级", "班级", "身份证号"]
    rows = [
        ["G" + stray, "新生", "男", "2016-01-01", "3", "2", stray],
        ["L99887766", "新生二", "女", births[0].isoformat(), "3", "2", pupils[0].id_number],
    ]
    form = {"file": (io.BytesIO(csv_bytes(header, rows)), "r.csv"), "school_year": "2026"}
    upload = client.post("/roster/import", data=form, content_type="multipart/form-data")
    assert upload.status_code == 302, upload.get_data(as_text=True)[:500]
    # A nurse's (masked) roster export, in the audit trail.
    assert client.get(f"/roster/export?school_id={school.id}").status_code == 200
    db.session.commit()

    batch = db.session.scalars(select(LetterBatch)).first()
    letter = db.session.scalars(select(Letter)).first()
    job = db.session.scalars(select(Job).order_by(Job.id.desc())).first()
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    case = db.session.scalars(select(FollowupCase).order_by(FollowupCase.id)).first()
    assert case is not None  # Pupil 1's obesity was referred
    assert batch is not None
    assert letter is not None
    assert job is not None
    url_values = {
        "student_id": pupils[0].id,
        "session_id": session.id,
        "class_id": school_class.id,
        "school_id": school.id,
        "batch_id": batch.id,
        "job_id": job.id,
        "event_id": event.id,
        "user_id": nurse.id,
        "district_id": school.district_id,
        "institution_id": institution.id,
        "code": letter.code,
        "fmt": "csv",
        "case_id": case.id,
    }
    return Seeded(
        ids=[p.id_number for p in pupils] + [stray],
        admin=admin,
        nurse=nurse,
        institution_user=f.InstitutionUserFactory(institution=institution),
        official=f.OfficialFactory(district=school.district),
        url_values=url_values,
    )


def _sign_in(client, user) -> None:
    g.pop("_login_user", None)
    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


def texts_of(body: bytes, mimetype: str) -> list[str]:
    """What a reader of this answer could see: decoded text, sheet XML, PDF text."""
    if body[:4] == b"PK\x03\x04":  # .xlsx or .zip
        texts = []
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            for name in archive.namelist():
                inner = archive.read(name)
                texts.extend(texts_of(inner, "application/pdf" if name.endswith(".pdf") else ""))
        return texts
    if body[:5] == b"%PDF-":
        reader = PdfReader(io.BytesIO(body))
        return [re.sub(r"\s+", "", "".join(p.extract_text() for p in reader.pages))]
    return [body.decode("utf-8-sig", errors="replace")]


def leaks(texts: list[str], ids: list[str]) -> list[str]:
    found = []
    for text in texts:
        found += ID_PATTERN.findall(text)
        found += [i for i in ids if i in text]
    return found


def _route_urls(app, values: dict[str, object]) -> list[str]:
    """Every GET route of the url_map, its arguments filled with the seeded ids."""
    urls = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
                continue
            missing = set(rule.arguments) - set(values)
            assert not missing, f"{rule.rule}: teach tests/test_id_privacy.py {sorted(missing)}"
            urls.append(url_for(rule.endpoint, **{a: values[a] for a in rule.arguments}))
    return urls


def _crawl(client, app, seeded: Seeded) -> dict[str, list[str]]:
    """Visit every route and every link reachable from them; {url: leaked strings}."""
    queue = deque(_route_urls(app, seeded.url_values))
    seen: set[str] = set(queue)
    found: dict[str, list[str]] = {}
    visited = 0
    while queue and visited < MAX_PAGES_PER_ROLE:
        url = queue.popleft()
        visited += 1
        response = client.get(url)
        body = response.get_data()
        bad = leaks(texts_of(body, response.mimetype), seeded.ids)
        if bad and "full_ids=" not in url:
            found[url] = bad
        if response.mimetype != "text/html":
            continue
        for link in HREF.findall(body.decode("utf-8", errors="replace")):
            link = urljoin(url, link.replace("&amp;", "&"))
            parts = urlsplit(link)
            if parts.netloc and parts.netloc != "localhost":
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if path in seen or path.startswith(SKIP):
                continue
            seen.add(path)
            queue.append(path)
    assert visited > 20  # the walk reached the site, not only the sign-in page
    return found


@pytest.mark.parametrize("role", ["admin", "nurse", "institution_user", "official"])
def test_no_page_or_export_shows_an_id_number_unmasked(app, client, seeded, role):
    _sign_in(client, getattr(seeded, role))
    assert _crawl(client, app, seeded) == {}


def test_exports_and_letters_are_scanned_and_masked(client, seeded):
    """The walk's formats, fetched directly: each holds the masked form of an ID."""
    _sign_in(client, seeded.nurse)
    values = seeded.url_values
    masked = mask_ids(seeded.ids[0])
    for url in (
        f"/roster/export?school_id={values['school_id']}&format=csv",
        f"/roster/export?school_id={values['school_id']}&format=xlsx",
        f"/screening/sessions/{values['session_id']}/flags/export.xlsx",
        f"/letters/batches/{values['batch_id']}/download",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        texts = texts_of(response.get_data(), response.mimetype)
        assert leaks(texts, seeded.ids) == [], url
        assert any(masked in t or masked[:4] in t for t in texts), url


def test_the_admins_explicit_full_export_is_the_one_place_ids_leave(client, seeded):
    _sign_in(client, seeded.admin)
    school_id = seeded.url_values["school_id"]
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/roster/export?school_id={school_id}&format={fmt}&full_ids=1")
        assert response.status_code == 200
        texts = texts_of(response.get_data(), response.mimetype)
        # The scanner sees full IDs when they are there (it is not blind).
        assert set(seeded.ids[:3]) <= set(leaks(texts, seeded.ids))
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "export", AuditEvent.user_id == seeded.admin.id
        )
    ).all()
    assert [e.after["full_ids"] for e in events] == [True, True]
    assert all("FULL ID numbers" in e.summary for e in events)
