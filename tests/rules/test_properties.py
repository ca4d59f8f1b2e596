"""Property tests: plausible input never raises, classifications are monotone, every
finding names its standard, the fast path equals evaluate(), and both equal the oracle."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from schoolhealth.rules import (
    EVALUATION_COLUMNS,
    GROWTH_REFERENCES,
    MEASUREMENT_FIELDS,
    Measurements,
    RuleConfig,
    ScreeningType,
    Sex,
    classify_row,
    compile_rules,
    evaluate,
    fast_row,
    parse_measurements,
    row_columns,
)
from schoolhealth.rules.dental import position

from .helpers import (
    oracle_bmi,
    oracle_months,
    oracle_myopia,
    oracle_stunting,
    oracle_thinness,
    oracle_vision_grade,
    oracle_weight_status,
)

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decimals(low: str, high: str, places: int):
    scale = 10**places
    return st.integers(int(Decimal(low) * scale), int(Decimal(high) * scale)).map(
        lambda n: Decimal(n).scaleb(-places)
    )


ucva = decimals("3.0", "5.3", 1)
atr = decimals("0", "30", 1)
teeth_pool = sorted(
    [q * 10 + t for q in (1, 2, 3, 4) for t in range(1, 9)]
    + [q * 10 + t for q in (5, 6, 7, 8) for t in range(1, 6)]
)


@st.composite
def dentitions(draw):
    """Disjoint decayed / filled / missing lists, one tooth per position, sealed present."""
    chosen = draw(st.lists(st.sampled_from(teeth_pool), unique=True, max_size=10))
    used: dict[tuple[int, int], int] = {}
    teeth = []
    for t in chosen:
        if position(t) not in used:
            used[position(t)] = t
            teeth.append(t)
    status = draw(
        st.lists(st.sampled_from(["d", "f", "m", "s"]), min_size=len(teeth), max_size=len(teeth))
    )
    lists = {k: tuple(t for t, s in zip(teeth, status, strict=True) if s == k) for k in "dfms"}
    form = draw(st.sampled_from(["codes", "counts", "none"]))
    if form == "none":
        return {}
    if form == "counts":
        return {
            "dmft": draw(st.integers(0, 20)),
            "DMFT": draw(st.integers(0, 32)),
            "sealed_teeth": lists["s"] or None,
        }
    return {
        "caries_teeth": lists["d"],
        "filled_teeth": lists["f"] or None,
        "missing_teeth": lists["m"] or None,
        "sealed_teeth": lists["s"] or None,
    }


@st.composite
def measurements(draw):
    values: dict = {}
    if draw(st.booleans()):
        values["height_cm"] = draw(st.one_of(st.none(), decimals("80.0", "220.0", 1)))
        values["weight_kg"] = draw(st.one_of(st.none(), decimals("10.0", "200.0", 2)))
    if draw(st.booleans()):
        values["glasses"] = draw(st.sampled_from([None, "none", "frame", "contact", "ortho_k"]))
        for eye in ("right", "left"):
            values[f"ucva_{eye}"] = draw(st.one_of(st.none(), ucva))
            how = draw(st.sampled_from(["se", "sphcyl", "sph", "none"]))
            if how == "se":
                values[f"se_{eye}"] = draw(decimals("-35", "35", 2))
            elif how == "sphcyl":
                values[f"sph_{eye}"] = draw(decimals("-30", "30", 2))
                values[f"cyl_{eye}"] = draw(decimals("-10", "10", 2))
            elif how == "sph":
                values[f"sph_{eye}"] = draw(decimals("-30", "30", 2))
    if draw(st.booleans()):
        values["spine_general"] = draw(st.sampled_from([None, "normal", "abnormal"]))
        values["adams"] = draw(st.sampled_from([None, "negative", "positive"]))
        for seg in ("thoracic", "thoracolumbar", "lumbar"):
            values[f"atr_{seg}"] = draw(st.one_of(st.none(), atr))
        values["sagittal"] = draw(
            st.sampled_from([None, "normal", "kyphosis", "lordosis", "straight_back"])
        )
        values["prone_test"] = draw(st.sampled_from([None, "resolved", "persists"]))
        values["motion_test"] = draw(st.sampled_from([None, "resolved", "persists"]))
    values.update(draw(dentitions()))
    return Measurements(**values)


configs = st.builds(
    RuleConfig,
    growth_reference=st.sampled_from(GROWTH_REFERENCES),
    atr_positive_degrees=st.sampled_from([Decimal(5), Decimal(7), Decimal("5.5")]),
    myopia_se_operator=st.sampled_from(["<=", "<"]),
    adult_bmi=st.booleans(),
)
births = st.dates(min_value=date(2002, 1, 1), max_value=date(2021, 12, 28)).filter(
    lambda d: d.day <= 28
)
sexes = st.sampled_from([Sex.MALE, Sex.FEMALE])


# The standard each finding may name (its screening type; BMI findings: the chosen reference).
STANDARDS = {
    ScreeningType.GROWTH: {
        "WS/T 586-2018",
        "WS/T 456-2014",
        "WS/T 428-2013",
        "WHO Growth Reference 2007",
        "CDC 2000 Growth Charts",
    },
    ScreeningType.VISION: {"NHC 2019 儿童青少年近视防控适宜技术指南"},
    ScreeningType.SPINE: {"GB/T 16133-2014"},
    ScreeningType.DENTAL: {
        "WHO Oral Health Surveys 5th ed. (2013)",
        "Pit-and-fissure sealant programme (中西部儿童口腔疾病综合干预项目)",
    },
}
GROWTH_STANDARDS = {
    "wst586": {"WS/T 586-2018", "WS/T 456-2014", "WS/T 428-2013"},
    "who2007": {"WHO Growth Reference 2007"},
    "cdc2000": {"CDC 2000 Growth Charts"},
}


def screening_day(birth: date, days: int) -> date:
    return birth + timedelta(days=days)


@PROPS
@given(sex=sexes, birth=births, days=st.integers(760, 9000), m=measurements(), config=configs)
def test_plausible_input_never_raises_and_findings_name_their_standard(sex, birth, days, m, config):
    ev = evaluate(sex, birth, screening_day(birth, days), m, config)
    cols = ev.to_evaluation_columns()
    assert list(cols) == list(EVALUATION_COLUMNS)
    for f in ev.findings:
        assert f.standard in STANDARDS[f.screening_type], f
        if f.code in ("weight_status", "thinness"):
            assert f.standard in GROWTH_STANDARDS[config.growth_reference], f
        assert f.clause
        assert f.advice_key
        assert f.advice_key.split(".")[0] == f.screening_type.value
        assert 0 <= f.severity <= 3
        assert not (f.refer and not f.is_abnormal)
    # a type without measurements is not screened: blank, never "normal"
    screened = m.screened_types()
    blank_if_unscreened = {
        ScreeningType.GROWTH: ("bmi", "weight_status", "thinness", "stunting"),
        ScreeningType.VISION: ("vision_right", "vision_left", "myopia_right", "myopia_left"),
        ScreeningType.SPINE: ("spine", "atr_max"),
        ScreeningType.DENTAL: ("caries", "dmft", "DMFT", "sealant_advice"),
    }
    for screening_type, columns in blank_if_unscreened.items():
        if screening_type not in screened:
            assert all(cols[c] == "" for c in columns)
            assert screening_type.value not in cols["refer"]


def text(value: Decimal) -> str:
    return format(value, "f")


CHART_DECIMALS = ["0.1", "0.12", "0.15", "0.2", "0.25", "0.3", "0.4", "0.5", "0.6", "0.8"]
CHART_DECIMALS += ["1.0", "1.2", "1.5", "2.0", "0.05", "0.01"]


@st.composite
def result_rows(draw):
    """A results.md row as typed: plausible values in any accepted spelling, blanks allowed."""
    row: dict[str, str] = {}

    def maybe(field: str, strategy) -> None:
        if draw(st.booleans()):
            row[field] = draw(strategy)

    maybe("height_cm", decimals("80.0", "220.0", 1).map(text))
    maybe("weight_kg", decimals("10.0", "200.0", 1).map(lambda d: text(d) + " kg"))
    acuity = st.one_of(ucva.map(text), st.sampled_from(CHART_DECIMALS))
    for eye in ("right", "left"):
        maybe(f"ucva_{eye}", acuity)
        maybe(f"cva_{eye}", acuity)
        if draw(st.booleans()):
            row[f"sph_{eye}"] = text(draw(decimals("-30", "30", 2)))
            row[f"cyl_{eye}"] = text(draw(decimals("-10", "10", 2)))
        else:
            maybe(f"se_{eye}", decimals("-35", "35", 2).map(text))
    glasses = ["不戴镜", "框架眼镜", "隐形眼镜", "角膜塑形镜", "OK镜", "none"]
    maybe("glasses", st.sampled_from(glasses))
    maybe("spine_general", st.sampled_from(["正常", "异常", "normal", "abnormal"]))
    maybe("adams", st.sampled_from(["阴性", "阳性", "negative", "positive"]))
    degrees = st.tuples(atr, st.sampled_from(["", "°", "度"])).map(lambda t: text(t[0]) + t[1])
    for seg in ("thoracic", "thoracolumbar", "lumbar"):
        maybe(f"atr_{seg}", degrees)
    maybe("sagittal", st.sampled_from(["正常", "后凸", "前凸", "直背", "kyphosis"]))
    maybe("prone_test", st.sampled_from(["消失", "未消失", "resolved", "persists"]))
    maybe("motion_test", st.sampled_from(["消失", "未消失", "resolved", "persists"]))
    teeth = draw(dentitions())
    for field in ("caries_teeth", "filled_teeth", "missing_teeth", "sealed_teeth"):
        if field in teeth:
            row[field] = "、".join(map(str, teeth[field] or ())) or "无"
    for field in ("dmft", "DMFT"):
        if field in teeth:
            row[field] = str(teeth[field])
    return row


@PROPS
@given(sex=sexes, birth=births, days=st.integers(760, 9000), raw=result_rows(), config=configs)
def test_plausible_typed_values_parse_without_error_and_evaluate(sex, birth, days, raw, config):
    m, errors = parse_measurements(raw)
    assert errors == []
    assert set(m.present()) == set(raw)  # nothing typed is dropped
    cols = evaluate(sex, birth, screening_day(birth, days), m, config).to_evaluation_columns()
    assert list(cols) == list(EVALUATION_COLUMNS)


@PROPS
@given(sex=sexes, birth=births, days=st.integers(760, 9000), m=measurements(), config=configs)
def test_fast_path_equals_evaluate(sex, birth, days, m, config):
    """evaluate() classifies with classify_row, then builds findings; the columns the
    findings give must be the columns the codes give (nothing lost or relabelled)."""
    ev = evaluate(sex, birth, screening_day(birth, days), m, config)
    codes = classify_row(compile_rules(config), fast_row(sex, ev.age_months, m))
    fast = row_columns(codes)
    cols = ev.to_evaluation_columns()
    assert {k: cols[k] for k in fast} == fast


@PROPS
@given(sex=sexes, birth=births, days=st.integers(2200, 7000), m=measurements())
def test_default_rules_agree_with_the_independent_oracle(sex, birth, days, m):
    on = screening_day(birth, days)
    cols = evaluate(sex, birth, on, m).to_evaluation_columns()
    months = oracle_months(birth, on)
    if m.height_cm is not None and m.weight_kg is not None:
        bmi = oracle_bmi(m.height_cm, m.weight_kg)
        assert cols["bmi"] == str(bmi)
        assert cols["weight_status"] == (oracle_weight_status(sex.value, months, bmi) or "")
        assert cols["thinness"] == (oracle_thinness(sex.value, months, bmi) or "")
    if m.height_cm is not None:
        assert cols["stunting"] == (oracle_stunting(sex.value, months, m.height_cm) or "")
    for eye in ("right", "left"):
        value = getattr(m, f"ucva_{eye}")
        if value is None or months < 72 or m.glasses == "ortho_k":
            assert cols[f"vision_{eye}"] == ""
            continue
        se = getattr(m, f"se_{eye}")
        sph, cyl = getattr(m, f"sph_{eye}"), getattr(m, f"cyl_{eye}")
        if se is None and sph is not None and cyl is not None:
            se = sph + cyl / 2
        assert cols[f"vision_{eye}"] == oracle_vision_grade(value)
        assert cols[f"myopia_{eye}"] == oracle_myopia(value, se)


RANK = {
    "weight_status": {"normal": 0, "overweight": 1, "obese": 2},
    "thinness": {"moderate_severe": 0, "mild": 1, "none": 2},
    "stunting": {"yes": 0, "no": 1},
    "vision_right": {"severe": 0, "moderate": 1, "mild": 2, "normal": 3},
    "myopia_right": {"yes": 0, "no": 1},
    "spine": {"normal": 0, "suspected_scoliosis": 1},
}


def column(sex, birth, on, m, name, config=None):
    return evaluate(sex, birth, on, m, config or RuleConfig()).to_evaluation_columns()[name]


@PROPS
@given(
    sex=sexes,
    birth=births,
    days=st.integers(2200, 7000),
    height=decimals("100.0", "190.0", 1),
    w1=decimals("15.0", "120.0", 2),
    w2=decimals("15.0", "120.0", 2),
    reference=st.sampled_from(GROWTH_REFERENCES),
)
def test_weight_status_rises_and_thinness_falls_with_weight(
    sex, birth, days, height, w1, w2, reference
):
    low, high = sorted((w1, w2))
    on = screening_day(birth, days)
    config = RuleConfig(growth_reference=reference)
    a = evaluate(sex, birth, on, Measurements(height_cm=height, weight_kg=low), config)
    b = evaluate(sex, birth, on, Measurements(height_cm=height, weight_kg=high), config)
    ca, cb = a.to_evaluation_columns(), b.to_evaluation_columns()
    for name in ("weight_status", "thinness"):
        if ca[name] and cb[name]:
            assert RANK[name][ca[name]] <= RANK[name][cb[name]], (name, ca[name], cb[name])


@PROPS
@given(
    sex=sexes,
    birth=births,
    days=st.integers(2200, 6500),
    h1=decimals("80.0", "220.0", 1),
    h2=decimals("80.0", "220.0", 1),
)
def test_stunting_is_monotone_in_height(sex, birth, days, h1, h2):
    low, high = sorted((h1, h2))
    on = screening_day(birth, days)
    a = column(sex, birth, on, Measurements(height_cm=low), "stunting")
    b = column(sex, birth, on, Measurements(height_cm=high), "stunting")
    assert RANK["stunting"][a] <= RANK["stunting"][b]


@PROPS
@given(u1=ucva, u2=ucva, se=st.one_of(st.none(), decimals("-10", "5", 2)))
def test_vision_grade_and_myopia_monotone_in_acuity(u1, u2, se):
    low, high = sorted((u1, u2))
    birth, on = date(2012, 5, 5), date(2024, 5, 5)
    a = evaluate(Sex.MALE, birth, on, Measurements(ucva_right=low, se_right=se))
    b = evaluate(Sex.MALE, birth, on, Measurements(ucva_right=high, se_right=se))
    ca, cb = a.to_evaluation_columns(), b.to_evaluation_columns()
    assert RANK["vision_right"][ca["vision_right"]] <= RANK["vision_right"][cb["vision_right"]]
    if ca["myopia_right"] != "unknown" and cb["myopia_right"] != "unknown":
        assert RANK["myopia_right"][ca["myopia_right"]] <= RANK["myopia_right"][cb["myopia_right"]]


@PROPS
@given(
    u=ucva,
    s1=decimals("-35", "35", 2),
    s2=decimals("-35", "35", 2),
    op=st.sampled_from(["<=", "<"]),
)
def test_myopia_monotone_in_spherical_equivalent(u, s1, s2, op):
    low, high = sorted((s1, s2))
    birth, on = date(2012, 5, 5), date(2024, 5, 5)
    config = RuleConfig(myopia_se_operator=op)
    a = column(
        Sex.MALE, birth, on, Measurements(ucva_right=u, se_right=low), "myopia_right", config
    )
    b = column(
        Sex.MALE, birth, on, Measurements(ucva_right=u, se_right=high), "myopia_right", config
    )
    assert RANK["myopia_right"][a] <= RANK["myopia_right"][b]


@PROPS
@given(a1=atr, a2=atr, threshold=st.sampled_from([Decimal(5), Decimal(7), Decimal(10)]))
def test_suspected_scoliosis_monotone_in_atr(a1, a2, threshold):
    low, high = sorted((a1, a2))
    birth, on = date(2012, 5, 5), date(2024, 5, 5)
    config = RuleConfig(atr_positive_degrees=threshold)
    a = column(Sex.FEMALE, birth, on, Measurements(atr_lumbar=low), "spine", config)
    b = column(Sex.FEMALE, birth, on, Measurements(atr_lumbar=high), "spine", config)
    assert RANK["spine"][a] <= RANK["spine"][b]
    assert (a == "suspected_scoliosis") is (low >= threshold)


@PROPS
@given(
    sex=sexes,
    birth=births,
    days=st.integers(760, 9000),
    m=measurements(),
    keep=st.sets(st.sampled_from(list(ScreeningType))),
)
def test_types_argument_limits_evaluation(sex, birth, days, m, keep):
    assume(m.present())
    ev = evaluate(sex, birth, screening_day(birth, days), m, types=keep)
    assert ev.screened <= keep
    assert {f.screening_type for f in ev.findings} <= keep
    dropped = {name: None for name, t in MEASUREMENT_FIELDS.items() if t not in keep}
    same = evaluate(sex, birth, screening_day(birth, days), replace(m, **dropped))
    assert ev.to_evaluation_columns() == same.to_evaluation_columns()
