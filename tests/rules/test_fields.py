"""The field catalogue is the one description of every measurement."""

from __future__ import annotations

import dataclasses

from schoolhealth.rules import Measurements, fields, types
from schoolhealth.rules.tables import plausible_ranges

from .test_contract import table_rows


def test_the_catalogue_names_every_measurement_of_the_rules_in_file_order():
    names = [f.name for f in dataclasses.fields(Measurements) if f.name != "absent"]
    assert [f.name for f in fields.FIELDS] == names
    assert list(types.MEASUREMENT_FIELDS) == names


def test_choice_codes_are_the_contracts_codes_and_typed_keys_are_unique():
    assert fields.BY_NAME["glasses"].codes == types.GLASSES_CODES
    assert fields.BY_NAME["adams"].codes == types.ADAMS_CODES
    assert fields.BY_NAME["sagittal"].codes == types.SAGITTAL_CODES
    assert fields.BY_NAME["prone_test"].codes == types.PRONE_TEST_CODES
    assert fields.BY_NAME["motion_test"].codes == types.MOTION_TEST_CODES
    for spec in fields.FIELDS:
        if spec.kind == fields.CHOICE:
            keys = [c.key for c in spec.choices]
            assert len(keys) == len(set(keys)), spec.name
            assert all(len(k) == 1 for k in keys), spec.name


def test_every_range_is_a_plausible_range_of_the_rule_set():
    specs = plausible_ranges()
    for spec in fields.FIELDS:
        if spec.kind in (fields.NUMBER, fields.ACUITY, fields.COUNT):
            assert spec.range in specs, spec.name


def test_the_chinese_headers_are_those_of_the_results_format():
    """docs/formats/results.md: en header | 中文表头 columns, per section."""
    chinese = {}
    for section in ("Growth (身高体重)", "Vision (视力)", "Spine (脊柱)", "Dental (口腔)"):
        for cells in table_rows("results.md", section):
            names = [n.strip() for n in cells[0].split(",")]
            words = [w.strip() for w in cells[2].split(",")]
            chinese.update(zip(names, words, strict=False))
    for spec in fields.FIELDS:
        assert spec.chinese == chinese[spec.name], spec.name
