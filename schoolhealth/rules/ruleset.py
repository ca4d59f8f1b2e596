"""The rule-set version, its named constants, and the per-session choices (RuleConfig).

A screening session stores ``RULESET_VERSION`` and ``RuleConfig.to_dict()`` when it
flags results, so a later change of standard or of a district's choice never silently
rewrites past results. The constants come from ``data/rules.toml``; each one there says
which clause of tests/reference/README.md it rests on and whether it is VERIFIED.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from functools import cache
from typing import Any

from .errors import InvalidMeasurement
from .tables import constants

_C = constants()

RULESET_VERSION: str = _C["ruleset_version"]

GROWTH_REFERENCES: tuple[str, ...] = tuple(_C["growth"]["references"])
GROWTH_REFERENCE_DEFAULT: str = _C["growth"]["default_reference"]

# Scoliometer ATR positive at >= this many degrees (README §4.3, UNVERIFIED; 7 = SOSORT).
ATR_POSITIVE_DEGREES_DEFAULT = Decimal(_C["spine"]["atr_positive_degrees"])
# 筛查性近视 SE threshold and its comparison operator (README §3.3; operator UNVERIFIED).
MYOPIA_SE_DIOPTRES_DEFAULT = Decimal(_C["vision"]["myopia_se_dioptres"])
MYOPIA_SE_OPERATOR_DEFAULT: str = _C["vision"]["myopia_se_operator"]
MYOPIA_SE_OPERATORS = ("<=", "<")
# Pit-and-fissure sealant programme age bands [from, until) in years (README §5.4, UNVERIFIED).
SEALANT_FIRST_MOLAR_AGES_DEFAULT = tuple(
    Decimal(v) for v in _C["dental"]["sealant_first_molar_age_years"]
)
SEALANT_SECOND_MOLAR_AGES_DEFAULT = tuple(
    Decimal(v) for v in _C["dental"]["sealant_second_molar_age_years"]
)


def _decimal(name: str, value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise InvalidMeasurement(name, value, "a number")
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise InvalidMeasurement(name, value, "a number") from exc


@dataclass(frozen=True)
class RuleConfig:
    """A district's or session's choices among the rule set's configurable rules.

    Defaults are the rule set's recommendations (rules.toml). Invalid choices raise
    :class:`InvalidMeasurement` naming the option and what is allowed.
    """

    growth_reference: str = GROWTH_REFERENCE_DEFAULT
    atr_positive_degrees: Decimal = ATR_POSITIVE_DEGREES_DEFAULT
    myopia_se_dioptres: Decimal = MYOPIA_SE_DIOPTRES_DEFAULT
    myopia_se_operator: str = MYOPIA_SE_OPERATOR_DEFAULT
    sealant_first_molar_ages: tuple[Decimal, Decimal] = field(
        default=SEALANT_FIRST_MOLAR_AGES_DEFAULT  # type: ignore[assignment]
    )
    sealant_second_molar_ages: tuple[Decimal, Decimal] = field(
        default=SEALANT_SECOND_MOLAR_AGES_DEFAULT  # type: ignore[assignment]
    )
    adult_bmi: bool = True

    def __post_init__(self) -> None:
        if self.growth_reference not in GROWTH_REFERENCES:
            raise InvalidMeasurement(
                "growth_reference", self.growth_reference, " / ".join(GROWTH_REFERENCES)
            )
        atr = _decimal("atr_positive_degrees", self.atr_positive_degrees)
        if not Decimal(1) <= atr <= Decimal(30) or atr != atr.quantize(Decimal("0.1")):
            raise InvalidMeasurement(
                "atr_positive_degrees", atr, "1-30 degrees, at most one decimal"
            )
        object.__setattr__(self, "atr_positive_degrees", atr)
        se = _decimal("myopia_se_dioptres", self.myopia_se_dioptres)
        if not Decimal("-3") <= se <= Decimal("0") or se != se.quantize(Decimal("0.001")):
            raise InvalidMeasurement("myopia_se_dioptres", se, "-3.000-0 D")
        object.__setattr__(self, "myopia_se_dioptres", se)
        if self.myopia_se_operator not in MYOPIA_SE_OPERATORS:
            raise InvalidMeasurement(
                "myopia_se_operator", self.myopia_se_operator, " or ".join(MYOPIA_SE_OPERATORS)
            )
        for name in ("sealant_first_molar_ages", "sealant_second_molar_ages"):
            value = getattr(self, name)
            if not isinstance(value, tuple | list) or len(value) != 2:
                raise InvalidMeasurement(name, value, "a pair (from, until) of ages in years")
            low, high = (_decimal(name, v) for v in value)
            if not (Decimal(0) <= low < high <= Decimal(25)) or low * 2 % 1 or high * 2 % 1:
                raise InvalidMeasurement(
                    name, value, "from < until, both whole or half years within 0-25"
                )
            object.__setattr__(self, name, (low, high))
        if not isinstance(self.adult_bmi, bool):
            raise InvalidMeasurement("adult_bmi", self.adult_bmi, "true or false")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form a session stores next to RULESET_VERSION."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, Decimal):
                out[key] = format(value, "f")
            elif isinstance(value, tuple):
                out[key] = [format(v, "f") for v in value]
            else:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RuleConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, missing keys take defaults."""
        data = dict(data or {})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidMeasurement(
                "rule_options", ", ".join(unknown), "one of " + ", ".join(sorted(names))
            )
        for key in ("sealant_first_molar_ages", "sealant_second_molar_ages"):
            if key in data and isinstance(data[key], list):
                data[key] = tuple(data[key])
        return cls(**data)

    def describe(self) -> str:
        """The choices that differ from the defaults, e.g. ``growth_reference=who2007``."""
        default = DEFAULT_CONFIG.to_dict()
        mine = self.to_dict()
        parts = []
        for key, value in mine.items():
            if value != default[key]:
                shown = "-".join(value) if isinstance(value, list) else str(value)
                parts.append(f"{key}={shown}")
        return ", ".join(parts)


DEFAULT_CONFIG = RuleConfig()


@cache
def rule_set_label(config: RuleConfig = DEFAULT_CONFIG) -> str:
    """The evaluation.md ``rule_set`` text: version, plus any non-default choice."""
    options = config.describe()
    return f"{RULESET_VERSION} ({options})" if options else RULESET_VERSION
