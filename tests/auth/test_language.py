"""Language: the user's setting, then the session's choice, then Accept-Language.

Checked through ``<html lang>``, which base.html sets from the selected locale, so the
tests hold whether or not a string has been translated yet.
"""

from __future__ import annotations

import re

import pytest

from schoolhealth.extensions import db
from schoolhealth.models import User
from tests.factories import PASSWORD


def html_lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)">', response.get_data(as_text=True))
    assert match, "no <html lang> on the page"
    return match.group(1)


@pytest.mark.parametrize(("header", "lang"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    ("zh", "zh-CN"),
    ("en-US,en;q=0.9", "en"),
    ("en;q=0.5,zh-CN;q=0.9", "zh-CN"),
    ("fr-FR", "en"),  # not offered: the default (TestingConfig: en)
])  # fmt: skip
def test_accept_language_picks_the_language(client, header, lang):
    assert html_lang(client.get("/login", headers={"Accept-Language": header})) == lang


def test_without_accept_language_the_default_is_used(app, client, monkeypatch):
    assert html_lang(client.get("/login")) == "en"
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_Hans_CN")
    assert html_lang(client.get("/login")) == "zh-CN"


def test_language_switch_when_signed_out_lasts_for_the_session(client):
    response = client.post("/language", data={"lang": "zh_Hans_CN", "next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert html_lang(client.get("/login", headers={"Accept-Language": "en"})) == "zh-CN"


def test_language_switch_stores_the_users_preference(client, factories, login_as):
    nurse = factories.NurseFactory(locale=None)
    login_as(nurse)
    client.post("/language", data={"lang": "zh_Hans_CN"})
    db.session.expire_all()
    assert db.session.get(User, nurse.id).locale == "zh_Hans_CN"


def test_the_users_setting_beats_accept_language(client, factories, login_as):
    nurse = factories.NurseFactory(locale="en")
    login_as(nurse)
    assert html_lang(client.get("/", headers={"Accept-Language": "zh-CN"})) == "en"
    nurse.locale = "zh_Hans_CN"
    db.session.commit()
    assert html_lang(client.get("/", headers={"Accept-Language": "en"})) == "zh-CN"


def test_user_setting_applies_from_sign_in(client, factories):
    """A choice made on the sign-in page gives way to the account's own setting."""
    factories.NurseFactory(username="liu", locale="en")
    client.post("/language", data={"lang": "zh_Hans_CN"})
    client.post("/login", data={"username": "liu", "password": PASSWORD})
    assert html_lang(client.get("/", headers={"Accept-Language": "zh-CN"})) == "en"


def test_without_a_user_setting_accept_language_decides(client, factories, login_as):
    login_as(factories.NurseFactory(locale=None))
    assert html_lang(client.get("/", headers={"Accept-Language": "zh-CN"})) == "zh-CN"
    assert html_lang(client.get("/", headers={"Accept-Language": "en"})) == "en"


def test_unknown_language_is_a_400(client):
    response = client.post("/language", data={"lang": "fr"})
    assert response.status_code == 400
    assert "The request could not be understood." in response.get_data(as_text=True)


def test_language_switch_never_redirects_off_site(client):
    response = client.post("/language", data={"lang": "en", "next": "//evil.example/"})
    assert response.headers["Location"] == "/"


def test_language_switch_is_on_every_page(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'action="/language"' in html
    assert 'value="zh_Hans_CN"' in html
    assert 'value="en"' in html


def test_text_outside_a_request_uses_the_default_language(app):
    """CLI commands and jobs translate messages too; there is no session to read there."""
    from flask_babel import get_locale, lazy_gettext

    assert str(get_locale()) == app.config["BABEL_DEFAULT_LOCALE"]
    assert str(lazy_gettext("Wrong username or password.")) == "Wrong username or password."
