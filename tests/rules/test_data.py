"""The package's data copies equal tests/reference/, and the tables are self-consistent."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from importlib import resources

import pytest

from schoolhealth.rules import RULESET_VERSION, tables
from schoolhealth.rules.tables import read_data_text

from .helpers import REFERENCE, shared_rows

CSV_FILES = sorted(p.name for p in REFERENCE.glob("*.csv"))


def test_every_shared_table_is_shipped():
    assert len(CSV_FILES) == 7
    sources = read_data_text("SOURCES.md")
    for name in CSV_FILES:
        assert name in sources


@pytest.mark.parametrize("name", CSV_FILES)
def test_package_copy_equals_shared_table(name):
    shared = (REFERENCE / name).read_text(encoding="utf-8")
    assert read_data_text(name) == shared


def test_loaded_wst586_equals_shared_values():
    loaded = {(r.sex, r.age_years): (r.overweight_bmi, r.obesity_bmi) for r in tables.wst586_rows()}
    expected = {
        (r["sex"], Decimal(r["age_years"])): (
            Decimal(r["overweight_bmi"]),
            Decimal(r["obesity_bmi"]),
        )
        for r in shared_rows("wst586_bmi_cutoffs.csv")
    }
    assert loaded == expected
    assert len(loaded) == 50


def test_loaded_wst456_equals_shared_values():
    stunting = {(r.sex, r.age_years): r.height_max_cm for r in tables.stunting_rows()}
    assert stunting == {
        (r["sex"], Decimal(r["age_years"])): Decimal(r["stunting_height_cm_max"])
        for r in shared_rows("wst456_stunting_height_cutoffs.csv")
    }
    thin = {
        (r.sex, r.age_years): (r.moderate_severe_max, r.mild_min, r.mild_max)
        for r in tables.thinness_rows()
    }
    assert thin == {
        (r["sex"], Decimal(r["age_years"])): (
            Decimal(r["moderate_severe_thinness_bmi_max"]),
            Decimal(r["mild_thinness_bmi_min"]),
            Decimal(r["mild_thinness_bmi_max"]),
        )
        for r in shared_rows("wst456_thinness_bmi_cutoffs.csv")
    }
    assert len(stunting) == len(thin) == 48


def test_wst586_columns_rise_with_age_and_overweight_below_obesity():
    for sex in ("M", "F"):
        rows = [r for r in tables.wst586_rows() if r.sex == sex]
        assert [r.age_years for r in rows] == [Decimal(x) / 2 for x in range(12, 37)]
        for a, b in zip(rows, rows[1:], strict=False):
            assert a.overweight_bmi <= b.overweight_bmi
            assert a.obesity_bmi <= b.obesity_bmi
        assert all(r.overweight_bmi < r.obesity_bmi for r in rows)


def test_thinness_mild_band_starts_one_tenth_above_moderate_severe_and_is_below_overweight():
    overweight = {(r.sex, r.age_years): r.overweight_bmi for r in tables.wst586_rows()}
    for r in tables.thinness_rows():
        assert r.mild_min == r.moderate_severe_max + Decimal("0.1")
        assert r.mild_min <= r.mild_max < overweight[r.sex, r.age_years]


def test_disputed_girls_13_5_mild_max_is_the_adopted_value():
    row = next(r for r in tables.thinness_rows() if r.sex == "F" and r.age_years == Decimal("13.5"))
    assert row.mild_max == Decimal("15.6")  # README §2.4: 15.6 adopted over 15.3


def test_girls_13_0_overweight_row_is_not_the_sql_copy_error():
    row = next(r for r in tables.wst586_rows() if r.sex == "F" and r.age_years == 13)
    assert (row.overweight_bmi, row.obesity_bmi) == (Decimal("22.2"), Decimal("25.0"))


def test_who_and_cdc_tables_are_complete():
    who = tables.who2007_rows()
    for sex in ("M", "F"):
        months = [int(r.age_months) for r in who if r.sex == sex]
        assert months == list(range(61, 229))
    cdc = tables.cdc2000_rows()
    for sex in ("M", "F"):
        agemos = [r.age_months for r in cdc if r.sex == sex]
        half = [Decimal(m) + Decimal("0.5") for m in range(24, 240)]
        assert agemos == [Decimal(24), *half, Decimal(240), Decimal("240.5")]


def test_ruleset_version():
    assert RULESET_VERSION == "cn-2026.2"
    assert tables.constants()["ruleset_version"] == RULESET_VERSION


def recorded_fingerprints() -> tuple[str, dict[str, str]]:
    """(rule-set version named, {file label: sha256}) from SOURCES.md."""
    text = read_data_text("SOURCES.md")
    match = re.search(r"SHA-256 of the copies at rule set (\S+?),.*?```\n(.*?)```", text, re.S)
    assert match, "SOURCES.md lists no SHA-256 block"
    lines = [line.split(None, 1) for line in match.group(2).splitlines() if line.strip()]
    return match.group(1), {label: digest for digest, label in lines}


def test_data_fingerprints_are_those_recorded_for_this_rule_set_version():
    """A cutoff or constant changed without updating SOURCES.md (and the version) fails."""
    version, recorded = recorded_fingerprints()
    assert version == RULESET_VERSION
    data = resources.files(tables.DATA_PACKAGE).joinpath("data")
    shipped = sorted(p.name for p in data.iterdir() if p.name.endswith(".csv"))
    assert sorted(k for k in recorded if k.endswith(".csv")) == shipped == CSV_FILES
    for name in shipped:
        digest = hashlib.sha256(data.joinpath(name).read_bytes()).hexdigest()
        assert recorded[name] == digest, f"{name} changed: new ruleset_version and SOURCES.md"
    values = json.dumps(tables.constants(), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(values.encode("utf-8")).hexdigest()
    assert recorded["rules.toml (values)"] == digest, "rules.toml values changed: new version"
