"""Reminder letters (复查提醒): one A4 page per pupil with a return slip.

Drawn with the parent letters' embedded font and line breaker (letters/pdf.py), so a
reminder prints exactly like the letter it follows up. The wording goes through
Flask-Babel in the guardian's language (``force_locale``), like every other text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ..letters import pdf as letter_pdf
from ..letters.pdf import FONT_NAME, GREY, MARGIN, PAGE_H, PAGE_W, TEXT_W, text_width, wrap

LOCALES = {"zh": "zh_Hans_CN", "en": "en"}


@dataclass(frozen=True)
class Reminder:
    """What one reminder says: the pupil, the school, the referrals still open."""

    language: str
    school: str
    pupil: str
    class_grade: int | None
    class_name: str
    student_number: str
    screened_on: date
    case_types: Sequence[str]  # CASE_TYPE_LABELS keys
    letter_sent_on: date | None
    today: date


def _lines(reminder: Reminder) -> dict[str, object]:
    from ..labels import class_label
    from .services import CASE_TYPE_LABELS

    zh = reminder.language == "zh"
    cls = class_label(reminder.class_grade, reminder.class_name) if reminder.class_grade else ""
    sep = "、" if zh else ", "
    kinds = sep.join(str(CASE_TYPE_LABELS[t]) for t in reminder.case_types)
    return {
        "title": _("Reminder: follow-up of the school health screening"),
        "greeting": _("To the guardian of %(name)s, %(cls)s:", name=reminder.pupil, cls=cls),
        "body": _(
            "The school health screening of %(date)s found signs that need a doctor's "
            "examination: %(kinds)s. We have not yet received the result of that examination.",
            date=reminder.screened_on.isoformat(),
            kinds=kinds,
        ),
        "sent": _(
            "Our letter of %(date)s asked you to take your child to a hospital.",
            date=reminder.letter_sent_on.isoformat(),
        )
        if reminder.letter_sent_on
        else "",
        "ask": _(
            "Please take your child to a qualified hospital (ophthalmology, orthopaedics or "
            "stomatology as appropriate) and return the slip below, with the hospital's result, "
            "to the class teacher or the school nurse."
        ),
        "sign": _(
            "%(school)s, school health office, %(date)s",
            school=reminder.school,
            date=reminder.today.isoformat(),
        ),
        "cut": _("Cut here and return to the school"),
        "slip_title": _("Follow-up return slip"),
        "slip_ids": [
            (_("Pupil"), reminder.pupil),
            (_("Class"), cls),
            (_("Student number"), reminder.student_number),
        ],
        "slip_lines": [
            _("Examined for: %(kinds)s", kinds=kinds),
            _("Hospital:"),
            _("Date of examination:"),
            _("Diagnosis (Cobb angle / cycloplegic refraction / treatment):"),
            _("Guardian's signature:"),
        ],
    }


def _draw(c: canvas.Canvas, reminder: Reminder) -> None:
    with force_locale(LOCALES.get(reminder.language, "zh_Hans_CN")):
        text = _lines(reminder)
    y = PAGE_H - MARGIN
    title = str(text["title"])
    letter_pdf._text(c, (PAGE_W - text_width(title, 15)) / 2, y - 10, title, 15, bold=True)
    y -= 48
    for key, size in (("greeting", 10.5), ("body", 10.5), ("sent", 10.5), ("ask", 10.5)):
        value = str(text[key])
        if not value:
            continue
        indent = 0.0 if key == "greeting" else (21.0 if reminder.language == "zh" else 0.0)
        for i, line in enumerate(wrap(value, size, TEXT_W, first_indent=indent)):
            c.setFont(FONT_NAME, size)
            c.drawString(MARGIN + (indent if i == 0 else 0), y, line)
            y -= size * 1.6
        y -= 6
    sign = str(text["sign"])
    c.setFont(FONT_NAME, 10)
    c.drawString(PAGE_W - MARGIN - text_width(sign, 10), y - 10, sign)

    top = 250.0
    c.setDash(4, 3)
    c.setStrokeColorRGB(*GREY)
    c.setLineWidth(0.6)
    c.line(10, top, PAGE_W - 10, top)
    c.setDash()
    c.setFillColorRGB(*GREY)
    letter_pdf._text(c, MARGIN, top + 3, str(text["cut"]), 7)
    c.setFillColorRGB(0, 0, 0)
    slip_title = str(text["slip_title"])
    y = top - 20
    letter_pdf._text(c, (PAGE_W - text_width(slip_title, 12)) / 2, y, slip_title, 12, bold=True)
    y -= 22
    x = MARGIN
    for label, value in text["slip_ids"]:  # type: ignore[union-attr]
        piece = f"{label}：{value}" if reminder.language == "zh" else f"{label}: {value}"
        c.setFont(FONT_NAME, 9.5)
        c.drawString(x, y, piece)
        x += text_width(piece, 9.5) + 18
    c.setStrokeColorRGB(0.3, 0.3, 0.3)
    c.setLineWidth(0.4)
    for line in text["slip_lines"]:  # type: ignore[union-attr]
        y -= 30
        line = str(line)
        c.setFont(FONT_NAME, 9.5)
        c.drawString(MARGIN, y, line)
        end = MARGIN + text_width(line, 9.5) + 4
        if end < MARGIN + TEXT_W - 20:
            c.line(end, y - 2, MARGIN + TEXT_W, y - 2)


def render(reminders: Sequence[Reminder], *, title: str, author: str) -> bytes:
    """One PDF, one page per reminder; same data, same bytes (``invariant``)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(title)
    c.setAuthor(author)
    c.setCreator("SchoolHealth")
    for reminder in reminders:
        _draw(c, reminder)
        c.showPage()
    if not reminders:
        c.showPage()
    c.save()
    return buf.getvalue()
