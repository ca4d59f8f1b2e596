"""Follow-up in the browser's HTTP: scoping, the outcome form, reminders, uploads."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, FollowupCase
from tests.letters.conftest import pdf_text


def _case(pupil, kind):
    return db.session.scalar(
        select(FollowupCase).where(
            FollowupCase.student_id == pupil.id, FollowupCase.case_type == kind
        )
    )


def test_the_worklist_lists_the_schools_outstanding_cases_by_class(client, sign_in, fu):
    sign_in(fu.nurse)
    response = client.get("/followup/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("data-case-id=") == 8
    # Class 3-1 (pupil 1's class, no cases) ... pupils 0 and 2 are in class 3-2.
    assert fu.other_pupil.name not in html
    filtered = client.get("/followup/?case_type=scoliosis").get_data(as_text=True)
    assert filtered.count("data-case-id=") == 2


@pytest.mark.parametrize("who", ["other_nurse", "official", "institution_user"])
def test_another_schools_nurse_gets_404_and_officials_403(client, sign_in, fu, who):
    case = _case(fu.pupils[0], "myopia")
    sign_in(getattr(fu, who))
    response = client.get(f"/followup/cases/{case.id}")
    assert response.status_code == (404 if who == "other_nurse" else 403)
    response = client.get(f"/followup/cases/{case.id}/reminder.pdf")
    assert response.status_code == (404 if who == "other_nurse" else 403)
    response = client.post(f"/followup/cases/{case.id}", data={"diagnosis_date": "2026-11-01"})
    assert response.status_code in (400, 403, 404)
    assert _case(fu.pupils[0], "myopia").outcome_at is None


def test_an_outcome_typed_from_the_slip_closes_the_case_and_opens_the_next(client, sign_in, fu):
    sign_in(fu.nurse)
    case = _case(fu.pupils[0], "scoliosis")
    page = client.get(f"/followup/cases/{case.id}").get_data(as_text=True)
    assert 'name="confirmed"' in page
    assert "autofocus" in page
    response = client.post(
        f"/followup/cases/{case.id}",
        data={
            "confirmed": "yes",
            "cobb_angle": "14",
            "hospital": "市儿童医院",
            "doctor": "王医生",
            "diagnosis_date": "2026-11-03",
            "close_case": "y",
        },
    )
    assert response.status_code == 302
    assert "/followup/cases/" in response.headers["Location"]
    db.session.expire_all()
    case = _case(fu.pupils[0], "scoliosis")
    assert case.state == "closed"
    assert str(case.cobb_angle) == "14.0"
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "followup_case", AuditEvent.entity_id == str(case.id)
        )
    ).all()
    assert any(e.after and e.after.get("state") == "closed" for e in events)


def test_a_wrong_outcome_names_the_field_and_saves_nothing(client, sign_in, fu):
    sign_in(fu.nurse)
    case = _case(fu.pupils[0], "myopia")
    response = client.post(
        f"/followup/cases/{case.id}",
        data={
            "confirmed": "yes",
            "cyclo_se_right": "-45",
            "hospital": "H",
            "diagnosis_date": "2099-01-01",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "outside -30 to 20" in html
    assert "cannot be in the future" in html
    db.session.expire_all()
    assert _case(fu.pupils[0], "myopia").outcome_at is None


def test_reminders_print_for_one_pupil_and_for_the_ticked_ones(client, sign_in, fu):
    sign_in(fu.nurse)
    case = _case(fu.pupils[0], "myopia")
    response = client.get(f"/followup/cases/{case.id}/reminder.pdf?language=zh")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert fu.pupils[0].name in text
    assert "近视" in text
    ids = [
        c.id
        for c in db.session.scalars(
            select(FollowupCase).where(FollowupCase.school_id == fu.school.id)
        )
    ]
    response = client.post(
        "/followup/reminders", data={"case_id": [str(i) for i in ids], "language": "en"}
    )
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert "Reminder" in text
    assert fu.pupils[2].name in text
    assert db.session.query(AuditEvent).filter_by(entity="followup_reminder").count() == 2


def test_reminders_ignore_another_schools_cases(client, sign_in, fu):
    sign_in(fu.nurse)
    other = _case(fu.other_pupil, "myopia")
    response = client.post(
        "/followup/reminders", data={"case_id": [str(other.id)], "language": "en"}
    )
    assert response.status_code == 302


def _csv(rows: list[str]) -> dict:
    text = "\n".join(
        [
            "学籍号,复查类型,是否确诊,Cobb角,右眼等效球镜,左眼等效球镜,是否治疗,干预,医院,诊断日期",
            *rows,
        ]
    )
    return {"file": (io.BytesIO(text.encode("utf-8")), "outcomes.csv")}


def test_bulk_upload_checks_everything_first_and_names_row_and_column(client, sign_in, fu):
    sign_in(fu.nurse)
    response = client.post(
        "/followup/imports",
        data=_csv(
            [
                "F0000,脊柱侧弯,是,150,,,,,市儿童医院,2026-11-03",
                "F0000,近视,,,-1.25,-0.75,,,眼科医院,2026-11-04",
                "X9999,龋齿,,,,,是,,口腔医院,2026-11-05",
                f"{fu.other_pupil.student_number},近视,否,,,,,,H,2026-11-05",
            ]
        ),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "import-refused" in page
    assert "Cobb角" in page
    assert "150 is outside" in page
    assert page.count("No pupil with this number") == 2  # unknown, and another school's
    assert "confirm-import" not in page
    db.session.expire_all()
    assert _case(fu.pupils[0], "myopia").outcome_at is None  # the good row waits too


def test_bulk_upload_previews_confirms_all_and_reruns_as_unchanged(client, sign_in, fu):
    rows = [
        "F0000,脊柱侧弯,是,15,,,,,市儿童医院,2026-11-03",
        "F0000,近视,,,-1.25,-0.75,,,眼科医院,2026-11-04",
        "F0002,龋齿,,,,,是,,口腔医院,2026-11-05",
        "F0002,肥胖,,,,,,转诊,,2026-11-05",
    ]
    sign_in(fu.nurse)
    location = client.post(
        "/followup/imports", data=_csv(rows), content_type="multipart/form-data"
    ).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert "4 new outcomes, 0 changed, 0 unchanged" in page
    db.session.expire_all()
    assert _case(fu.pupils[0], "myopia").outcome_at is None  # nothing before confirming
    job_id = location.rstrip("/").split("/")[-1]
    response = client.post(f"/followup/imports/{job_id}/confirm")
    assert response.status_code == 302
    db.session.expire_all()
    assert _case(fu.pupils[0], "myopia").state == "closed"
    assert _case(fu.pupils[0], "myopia").confirmed is True
    assert _case(fu.pupils[2], "weight").intervention == "clinic"
    assert db.session.query(AuditEvent).filter_by(entity="followup_outcomes").count() == 1
    events = db.session.query(AuditEvent).filter_by(entity="followup_case").count()
    location = client.post(
        "/followup/imports", data=_csv(rows), content_type="multipart/form-data"
    ).headers["Location"]
    assert "0 new outcomes, 0 changed, 4 unchanged" in client.get(location).get_data(as_text=True)
    client.post(f"/followup/imports/{location.rstrip('/').split('/')[-1]}/confirm")
    assert db.session.query(AuditEvent).filter_by(entity="followup_case").count() == events
    # Confirming twice does nothing more.
    response = client.post(f"/followup/imports/{job_id}/confirm")
    assert response.status_code == 302


def test_another_user_cannot_see_or_confirm_an_upload(client, sign_in, fu):
    sign_in(fu.nurse)
    location = client.post(
        "/followup/imports",
        data=_csv(["F0000,近视,否,,,,,,H,2026-11-04"]),
        content_type="multipart/form-data",
    ).headers["Location"]
    job_id = location.rstrip("/").split("/")[-1]
    sign_in(fu.other_nurse)
    assert client.get(f"/followup/imports/{job_id}").status_code == 404
    assert client.post(f"/followup/imports/{job_id}/confirm").status_code == 404


def test_an_institution_uploads_for_the_sessions_it_ran(client, sign_in, fu):
    sign_in(fu.institution_user)
    location = client.post(
        "/followup/imports",
        data=_csv(
            [
                "F0000,近视,否,,,,,,H,2026-11-04",
                f"{fu.other_pupil.student_number},近视,否,,,,,,H,2026-11-04",
            ]
        ),
        content_type="multipart/form-data",
    ).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert page.count("No pupil with this number") == 1  # the other school is not its client


def test_an_upload_that_is_not_a_table_is_refused_with_a_reason(client, sign_in, fu):
    sign_in(fu.nurse)
    response = client.post(
        "/followup/imports",
        data={"file": (io.BytesIO(b"\x00\x01\x02binary"), "outcomes.csv")},
        content_type="multipart/form-data",
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "import-refused" in page


def test_officials_export_completion_without_names(client, sign_in, fu):
    sign_in(fu.official)
    response = client.get("/followup/completion.csv?school_year=2026")
    assert response.status_code == 200
    text = response.data.decode("utf-8-sig")
    assert fu.pupils[0].name not in text
    assert "<5" in text
    assert client.get("/followup/").status_code == 403


def test_the_pupil_record_lists_the_pupils_cases(client, sign_in, fu):
    sign_in(fu.nurse)
    html = client.get(f"/screening/pupils/{fu.pupils[0].id}").get_data(as_text=True)
    assert html.count("data-case-id=") == 4
    html = client.get(f"/screening/pupils/{fu.pupils[1].id}").get_data(as_text=True)
    assert 'id="pupil-followup"' not in html


def test_an_unconfirmed_upload_expires_and_its_file_is_dropped(client, sign_in, fu, app):
    from datetime import timedelta

    from schoolhealth.models import Job

    sign_in(fu.nurse)
    location = client.post(
        "/followup/imports",
        data=_csv(["F0000,近视,否,,,,,,H,2026-11-04"]),
        content_type="multipart/form-data",
    ).headers["Location"]
    job = db.session.get(Job, int(location.rstrip("/").split("/")[-1]))
    job.created_at -= timedelta(minutes=app.config.get("IMPORT_CONFIRM_MINUTES", 60) + 1)
    db.session.commit()
    client.get("/followup/imports")
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "expired"
    assert job.payload is None
    response = client.post(f"/followup/imports/{job.id}/confirm")
    assert response.status_code == 302
    db.session.expire_all()
    assert _case(fu.pupils[0], "myopia").outcome_at is None
