"""Render the README's sample letters: one page in Chinese, one in English, as PNGs.

    .venv/bin/python scripts/render_letter_samples.py        # writes docs/img/letter-*.png

A made-up pupil with two findings goes through the application's own letter code (the
rules' evaluation, the shipped wording, the PDF layout with the embedded font); poppler's
``pdftoppm`` turns the first page of each PDF into a PNG (installed with apt when
missing). The PDFs are written to a temporary directory only: PDFs are never committed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schoolhealth import rules  # noqa: E402
from schoolhealth.letters import content, pdf, texts  # noqa: E402

FONT = os.environ.get("LETTER_FONT_PATH", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
OUT = ROOT / "docs" / "img"


def ensure_pdftoppm() -> str:
    found = shutil.which("pdftoppm")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "poppler-utils"],
        check=True,
        env=env,
    )
    return shutil.which("pdftoppm") or "pdftoppm"


def sample(language: str) -> bytes:
    """A girl of 9 who is overweight and has a suspected scoliosis (ATR 7°)."""
    measurements = rules.Measurements(
        height_cm=Decimal("134.0"),
        weight_kg=Decimal("37.5"),
        ucva_right=Decimal("5.0"),
        ucva_left=Decimal("5.0"),
        adams="positive",
        atr_thoracic=Decimal("7"),
    )
    birth, screened = date(2017, 3, 9), date(2026, 10, 12)
    evaluation = rules.evaluate(rules.Sex.FEMALE, birth, screened, measurements)
    findings = [
        content.FindingFacts(f.code, f.category, f.advice_key, f.screening_type.value, f.refer)
        for f in evaluation.findings
        if f.is_abnormal
    ]
    facts = content.PupilFacts(
        name="李思雨" if language == "zh" else "Li Siyu",
        grade=3,
        class_name="2",
        student_number="G110101201703",
        masked_id="1101**********0025",
        sex="F",
        birth_date=birth,
        school_name="示范区实验小学" if language == "zh" else "Demo District Primary School",
        session_name="2026 秋季 学生体检" if language == "zh" else "2026 autumn screening",
        screening_date=screened,
    )
    letter = content.build_content(
        facts,
        findings,
        texts.wording(language),
        language=language,
        measurements=measurements,
        evaluation=evaluation,
        code="K7QX4MNP8R2T",
        url="https://schoolhealth.example.cn/l/K7QX4MNP8R2T",
        expires=date(2027, 1, 10),
    )
    return pdf.render_one(letter, author="SchoolHealth")


def main() -> None:
    pdf.register_font(FONT, 0)
    pdftoppm = ensure_pdftoppm()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for language in ("zh", "en"):
            source = Path(tmp) / f"letter-{language}.pdf"
            source.write_bytes(sample(language))
            target = OUT / f"letter-{language}"
            subprocess.run(
                [
                    pdftoppm,
                    "-png",
                    "-r",
                    "60",
                    "-f",
                    "1",
                    "-l",
                    "1",
                    "-singlefile",
                    str(source),
                    str(target),
                ],
                check=True,
            )
            print(f"{target}.png")


if __name__ == "__main__":
    main()
