"""Parents online: a code and the birth date download the letter; guessing is throttled."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.letters import services
from schoolhealth.models import AuditEvent, Letter, utcnow

from .conftest import pdf_text


def _letter(screened) -> Letter:
    letter, _data = services.single_letter(
        screened.world.session, screened.flagged, language_mode="zh", user=None
    )
    db.session.commit()
    return letter


def _try(client, code, birth, addr="203.0.113.5"):
    return client.post(
        "/l",
        data={"code": code, "birth_date": birth},
        environ_base={"REMOTE_ADDR": addr},
    )


def test_codes_are_long_unambiguous_and_random():
    codes = {services.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert len(code) == 12
        assert not set(code) & set("01IOL")
    # 31 symbols ** 12 = 2**59.4: with 20 tries an hour per client, 40 bits to spare.
    assert len(services.CODE_ALPHABET) ** services.CODE_LENGTH > 2**59


def test_parent_downloads_with_code_and_birth_date(client, screened):
    letter = _letter(screened)
    page = client.get(f"/l/{letter.code}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert letter.code in html  # the QR code's link fills the code in
    assert "Pupil 1" not in html
    assert "G0001" not in html
    typed = f"{letter.code[:4].lower()}-{letter.code[4:8]} {letter.code[8:]}"
    response = _try(client, typed, "2017-05-14")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "Pupil1" in pdf_text(response.data)
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "parent_access")
    ).all()
    assert len(events) == 1
    assert events[0].entity_id == str(letter.id)
    assert events[0].ip_address == "203.0.113.5"


def test_wrong_birth_dates_lock_the_code(app, client, screened):
    letter = _letter(screened)
    limit = app.config["LETTER_CODE_MAX_FAILURES"]
    for attempt in range(limit):
        response = _try(client, letter.code, "2017-05-15", addr=f"198.51.100.{attempt}")
        html = response.get_data(as_text=True)
        assert "Pupil 1" not in html
    assert response.status_code == 429
    # Locked: even the right date from a fresh address is refused, and nothing leaks.
    right = _try(client, letter.code, "2017-05-14", addr="192.0.2.77")
    assert right.status_code == 429
    assert right.mimetype == "text/html"
    assert "Too many attempts" in right.get_data(as_text=True)
    denied = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "parent_denied")
    ).all()
    assert len(denied) == limit + 1


def test_a_client_guessing_codes_is_locked_out(app, client, screened):
    letter = _letter(screened)
    limit = app.config["LETTER_CLIENT_MAX_FAILURES"]
    for n in range(limit):
        response = _try(client, f"ZZZZ{n:04d}ZZZZ", "2017-05-14")
        assert "Too many" not in response.get_data(as_text=True) or n == limit - 1
    assert response.status_code == 429
    # Even a right code and date from that address wait for the lock-out to pass.
    assert _try(client, letter.code, "2017-05-14").status_code == 429
    # Another address is not affected.
    assert _try(client, letter.code, "2017-05-14", addr="192.0.2.8").status_code == 200


def test_unknown_code_and_wrong_date_get_the_same_answer(client, screened):
    letter = _letter(screened)
    unknown = _try(client, "ABCDEFGHJKMN", "2017-05-14", addr="192.0.2.1").get_data(as_text=True)
    wrong = _try(client, letter.code, "2010-01-01", addr="192.0.2.2").get_data(as_text=True)

    def message(html: str) -> str:
        return re.search(r'id="parent-message">([^<]*)<', html).group(1)

    assert message(unknown) == message(wrong)


def test_expired_code_is_refused(client, screened):
    letter = _letter(screened)
    letter.code_expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = _try(client, letter.code, "2017-05-14")
    assert response.status_code == 200
    assert "expired" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_a_new_letter_after_expiry_gets_a_new_code(screened):
    letter = _letter(screened)
    old = letter.code
    letter.code_expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    again = _letter(screened)
    assert again.id == letter.id
    assert again.code != old
    assert again.code_expires_at > utcnow() + timedelta(days=89)


def test_parent_page_in_chinese(client, screened):
    _letter(screened)
    client.post("/language", data={"lang": "zh_Hans_CN", "next": "/l"})
    html = client.get("/l").get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "下载孩子的告家长书" in html
