"""Bulk outcomes from hospitals and institutions (docs/formats/followup-outcomes.md).

The roster importer's discipline: the whole file is checked first and every problem is
reported by row and column; nothing is written until the uploader confirms the report;
then every row is applied or none (one transaction, committed by the view or command);
running the same file again changes nothing (rows equal to the stored outcome are
"unchanged" and write no audit event). Pupils and cases are looked up only within what
the uploader may see (access.py): a pupil of another school reads as unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_

from ..access import scoped_students
from ..audit import record_event
from ..extensions import db
from ..models import FollowupCase, ScreeningSession, Student, User
from ..tabular import FileRejected, map_headers, normalize_cell, read_table
from . import services

MAX_ROWS = 20_000
ALIASES: dict[str, list[str]] = {
    "student_number": ["学籍号", "学号", "student number", "student no"],
    "id_number": ["身份证号", "身份证号码", "身份证", "id number", "resident id"],
    "session_id": ["场次", "筛查场次", "场次编号", "session", "session id"],
    "screening_date": ["筛查日期", "screening date"],
    "case_type": ["复查类型", "异常类型", "类型", "finding type", "finding", "type"],
    "confirmed": ["是否确诊", "确诊", "confirmed"],
    "cobb_angle": ["cobb角", "cobb", "cobb angle", "科布角"],
    "cyclo_se_right": ["右眼等效球镜", "右眼se", "se right", "cycloplegic se right"],
    "cyclo_se_left": ["左眼等效球镜", "左眼se", "se left", "cycloplegic se left"],
    "treated": ["是否治疗", "已治疗", "treated"],
    "teeth_treated": ["治疗牙数", "teeth treated"],
    "intervention": ["干预", "干预措施", "intervention"],
    "hospital": ["医院", "就诊医院", "hospital"],
    "doctor": ["医生", "医师", "doctor"],
    "diagnosis_date": ["诊断日期", "就诊日期", "diagnosis date", "date"],
    "note": ["备注", "note", "notes"],
}
CASE_TYPE_WORDS = {
    "scoliosis": "scoliosis",
    "spine": "scoliosis",
    "脊柱侧弯": "scoliosis",
    "脊柱": "scoliosis",
    "myopia": "myopia",
    "vision": "myopia",
    "近视": "myopia",
    "视力": "myopia",
    "caries": "caries",
    "dental": "caries",
    "龋齿": "caries",
    "龋病": "caries",
    "weight": "weight",
    "growth": "weight",
    "obesity": "weight",
    "overweight": "weight",
    "malnutrition": "weight",
    "肥胖": "weight",
    "超重": "weight",
    "营养不良": "weight",
    "体重": "weight",
}


@dataclass
class Issue:
    line: int | None
    column: str | None
    message: str


@dataclass
class PlannedRow:
    line: int
    case_id: int
    student_number: str
    name: str
    case_type: str
    action: str  # "new", "changed", "unchanged"


@dataclass
class ImportReport:
    rows: list[PlannedRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    applied: int = 0

    @property
    def ok(self) -> bool:
        return not self.issues and bool(self.rows)

    def counts(self) -> dict[str, int]:
        out = {"new": 0, "changed": 0, "unchanged": 0}
        for row in self.rows:
            out[row.action] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [asdict(r) for r in self.rows],
            "issues": [asdict(i) for i in self.issues],
            "applied": self.applied,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        return cls(
            rows=[PlannedRow(**r) for r in data.get("rows", [])],
            issues=[Issue(**i) for i in data.get("issues", [])],
            applied=data.get("applied", 0),
        )


def _find_student(user: User, number: str, id_number: str) -> Student | None:
    conditions = []
    if number:
        conditions.append(Student.student_number == number)
    if id_number:
        conditions.append(Student.id_number == id_number.upper())
    if not conditions:
        return None
    found = db.session.scalars(scoped_students(user).where(or_(*conditions))).all()
    return found[0] if len(found) == 1 else None


def _check(
    data: bytes, file_name: str, user: User
) -> tuple[ImportReport, list[tuple[FollowupCase, services.Outcome]]]:
    report = ImportReport()
    plan: list[tuple[FollowupCase, services.Outcome]] = []
    try:
        table = read_table(data, file_name, max_rows=MAX_ROWS)
    except FileRejected as exc:
        report.issues.append(Issue(None, None, str(exc)))
        return report, plan
    headers = map_headers(table.headers, ALIASES)
    for name in headers.duplicates:
        report.issues.append(Issue(1, name, _("This column appears twice.")))
    if "student_number" not in headers.columns and "id_number" not in headers.columns:
        report.issues.append(
            Issue(1, None, _("The file needs a student number or an ID number column."))
        )
    if "case_type" not in headers.columns:
        report.issues.append(Issue(1, None, _("The file needs a finding type column.")))
    if "diagnosis_date" not in headers.columns:
        report.issues.append(Issue(1, None, _("The file needs a diagnosis date column.")))
    if report.issues:
        return report, plan
    if not table.rows:
        report.issues.append(Issue(None, None, _("The file has no rows under its headers.")))
        return report, plan
    label = {v: table.headers[i] for v, i in headers.columns.items()}
    seen: dict[int, int] = {}
    scoped = services.scoped_cases(user)
    for row in table.rows:
        values = {k: normalize_cell(row.get(i)) for k, i in headers.columns.items()}
        if not any(values.values()):
            continue
        line = row.line

        def issue(column: str | None, message: str, line: int = line) -> None:
            report.issues.append(
                Issue(line, label.get(column, column) if column else None, message)
            )

        number, id_number = values.get("student_number", ""), values.get("id_number", "")
        student = _find_student(user, number, id_number)
        if student is None:
            column = "student_number" if number else "id_number"
            issue(column, _("No pupil with this number in the schools you may upload for."))
            continue
        kind = CASE_TYPE_WORDS.get(values.get("case_type", "").lower())
        if kind is None:
            issue(
                "case_type",
                _(
                    "“%(value)s” is not a finding type (scoliosis, myopia, caries or weight).",
                    value=values.get("case_type", ""),
                ),
            )
            continue
        query = scoped.where(FollowupCase.student_id == student.id, FollowupCase.case_type == kind)
        session_text = values.get("session_id", "")
        if session_text:
            if not session_text.isdigit():
                issue("session_id", _("“%(value)s” is not a session number.", value=session_text))
                continue
            query = query.where(FollowupCase.session_id == int(session_text))
        screened = values.get("screening_date", "")
        if screened:
            try:
                day = services.parse_day(screened, "screening_date")
            except services.FollowupError as exc:
                issue("screening_date", str(exc.message))
                continue
            query = query.join(
                ScreeningSession, ScreeningSession.id == FollowupCase.session_id
            ).where(
                or_(
                    FollowupCase.referred_on == day,
                    ScreeningSession.start_date == day,
                )
            )
        found = db.session.scalars(query.where(FollowupCase.state != "withdrawn")).all()
        if not found:
            issue(
                "case_type",
                _(
                    "%(pupil)s has no open %(kind)s referral to record an outcome for.",
                    pupil=student.masked_student_number,
                    kind=services.CASE_TYPE_LABELS[kind],
                ),
            )
            continue
        if len(found) > 1:
            issue(
                "session_id" if "session_id" in headers.columns else "case_type",
                _(
                    "The pupil has %(n)d such referrals: give the session or the screening date.",
                    n=len(found),
                ),
            )
            continue
        case_ = found[0]
        if case_.id in seen:
            issue(
                "case_type",
                _("Row %(line)d already gives this referral's outcome.", line=seen[case_.id]),
            )
            continue
        seen[case_.id] = line
        outcome, errors = services.parse_outcome(kind, values, case_.referred_on)
        for name, message in errors.items():
            issue(name, message)
        if outcome is None:
            continue
        if services.same_outcome(case_, outcome) and case_.state == "closed":
            action = "unchanged"
        else:
            action = "changed" if case_.has_outcome else "new"
        report.rows.append(
            PlannedRow(line, case_.id, student.masked_student_number, student.name, kind, action)
        )
        plan.append((case_, outcome))
    if not report.rows and not report.issues:
        report.issues.append(Issue(None, None, _("The file has no rows under its headers.")))
    return report, plan


def check_file(data: bytes, file_name: str, user: User) -> ImportReport:
    """The dry run: every problem by row and column, and what each good row would do."""
    return _check(data, file_name, user)[0]


def apply_file(data: bytes, file_name: str, user: User) -> ImportReport:
    """Check again (the data may have moved since the preview), then apply every row or
    none: any problem leaves the database untouched and returns the report."""
    report, plan = _check(data, file_name, user)
    if not report.ok:
        return report
    for case_, outcome in plan:
        if services.record_outcome(case_, outcome, user=user, source="import"):
            report.applied += 1
    counts = report.counts()
    record_event(
        "import",
        "followup_outcomes",
        summary=f"Follow-up outcomes imported from {file_name}: {counts}"[:500],
        after={"file": file_name, **counts, "applied": report.applied},
        user=user,
    )
    db.session.flush()
    return report


def issues_text(issues: Sequence[Issue]) -> list[str]:
    return [
        (f"row {i.line}, " if i.line else "") + (f"{i.column}: " if i.column else "") + i.message
        for i in issues
    ]
