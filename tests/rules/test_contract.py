"""The rules core speaks exactly the vocabulary of docs/formats/ (the public contracts).

evaluation.md and results.md are parsed here, so a column, an order or a code that
drifts from the contract fails a test instead of reaching an institution's spreadsheet.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from schoolhealth.rules import EVALUATION_COLUMNS, MEASUREMENT_FIELDS, types

FORMATS = Path(__file__).resolve().parents[2] / "docs" / "formats"


def table_rows(name: str, section: str | None = None) -> list[list[str]]:
    """Body rows of the markdown tables of ``name`` (optionally under one ``## section``)."""
    text = (FORMATS / name).read_text(encoding="utf-8")
    if section is not None:
        text = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(cells)
    # drop header rows (their first cell is the word "column" or "field")
    return [r for r in rows if r[0] not in ("column", "field")]


def names(cell: str) -> list[str]:
    return [n.strip() for n in cell.split(",")]


@cache
def evaluation_contract() -> dict[str, str]:
    """evaluation.md: column -> values cell, in the contract's order."""
    out: dict[str, str] = {}
    for cells in table_rows("evaluation.md"):
        for column in names(cells[0]):
            out[column] = cells[1]
    return out


def codes(values_cell: str) -> tuple[str, ...] | None:
    """``normal / overweight / obese`` -> the codes; None for a non-code column."""
    if re.fullmatch(r"[A-Za-z_]+( / [A-Za-z_]+)+", values_cell):
        return tuple(v.strip() for v in values_cell.split("/"))
    return None


def test_evaluation_columns_are_the_contract_columns_in_order():
    assert list(EVALUATION_COLUMNS) == list(evaluation_contract())
    assert EVALUATION_COLUMNS[-1] == "errors"


def test_every_code_column_uses_exactly_the_contract_codes():
    ours = {
        "sex": tuple(s.value for s in types.Sex),
        "weight_status": types.WEIGHT_STATUS_CODES,
        "thinness": types.THINNESS_CODES,
        "stunting": types.STUNTING_CODES,
        "vision_right": types.VISION_CODES,
        "vision_left": types.VISION_CODES,
        "myopia_right": types.MYOPIA_CODES,
        "myopia_left": types.MYOPIA_CODES,
        "spine": types.SPINE_CODES,
        "caries": types.CARIES_CODES,
    }
    contract = {
        column: codes(values)
        for column, values in evaluation_contract().items()
        if codes(values) is not None
    }
    assert set(contract) == set(ours)
    assert list(types.CATEGORY_COLUMNS) == [c for c in contract if c != "sex"]
    for column, expected in contract.items():
        assert set(ours[column]) == set(expected), column
    # the statuses that are not contract codes never reach a column as text
    for column in contract:
        assert types.NOT_APPLICABLE not in contract[column]
        assert types.NOT_EVALUABLE not in contract[column]


def test_refer_words_and_order_are_the_contract_ones():
    cell = evaluation_contract()["refer"]
    words = cell.split(":", 1)[1].split()
    assert [t.value for t in types.REFER_ORDER] == words


def test_measurement_fields_are_the_results_md_fields():
    fields = []
    for section in ("Growth (身高体重)", "Vision (视力)", "Spine (脊柱)", "Dental (口腔)"):
        for cells in table_rows("results.md", section):
            fields += names(cells[0])
    assert fields == list(MEASUREMENT_FIELDS)


def test_choice_codes_are_the_results_md_codes():
    values = {}
    for section in ("Vision (视力)", "Spine (脊柱)"):
        for cells in table_rows("results.md", section):
            for field in names(cells[0]):
                values[field] = cells[3]

    def english(cell: str) -> tuple[str, ...]:
        # "none/不戴镜, frame/框架眼镜, ..." -> ("none", "frame", ...)
        return tuple(part.split("/")[0].strip() for part in cell.split(",") if "/" in part)

    assert english(values["glasses"]) == types.GLASSES_CODES
    assert english(values["spine_general"]) == types.SPINE_GENERAL_CODES
    assert english(values["adams"]) == types.ADAMS_CODES
    assert english(values["sagittal"]) == types.SAGITTAL_CODES
    assert english(values["prone_test"].split(":", 1)[1]) == types.PRONE_TEST_CODES
