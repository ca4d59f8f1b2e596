"""Letters in the browser's routes: class batches, the register, scoping, wording."""

from __future__ import annotations

import io
import zipfile

from pypdf import PdfReader
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.letters import services, texts
from schoolhealth.models import AuditEvent, Letter, LetterBatch, LetterText

from .conftest import page_texts, pdf_text, squash


def _start(client, session_id, class_id, **options):
    data = {"language": options.pop("language", "zh"), "class_id": class_id, **options}
    return client.post(f"/letters/sessions/{session_id}/batches", data=data)


def _batch(client, world, **options) -> bytes:
    response = _start(client, world.session.id, world.school_class.id, **options)
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    batch = db.session.scalars(select(LetterBatch).order_by(LetterBatch.id.desc())).first()
    assert 'http-equiv="refresh"' in page.get_data(as_text=True)  # starts the download
    download = client.get(f"/letters/batches/{batch.id}/download")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    return download.data


def test_class_batch_is_one_pdf_in_roster_order_each_letter_on_a_new_page(
    client, sign_in, screened
):
    world = screened.world
    sign_in(world.nurse)
    data = _batch(client, world)
    pages = page_texts(data)
    # G0001 (obese, myopia) and G0003 (overweight) have findings; G0002 is normal.
    starts = [
        i for i, text in enumerate(pages) if squash(texts.DEFAULTS["zh"]["fold_hint"]) in text
    ]
    assert len(starts) == 2
    assert squash(texts.DEFAULTS["zh"]["outside"].format(name="Pupil 1")) in pages[starts[0]]
    assert squash(texts.DEFAULTS["zh"]["outside"].format(name="Pupil 3")) in pages[starts[1]]
    assert "Pupil2" not in "".join(pages)
    letters = db.session.scalars(select(Letter)).all()
    assert {(x.student.student_number, x.status) for x in letters} == {
        ("G0001", "printed"),
        ("G0003", "printed"),
    }
    generated = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "letter", AuditEvent.action == "generate")
    ).all()
    assert len(generated) == 2
    downloads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "download")).all()
    assert len(downloads) == 1
    assert downloads[0].user_id == world.nurse.id


def test_all_includes_normal_results_and_duplex_starts_on_odd_pages(client, sign_in, screened):
    world = screened.world
    sign_in(world.nurse)
    data = _batch(client, world, include_normal="y", duplex="y")
    pages = page_texts(data)
    starts = [
        i for i, text in enumerate(pages) if squash(texts.DEFAULTS["zh"]["fold_hint"]) in text
    ]
    assert len(starts) == 3
    assert all(i % 2 == 0 for i in starts), starts  # page 1, 3, 5 … (0-based even)
    assert len(pages) % 2 == 0 or starts[-1] == len(pages) - 1


def test_same_batch_twice_gives_the_same_bytes_and_the_cli_writes_them(
    client, sign_in, screened, runner, tmp_path
):
    world = screened.world
    sign_in(world.nurse)
    first = _batch(client, world)
    second = _batch(client, world)
    assert first == second
    out = tmp_path / "class.pdf"
    result = runner.invoke(
        args=[
            "letters",
            "--session",
            str(world.session.id),
            "--class",
            "3-2",
            "--lang",
            "zh",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == first


def test_cli_school_zip_holds_one_pdf_per_class(screened, runner, tmp_path):
    world = screened.world
    out = tmp_path / "school.zip"
    result = runner.invoke(
        args=["letters", "--session", str(world.session.id), "--lang", "en", "--all", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "3 letters" in result.output
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["class-3-2.pdf"]
        text = pdf_text(archive.read("class-3-2.pdf"))
    assert squash(texts.DEFAULTS["en"]["intro_summary"].split(".")[1]) in text


def test_cli_refuses_bad_arguments(screened, runner, tmp_path):
    world = screened.world
    bad_class = runner.invoke(
        args=[
            "letters",
            "--session",
            str(world.session.id),
            "--class",
            "9-9",
            str(tmp_path / "x.pdf"),
        ]
    )
    assert bad_class.exit_code != 0
    assert "3-2" in bad_class.output
    bad_suffix = runner.invoke(
        args=["letters", "--session", str(world.session.id), str(tmp_path / "x.pdf")]
    )
    assert bad_suffix.exit_code != 0
    assert ".zip" in bad_suffix.output
    missing = runner.invoke(args=["letters", "--session", "999999", str(tmp_path / "x.zip")])
    assert missing.exit_code != 0


def test_school_batch_is_a_zip_of_class_pdfs(client, sign_in, screened):
    world = screened.world
    sign_in(world.nurse)
    response = _start(client, world.session.id, "school")
    assert response.status_code == 302
    batch = db.session.scalars(select(LetterBatch)).one()
    download = client.get(f"/letters/batches/{batch.id}/download")
    assert download.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert archive.namelist() == ["class-3-2.pdf"]
        assert len(PdfReader(io.BytesIO(archive.read("class-3-2.pdf"))).pages) >= 2


def test_register_shows_and_updates_statuses(client, sign_in, screened):
    world = screened.world
    sign_in(world.nurse)
    _batch(client, world)
    letter = db.session.scalars(
        select(Letter).where(Letter.student_id == screened.flagged.id)
    ).one()
    page = client.get(f"/letters/sessions/{world.session.id}").get_data(as_text=True)
    assert f'data-letter-id="{letter.id}"' in page
    assert "2 letters: 2 printed" in page
    response = client.post(
        f"/letters/sessions/{world.session.id}/register",
        data={"status": "slip_returned", "letter_id": [str(letter.id)]},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Letter, letter.id).status == "slip_returned"
    page = client.get(f"/letters/sessions/{world.session.id}").get_data(as_text=True)
    assert "1 slips outstanding" in page
    record = client.get(f"/screening/pupils/{screened.flagged.id}").get_data(as_text=True)
    assert 'id="pupil-letters"' in record
    assert "Slip returned" in record


def test_single_letter_from_the_flags_list_and_the_record(client, sign_in, screened):
    world = screened.world
    sign_in(world.nurse)
    flags = client.get(f"/screening/sessions/{world.session.id}/flags").get_data(as_text=True)
    assert f"/letters/sessions/{world.session.id}" in flags
    url = f"/letters/sessions/{world.session.id}/pupils/{screened.flagged.id}"
    assert url in flags
    record = client.get(f"/screening/pupils/{screened.flagged.id}").get_data(as_text=True)
    assert url in record
    response = client.post(url, data={"language": "en"})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "Pupil1" in pdf_text(response.data)
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity == "letter").order_by(AuditEvent.id)
    ).all()
    assert actions == ["generate", "download"]


def test_another_schools_nurse_gets_404_everywhere(client, sign_in, screened):
    world = screened.world
    sign_in(world.nurse)
    _batch(client, world)
    batch = db.session.scalars(select(LetterBatch)).one()
    letter = db.session.scalars(select(Letter)).first()
    sign_in(world.other_nurse)
    sid = world.session.id
    assert client.get(f"/letters/sessions/{sid}").status_code == 404
    assert _start(client, sid, world.school_class.id).status_code == 404
    assert client.get(f"/letters/batches/{batch.id}").status_code == 404
    assert client.get(f"/letters/batches/{batch.id}/download").status_code == 404
    assert (
        client.post(
            f"/letters/sessions/{sid}/register",
            data={"status": "printed", "letter_id": [str(letter.id)]},
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/letters/sessions/{sid}/pupils/{screened.flagged.id}", data={"language": "zh"}
        ).status_code
        == 404
    )
    # Her own session with another school's class: 404 too.
    assert _start(client, world.other_session.id, world.school_class.id).status_code == 404
    record = client.get(f"/screening/pupils/{world.other_student.id}").get_data(as_text=True)
    assert 'id="letters"' in record  # her own pupil: the block is there
    sign_in(world.official)
    assert client.get(f"/letters/sessions/{sid}").status_code == 403
    sign_in(world.institution_user)
    assert client.get(f"/letters/sessions/{sid}").status_code == 403


def test_admin_edits_wording_per_school_and_letters_record_the_version(client, sign_in, screened):
    world = screened.world
    sign_in(world.admin)
    scope = f"school:{world.school.id}"
    page = client.get(f"/letters/texts?scope={scope}&language=en")
    assert page.status_code == 200
    form = {f"t_{k.replace('.', '__')}": v for k, v in texts.DEFAULTS["en"].items()}
    form["t_closing"] = "Questions? Call the school nurse, Ms Li, on 555-0100."
    response = client.post(f"/letters/texts?scope={scope}&language=en", data=form)
    assert response.status_code == 302
    row = db.session.scalars(select(LetterText)).one()
    assert row.version == 1
    assert row.texts == {"closing": form["t_closing"]}
    letter, data = services.single_letter(
        world.session, screened.flagged, language_mode="en", user=None
    )
    assert squash(form["t_closing"]) in pdf_text(data)
    assert letter.template_version == f"en:default.1+school{world.school.id}.v1"
    # Unbalanced braces are refused, naming the field.
    form["t_salutation"] = "Dear {name"
    refused = client.post(f"/letters/texts?scope={scope}&language=en", data=form)
    assert refused.status_code == 200
    assert "Unbalanced braces" in refused.get_data(as_text=True)
    sign_in(world.nurse)
    assert client.get("/letters/texts").status_code == 403


def test_missing_font_is_a_clear_error_not_a_500(app, client, sign_in, screened, monkeypatch):
    from schoolhealth.letters import pdf

    world = screened.world
    sign_in(world.nurse)
    monkeypatch.setitem(app.config, "LETTER_FONT_PATH", "/nonexistent/font.ttc")
    monkeypatch.setattr(pdf, "_registered", None)
    response = client.post(
        f"/letters/sessions/{world.session.id}/pupils/{screened.flagged.id}",
        data={"language": "zh"},
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "letter font is missing" in page
