"""``flask rules evaluate`` output against docs/formats/evaluation.md, on many rows.

A deterministic file of 400 varied pupils (valid values in English and Chinese, and some
rejected ones) goes through the command; every output cell must be one the contract
allows: the columns and their order, the codes, the number formats, the refer words in
their order, and an ``errors`` text for every row with a rejected value.
"""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import date, timedelta
from pathlib import Path

from schoolhealth import create_app
from schoolhealth.rules import EVALUATION_COLUMNS, RULESET_VERSION
from tests.rules.test_contract import codes, evaluation_contract

HEADERS = [
    "学籍号",
    "sex",
    "出生日期",
    "screening_date",
    "height_cm",
    "体重",
    "ucva_right",
    "左眼裸眼视力",
    "glasses",
    "sph_right",
    "cyl_right",
    "se_left",
    "spine_general",
    "adams",
    "atr_thoracic",
    "atr_thoracolumbar",
    "腰段ATR",
    "sagittal",
    "prone_test",
    "caries_teeth",
    "filled_teeth",
    "sealed_teeth",
    "dmft",
    "DMFT",
]
BAD = {  # column -> rejected value (results.md ranges)
    "height_cm": "300",
    "体重": "-5",
    "ucva_right": "6.1",
    "左眼裸眼视力": "2.5",
    "atr_thoracic": "45",
    "caries_teeth": "19",
    "screening_date": "2001-01-01",
    "sex": "X",
}


def pupil(rng: random.Random, n: int) -> list[str]:
    def blank_or(value: str) -> str:
        return value if rng.random() < 0.75 else ""

    birth = date(2008, 1, 1) + timedelta(days=rng.randrange(0, 365 * 13))
    on = birth + timedelta(days=rng.randrange(365 * 5, 365 * 19))
    row = {
        "学籍号": f"S{n:04d}",
        "sex": rng.choice(["M", "F", "男", "女"]),
        "出生日期": birth.isoformat(),
        "screening_date": on.isoformat(),
        "height_cm": blank_or(f"{rng.uniform(95, 190):.1f}"),
        "体重": blank_or(f"{rng.uniform(14, 95):.1f}"),
        "ucva_right": blank_or(rng.choice(["5.0", "4.9", "4.6", "4.0", "3.2", "0.8", "1.2"])),
        "左眼裸眼视力": blank_or(f"{rng.randrange(30, 54) / 10:.1f}"),
        "glasses": blank_or(rng.choice(["none", "框架眼镜", "contact", "ortho_k"])),
        "sph_right": "",
        "cyl_right": "",
        "se_left": blank_or(f"{rng.randrange(-24, 9) / 4:.2f}"),
        "spine_general": blank_or(rng.choice(["normal", "异常"])),
        "adams": blank_or(rng.choice(["阴性", "positive"])),
        "atr_thoracic": blank_or(f"{rng.randrange(0, 120) / 10:.1f}"),
        "atr_thoracolumbar": blank_or(str(rng.randrange(0, 9))),
        "腰段ATR": "",
        "sagittal": blank_or(rng.choice(["normal", "kyphosis", "前凸", "直背"])),
        "prone_test": blank_or(rng.choice(["resolved", "未消失"])),
        "caries_teeth": blank_or(rng.choice(["无", "16", "55 64", "36、46"])),
        "filled_teeth": blank_or(rng.choice(["", "26", "75"])),
        "sealed_teeth": blank_or(rng.choice(["", "17", "37 47"])),
        "dmft": "",
        "DMFT": "",
    }
    if rng.random() < 0.5:
        sph, cyl = rng.randrange(-16, 9) / 4, -rng.randrange(0, 9) / 4
        row["sph_right"], row["cyl_right"] = f"{sph:.2f}", f"{cyl:.2f}"
    if rng.random() < 0.1:  # counts instead of tooth codes
        row["caries_teeth"] = row["filled_teeth"] = ""
        row["dmft"], row["DMFT"] = str(rng.randrange(0, 5)), str(rng.randrange(0, 3))
    if rng.random() < 0.15:
        column = rng.choice(sorted(BAD))
        row[column] = BAD[column]
    return [row[h] for h in HEADERS]


FORMATS = {
    "age_years": re.compile(r"\d{1,2}\.\d\d"),
    "age_band": re.compile(r"\d{1,2}\.[05]"),
    "bmi": re.compile(r"\d{1,3}\.\d"),
    "atr_max": re.compile(r"\d{1,2}\.\d"),
    "dmft": re.compile(r"\d{1,2}"),
    "DMFT": re.compile(r"\d{1,2}"),
    "sealant_advice": re.compile(r"[1-4][1-8]( [1-4][1-8])*"),
}


def test_every_output_cell_is_one_the_contract_allows(tmp_path: Path):
    rng = random.Random(20261123)
    rows = [pupil(rng, n) for n in range(400)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADERS, *rows])
    src = tmp_path / "results.csv"
    src.write_text(buffer.getvalue(), encoding="utf-8")
    out = tmp_path / "evaluated.csv"

    result = (
        create_app("testing")
        .test_cli_runner()
        .invoke(args=["rules", "evaluate", str(src), str(out)])
    )
    assert result.exit_code == 0, result.output

    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))
    contract = evaluation_contract()
    assert lines[0] == HEADERS + list(contract)  # input columns first, then the contract's
    assert len(lines) == len(rows) + 1  # no row lost, none stopped the run
    refer_words = contract["refer"].split(":", 1)[1].split()
    seen: dict[str, set[str]] = {c: set() for c in contract}
    for line, typed in zip(lines[1:], rows, strict=True):
        assert line[: len(HEADERS)] == typed  # inputs kept as typed
        cells = dict(zip(EVALUATION_COLUMNS, line[len(HEADERS) :], strict=True))
        for column, value in cells.items():
            seen[column].add(value)
            if not value:
                continue
            allowed = codes(contract[column])
            if allowed is not None:
                assert value in allowed, (column, value)
            elif column in FORMATS:
                assert FORMATS[column].fullmatch(value), (column, value)
        words = cells["refer"].split()
        assert words == [w for w in refer_words if w in words], cells["refer"]
        assert cells["rule_set"] == RULESET_VERSION
        if any(typed[HEADERS.index(c)] == v for c, v in BAD.items()):
            assert cells["errors"].startswith("row "), typed
        if cells["sex"] == "":  # a row-level rejection leaves every result blank
            results = [c for c in EVALUATION_COLUMNS if c not in ("rule_set", "errors")]
            assert all(cells[c] == "" for c in results)
            assert cells["errors"]
    # the file exercised every code of every code column
    for column, values in contract.items():
        allowed = codes(values)
        if allowed is not None and column != "stunting":
            assert set(allowed) <= seen[column], (column, set(allowed) - seen[column])
