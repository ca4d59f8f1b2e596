"""Parent letters per second, one core and all cores, against raw ReportLab.

    .venv/bin/python bench/letters.py                  # 68,000 flagged pupils (the city's 68,137)
    .venv/bin/python bench/letters.py --letters 4000   # a quick run

Generates flagged pupils with a fixed seed (ages 6-17, heights, weights, acuity,
refraction, scoliometer readings, decayed teeth; only pupils with at least one finding
are kept), and renders their letters through the application's own code: the rules'
evaluation (for the cut-offs), ``letters.content.build_content`` with the shipped wording
in each guardian's language (one in ten English), and ``letters.pdf.render`` into class
PDFs of 40 letters with the embedded CJK TrueType subset, exactly as a class batch.

The raw baseline, measured in the same run on the same machine, draws a comparable
letter with ReportLab's canvas directly: for each pupil, the drawing calls of a sample
letter of the same size (as many findings paragraphs, same language), recorded once from
the application's layout and replayed as plain canvas calls with the pupil's name; each
pupil's own QR code from ReportLab's encoder; the same embedded font; 40 letters per PDF.
So the ratio is the cost of everything the application adds to raw drawing: evaluating,
choosing the wording, breaking lines, laying out. On one core the two paths alternate
class by class, so a change in the machine's load hits both alike. The last line is
``ratio N.NN``: one-core letters/s of the application over the raw baseline's. All cores:
the same class PDFs spread over a process pool (one worker per core), as a school or city
batch would be.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reportlab.graphics.barcode import qrencoder  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

from schoolhealth import rules  # noqa: E402
from schoolhealth.letters import content as letter_content  # noqa: E402
from schoolhealth.letters import pdf, texts  # noqa: E402

FONT = os.environ.get("LETTER_FONT_PATH", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
CLASS_SIZE = 40
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "子涵欣怡梓轩浩宇一诺雨桐俊杰思远佳怡明轩嘉怡晨曦雅琪"
SCREENING_DAY = date(2026, 10, 12)
WORDS = {lang: texts.wording(lang) for lang in ("zh", "en")}


def generate(n: int, seed: int) -> list[tuple]:
    """``n`` flagged pupils: (sex, birth date, measurements, name, grade, class, language)."""
    rng = random.Random(seed)
    out: list[tuple] = []
    while len(out) < n:
        sex = rules.Sex.MALE if rng.random() < 0.5 else rules.Sex.FEMALE
        months = rng.randrange(74, 210)
        birth = SCREENING_DAY - timedelta(days=int(months * 30.44))
        years = months / 12
        height = Decimal(str(round(75 + 5.8 * years + rng.gauss(0, 6), 1)))
        bmi = max(12.0, rng.gauss(15.0 + 0.45 * years, 3.2))
        weight = Decimal(str(round(bmi * (float(height) / 100) ** 2, 1)))
        reduced = rng.random() < 0.35
        ucva_r = Decimal(str(rng.choice((4.5, 4.7, 4.8, 4.9)) if reduced else 5.0))
        ucva_l = Decimal(str(rng.choice((4.6, 4.8, 4.9, 5.0)) if reduced else 5.1))
        se = Decimal(str(rng.choice((-0.25, -0.75, -1.5, -2.75)))) if reduced else None
        atr = Decimal(rng.choice((2, 3, 4, 5, 7))) if rng.random() < 0.2 else Decimal(2)
        caries = (55, 64) if rng.random() < 0.1 else ()
        m = rules.Measurements(
            height_cm=height,
            weight_kg=weight,
            ucva_right=ucva_r,
            ucva_left=ucva_l,
            sph_right=se,
            sph_left=se,
            cyl_right=Decimal(0) if se is not None else None,
            cyl_left=Decimal(0) if se is not None else None,
            adams="positive" if atr >= 5 else "negative",
            atr_thoracic=atr,
            caries_teeth=caries,
            filled_teeth=(),
            missing_teeth=(),
        )
        evaluation = rules.evaluate(sex, birth, SCREENING_DAY, m)
        if not evaluation.is_flagged:
            continue
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        grade = min(9, max(1, int(years) - 5))
        language = "en" if rng.random() < 0.1 else "zh"
        out.append((sex, birth, m, name, grade, str(1 + len(out) // 400 % 12), language))
    return out


def build(pupil: tuple, index: int) -> letter_content.LetterContent:
    """The application's path for one pupil: evaluate, then the letter's content."""
    sex, birth, m, name, grade, class_name, language = pupil
    evaluation = rules.evaluate(sex, birth, SCREENING_DAY, m)
    findings = [
        letter_content.FindingFacts(
            f.code, f.category, f.advice_key, f.screening_type.value, f.refer
        )
        for f in evaluation.findings
        if f.is_abnormal
    ]
    code = f"B{index:011d}"[-12:]
    facts = letter_content.PupilFacts(
        name=name,
        grade=grade,
        class_name=class_name,
        student_number=f"L{index:010d}",
        masked_id="1101**********0028",
        sex=sex.value,
        birth_date=birth,
        school_name="示范区第一小学",
        session_name="2026 秋季 学生体检",
        screening_date=SCREENING_DAY,
    )
    return letter_content.build_content(
        facts,
        findings,
        WORDS[language],
        language=language,
        measurements=m,
        evaluation=evaluation,
        code=code,
        url=f"https://schoolhealth.example.cn/l/{code}",
        expires=SCREENING_DAY + timedelta(days=90),
    )


def app_chunk(args: tuple[list[tuple], int]) -> int:
    """Render one class PDF of letters through the application's code; returns bytes."""
    pupils, start = args
    pdf.register_font(FONT, 0)
    contents = [build(p, start + i) for i, p in enumerate(pupils)]
    data = pdf.render(contents, title="bench", author="SchoolHealth")
    return len(data)


# --- the raw baseline


class _Recorder:
    """Stands in for a canvas while the application lays out one typical letter, and
    writes down every drawing call (text, lines, rectangles, colours, fonts) as it goes."""

    def __init__(self, real: canvas.Canvas) -> None:
        self.real = real
        self.ops: list[tuple] = []

    def __getattr__(self, name: str):
        method = getattr(self.real, name)

        def call(*args, **kwargs):
            self.ops.append((name, args, kwargs))
            return method(*args, **kwargs)

        return call


def _key(content: letter_content.LetterContent) -> tuple[int, str]:
    return (len(content.items), content.language)


def record(content: letter_content.LetterContent) -> list[tuple]:
    """The drawing calls of one letter, recorded from the application's layout."""
    recorder = _Recorder(canvas.Canvas(io.BytesIO(), pagesize=A4))
    real_text, real_qr = pdf._text, pdf.draw_qr

    def text(c, x, y, string, size, bold=False):
        recorder.ops.append(("_text", (x, y, string, size, bold), {}))
        real_text(recorder.real, x, y, string, size, bold)

    def qr(c, data, x, y, size):
        recorder.ops.append(("_qr", (x, y, size), {}))

    pdf._text, pdf.draw_qr = text, qr
    try:
        pdf.draw_letter(recorder, content)
    finally:
        pdf._text, pdf.draw_qr = real_text, real_qr
    return recorder.ops


def sample_ops(pupils: list[tuple]) -> tuple[dict[tuple[int, str], tuple[list, str]], list]:
    """For each size of letter (number of findings paragraphs, language), the recorded
    calls of one sample letter of that size; and each pupil's size. Untimed."""
    pdf.register_font(FONT, 0)
    samples: dict[tuple[int, str], tuple[list, str]] = {}
    keys = []
    for index, pupil in enumerate(pupils):
        content = build(pupil, index)
        key = _key(content)
        keys.append(key)
        if key not in samples:
            samples[key] = (record(content), pupil[3])
    return samples, keys


def raw_chunk(args: tuple[list[tuple], list[tuple[list, str]]]) -> int:
    """One class PDF of comparable letters drawn with raw canvas calls: the recorded
    letter's calls replayed with each pupil's name, and each pupil's own QR code (drawn
    the way the application draws it: fixed mask, dark runs as one path)."""
    pupils, samples = args
    font = pdf.register_font(FONT, 0)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    for i, (pupil, (ops, sample_name)) in enumerate(zip(pupils, samples, strict=True)):
        name = pupil[3]
        for op, a, kw in ops:
            if op == "_text":
                x, y, text, size, bold = a
                text = text.replace(sample_name, name)
                c.setFont(font, size)
                if bold:
                    c.setLineWidth(size / 30)
                    t = c.beginText(x, y)
                    t.setTextRenderMode(2)
                    t.setFont(font, size)
                    t.textOut(text)
                    t.setTextRenderMode(0)
                    c.drawText(t)
                else:
                    c.drawString(x, y, text)
            elif op == "_qr":
                x, y, size = a
                qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
                qr.addData(f"https://schoolhealth.example.cn/l/B{i:011d}")
                qr.version = qr.calculate_version()
                qr.makeImpl(False, pdf.QR_MASK)
                n = qr.getModuleCount()
                module = size / (n + 4)
                path = c.beginPath()
                for r in range(n):
                    row_y = y + size - (r + 3) * module
                    col = 0
                    while col < n:
                        if qr.isDark(r, col):
                            start = col
                            while col < n and qr.isDark(r, col):
                                col += 1
                            path.rect(
                                x + (start + 2) * module, row_y, (col - start) * module, module
                            )
                        else:
                            col += 1
                c.drawPath(path, stroke=0, fill=1)
            elif op == "drawString":
                c.drawString(a[0], a[1], a[2].replace(sample_name, name))
            else:
                getattr(c, op)(*a, **kw)
    c.save()
    return len(buf.getvalue())


def chunks(pupils: list[tuple]) -> list[tuple[list[tuple], int]]:
    return [(pupils[i : i + CLASS_SIZE], i) for i in range(0, len(pupils), CLASS_SIZE)]


def timed(fn, items, processes: int | None = None) -> float:
    start = time.perf_counter()
    if processes is None:
        for item in items:
            fn(item)
    else:
        with Pool(processes) as pool:
            pool.map(fn, items, chunksize=1)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=68_000, help="flagged pupils (68,000)")
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    started = time.perf_counter()
    pupils = generate(args.letters, args.seed)
    print(f"generated {len(pupils):,} flagged pupils in {time.perf_counter() - started:.1f} s")
    pdf.register_font(FONT, 0)
    items = chunks(pupils)
    samples, keys = sample_ops(pupils)
    raw_items = [
        (group, [samples[k] for k in keys[start : start + len(group)]]) for group, start in items
    ]
    # Warm up both paths (font parsing, caches) on one class each.
    app_chunk(items[0])
    raw_chunk(raw_items[0])
    # One core: the two paths alternate class by class, so both see the same machine
    # (other processes' load changes during a run; in sequence it would favour one).
    raw_one = app_one = 0.0
    for app_item, raw_item in zip(items, raw_items, strict=True):
        raw_one += timed(raw_chunk, [raw_item])
        app_one += timed(app_chunk, [app_item])
    app_all = timed(app_chunk, items, processes=cores)
    raw_all = timed(raw_chunk, raw_items, processes=cores)
    n = len(pupils)
    print(f"raw ReportLab, one core:   {n / raw_one:8.1f} letters/s ({raw_one:.1f} s)")
    print(f"application, one core:     {n / app_one:8.1f} letters/s ({app_one:.1f} s)")
    print(f"raw ReportLab, {cores} cores:   {n / raw_all:8.1f} letters/s ({raw_all:.1f} s)")
    print(f"application, {cores} cores:     {n / app_all:8.1f} letters/s ({app_all:.1f} s)")
    print(f"all cores / one core:      {app_one / app_all:8.2f}")
    print(f"ratio {raw_one / app_one:.2f}")


if __name__ == "__main__":
    main()
