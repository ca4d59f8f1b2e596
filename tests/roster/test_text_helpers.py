"""The pure helpers the roster form and the roster import share."""

from __future__ import annotations

from datetime import date

import pytest

from schoolhealth.clock import local_today
from schoolhealth.roster.services import (
    current_school_year,
    name_initials,
    normalize_class_name,
    parse_grade,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", "3"),
        ("3班", "3"),
        ("(3)班", "3"),
        ("（3）班", "3"),
        ("(3)", "3"),
        ("三班", "3"),
        ("三", "3"),
        ("03", "3"),
        ("３班", "3"),
        (" 3 班 ", "3"),
        ("十二班", "12"),
        ("二十一班", "21"),
        ("10", "10"),
        ("三年级2班", "2"),
        ("初一5班", "5"),
        ("初一(5)班", "5"),
        ("三(2)班", "2"),
        ("高二（3）班", "3"),
        ("实验班", "实验"),
        ("A", "A"),
    ],
)
def test_normalize_class_name(text, expected):
    assert normalize_class_name(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "()", "x" * 33])
def test_normalize_class_name_refuses_empty_or_long(text):
    with pytest.raises(ValueError, match="class"):
        normalize_class_name(text)


ACCEPTED_GRADES = [
    *[(str(n), n) for n in range(1, 13)],
    ("03", 3),
    ("１２", 12),
    ("3年级", 3),
    (" 3 ", 3),
    ("一年级", 1),
    ("二年级", 2),
    ("三年级", 3),
    ("四年级", 4),
    ("五年级", 5),
    ("六年级", 6),
    ("七年级", 7),
    ("八年级", 8),
    ("九年级", 9),
    ("十年级", 10),
    ("十一年级", 11),
    ("十二年级", 12),
    ("两年级", 2),
    ("小学三年级", 3),
    ("初一", 7),
    ("初二", 8),
    ("初三", 9),
    ("初中二年级", 8),
    ("高一", 10),
    ("高二", 11),
    ("高三", 12),
    ("高中三年级", 12),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED_GRADES)
def test_parse_grade_accepts(text, expected):
    assert parse_grade(text) == expected


@pytest.mark.parametrize(
    "text", ["", "0", "13", "十三年级", "初四", "高四", "grade", "3a", "-1", "三班", "一二"]
)
def test_parse_grade_refuses(text):
    with pytest.raises(ValueError, match="grade"):
        parse_grade(text)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("张小明", "zxm"),
        ("李 明", "lm"),
        ("欧阳娜娜", "oynn"),
        ("曾小明", "zxm"),  # surname 曾 is zēng, not céng
        ("单田芳", "stf"),
        ("买买提·艾力", "mmtal"),
        ("Anna Li", "al"),
        ("王2", "w2"),
        ("", ""),
    ],
)
def test_name_initials(name, expected):
    assert name_initials(name) == expected


def test_name_initials_never_exceeds_the_column():
    assert len(name_initials("张" * 80)) == 50


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 23), 2026),
        (date(2027, 3, 1), 2026),
        (date(2027, 8, 31), 2026),
        (date(2027, 9, 1), 2027),
        (date(2026, 1, 1), 2025),
    ],
)
def test_current_school_year(today, expected):
    assert current_school_year(today) == expected


def test_current_school_year_defaults_to_today():
    assert current_school_year() == current_school_year(local_today())


def test_name_initials_with_the_word_cache_are_pypinyins_own():
    """The cached converter changes speed only: every name gives what plain pypinyin
    gives, including phrases read differently from their characters alone."""
    import random

    from pypinyin import Style, lazy_pinyin

    from schoolhealth.demo_data import generate_pupils
    from schoolhealth.roster.services import _WORD, SURNAME_INITIALS

    def reference(name: str) -> str:
        letters = []
        for position, piece in enumerate(lazy_pinyin(name, style=Style.FIRST_LETTER)):
            if position == 0 and len(name) > 1 and name[0] in SURNAME_INITIALS:
                letters.append(SURNAME_INITIALS[name[0]])
                continue
            letters.extend(word[0] for word in _WORD.findall(piece.lower()))
        return "".join(letters)[:50]

    names = [p["name"] for p in generate_pupils(3000, seed=9, school_year=2026)]
    names += ["长江", "张长江", "重庆", "王重阳", "单于", "Anna Li", "阿依古丽·买买提", "行长"]
    random.Random(1).shuffle(names)
    for _ in range(2):  # the second pass reads every word from the cache
        for name in names:
            assert name_initials(name) == reference(name), name
