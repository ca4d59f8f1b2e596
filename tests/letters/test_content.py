"""The letter's content read back from the PDF: name, findings, advice, in both languages."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from schoolhealth.letters import services, texts
from schoolhealth.models import Letter

from .conftest import pdf_text, squash


@pytest.mark.parametrize("language", ["zh", "en"])
def test_letter_names_the_pupil_each_finding_and_its_advice(screened, language):
    pupil = screened.flagged
    letter, data = services.single_letter(
        screened.world.session, pupil, language_mode=language, user=screened.world.nurse
    )
    words = texts.DEFAULTS[language]
    text = pdf_text(data)
    assert squash(pupil.name) in text
    for key in ("finding.weight_status.obese", "finding.myopia.yes", "finding.vision.moderate"):
        assert squash(words[key]) in text, key
    for key in ("growth.obese", "vision.screening_myopia", "vision.reduced"):
        assert squash(words[f"advice.{key}.meaning"]) in text, key
        assert squash(words[f"advice.{key}.steps"]) in text, key
    # The return slip: refraction per eye for vision, the doctor and hospital.
    assert squash(words["slip_vision"]) in text
    assert squash(words["slip_doctor"]) in text
    assert squash(words["slip_hospital"]) in text
    # The cut-off for the pupil's age and sex (WS/T 586, boys 9.0~: obesity >= 20.8).
    assert "20.8" in text
    assert letter.language == language
    assert {f["code"] for f in letter.findings} >= {"weight_status", "myopia_right"}
    assert letter.code in text.replace("-", "")


def test_the_letter_of_the_other_language_has_none_of_the_first(screened):
    _, zh = services.single_letter(
        screened.world.session, screened.flagged, language_mode="zh", user=None
    )
    _, en = services.single_letter(
        screened.world.session, screened.flagged, language_mode="en", user=None
    )
    assert squash(texts.DEFAULTS["en"]["advice.growth.obese.steps"]) not in pdf_text(zh)
    assert squash(texts.DEFAULTS["zh"]["advice.growth.obese.steps"]) not in pdf_text(en)


def test_guardian_language_decides_by_default(screened):
    pupil = screened.flagged
    pupil.guardian_language = "en"
    letter, data = services.single_letter(screened.world.session, pupil, user=None)
    assert letter.language == "en"
    assert squash(texts.DEFAULTS["en"]["findings_title"]) in pdf_text(data)


def test_weight_advice_does_not_blame(screened):
    """Health-promoting wording: no blame, no diets, no body-shape remarks as instructions."""
    _, data = services.single_letter(
        screened.world.session, screened.overweight, language_mode="en", user=None
    )
    assert squash(texts.DEFAULTS["en"]["advice.growth.overweight.steps"]) in pdf_text(data)
    words = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).lower()
    for word in ("fat", "lazy", "greedy", "diet plan"):
        assert not re.search(rf"\b{word}\b", words), word


def test_font_is_embedded_as_a_truetype_subset(screened):
    _, data = services.single_letter(
        screened.world.session, screened.flagged, language_mode="zh", user=None
    )
    reader = PdfReader(io.BytesIO(data))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    embedded = []
    for ref in fonts.values():
        font = ref.get_object()
        descriptor = font.get("/FontDescriptor")
        if descriptor is None:
            continue
        descriptor = descriptor.get_object()
        if "/FontFile2" in descriptor:
            embedded.append(str(font["/BaseFont"]))
    assert embedded, "no TrueType font program embedded"
    assert all(re.fullmatch(r"/[A-Z]{6}\+\S+", name) for name in embedded), embedded


def test_same_data_gives_the_same_bytes_with_title_and_author(screened):
    session, pupil = screened.world.session, screened.flagged
    _, first = services.single_letter(session, pupil, language_mode="zh", user=None)
    _, second = services.single_letter(session, pupil, language_mode="zh", user=None)
    assert first == second
    meta = PdfReader(io.BytesIO(first)).metadata
    assert pupil.name in meta.title
    assert meta.author == "SchoolHealth"


def test_folded_panel_shows_only_the_name(screened):
    """The top third of page 1 holds the address line and the fold hint, nothing else."""
    _, data = services.single_letter(
        screened.world.session, screened.flagged, language_mode="zh", user=None
    )
    page = PdfReader(io.BytesIO(data)).pages[0]
    top: list[str] = []

    def visit(text, cm, tm, font, size):
        if text.strip() and tm[5] > 842 * 2 / 3:
            top.append(text)

    page.extract_text(visitor_text=visit)
    panel = squash("".join(top))
    words = texts.DEFAULTS["zh"]
    assert panel == squash(words["fold_hint"] + words["outside"].format(name=screened.flagged.name))


def test_normal_pupil_gets_a_summary_letter_without_slip(screened):
    letter, data = services.single_letter(
        screened.world.session, screened.normal, language_mode="zh", user=None
    )
    text = pdf_text(data)
    assert letter.kind == "summary"
    assert squash(texts.DEFAULTS["zh"]["intro_summary"].split("。")[1]) in text
    assert squash(texts.DEFAULTS["zh"]["slip_title"]) not in text


def test_id_number_is_masked_on_the_slip(screened):
    pupil = screened.flagged
    pupil.id_number = "110101201705140011"
    _, data = services.single_letter(screened.world.session, pupil, language_mode="zh", user=None)
    text = pdf_text(data)
    assert "1101**********0011" in text
    assert "110101201705140011" not in text
    assert Letter.query.count() == 1
