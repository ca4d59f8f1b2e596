"""Laying out letters on A4 with ReportLab's canvas, in one embedded CJK TrueType font.

Why the canvas and a small line breaker of our own rather than platypus: a city prints
tens of thousands of letters, and a letter is a fixed form (a fold panel, a few
paragraphs, a table, a slip); measuring each character once per font size is what makes
the layout cost close to ReportLab's raw drawing (bench/letters.py measures the ratio).

Privacy by layout: the top third of the first page carries only "for the guardian of
<name>", with fold marks at the thirds; folded (Z-fold) nothing else shows. The return
slip sits at the bottom of the last page, below a cut line.

Same data, same bytes: ``invariant=1`` fixes the creation date and the document ID, the
font subset names come from a per-document counter, and nothing reads the clock.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from reportlab.graphics.barcode import qrencoder
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from .content import LetterContent

FONT_NAME = "SchoolHealthLetter"
PAGE_W, PAGE_H = A4
MARGIN = 48.0
BOTTOM = 28.0
TEXT_W = PAGE_W - 2 * MARGIN
GREY = (0.45, 0.45, 0.45)
QR_MASK = 2

_lock = threading.Lock()
_registered: tuple[str, int] | None = None


class LetterFontMissing(RuntimeError):
    """The configured font file is not there: letters cannot be printed without it."""


def register_font(path: str, index: int = 0) -> str:
    """Register the letter font once per process (TrueType, or a face of a .ttc).

    Raises :class:`LetterFontMissing` with what to do, instead of ReportLab's bare error.
    """
    global _registered
    with _lock:
        if _registered == (path, index):
            return FONT_NAME
        if not os.path.isfile(path):
            raise LetterFontMissing(
                f"The letter font {path} is missing. Run scripts/install-fonts.sh (installs "
                "Debian's fonts-wqy-zenhei), or set LETTER_FONT_PATH to a TrueType CJK font."
            )
        try:
            font = TTFont(FONT_NAME, path, subfontIndex=index)
        except Exception as exc:  # ReportLab raises TTFError and friends
            raise LetterFontMissing(
                f"The letter font {path} (face {index}) cannot be embedded: {exc}. "
                "LETTER_FONT_PATH must name a TrueType (glyf) font, not an OpenType/CFF one."
            ) from exc
        pdfmetrics.registerFont(font)
        _widths.clear()
        _registered = (path, index)
        return FONT_NAME


# --- measuring and breaking lines

_widths: dict[str, float] = {}  # character -> width at 1 pt
_NO_LINE_START = set("，。、；：？！）》」』】〉”’,.;:?!)]}%°")
_NO_LINE_END = set("（《「『【〈“‘([{")


def _char_width(ch: str) -> float:
    width = _widths.get(ch)
    if width is None:
        width = pdfmetrics.stringWidth(ch, FONT_NAME, 1000) / 1000.0
        _widths[ch] = width
    return width


def text_width(text: str, size: float) -> float:
    widths = _widths
    total = 0.0
    for ch in text:
        w = widths.get(ch)
        total += w if w is not None else _char_width(ch)
    return total * size


def _tokens(text: str) -> list[str]:
    """Break opportunities: after each CJK character, and at spaces in Latin text."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ch == " ":
            out.append(word + " ")
            word = ""
        elif ord(ch) >= 0x2E80:
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        else:
            word += ch
    if word:
        out.append(word)
    # Keep closing punctuation with what precedes it, opening with what follows.
    merged: list[str] = []
    for tok in out:
        if merged and (tok[0] in _NO_LINE_START or merged[-1][-1] in _NO_LINE_END):
            merged[-1] += tok
        else:
            merged.append(tok)
    return merged


def wrap(text: str, size: float, width: float, first_indent: float = 0.0) -> list[str]:
    """Lines of ``text`` no wider than ``width`` at ``size`` (the first ``first_indent`` less)."""
    lines: list[str] = []
    line = ""
    used = 0.0
    limit = (width - first_indent) / size
    widths = _widths
    for tok in _tokens(text):
        w = 0.0
        for ch in tok:
            cw = widths.get(ch)
            w += cw if cw is not None else _char_width(ch)
        trimmed = w - (widths.get(" ", 0.0) if tok.endswith(" ") else 0.0)
        if line and used + trimmed > limit:
            lines.append(line.rstrip())
            line, used = "", 0.0
            limit = width / size
        line += tok
        used += w
    if line or not lines:
        lines.append(line.rstrip())
    return lines


# --- drawing


@dataclass
class _Cursor:
    c: canvas.Canvas
    content: LetterContent
    y: float = 0.0
    page: int = 1


def _text(c: canvas.Canvas, x: float, y: float, text: str, size: float, bold: bool = False):
    c.setFont(FONT_NAME, size)
    if bold:
        # Fill and stroke the glyphs: a bold face from the one embedded font.
        c.setLineWidth(size / 30)
        t = c.beginText(x, y)
        t.setTextRenderMode(2)
        t.setFont(FONT_NAME, size)
        t.textOut(text)
        t.setTextRenderMode(0)  # the mode outlives the text object in the PDF
        c.drawText(t)
    else:
        c.drawString(x, y, text)


def _paragraph(
    cur: _Cursor,
    text: str,
    size: float = 9.5,
    *,
    label: str = "",
    indent: float = 0.0,
    bold: bool = False,
) -> None:
    leading = size * 1.4
    if label and cur.content.language != "zh":
        label += " "
    label_w = text_width(label, size) if label else 0.0
    lines = wrap(text, size, TEXT_W - indent, first_indent=label_w)
    _need(cur, leading * min(len(lines), 2))
    c = cur.c
    for i, line in enumerate(lines):
        _need(cur, leading)
        cur.y -= leading
        x = MARGIN + indent
        if i == 0 and label:
            _text(c, x, cur.y, label, size, bold=True)
            x += label_w
        if bold:
            _text(c, x, cur.y, line, size, bold=True)
        else:
            c.setFont(FONT_NAME, size)
            c.drawString(x, cur.y, line)


def _need(cur: _Cursor, height: float) -> None:
    """Start a new page when ``height`` does not fit above the bottom margin."""
    if cur.y - height >= BOTTOM:
        return
    cur.c.showPage()
    cur.page += 1
    cur.y = PAGE_H - MARGIN
    gap = "" if cur.content.language == "zh" else " "
    _text(cur.c, MARGIN, cur.y, cur.content.school + gap + cur.content.continued, 9, bold=True)
    cur.y -= 10


def _fold_panel(c: canvas.Canvas, content: LetterContent) -> None:
    c.setStrokeColorRGB(*GREY)
    c.setLineWidth(0.5)
    for y in (PAGE_H * 2 / 3, PAGE_H / 3):
        c.line(0, y, 20, y)
        c.line(PAGE_W - 20, y, PAGE_W, y)
    c.setFillColorRGB(*GREY)
    _text(c, MARGIN, PAGE_H - 30, content.fold_hint, 7)
    c.setFillColorRGB(0, 0, 0)
    size = 16.0
    lines = wrap(content.outside, size, TEXT_W)
    y = PAGE_H - 150 + (len(lines) - 1) * size * 0.7
    for line in lines:
        _text(c, (PAGE_W - text_width(line, size)) / 2, y, line, size, bold=True)
        y -= size * 1.4


def _table(cur: _Cursor) -> None:
    content = cur.content
    if not content.rows:
        return
    c = cur.c
    size, row_h = 8.0, 12.0
    cols = (MARGIN, MARGIN + TEXT_W * 0.36, MARGIN + TEXT_W * 0.56, MARGIN + TEXT_W)
    _need(cur, 20 + row_h * (len(content.rows) + 1))
    cur.y -= 14
    _text(c, MARGIN, cur.y, content.table_title, 10, bold=True)
    cur.y -= 4
    top = cur.y
    rows = (content.table_header, *content.rows)
    c.setLineWidth(0.4)
    c.setStrokeColorRGB(0.3, 0.3, 0.3)
    for i, row in enumerate(rows):
        base = cur.y - row_h + 4
        if i == 0:
            c.setFillColorRGB(0.92, 0.92, 0.92)
            c.rect(MARGIN, cur.y - row_h, TEXT_W, row_h, stroke=0, fill=1)
            c.setFillColorRGB(0, 0, 0)
        for j, cell in enumerate(row):
            width = cols[j + 1] - cols[j] - 6
            text = cell
            while text and text_width(text, size) > width:
                text = text[:-1]
            c.setFont(FONT_NAME, size)
            c.drawString(cols[j] + 3, base, text)
        cur.y -= row_h
        c.line(MARGIN, cur.y, MARGIN + TEXT_W, cur.y)
    c.line(MARGIN, top, MARGIN + TEXT_W, top)
    for x in cols:
        c.line(x, top, x, cur.y)


def draw_qr(c: canvas.Canvas, data: str, x: float, y: float, size: float) -> None:
    """A QR code (ReportLab's own pure-Python encoder) as one filled path of module runs."""
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(data)
    # One fixed mask pattern (any of the eight is valid QR): scoring all eight, as make()
    # does, costs more than the rest of the letter.
    qr.version = qr.calculate_version()
    qr.makeImpl(False, QR_MASK)
    n = qr.getModuleCount()
    quiet = 2
    module = size / (n + 2 * quiet)
    path = c.beginPath()
    for r in range(n):
        row_y = y + size - (r + quiet + 1) * module
        col = 0
        while col < n:
            if qr.isDark(r, col):
                start = col
                while col < n and qr.isDark(r, col):
                    col += 1
                path.rect(x + (start + quiet) * module, row_y, (col - start) * module, module)
            else:
                col += 1
    c.drawPath(path, stroke=0, fill=1)


def _closing(cur: _Cursor) -> None:
    """Closing words, signature and the online note, with the QR code at their right."""
    content = cur.content
    qr_size = 62.0 if content.url else 0.0
    width = TEXT_W - (qr_size + 10 if qr_size else 0)
    size = 9.0
    lines = [(line, False) for line in wrap(content.closing, size, width)]
    lines.append((content.signature, True))
    lines += [(line, False) for line in wrap(content.online, 8.0, width)] if qr_size else []
    height = max(qr_size, 12.5 * len(lines)) + 8
    _need(cur, height)
    top = cur.y - 4
    y = top
    c = cur.c
    for text, is_signature in lines:
        y -= 12.5
        if is_signature:
            c.setFont(FONT_NAME, size)
            c.drawString(MARGIN + width - text_width(text, size), y, text)
        else:
            c.setFont(FONT_NAME, 8.0 if y < top - 12.5 * 2 and qr_size else size)
            c.drawString(MARGIN, y, text)
    if qr_size:
        draw_qr(c, content.url, MARGIN + TEXT_W - qr_size, top - qr_size, qr_size)
    cur.y = top - height + 4


SLIP_LINE = 14.5


def _slip_height(content: LetterContent) -> float:
    return 48 + SLIP_LINE * (len(content.slip_lines) + 2)


def _slip(cur: _Cursor) -> None:
    content = cur.content
    if not content.slip_title:
        return
    height = _slip_height(content)
    _need(cur, height + 6)
    c = cur.c
    top = BOTTOM + height
    c.setDash(4, 3)
    c.setStrokeColorRGB(*GREY)
    c.setLineWidth(0.6)
    c.line(10, top, PAGE_W - 10, top)
    c.setDash()
    c.setFillColorRGB(*GREY)
    _text(c, MARGIN, top + 3, content.slip_hint, 7)
    c.setFillColorRGB(0, 0, 0)
    y = top - 14
    title_w = text_width(content.slip_title, 11)
    _text(c, (PAGE_W - title_w) / 2, y, content.slip_title, 11, bold=True)
    y -= 14
    x = MARGIN
    size = 8.5
    for label, value in content.slip_ids:
        piece = f"{label}：{value}" if content.language == "zh" else f"{label}: {value}"
        c.setFont(FONT_NAME, size)
        c.drawString(x, y, piece)
        x += text_width(piece, size) + 14
    c.setStrokeColorRGB(0.3, 0.3, 0.3)
    c.setLineWidth(0.4)
    for line in content.slip_lines:
        y -= SLIP_LINE
        c.setFont(FONT_NAME, size)
        c.drawString(MARGIN, y, line)
        end = MARGIN + text_width(line, size) + 4
        if end < MARGIN + TEXT_W - 20:
            c.line(end, y - 2, MARGIN + TEXT_W, y - 2)
    footer = content.slip_footer
    for pair in (footer[:2], footer[2:]):
        y -= SLIP_LINE
        for k, label in enumerate(pair):
            x = MARGIN + k * TEXT_W / 2
            c.setFont(FONT_NAME, size)
            c.drawString(x, y, label)
            c.line(x + text_width(label, size) + 4, y - 2, x + TEXT_W / 2 - 16, y - 2)
    cur.y = BOTTOM


def draw_letter(c: canvas.Canvas, content: LetterContent) -> int:
    """Draw one letter from the top of a fresh page; returns the number of pages used."""
    cur = _Cursor(c, content)
    _fold_panel(c, content)
    cur.y = PAGE_H * 2 / 3 - 26
    w = text_width(content.school, 15)
    _text(c, (PAGE_W - w) / 2, cur.y, content.school, 15, bold=True)
    cur.y -= 17
    w = text_width(content.session_line, 10.5)
    _text(c, (PAGE_W - w) / 2, cur.y, content.session_line, 10.5)
    cur.y -= 17
    sep = "：" if content.language == "zh" else ": "
    x = MARGIN
    for label, value in content.facts:
        piece = f"{label}{sep}{value}"
        c.setFont(FONT_NAME, 9.5)
        c.drawString(x, cur.y, piece)
        x += text_width(piece, 9.5) + 18
    cur.y -= 8
    _paragraph(cur, content.salutation, 10)
    _paragraph(cur, content.intro, 9)
    _table(cur)
    if content.items:
        _need(cur, 40)
        cur.y -= 15
        _text(c, MARGIN, cur.y, content.findings_title, 10, bold=True)
        for item in content.items:
            _need(cur, 40)
            cur.y -= 2
            _paragraph(cur, item.title, 9.5, bold=True)
            _paragraph(cur, item.meaning, 8.5, label=content.meaning_label, indent=8)
            _paragraph(cur, item.steps, 8.5, label=content.steps_label, indent=8)
    _closing(cur)
    _slip(cur)
    c.showPage()
    return cur.page


def render(
    letters: Iterable[LetterContent],
    *,
    title: str,
    author: str,
    subject: str = "",
    duplex: bool = False,
) -> bytes:
    """One PDF with every letter starting on a new sheet (an odd page when ``duplex``)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(title)
    c.setAuthor(author)
    c.setSubject(subject)
    c.setCreator("SchoolHealth")
    pages = 0
    for content in letters:
        if duplex and pages % 2:
            c.showPage()  # a blank back, so the next letter starts on a front side
            pages += 1
        pages += draw_letter(c, content)
    if pages == 0:
        c.showPage()
    c.save()
    return buf.getvalue()


def render_one(content: LetterContent, *, author: str) -> bytes:
    return render(
        [content],
        title=f"{content.title} · {content.subject}",
        author=author,
        subject=content.subject,
    )
