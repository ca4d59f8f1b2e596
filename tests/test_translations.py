"""The Simplified Chinese catalog: complete, well-formed, and actually used by the pages.

The catalog checks read the .pot/.po files only (no app). The page checks need the
compiled .mo, which ``make translations`` (part of ``make install``/``make test``) builds.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "schoolhealth" / "translations"
POT = TRANSLATIONS / "messages.pot"
ZH_PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
ZH_MO = ZH_PO.with_suffix(".mo")

# %(name)s, %s, %d, %.1f, %%: what Python's % operator (and Jinja's newstyle gettext,
# which always applies it) reads in a message.
PERCENT = re.compile(r"%(?:\([A-Za-z_]\w*\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]")
BRACES = re.compile(r"\{[A-Za-z_]\w*\}")
HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale, abort_invalid=True)


@pytest.fixture(scope="module")
def pot() -> Catalog:
    return load(POT)


@pytest.fixture(scope="module")
def zh() -> Catalog:
    return load(ZH_PO, locale="zh_Hans_CN")


def entries(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


def singular(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def key(message: Message) -> tuple[str | None, str]:
    """(msgctxt, msgid): one msgid may mean two things ("Name": 姓名 or 名称)."""
    context = message.context
    if isinstance(context, bytes):  # babel's read_mo leaves the context undecoded
        context = context.decode()
    return context, singular(message)


def translations(message: Message) -> tuple[str, ...]:
    return (message.string,) if isinstance(message.string, str) else tuple(message.string)


def placeholders(text: str) -> tuple[Counter, ...]:
    return tuple(Counter(pattern.findall(text)) for pattern in (PERCENT, BRACES, HTML_TAG))


def test_the_catalog_parses_and_is_for_simplified_chinese(zh):
    assert str(zh.locale) == "zh_Hans_CN"
    assert zh.num_plurals == 1
    assert entries(zh)


def test_every_template_message_has_a_chinese_translation(pot, zh):
    missing = []
    for message in entries(pot):
        translated = zh.get(message.id, message.context)
        if translated is None or not all(s.strip() for s in translations(translated)):
            missing.append(singular(message))
    assert not missing, f"{len(missing)} untranslated: {missing[:10]}"


def test_no_translation_is_fuzzy(zh):
    fuzzy = [singular(m) for m in entries(zh) if m.fuzzy]
    assert not fuzzy, f"fuzzy entries: {fuzzy[:10]}"


def test_plural_entries_fill_the_one_chinese_form(zh):
    for message in entries(zh):
        if message.pluralizable:
            assert len(message.string) == 1, singular(message)
            assert message.string[0].strip(), singular(message)


def test_placeholders_and_tags_are_kept(zh):
    wrong = []
    for message in entries(zh):
        expected = placeholders(singular(message))
        for text in translations(message):
            if placeholders(text) != expected:
                wrong.append((singular(message), text))
    assert not wrong, "\n".join(f"{msgid!r} -> {text!r}" for msgid, text in wrong)


def test_python_format_entries_pass_babels_checks(zh):
    problems = [(singular(m), str(e)) for m in entries(zh) for e in m.check(zh)]
    assert not problems, problems


# --- the pages ------------------------------------------------------------------------


@pytest.fixture
def compiled_catalog(zh) -> None:
    """The pages read the .mo: it must hold what the .po says (not an older compile)."""
    stale = f"{ZH_MO} is missing or out of date: run `make translations`"
    if not ZH_MO.exists():
        pytest.fail(stale)
    with ZH_MO.open("rb") as f:
        compiled = {key(m): translations(m) for m in entries(read_mo(f))}
    if compiled != {key(m): translations(m) for m in entries(zh)}:
        pytest.fail(stale)


PAGES = {
    "zh_Hans_CN": {
        "/": ["欢迎，", "最近的筛查活动", "花名册"],
        "/roster/": ["花名册", "学籍号", "身份证号", "添加学生"],
    },
    "en": {
        "/": ["Welcome, ", "Recent screening sessions", "Roster"],
        "/roster/": ["Roster", "Student number", "Resident ID number", "Add pupil"],
    },
}


@pytest.mark.usefixtures("compiled_catalog")
@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_a_nurse_sees_the_pages_in_their_language(client, factories, login_as, locale):
    school_class = factories.SchoolClassFactory()
    factories.StudentFactory(school_class=school_class, name="王小明")
    login_as(factories.NurseFactory(school=school_class.school, locale=locale))
    other = "en" if locale == "zh_Hans_CN" else "zh_Hans_CN"
    for path, expected in PAGES[locale].items():
        # The header asks for the other language: the user's own setting wins.
        accept = "en" if locale == "zh_Hans_CN" else "zh-CN"
        response = client.get(path, headers={"Accept-Language": accept})
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        for text in expected:
            assert text in html, f"{text!r} not on {path} in {locale}"
        for text in PAGES[other][path][1:]:
            assert text not in html, f"{text!r} on {path} in {locale}"
    assert "王小明" in html  # the roster page lists the pupil
