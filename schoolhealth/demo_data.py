"""Deterministic generators of plausible demo pupils and screening measurements.

Everything here is a pure function of a seed: no database, no clock. ``flask seed-demo``
(schoolhealth/demo.py) writes what these produce, and the bench scripts import them to
build files and databases of any size::

    for pupil in generate_pupils(2000, seed=2026, school_year=2026):
        pupil["name"], pupil["id_number"]          # '王梓涵', '33010620190305102X'

The pupils are shaped like a real Chinese roster (docs/formats/roster.md): common
surnames and given-name characters, sexes at the national birth ratio, birth dates that
fit the grade (a pupil enters grade 1 in the September after turning 6, so the age at
1 September is grade + 5 to grade + 6 years; a few repeaters are a year older), classes
of about 40, and resident ID numbers (GB 11643-1999) whose birth date, sex digit and
check character agree with the pupil. The national student number is "G" + the ID
number, or "L" + digits for the few pupils without one.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from itertools import accumulate
from typing import Any

from .rules.idnumber import check_character

# --- the shape of the population ------------------------------------------------------

SCHOOL_YEAR_START = (9, 1)  # 1 September
MALE_SHARE = 0.53  # sex ratio at birth in the 2010s was about 113 boys to 100 girls
REPEATER_SHARE = 0.015  # pupils a year older than their grade
ID_NUMBER_SHARE = 0.97  # the rest (born abroad, Hong Kong, Macao, Taiwan ...) have none
BORN_ELSEWHERE_SHARE = 0.15  # ID numbers registered outside the school's district
MAX_CLASS_SIZE = 45  # the national cap for primary classes; most demo classes have ~40

# Address codes (GB/T 2260) of real county-level districts. The demo districts take theirs
# in this order; pupils born elsewhere get one of OTHER_AREA_CODES.
DEMO_AREA_CODE = "330106"  # 杭州市西湖区
DISTRICT_AREA_CODES = (
    "330106", "330102", "330105", "330108", "330109", "330110", "330111", "330112",
    "330113", "330114", "330122", "330127", "330182", "330203", "330205", "330206",
    "330211", "330212", "330213", "330225", "330226", "330281", "330282", "330302",
    "330303", "330304", "330305", "330324", "330326", "330327", "330381", "330382",
)  # fmt: skip
OTHER_AREA_CODES = (
    "340102", "360102", "410105", "420106", "430104", "510107", "520102", "130104",
    "370102", "320102", "350203", "440305", "500103", "610113", "110105", "310115",
)  # fmt: skip

# Surnames with their approximate share (per cent) of the population; compound ones are rare.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.5), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1), ("黄", 2.1),
    ("赵", 2.0), ("吴", 1.9), ("周", 1.9), ("徐", 1.5), ("孙", 1.5), ("马", 1.3), ("朱", 1.3),
    ("胡", 1.1), ("郭", 1.1), ("何", 1.1), ("高", 1.0), ("林", 1.0), ("罗", 0.9), ("郑", 0.9),
    ("梁", 0.9), ("谢", 0.8), ("宋", 0.7), ("唐", 0.7), ("许", 0.7), ("韩", 0.6), ("冯", 0.6),
    ("邓", 0.6), ("曹", 0.6), ("彭", 0.6), ("曾", 0.6), ("肖", 0.6), ("田", 0.5), ("董", 0.5),
    ("袁", 0.5), ("潘", 0.5), ("于", 0.5), ("蒋", 0.5), ("蔡", 0.5), ("余", 0.5), ("杜", 0.5),
    ("叶", 0.4), ("程", 0.4), ("苏", 0.4), ("魏", 0.4), ("吕", 0.4), ("丁", 0.4), ("任", 0.4),
    ("沈", 0.4), ("姚", 0.4), ("卢", 0.4), ("姜", 0.3), ("崔", 0.3), ("钟", 0.3), ("谭", 0.3),
    ("陆", 0.3), ("汪", 0.3), ("范", 0.3), ("金", 0.3), ("石", 0.3), ("廖", 0.3), ("贾", 0.3),
    ("夏", 0.3), ("韦", 0.3), ("付", 0.3), ("方", 0.3), ("白", 0.3), ("邹", 0.3), ("孟", 0.3),
    ("熊", 0.3), ("秦", 0.3), ("邱", 0.3), ("江", 0.3), ("尹", 0.3), ("薛", 0.2), ("闫", 0.2),
    ("段", 0.2), ("雷", 0.2), ("侯", 0.2), ("龙", 0.2), ("史", 0.2), ("陶", 0.2), ("黎", 0.2),
    ("贺", 0.2), ("顾", 0.2), ("毛", 0.2), ("郝", 0.2), ("龚", 0.2), ("邵", 0.2), ("万", 0.2),
    ("钱", 0.2), ("严", 0.2), ("覃", 0.2), ("武", 0.2), ("戴", 0.2), ("莫", 0.2), ("孔", 0.2),
    ("向", 0.2), ("汤", 0.2), ("单", 0.1), ("欧阳", 0.05), ("上官", 0.02), ("司马", 0.02),
    ("诸葛", 0.01),
)  # fmt: skip
BOY_CHARACTERS = (
    "浩宇轩子涵博文俊杰泽睿明辰哲一航鹏晨瑞凯嘉逸天昊奕宸铭诚磊皓然"
    "阳彬晟鑫旭宏志伟豪翔宁安远锦煜霖梓沐书景峻成思恒烨佑毅言"
)
GIRL_CHARACTERS = (
    "欣怡梓涵雨萱诗琪思佳悦可馨婷雅若彤瑶妍静慧钰语梦玥琳晴蕊颖"
    "菲璐雯婉嘉宁安心桐曦莹芸洁丽甜一紫艺清沫依月"
)
SINGLE_CHARACTER_GIVEN_NAME_SHARE = 0.2

_STRIDE = 193  # coprime with 500: offset + n * stride (mod 500) visits every sequence once
_SURNAME_CHOICES = tuple(s for s, _ in SURNAMES)
_SURNAME_CUM_WEIGHTS = tuple(accumulate(w for _, w in SURNAMES))


# --- resident ID numbers --------------------------------------------------------------


def make_id_number(area_code: str, birth_date: date, sequence: int, sex: str) -> str:
    """A valid GB 11643-1999 resident ID number (公民身份号码).

    ``area_code`` is the 6-digit address code, ``sequence`` (0-499) numbers the people
    of one sex born in that area on that day, and ``sex`` ("M"/"F") sets the parity of
    digit 17 (odd for men). The 18th character is the ISO 7064 MOD 11-2 check (0-9 or X).
    """
    if len(area_code) != 6 or not area_code.isdigit():
        raise ValueError(f"area_code must be 6 digits, not {area_code!r}")
    if not 0 <= sequence < 500:
        raise ValueError(f"sequence must be 0-499, not {sequence}")
    if sex not in ("M", "F"):
        raise ValueError(f"sex must be 'M' or 'F', not {sex!r}")
    order = sequence * 2 + (1 if sex == "M" else 0)
    first17 = f"{area_code}{birth_date:%Y%m%d}{order:03d}"
    return first17 + check_character(first17)


# --- ages -----------------------------------------------------------------------------


def birth_date_range(grade: int, school_year: int) -> tuple[date, date]:
    """First and last birth date of an on-time pupil of ``grade`` in ``school_year``.

    Grade 1 of school year 2026 was born 2019-09-01 .. 2020-08-31 (6 by 31 August 2026),
    so the age on 1 September is between grade + 5 and grade + 6: grade + 5.5 on average.
    """
    first_year = school_year - 6 - grade
    return date(first_year, 9, 1), date(first_year + 1, 8, 31)


def _birth_date(rng: random.Random, grade: int, school_year: int) -> date:
    first, last = birth_date_range(grade, school_year)
    return first + timedelta(days=rng.randrange((last - first).days + 1))


# --- pupils ---------------------------------------------------------------------------


@cache
def initials_tables() -> tuple[dict[str, str], dict[str, str]]:
    """Pinyin initials of the surnames, and of the given-name characters, the generator uses.

    Computed with the roster's own :func:`~schoolhealth.roster.services.name_initials`
    (pypinyin first letters, surnames read as surnames), so "zxm" finds demo pupils just
    as it finds imported ones. For these characters a name's initials are the
    concatenation of its parts' (all 650,160 surname x given-name combinations were
    checked against the whole-name result with pypinyin 0.55; tests/test_demo.py samples
    them again), which is ~100 times faster than calling pypinyin per pupil.
    """
    from .roster.services import name_initials

    surnames = {s: name_initials(s + "明")[: len(s)] for s, _ in SURNAMES}
    given = {c: name_initials(c) for c in set(BOY_CHARACTERS + GIRL_CHARACTERS)}
    return surnames, given


class PupilGenerator:
    """One deterministic stream of pupils, possibly for many schools.

    ID numbers and student numbers are unique across every school generated by one
    instance, so a whole demo district (or a 1.45M-pupil city) comes from one generator.
    """

    def __init__(self, *, seed: int, school_year: int) -> None:
        self.seed = seed
        self.school_year = school_year
        self._rng = random.Random(f"pupils:{seed}")
        self._sequences: dict[tuple[str, date, str], tuple[int, int]] = {}
        self._serial = 0
        self._surname_initials, self._given_initials = initials_tables()

    # names

    def _name(self, sex: str) -> tuple[str, str]:
        """A name and its pinyin initials."""
        rng = self._rng
        surname = rng.choices(_SURNAME_CHOICES, cum_weights=_SURNAME_CUM_WEIGHTS)[0]
        characters = BOY_CHARACTERS if sex == "M" else GIRL_CHARACTERS
        given = rng.choice(characters)
        if rng.random() >= SINGLE_CHARACTER_GIVEN_NAME_SHARE:
            given += rng.choice(characters)
        given_initials = self._given_initials
        return surname + given, self._surname_initials[surname] + "".join(
            given_initials[c] for c in given
        )

    # identity

    def _id_number(self, area_code: str, birth_date: date, sex: str) -> str | None:
        rng = self._rng
        if rng.random() >= ID_NUMBER_SHARE:
            return None
        if rng.random() < BORN_ELSEWHERE_SHARE:
            area_code = rng.choice(OTHER_AREA_CODES)
        # 500 numbers per sex, day and area, handed out in a scattered order (real ones
        # are not 000, 001 ...); when an area's run out, the next area code is used.
        for code in (area_code, *DISTRICT_AREA_CODES, *OTHER_AREA_CODES):
            key = (code, birth_date, sex)
            offset, used = self._sequences.get(key) or (rng.randrange(500), 0)
            if used < 500:
                self._sequences[key] = (offset, used + 1)
                return make_id_number(code, birth_date, (offset + used * _STRIDE) % 500, sex)
        raise RuntimeError("out of ID sequence numbers for " + birth_date.isoformat())

    def _student_number(self, id_number: str | None, area_code: str) -> str:
        if id_number is not None:
            return "G" + id_number
        self._serial += 1
        return f"L{area_code}{self._serial:08d}"

    # schools

    def school(
        self,
        count: int,
        *,
        grades: Iterable[int] = range(1, 10),
        area_code: str = DEMO_AREA_CODE,
        max_class_size: int = MAX_CLASS_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """``count`` pupils of one school, spread evenly over ``grades``, class by class.

        Each dict has student_number, name, name_initials, sex ("M"/"F"), birth_date,
        grade, class_name ("1", "2" ...) and id_number (None for about 3%).
        """
        grades = list(grades)
        rng = self._rng
        per_grade, extra = divmod(count, len(grades))
        for index, grade in enumerate(grades):
            in_grade = per_grade + (1 if index < extra else 0)
            if not in_grade:
                continue
            classes = max(1, math.ceil(in_grade / max_class_size))
            per_class, class_extra = divmod(in_grade, classes)
            for class_index in range(classes):
                class_name = str(class_index + 1)
                for _ in range(per_class + (1 if class_index < class_extra else 0)):
                    sex = "M" if rng.random() < MALE_SHARE else "F"
                    age_grade = grade + 1 if rng.random() < REPEATER_SHARE else grade
                    birth_date = _birth_date(rng, age_grade, self.school_year)
                    name, initials = self._name(sex)
                    id_number = self._id_number(area_code, birth_date, sex)
                    yield {
                        "student_number": self._student_number(id_number, area_code),
                        "name": name,
                        "name_initials": initials,
                        "sex": sex,
                        "birth_date": birth_date,
                        "grade": grade,
                        "class_name": class_name,
                        "id_number": id_number,
                    }


def generate_pupils(
    count: int,
    *,
    seed: int,
    school_year: int,
    grades: Iterable[int] = range(1, 10),
    area_code: str = DEMO_AREA_CODE,
) -> Iterator[dict[str, Any]]:
    """``count`` pupils of one school (grades 1-9 by default); the same seed gives the same pupils.

    Keys: student_number, name, name_initials, sex ("M"/"F"), birth_date (date), grade
    (int), class_name (str), id_number (str or None). For several schools with unique ID
    numbers across all of them, use one :class:`PupilGenerator`.
    """
    return PupilGenerator(seed=seed, school_year=school_year).school(
        count, grades=grades, area_code=area_code
    )


# --- screening measurements -----------------------------------------------------------

# Median height (cm) by age in years, China 2005 growth references (boys, girls).
_HEIGHT_MEDIAN = {
    "M": (117.7, 124.0, 130.0, 135.4, 140.2, 145.3, 151.9, 159.5, 165.9, 169.8, 171.6, 172.3),
    "F": (116.6, 122.5, 128.5, 134.1, 140.1, 146.6, 152.4, 156.3, 158.6, 159.8, 160.1, 160.3),
}
# Share of pupils with reduced vision (视力不良, UCVA < 5.0 in either eye) by grade: from
# about 28% in grade 1 to about 75% in grade 9 (national surveys: ~50% over grades 1-9).
_REDUCED_VISION_GRADE_1 = 0.28
_REDUCED_VISION_PER_GRADE = 0.06
# Angle of trunk rotation >= 5 degrees in about 4.7% of pupils.
ATR_POSITIVE_SHARE = 0.047
ABSENT_SHARE = 0.005
# Weight status shares (WS/T 586-2018 / WS/T 456-2014 categories), close to recent
# national surveys of 6-17 year olds: ~15% overweight or obese, ~3% thin.
OBESE_SHARE = 0.06
OVERWEIGHT_SHARE = 0.09
THIN_SHARE = 0.03


@cache
def _bmi_cutoffs(sex: str) -> tuple[list[float], list[tuple[float, float, float, float]]]:
    """WS/T 586 / 456 rows of one sex from the rules core: ages, (ms, mild, ow, ob) cutoffs."""
    from .rules import Sex, bmi_reference_cutoffs

    ages, cutoffs = [], []
    for age, cut in bmi_reference_cutoffs(Sex(sex), "wst586"):
        if "mild" in cut:
            ages.append(float(age))
            cutoffs.append(
                tuple(float(cut[k]) for k in ("moderate_severe", "mild", "overweight", "obese"))
            )
    return ages, cutoffs


def _bmi(rng: random.Random, sex: str, age: float) -> float:
    """A BMI placed by the pupil's own WS/T 586 / 456 cutoffs, so the shares hold at every age."""
    ages, cutoffs = _bmi_cutoffs(sex)
    severe, mild, overweight, obese = cutoffs[max(bisect_right(ages, age) - 1, 0)]
    u = rng.random()
    if u < OBESE_SHARE:
        return obese * (1 + rng.expovariate(12))
    if u < OBESE_SHARE + OVERWEIGHT_SHARE:
        return rng.uniform(overweight, obese)
    if u < OBESE_SHARE + OVERWEIGHT_SHARE + THIN_SHARE:
        return rng.uniform(severe - 0.8, mild)
    return rng.triangular(mild, overweight, mild + 0.35 * (overweight - mild))


class _Weighted:
    """A weighted choice drawn with one ``random()`` call (``rng.choices`` is slower)."""

    def __init__(self, values: Iterable[Any], weights: Iterable[float]) -> None:
        self.values = tuple(values)
        self.cum = tuple(accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.values[bisect_right(self.cum, rng.random() * self.total)]


_GOOD_ACUITY = _Weighted((5.0, 5.1, 5.2), (6, 3, 1))
_CYLINDER = _Weighted((0.0, -0.5, -1.0), (6, 3, 1))
_ATR_NORMAL = _Weighted((0, 1, 2, 3, 4), (45, 30, 17, 6, 2))
_SAGITTAL = _Weighted(("normal", "kyphosis", "lordosis", "straight_back"), (96, 2, 1, 1))


def _by_age(table: tuple[float, ...], age: float) -> float:
    """Linear interpolation in a table of yearly values from age 6."""
    position = min(max(age - 6.0, 0.0), len(table) - 1.0001)
    low = int(position)
    return table[low] + (table[low + 1] - table[low]) * (position - low)


def _tenths(value: float) -> Decimal:
    return Decimal(round(value * 10)).scaleb(-1)


def _quarters(value: float) -> Decimal:
    return Decimal(round(value * 4) * 25).scaleb(-2)


def _eye(rng: random.Random, se: float, reduced: bool) -> tuple[Decimal, Decimal, Decimal]:
    """(UCVA in 5-point notation, sphere, cylinder) of one eye with spherical equivalent ``se``."""
    if reduced:
        if se <= -0.5:
            ucva = 5.0 - 0.25 * -se + rng.gauss(0, 0.08)
        else:  # astigmatism or hyperopia: slightly reduced, not myopic
            ucva = rng.choice((4.8, 4.9, 4.9))
        ucva = min(max(ucva, 3.6), 4.9)
    else:
        ucva = _GOOD_ACUITY.pick(rng)
    cylinder = _CYLINDER.pick(rng)
    se_q = round(se * 4) / 4
    sphere = se_q - cylinder / 2
    return _tenths(ucva), _quarters(sphere), _quarters(cylinder)


def generate_measurements(
    rng: random.Random, *, sex: str, birth_date: date, grade: int, screening_date: date
) -> dict[str, Any]:
    """One pupil's growth, vision and spine measurements (docs/formats/results.md fields).

    Values are Decimals at the precision the result columns keep; about 0.5% of pupils
    are absent (``{"absent": True}``). Distributions: height around the China 2005 medians,
    BMI placed by the WS/T 586 / 456 cutoffs (~15% overweight or obese, ~3% thin), reduced
    vision rising with grade (~50% over grades 1-9, mostly myopic), ATR >= 5 degrees in
    ~4.7%.
    """
    if rng.random() < ABSENT_SHARE:
        return {"absent": True}
    age = (screening_date - birth_date).days / 365.25
    spread = 5.0 + 0.25 * min(max(age - 6.0, 0.0), 8.0)
    height = _by_age(_HEIGHT_MEDIAN[sex], age) + rng.gauss(0, spread)
    bmi = _bmi(rng, sex, age)
    height_cm = _tenths(height)
    weight_kg = _tenths(bmi * (float(height_cm) / 100) ** 2)

    reduced = rng.random() < _REDUCED_VISION_GRADE_1 + _REDUCED_VISION_PER_GRADE * (grade - 1)
    if reduced:
        if rng.random() < 0.9:  # myopic
            base = -0.5 - rng.expovariate(1 / (0.6 + 0.25 * (grade - 1)))
        else:
            base = rng.uniform(-0.25, 1.5)
        se_right = base + rng.gauss(0, 0.35)
        se_left = base + rng.gauss(0, 0.35)
        right, left = _eye(rng, se_right, True), _eye(rng, se_left, True)
        if rng.random() < 0.3:  # one eye still sees 5.0
            better = rng.choice((0, 1))
            eye = (right, left)[better]
            eye = (Decimal("5.0"), *eye[1:])
            right, left = (eye, left) if better == 0 else (right, eye)
    else:
        base = rng.gauss(0.9 - 0.12 * (grade - 1), 0.4)
        right = _eye(rng, base + rng.gauss(0, 0.2), False)
        left = _eye(rng, base + rng.gauss(0, 0.2), False)
    myopic = min(right[1] + right[2] / 2, left[1] + left[2] / 2) <= Decimal("-0.5")
    glasses = "none"
    cva: Decimal | None = None
    if reduced and myopic:
        glasses = rng.choices(
            ("none", "frame", "contact", "ortho_k"),
            weights=(50, 44, 2, 4 if grade >= 3 else 0),
        )[0]
        if glasses in ("frame", "contact"):
            cva = rng.choice((Decimal("4.9"), Decimal("5.0"), Decimal("5.0"), Decimal("5.1")))

    values: dict[str, Any] = {
        "height_cm": height_cm,
        "weight_kg": weight_kg,
        "ucva_right": right[0],
        "ucva_left": left[0],
        "cva_right": cva,
        "cva_left": cva,
        "glasses": glasses,
        "sph_right": right[1],
        "cyl_right": right[2],
        "se_right": right[1] + right[2] / 2,
        "sph_left": left[1],
        "cyl_left": left[2],
        "se_left": left[1] + left[2] / 2,
    }
    values.update(_spine(rng))
    return values


def _spine(rng: random.Random) -> dict[str, Any]:
    segments = ["atr_thoracic", "atr_thoracolumbar", "atr_lumbar"]
    atr = {s: _ATR_NORMAL.pick(rng) for s in segments}
    positive = rng.random() < ATR_POSITIVE_SHARE
    if positive:
        segment = rng.choices(segments, weights=(5, 3, 2))[0]
        atr[segment] = rng.choices(range(5, 13), weights=(35, 25, 15, 10, 6, 4, 3, 2))[0]
    adams = "positive" if (rng.random() < 0.85 if positive else rng.random() < 0.02) else "negative"
    general = "abnormal" if (rng.random() < 0.7 if positive else rng.random() < 0.03) else "normal"
    sagittal = _SAGITTAL.pick(rng)
    return {
        "spine_general": general,
        "adams": adams,
        **{s: Decimal(v) for s, v in atr.items()},
        "sagittal": sagittal,
        "prone_test": None
        if sagittal == "normal"
        else rng.choices(("resolved", "persists"), (3, 2))[0],
        # the motion test is done where signs come with every ATR below the threshold
        "motion_test": rng.choices(("resolved", "persists"), (4, 1))[0]
        if (adams == "positive" or general == "abnormal") and max(atr.values(), default=0) < 5
        else None,
    }
