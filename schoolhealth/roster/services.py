"""Roster use cases: pupils, classes and the move to the next school year.

Everything here flushes and never commits (the view, CLI command or job commits once),
and every change of roster data writes one audit event with the values before and after.
The text helpers at the top (:func:`normalize_class_name`, :func:`parse_grade`,
:func:`name_initials`, :func:`current_school_year`) are shared with the roster import,
so a class typed in the form and a class read from a file end up as the same row.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pypinyin import Style
from pypinyin.converter import DefaultConverter
from pypinyin.core import Pinyin
from sqlalchemy import Select, func, insert, select, update

from ..audit import changed_fields, record_event, snapshot
from ..clock import local_today
from ..extensions import db
from ..models import Enrolment, School, SchoolClass, Student, mask_id_number
from ..rules.numbers import nfkc

# --- school years ---------------------------------------------------------------------

# A school year starts on 1 September: 2026-09-01 .. 2027-08-31 is school year 2026.
SCHOOL_YEAR_START_MONTH = 9
FINAL_GRADE = 12


def current_school_year(today: date | None = None) -> int:
    """The school year ``today`` falls in, named by the calendar year it starts in.

    2026-11-23 -> 2026 and 2027-03-01 -> 2026: the spring term still belongs to the
    year that started the previous September.
    """
    today = today or local_today()
    return today.year if today.month >= SCHOOL_YEAR_START_MONTH else today.year - 1


# --- names, grades and classes as people write them -----------------------------------

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十]+")


def _chinese_number(text: str) -> int | None:
    """一 -> 1, 十二 -> 12, 二十三 -> 23 (0-99, the numbers grades and classes use)."""
    if not text or not _CN_NUMBER.fullmatch(text):
        return None
    if "十" not in text:
        if len(text) != 1:
            return None
        return _CN_DIGITS[text]
    tens, _, ones = text.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return None
    tens_value = _CN_DIGITS.get(tens, -1) if tens else 1
    ones_value = _CN_DIGITS.get(ones, -1) if ones else 0
    if tens_value < 1 or ones_value < 0:
        return None
    return tens_value * 10 + ones_value


def _number(text: str) -> int | None:
    """Arabic or Chinese digits as an int, else None."""
    if text.isascii() and text.isdigit():
        return int(text)
    return _chinese_number(text)


def _compact(text: str) -> str:
    """NFKC (full-width -> half-width) with every space removed."""
    return re.sub(r"\s+", "", nfkc(str(text)))


_STAGE_GRADE = re.compile(r"(初|高)中?(.+?)(?:年级)?")
_PLAIN_GRADE = re.compile(r"(?:小学)?(.+?)(?:年级)?")


def parse_grade(text: str) -> int:
    """A grade 1-12 from the ways rosters write it; ValueError otherwise.

    Accepted (docs/formats/roster.md): 1-12 (also "3年级", full-width digits),
    一年级…十二年级, 七年级…九年级, 初一/初二/初三 -> 7-9 and 高一/高二/高三 -> 10-12
    (also 初中一年级, 高中三年级).
    """
    value = _compact(text).lower()
    if not value:
        raise ValueError("grade: empty")
    grade: int | None = None
    stage = _STAGE_GRADE.fullmatch(value)
    if stage:
        within = _number(stage.group(2))
        if within is not None and 1 <= within <= 3:
            grade = within + (6 if stage.group(1) == "初" else 9)
    else:
        plain = _PLAIN_GRADE.fullmatch(value)
        if plain:
            grade = _number(plain.group(1))
    if grade is None or not 1 <= grade <= FINAL_GRADE:
        raise ValueError(f"grade: {text!r} is not a grade 1-12")
    return grade


# "三年级2班", "初一5班", "高二(3)": a grade written before the class number.
_GRADE_PREFIX = re.compile(
    r"(?:(?:初|高)中?[一二三123]|(?:小学)?(?:\d{1,2}|[一二三四五六七八九十]{1,3})年级)(.+)",
    re.ASCII,
)
_BRACKETED = re.compile(r".*?[(\[【]([^()\[\]【】]+)[)\]】]班?")
_MAX_CLASS_NAME = 32


def normalize_class_name(text: str) -> str:
    """The canonical name of a class: "3", "3班", "(3)班", "三班", "03" all give "3".

    A grade written in front ("三年级2班", "初一(5)班", "三(2)班") is dropped: the grade
    is its own field. Names that are not numbers ("实验班" -> "实验", "A") are kept
    without the trailing 班. Raises ValueError for an empty or over-long name.
    """
    value = _compact(text).replace("（", "(").replace("）", ")")
    bracketed = _BRACKETED.fullmatch(value)
    if bracketed:
        value = bracketed.group(1)
    else:
        prefixed = _GRADE_PREFIX.fullmatch(value)
        if prefixed:
            value = prefixed.group(1)
    value = value.strip("()[]【】")
    if value.endswith("班") and len(value) > 1:
        value = value[:-1]
    value = value.strip("()[]【】")
    number = _number(value)
    if number is not None:
        value = str(number)
    if not value:
        raise ValueError(f"class: {text!r} is empty")
    if len(value) > _MAX_CLASS_NAME:
        raise ValueError(f"class: {text!r} is longer than {_MAX_CLASS_NAME} characters")
    return value


# pypinyin reads these characters with their common-word sound; as the first character
# of a name they are surnames read differently (曾 zēng not céng, 单 shàn not dān).
SURNAME_INITIALS = {
    "曾": "z",
    "单": "s",
    "解": "x",
    "仇": "q",
    "区": "o",
    "查": "z",
    "翟": "z",
    "乐": "y",
    "覃": "q",
    "种": "c",
    "召": "s",
    "秘": "b",
}
_WORD = re.compile(r"[a-z0-9]+")


class _WordCachingConverter(DefaultConverter):
    """pypinyin's own converter, remembering the result of each word it converts.

    pypinyin splits a text into words (phrase matching) and converts word by word;
    the conversion is a pure function of the word and the options, and it is most of
    the time spent. Pupils' names are made of a few hundred distinct words, so a
    100,000-pupil import converts those once instead of 250,000 times (6x faster),
    with exactly pypinyin's results (the segmentation still runs per name).
    """

    MAX_WORDS = 200_000  # a bound on memory; names need a few thousand

    def __init__(self) -> None:
        super().__init__()
        self._words: dict[tuple[Any, ...], list[list[str]]] = {}

    def convert(
        self, words: str, style: Style, heteronym: bool, errors: Any, strict: bool, **kwargs: Any
    ) -> list[list[str]]:
        key = (words, style, heteronym, errors, strict)
        result = self._words.get(key)
        if result is None:
            result = super().convert(words, style, heteronym, errors, strict=strict, **kwargs)
            if len(self._words) >= self.MAX_WORDS:
                self._words.clear()
            # Callers only read it: pinyin() flattens each word's list into a new list.
            self._words[key] = result
        return result


_PINYIN = Pinyin(_WordCachingConverter())


def name_initials(name: str) -> str:
    """Lower-case pinyin initials of a name, so "zxm" finds 张小明.

    Chinese characters give their pinyin first letter (the first character read as a
    surname); Latin words give their first letter ("Anna Li" -> "al"); anything else
    (·, spaces, rare characters pypinyin cannot read) is skipped.
    """
    text = unicodedata.normalize("NFKC", name or "").strip()
    if not text:
        return ""
    letters: list[str] = []
    for position, piece in enumerate(_PINYIN.lazy_pinyin(text, style=Style.FIRST_LETTER)):
        if position == 0 and len(text) > 1 and text[0] in SURNAME_INITIALS:
            letters.append(SURNAME_INITIALS[text[0]])
            continue
        letters.extend(word[0] for word in _WORD.findall(piece.lower()))
    return "".join(letters)[:50]


# --- pupils ---------------------------------------------------------------------------

# The columns an audit event of a pupil shows; the ID number is stored masked.
STUDENT_AUDIT_FIELDS = (
    "student_number",
    "name",
    "sex",
    "birth_date",
    "class_id",
    "id_number",
    "guardian_phone",
    "guardian_language",
    "active",
)


class RosterError(ValueError):
    """A roster change that cannot be made; ``str()`` is the user-facing message key."""


class ClassNotEmpty(RosterError):
    pass


class DuplicateClass(RosterError):
    pass


class PromotionRefused(RosterError):
    pass


@dataclass(frozen=True)
class StudentData:
    """A pupil's fields as a form (or any caller) checked them."""

    student_number: str
    name: str
    sex: str
    birth_date: date
    class_id: int | None
    id_number: str | None = None
    guardian_phone: str | None = None
    guardian_language: str = "zh"


def _student_snapshot(student: Student) -> dict[str, Any]:
    values = snapshot(student, STUDENT_AUDIT_FIELDS)
    values["id_number"] = mask_id_number(student.id_number) or None
    return values


def _set_enrolment(student: Student, school_class: SchoolClass) -> None:
    """One Enrolment per pupil and school year: the class the pupil is in that year."""
    enrolment = db.session.execute(
        select(Enrolment).where(
            Enrolment.student_id == student.id,
            Enrolment.school_year == school_class.school_year,
        )
    ).scalar_one_or_none()
    if enrolment is None:
        db.session.add(
            Enrolment(
                student_id=student.id,
                school_year=school_class.school_year,
                class_id=school_class.id,
            )
        )
    else:
        enrolment.class_id = school_class.id


def _class_of(school: School, class_id: int | None) -> SchoolClass | None:
    if class_id is None:
        return None
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is None or school_class.school_id != school.id:
        raise RosterError("class_not_in_school")
    return school_class


def create_student(school: School, data: StudentData) -> Student:
    """Add a pupil to ``school`` (and to the class's school year), audited."""
    school_class = _class_of(school, data.class_id)
    student = Student(
        school_id=school.id,
        student_number=data.student_number,
        name=data.name,
        name_initials=name_initials(data.name),
        sex=data.sex,
        birth_date=data.birth_date,
        class_id=data.class_id,
        id_number=data.id_number or None,
        guardian_phone=data.guardian_phone or None,
        guardian_language=data.guardian_language,
        active=True,
    )
    db.session.add(student)
    db.session.flush()
    if school_class is not None:
        _set_enrolment(student, school_class)
    record_event(
        "create",
        "student",
        student.id,
        school_id=school.id,
        summary=f"pupil {student.student_number} added",
        after=_student_snapshot(student),
    )
    db.session.flush()
    return student


def update_student(student: Student, data: StudentData) -> bool:
    """Apply ``data`` to a pupil; True when anything changed (then audited).

    A new class also records the pupil's Enrolment for that class's school year.
    """
    before = _student_snapshot(student)
    old_id_number = student.id_number
    school_class = _class_of(student.school, data.class_id)
    class_changed = data.class_id != student.class_id
    student.student_number = data.student_number
    if data.name != student.name or not student.name_initials:
        student.name_initials = name_initials(data.name)
    student.name = data.name
    student.sex = data.sex
    student.birth_date = data.birth_date
    student.class_id = data.class_id
    student.id_number = data.id_number or None
    student.guardian_phone = data.guardian_phone or None
    student.guardian_language = data.guardian_language
    after = _student_snapshot(student)
    old, new = changed_fields(before, after)
    if student.id_number != old_id_number and "id_number" not in new:
        # Two numbers can share a mask (only the middle changed): still an ID change.
        old["id_number"], new["id_number"] = before["id_number"], after["id_number"]
    if not new:
        return False
    if class_changed and school_class is not None:
        _set_enrolment(student, school_class)
    record_event(
        "update",
        "student",
        student.id,
        school_id=student.school_id,
        summary=f"pupil {student.student_number} changed: {', '.join(sorted(new))}",
        before=old,
        after=new,
    )
    db.session.flush()
    return True


def set_student_active(student: Student, active: bool, *, reason: str = "") -> bool:
    """Deactivate (left, graduated) or reactivate a pupil; the record is always kept."""
    if student.active == active:
        return False
    student.active = active
    action = "reactivate" if active else "deactivate"
    record_event(
        action,
        "student",
        student.id,
        school_id=student.school_id,
        summary=f"pupil {student.student_number} {action}d" + (f": {reason}" if reason else ""),
        before={"active": not active},
        after={"active": active},
    )
    db.session.flush()
    return True


# --- listing pupils -------------------------------------------------------------------

_STUDENT_NUMBER_PREFIX = re.compile(r"[0-9A-Za-z]*[0-9][0-9A-Za-z]*")
_LATIN = re.compile(r"[A-Za-z]+")


def search_filter(query: Select, text: str) -> Select:
    """Narrow a pupil query by what a nurse typed in the search box.

    Digits (with or without letters, "G1101", "2015") are a student-number prefix;
    letters only ("zxm") are pinyin initials or part of a Latin name; anything else is
    part of the name (张小, 小明). Prefix searches use the students' indexes.
    """
    value = unicodedata.normalize("NFKC", text or "").strip()
    if not value:
        return query
    if _STUDENT_NUMBER_PREFIX.fullmatch(value):
        return query.where(*student_number_prefix(value.upper()))
    if _LATIN.fullmatch(value):
        lowered = value.lower()
        return query.where(
            Student.name_initials.startswith(lowered, autoescape=True)
            | func.lower(Student.name).contains(lowered, autoescape=True)
        )
    return query.where(Student.name.contains(value, autoescape=True))


def student_number_prefix(prefix: str) -> tuple[Any, ...]:
    """Conditions for "student number starts with ``prefix``" that a plain b-tree index
    can answer under any collation.

    PostgreSQL uses an index for LIKE 'G1101%' only under the "C" collation, and
    databases are usually created with a linguistic one (C.UTF-8, zh_CN.UTF-8, en_US).
    Student numbers are upper-case letters and digits, so every number with the prefix
    lies in the range [prefix, prefix + "ZZZ..."], which is an index range scan; the
    LIKE keeps the result exact.
    """
    width = Student.student_number.type.length or 32
    return (
        Student.student_number >= prefix,
        Student.student_number <= prefix + "Z" * max(0, width - len(prefix)),
        Student.student_number.startswith(prefix, autoescape=True),
    )


def is_student_number_search(text: str) -> bool:
    """True when :func:`search_filter` would read ``text`` as a student-number prefix."""
    value = unicodedata.normalize("NFKC", text or "").strip()
    return bool(value) and bool(_STUDENT_NUMBER_PREFIX.fullmatch(value))


@dataclass
class Page:
    """One page of a list fetched as LIMIT size+1: we know there is a next page
    without counting the whole table."""

    items: list[Any]
    page: int
    size: int
    has_next: bool
    total: int | None = None

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def pages(self) -> int | None:
        if self.total is None:
            return None
        return max(1, -(-self.total // self.size))


def fetch_page(query: Select, *, page: int, size: int, total: int | None = None) -> Page:
    """Rows of ``query`` for page ``page`` (1-based), one extra row tells of a next page."""
    page = max(1, page)
    rows = list(db.session.scalars(query.limit(size + 1).offset((page - 1) * size)))
    return Page(items=rows[:size], page=page, size=size, has_next=len(rows) > size, total=total)


# --- classes --------------------------------------------------------------------------


def school_classes(school: School, school_year: int) -> list[SchoolClass]:
    """The school's classes of one year, in grade then class order (2 before 10)."""
    return list(
        db.session.scalars(
            select(SchoolClass)
            .where(SchoolClass.school_id == school.id, SchoolClass.school_year == school_year)
            .order_by(SchoolClass.grade, func.length(SchoolClass.name), SchoolClass.name)
        )
    )


def school_years(school: School) -> list[int]:
    """Every school year the school has classes in, newest first."""
    return list(
        db.session.scalars(
            select(SchoolClass.school_year)
            .where(SchoolClass.school_id == school.id)
            .distinct()
            .order_by(SchoolClass.school_year.desc())
        )
    )


@dataclass(frozen=True)
class ClassRow:
    school_class: SchoolClass
    active_pupils: int  # pupils whose current class this is
    enrolled: int  # pupils enrolled in it that year (history, survives promotion)


def class_overview(school: School, school_year: int) -> list[ClassRow]:
    """The classes of a year with their pupil counts (two grouped queries in all)."""
    classes = school_classes(school, school_year)
    ids = [c.id for c in classes]
    active: dict[int, int] = {}
    enrolled: dict[int, int] = {}
    if ids:
        active = dict(
            db.session.execute(
                select(Student.class_id, func.count())
                .where(
                    Student.school_id == school.id,
                    Student.class_id.in_(ids),
                    Student.active.is_(True),
                )
                .group_by(Student.class_id)
            ).all()
        )
        enrolled = dict(
            db.session.execute(
                select(Enrolment.class_id, func.count())
                .where(Enrolment.class_id.in_(ids))
                .group_by(Enrolment.class_id)
            ).all()
        )
    return [ClassRow(c, active.get(c.id, 0), enrolled.get(c.id, 0)) for c in classes]


def find_class(school: School, school_year: int, grade: int, name: str) -> SchoolClass | None:
    return db.session.execute(
        select(SchoolClass).where(
            SchoolClass.school_id == school.id,
            SchoolClass.school_year == school_year,
            SchoolClass.grade == grade,
            SchoolClass.name == name,
        )
    ).scalar_one_or_none()


def create_class(school: School, *, school_year: int, grade: int, name: str) -> SchoolClass:
    """Add a class; DuplicateClass when the school already has it that year."""
    name = normalize_class_name(name)
    if find_class(school, school_year, grade, name) is not None:
        raise DuplicateClass("duplicate_class")
    school_class = SchoolClass(school_id=school.id, school_year=school_year, grade=grade, name=name)
    db.session.add(school_class)
    db.session.flush()
    record_event(
        "create",
        "class",
        school_class.id,
        school_id=school.id,
        summary=f"class {school_year} {school_class.label} added",
        after=snapshot(school_class, ("school_year", "grade", "name")),
    )
    return school_class


def rename_class(school_class: SchoolClass, name: str) -> bool:
    """Give a class a new name within its grade and year; True when it changed."""
    name = normalize_class_name(name)
    if name == school_class.name:
        return False
    other = find_class(school_class.school, school_class.school_year, school_class.grade, name)
    if other is not None:
        raise DuplicateClass("duplicate_class")
    before = {"name": school_class.name}
    school_class.name = name
    record_event(
        "update",
        "class",
        school_class.id,
        school_id=school_class.school_id,
        summary=f"class {school_class.school_year} renamed {before['name']} -> {name}",
        before=before,
        after={"name": name},
    )
    db.session.flush()
    return True


def class_is_empty(school_class: SchoolClass) -> bool:
    """No pupil is in it now (active or not) and none was ever enrolled in it."""
    in_class = db.session.scalar(
        select(func.count()).select_from(Student).where(Student.class_id == school_class.id)
    )
    enrolled = db.session.scalar(
        select(func.count()).select_from(Enrolment).where(Enrolment.class_id == school_class.id)
    )
    return not in_class and not enrolled


def delete_class(school_class: SchoolClass) -> None:
    """Delete an empty class; ClassNotEmpty otherwise (pupils' history must stay)."""
    if not class_is_empty(school_class):
        raise ClassNotEmpty("class_not_empty")
    record_event(
        "delete",
        "class",
        school_class.id,
        school_id=school_class.school_id,
        summary=f"class {school_class.school_year} {school_class.label} deleted",
        before=snapshot(school_class, ("school_year", "grade", "name")),
    )
    db.session.delete(school_class)
    db.session.flush()


# --- promotion ------------------------------------------------------------------------


@dataclass(frozen=True)
class PromotionStep:
    """What happens to one class: its active pupils move up, or graduate."""

    source: SchoolClass
    pupils: int
    graduates: bool
    target_grade: int | None
    target: SchoolClass | None  # the existing class of next year, if any


@dataclass
class PromotionPlan:
    school: School
    from_year: int
    graduating_grades: frozenset[int]
    steps: list[PromotionStep] = field(default_factory=list)
    already_promoted: int = 0  # pupils of from_year already enrolled in from_year + 1

    @property
    def to_year(self) -> int:
        return self.from_year + 1

    @property
    def promoted(self) -> int:
        return sum(s.pupils for s in self.steps if not s.graduates)

    @property
    def graduated(self) -> int:
        return sum(s.pupils for s in self.steps if s.graduates)

    @property
    def classes_to_create(self) -> int:
        return sum(1 for s in self.steps if not s.graduates and s.target is None and s.pupils)


@dataclass(frozen=True)
class PromotionResult:
    from_year: int
    to_year: int
    promoted: int
    graduated: int
    classes_created: int


def graduating_grades_for(grades: Iterable[int], chosen: Iterable[int]) -> frozenset[int]:
    """The grades whose pupils leave: always grade 12, plus those the user ticked."""
    return frozenset({FINAL_GRADE, *(g for g in chosen if 1 <= g <= FINAL_GRADE)}) & (
        frozenset(grades) | {FINAL_GRADE}
    )


def _already_promoted(school: School, from_year: int) -> int:
    """Pupils enrolled in one of the school's classes in ``from_year`` and already in a
    class of ``from_year + 1``: a promotion (or next year's import) already moved them."""
    earlier = (
        select(Enrolment.student_id)
        .join(SchoolClass, SchoolClass.id == Enrolment.class_id)
        .where(SchoolClass.school_id == school.id, Enrolment.school_year == from_year)
    )
    return db.session.scalar(
        select(func.count())
        .select_from(Enrolment)
        .join(SchoolClass, SchoolClass.id == Enrolment.class_id)
        .where(
            SchoolClass.school_id == school.id,
            Enrolment.school_year == from_year + 1,
            Enrolment.student_id.in_(earlier),
        )
    )


def _complete_enrolments(student_ids: list[int], school_class: SchoolClass) -> None:
    """Record the year being left for pupils who have no Enrolment for it yet, so the
    history is complete and :func:`_already_promoted` sees them on a second run."""
    have = set(
        db.session.scalars(
            select(Enrolment.student_id).where(
                Enrolment.school_year == school_class.school_year,
                Enrolment.student_id.in_(student_ids),
            )
        )
    )
    missing = [i for i in student_ids if i not in have]
    if missing:
        year, class_id = school_class.school_year, school_class.id
        db.session.execute(
            insert(Enrolment),
            [{"student_id": i, "school_year": year, "class_id": class_id} for i in missing],
        )


def plan_promotion(
    school: School, from_year: int, *, graduating_grades: Iterable[int] = ()
) -> PromotionPlan:
    """What :func:`promote_school` would do, without changing anything."""
    classes = school_classes(school, from_year)
    grades = {c.grade for c in classes}
    plan = PromotionPlan(
        school=school,
        from_year=from_year,
        graduating_grades=graduating_grades_for(grades, graduating_grades),
        already_promoted=_already_promoted(school, from_year),
    )
    counts = {row.school_class.id: row.active_pupils for row in class_overview(school, from_year)}
    for school_class in classes:
        graduates = school_class.grade in plan.graduating_grades
        target_grade = None if graduates else school_class.grade + 1
        target = (
            None
            if target_grade is None
            else find_class(school, from_year + 1, target_grade, school_class.name)
        )
        plan.steps.append(
            PromotionStep(
                source=school_class,
                pupils=counts.get(school_class.id, 0),
                graduates=graduates,
                target_grade=target_grade,
                target=target,
            )
        )
    return plan


def promote_school(
    school: School, from_year: int, *, graduating_grades: Iterable[int] = ()
) -> PromotionResult:
    """Move every active pupil of ``from_year`` one grade up into ``from_year + 1``.

    Each class of grade g moves to the class of the same name in grade g + 1 (created
    when missing) and the pupils get their Enrolment for the new year; pupils of the
    graduating grades (12 always, plus ``graduating_grades``) are deactivated. One audit
    event with the counts. Refused with PromotionRefused when pupils of ``from_year`` are
    already enrolled in ``from_year + 1``, so running it twice never promotes twice.
    The caller commits once: all or nothing.
    """
    plan = plan_promotion(school, from_year, graduating_grades=graduating_grades)
    if plan.already_promoted:
        raise PromotionRefused("already_promoted")
    if not any(step.pupils for step in plan.steps):
        raise PromotionRefused("nothing_to_promote")
    to_year = from_year + 1
    promoted = graduated = created = 0
    for step in plan.steps:
        if not step.pupils:
            continue
        ids = list(
            db.session.scalars(
                select(Student.id).where(
                    Student.class_id == step.source.id, Student.active.is_(True)
                )
            )
        )
        if not ids:
            continue
        _complete_enrolments(ids, step.source)
        if step.graduates:
            db.session.execute(
                update(Student)
                .where(Student.id.in_(ids))
                .values(active=False)
                .execution_options(synchronize_session=False)
            )
            graduated += len(ids)
            continue
        target = step.target
        if target is None:
            target = SchoolClass(
                school_id=school.id,
                school_year=to_year,
                grade=step.target_grade,
                name=step.source.name,
            )
            db.session.add(target)
            db.session.flush()
            created += 1
        db.session.execute(
            update(Student)
            .where(Student.id.in_(ids))
            .values(class_id=target.id)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            insert(Enrolment),
            [{"student_id": i, "school_year": to_year, "class_id": target.id} for i in ids],
        )
        promoted += len(ids)
    result = PromotionResult(from_year, to_year, promoted, graduated, created)
    record_event(
        "promote",
        "school",
        school.id,
        school_id=school.id,
        summary=(
            f"school year {from_year} -> {to_year}: {promoted} pupils promoted, "
            f"{graduated} graduated, {created} classes created"
        ),
        before={"school_year": from_year},
        after={
            "school_year": to_year,
            "promoted": promoted,
            "graduated": graduated,
            "classes_created": created,
            "graduating_grades": sorted(plan.graduating_grades),
        },
    )
    db.session.flush()
    # The bulk UPDATEs bypassed the identity map: reload pupils on next access.
    db.session.expire_all()
    return result
