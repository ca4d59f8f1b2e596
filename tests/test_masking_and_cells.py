"""The one masking function and the one spreadsheet-cell guard, on their own."""

from __future__ import annotations

import pytest

from schoolhealth.cells import formula_like, safe_cell
from schoolhealth.models import is_masked, mask_id_number, mask_ids

ID = "11010520170514003X"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (ID, "1101**********003X"),
        ("G" + ID, "G1101**********003X"),
        ("g" + ID.lower(), "g1101**********003x"),
        (f"pupil G{ID} changed", "pupil G1101**********003X changed"),
        (f"{ID},{ID}", "1101**********003X,1101**********003X"),
        ("L0000000001", "L0000000001"),  # not an ID: unchanged
        ("1" * 19, "1" * 19),  # 19 digits: a longer number, not an ID
        ("", ""),
        (None, ""),
    ],
)
def test_mask_ids_masks_every_id_alone_or_embedded(text, shown):
    assert mask_ids(text) == shown


def test_the_id_field_and_the_text_mask_agree_and_say_they_are_masked():
    assert mask_id_number(ID) == mask_ids(ID)
    assert is_masked(mask_ids("G" + ID))
    assert not is_masked("G" + ID)
    assert mask_id_number("123") == "***"


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://x")', "+1+2", "@SUM(A1:A2)", "-2+3", "\t=1", " =1", "＝1+1", "\r=1"],
)
def test_formula_text_is_written_as_text(value):
    assert formula_like(value)
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize(
    "value", ["-1.25", "+0.50", "-3", "张三", "Anne-Marie", "a=b", 5, -2.5, None]
)
def test_data_stays_as_it_is(value):
    assert safe_cell(value) == value
