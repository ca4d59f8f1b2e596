"""The field catalogue: every measurement of a screening, described once.

What the system knows about a measurement (its screening type, kind of value, unit and
plausible range, the codes of a choice with their Chinese words and the key a nurse types
for each, the headers a results file may use, which rule reads it) lives here and nowhere
else. The validators, the results-file reader, the grid, the record, the flags export and
the demo data derive their lists from :data:`FIELDS`; the presentation layer
(schoolhealth/screening/fields.py) adds only translated labels.

Pure Python: no Flask, no database (tests/rules/test_purity.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ScreeningType(StrEnum):
    """The four screenings; the values are also the ``refer`` words of evaluation.md."""

    GROWTH = "growth"
    VISION = "vision"
    SPINE = "spine"
    DENTAL = "dental"

    def __str__(self) -> str:
        return self.value


NUMBER = "number"  # a decimal in a unit, checked against a plausible range
ACUITY = "acuity"  # visual acuity: 5-point (4.8) or decimal (0.6) notation
CHOICE = "choice"  # one of a few codes
TEETH = "teeth"  # a list of FDI tooth codes
COUNT = "count"  # a whole number (dmft / DMFT)


@dataclass(frozen=True)
class Choice:
    """One code of a choice field: results.md code, the Chinese word, other accepted
    spellings, and the single key a nurse types for it in the class grid."""

    code: str
    chinese: str
    key: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldSpec:
    """One measurement as docs/formats/results.md describes it."""

    name: str
    screening_type: ScreeningType
    kind: str
    chinese: str  # the Chinese header of results.md
    unit: str = ""
    range: str | None = None  # plausible-range spec in rules.toml [plausible]
    choices: tuple[Choice, ...] = ()
    aliases: tuple[str, ...] = ()  # other accepted headers
    rule: str = ""  # the rules module that reads it
    eye: str | None = None  # "right" / "left" for per-eye fields

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.choices)

    @property
    def shown(self) -> str:
        """The choices as a message lists them: "negative/阴性, positive/阳性"."""
        return ", ".join(f"{c.code}/{c.chinese}" for c in self.choices)

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.chinese, *self.aliases)


_G, _V, _S, _D = (
    ScreeningType.GROWTH,
    ScreeningType.VISION,
    ScreeningType.SPINE,
    ScreeningType.DENTAL,
)
_PERSISTS = Choice("persists", "未消失", "1", ("persist", "不消失", "存在"))


def _acuity(name: str, chinese: str, eye: str) -> FieldSpec:
    return FieldSpec(name, _V, ACUITY, chinese, range="visual_acuity", rule="vision", eye=eye)


def _refraction(name: str, chinese: str, spec: str, eye: str) -> FieldSpec:
    return FieldSpec(name, _V, NUMBER, chinese, "D", spec, rule="vision", eye=eye)


def _atr(name: str, chinese: str) -> FieldSpec:
    return FieldSpec(name, _S, NUMBER, chinese, "°", "atr", rule="spine")


def _teeth(name: str, chinese: str) -> FieldSpec:
    return FieldSpec(name, _D, TEETH, chinese, rule="dental")


# In docs/formats/results.md order (tests/rules/test_contract.py checks it).
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("height_cm", _G, NUMBER, "身高", "cm", "height_cm", rule="bmi"),
    FieldSpec("weight_kg", _G, NUMBER, "体重", "kg", "weight_kg", rule="bmi"),
    _acuity("ucva_right", "右眼裸眼视力", "right"),
    _acuity("ucva_left", "左眼裸眼视力", "left"),
    _acuity("cva_right", "右眼戴镜视力", "right"),
    _acuity("cva_left", "左眼戴镜视力", "left"),
    FieldSpec(
        "glasses",
        _V,
        CHOICE,
        "戴镜类型",
        choices=(
            Choice("none", "不戴镜", "0", ("未戴镜", "无", "no")),
            Choice("frame", "框架眼镜", "1", ("框架镜", "框架")),
            Choice("contact", "隐形眼镜", "2", ("隐形", "contactlens", "contactlenses")),
            Choice(
                "ortho_k", "角膜塑形镜", "3", ("orthok", "ok", "ok镜", "角膜塑形镜ok镜", "塑形镜")
            ),
        ),
        rule="vision",
    ),
    _refraction("sph_right", "右眼球镜", "sph", "right"),
    _refraction("cyl_right", "右眼柱镜", "cyl", "right"),
    _refraction("sph_left", "左眼球镜", "sph", "left"),
    _refraction("cyl_left", "左眼柱镜", "cyl", "left"),
    _refraction("se_right", "右眼等效球镜", "se", "right"),
    _refraction("se_left", "左眼等效球镜", "se", "left"),
    FieldSpec(
        "spine_general",
        _S,
        CHOICE,
        "一般检查",
        choices=(
            Choice("normal", "正常", "0", ("无异常",)),
            Choice("abnormal", "异常", "1", ("有异常",)),
        ),
        rule="spine",
    ),
    FieldSpec(
        "adams",
        _S,
        CHOICE,
        "前屈试验",
        choices=(
            Choice("negative", "阴性", "-", ("neg", "-")),
            Choice("positive", "阳性", "+", ("pos", "+")),
        ),
        rule="spine",
    ),
    _atr("atr_thoracic", "胸段ATR"),
    _atr("atr_thoracolumbar", "胸腰段ATR"),
    _atr("atr_lumbar", "腰段ATR"),
    FieldSpec(
        "sagittal",
        _S,
        CHOICE,
        "前后弯曲",
        choices=(
            Choice("normal", "正常", "0", ("无前后弯曲异常",)),
            Choice("kyphosis", "后凸", "1", ("后凸体征", "后凸异常")),
            Choice("lordosis", "前凸", "2", ("前凸体征", "前凸异常")),
            Choice("straight_back", "直背", "3", ("straightback", "平背")),
        ),
        rule="spine",
    ),
    FieldSpec(
        "prone_test",
        _S,
        CHOICE,
        "俯卧试验",
        choices=(
            Choice("resolved", "消失", "0", ("体征消失", "前后凸体征消失")),
            _PERSISTS,
        ),
        rule="spine",
    ),
    FieldSpec(
        "motion_test",
        _S,
        CHOICE,
        "脊柱运动试验",
        choices=(
            Choice("resolved", "消失", "0", ("体征消失", "不对称消失")),
            _PERSISTS,
        ),
        aliases=("运动试验",),
        rule="spine",
    ),
    _teeth("caries_teeth", "龋齿牙位"),
    _teeth("filled_teeth", "充填牙位"),
    _teeth("missing_teeth", "龋失牙位"),
    _teeth("sealed_teeth", "窝沟封闭牙位"),
    FieldSpec("dmft", _D, COUNT, "乳牙龋失补", range="dmft", rule="dental"),
    FieldSpec("DMFT", _D, COUNT, "恒牙龋失补", range="DMFT", rule="dental"),
)

BY_NAME: dict[str, FieldSpec] = {f.name: f for f in FIELDS}

# results.md field -> screening type, in file order
MEASUREMENT_FIELDS: dict[str, ScreeningType] = {f.name: f.screening_type for f in FIELDS}
# results.md field -> plausible-range spec name in rules.toml [plausible]
RANGE_OF_FIELD: dict[str, str] = {f.name: f.range for f in FIELDS if f.range}
# choice field -> its codes
CHOICE_FIELDS: dict[str, tuple[str, ...]] = {f.name: f.codes for f in FIELDS if f.kind == CHOICE}
TOOTH_LIST_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == TEETH)


def choice_words(spec: FieldSpec) -> dict[str, str]:
    """Accepted spelling (lower case) -> code: the code, its Chinese word, its synonyms."""
    words: dict[str, str] = {}
    for choice in spec.choices:
        for word in (choice.code, choice.chinese, *choice.synonyms):
            words[word.lower()] = choice.code
    return words


def header_aliases() -> dict[str, list[str]]:
    """Canonical measurement field -> the other headers a results file may use.

    dmft and DMFT differ only by case; the reader matches those two case-sensitively.
    """
    return {f.name: list(f.headers) for f in FIELDS if f.kind != COUNT}
