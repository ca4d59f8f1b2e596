"""Parent letters: building, registering, batching, and the parents' codes.

Services flush, never commit: the view, the CLI command or the job runner commits once.
Every pupil and session comes in through :mod:`schoolhealth.access` in the views; the
functions here take objects the caller already scoped.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import selectinload

from .. import rules
from ..audit import record_event
from ..extensions import db
from ..jobs import JobFailure, enqueue, job_handler, set_progress
from ..models import (
    LETTER_STATUSES,
    Job,
    Letter,
    LetterBatch,
    LetterText,
    LetterThrottle,
    School,
    SchoolClass,
    ScreeningResult,
    ScreeningSession,
    Student,
    User,
    mask_id_number,
    utcnow,
)
from ..screening.results import stored_measurements
from ..screening.sessions import session_rule_config
from . import content as letter_content
from . import pdf, texts

# No 0/O, 1/I/L: a parent types the code from paper. 31 symbols, 12 of them: ~59 bits.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
LANGUAGE_MODES = ("guardian", "zh", "en")


class LetterError(Exception):
    """A letter cannot be made; ``key`` names the reason for the page."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


# ----------------------------------------------------------------- fonts and wording


def ensure_font() -> str:
    """Register the configured font (raises pdf.LetterFontMissing with what to do)."""
    config = current_app.config
    return pdf.register_font(config["LETTER_FONT_PATH"], config.get("LETTER_FONT_INDEX", 0))


def _latest_text(scope: str, scope_id: int, language: str) -> LetterText | None:
    return db.session.scalars(
        select(LetterText)
        .where(
            LetterText.scope == scope,
            LetterText.scope_id == scope_id,
            LetterText.language == language,
        )
        .order_by(LetterText.version.desc())
        .limit(1)
    ).first()


def wording_for(school: School, language: str) -> tuple[dict[str, str], str]:
    """The letter wording of a school in a language, and its version label for the register.

    Defaults from code, then the district's latest version, then the school's.
    """
    layers: list[dict[str, str]] = []
    label = f"default.{texts.DEFAULTS_VERSION}"
    district = _latest_text("district", school.district_id, language)
    if district is not None:
        layers.append(district.texts or {})
        label += f"+district{school.district_id}.v{district.version}"
    own = _latest_text("school", school.id, language)
    if own is not None:
        layers.append(own.texts or {})
        label += f"+school{school.id}.v{own.version}"
    return texts.wording(language, *layers), f"{language}:{label}"


def save_wording(
    scope: str, scope_id: int, language: str, values: dict[str, str], *, user: User | None
) -> LetterText:
    """Store a new version of a district's or school's wording (only keys that differ)."""
    defaults = texts.DEFAULTS[language]
    changed = {
        k: v.strip()
        for k, v in values.items()
        if k in defaults and v.strip() != defaults[k].strip()
    }
    changed = {k: v for k, v in changed.items() if v}
    previous = _latest_text(scope, scope_id, language)
    version = (previous.version + 1) if previous else 1
    row = LetterText(
        scope=scope,
        scope_id=scope_id,
        language=language,
        version=version,
        texts=changed,
        created_by_id=user.id if user else None,
    )
    db.session.add(row)
    db.session.flush()
    record_event(
        "update",
        "letter_text",
        row.id,
        school_id=scope_id if scope == "school" else None,
        summary=f"{scope} {scope_id} {language} v{version}",
        before={"texts": previous.texts if previous else {}},
        after={"texts": changed},
        user=user,
    )
    return row


# ----------------------------------------------------------------- building one letter


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """What a parent typed, as stored: capitals, no spaces or dashes, O/I/L read as 0/1."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    return cleaned[: CODE_LENGTH * 2]


def letter_url(code: str) -> str:
    return f"{current_app.config['LETTER_BASE_URL'].rstrip('/')}/l/{code}"


def choose_language(student: Student, mode: str) -> str:
    if mode in ("zh", "en"):
        return mode
    return student.guardian_language if student.guardian_language in ("zh", "en") else "zh"


def _findings(result: ScreeningResult) -> list[letter_content.FindingFacts]:
    return [
        letter_content.FindingFacts(
            f.code, f.category, f.advice_key, f.screening_type, bool(f.refer)
        )
        for f in result.findings
        if f.severity > 0
    ]


def _evaluation(
    session: ScreeningSession, student: Student, result: ScreeningResult
) -> tuple[rules.Measurements, rules.Evaluation | None]:
    """The result evaluated again with the session's rules: the cut-offs for the table."""
    measurements = stored_measurements(result)
    if result.screening_date is None:
        return measurements, None
    try:
        evaluation = rules.evaluate(
            rules.Sex(student.sex),
            student.birth_date,
            result.screening_date,
            measurements,
            session_rule_config(session),
            [rules.ScreeningType(t) for t in session.type_list],
        )
    except (rules.InvalidMeasurement, ValueError):
        evaluation = None
    return measurements, evaluation


@dataclass
class Prepared:
    """One letter ready to draw, with its register row."""

    letter: Letter
    content: letter_content.LetterContent


def prepare(
    session: ScreeningSession,
    student: Student,
    result: ScreeningResult | None,
    *,
    language_mode: str = "guardian",
    include_normal: bool = False,
    user: User | None,
    wording_cache: dict[str, tuple[dict[str, str], str]] | None = None,
) -> Prepared | None:
    """Register (or refresh) the pupil's letter for the session and build its content.

    None when there is nothing to send: absent, not screened, or normal results without
    ``include_normal``. The register row keeps its code while the code is valid, so
    printing again gives the same bytes.
    """
    if result is None or result.absent or result.screening_date is None:
        return None
    findings = _findings(result)
    if not findings and not include_normal:
        return None
    language = choose_language(student, language_mode)
    cache = wording_cache if wording_cache is not None else {}
    if language not in cache:
        cache[language] = wording_for(session.school, language)
    words, version = cache[language]
    now = utcnow()
    letter = db.session.scalars(
        select(Letter).where(Letter.session_id == session.id, Letter.student_id == student.id)
    ).first()
    finding_list = [
        {"id": f.id, "code": f.code, "category": f.category, "advice_key": f.advice_key}
        for f in sorted(result.findings, key=lambda f: f.code)
        if f.severity > 0
    ]
    created = letter is None
    if letter is None:
        letter = Letter(
            session_id=session.id,
            student_id=student.id,
            school_id=session.school_id,
            generations=0,
            status="generated",
        )
        db.session.add(letter)
    if created or letter.code_expires_at <= now:
        letter.code = new_code()
        letter.code_expires_at = now + timedelta(days=current_app.config["LETTER_CODE_DAYS"])
    letter.class_id = student.class_id
    letter.kind = "referral" if findings else "summary"
    letter.language = language
    letter.findings = finding_list
    letter.template_version = version[:64]
    letter.generated_at = now
    letter.generated_by_id = user.id if user else None
    letter.generations = (letter.generations or 0) + 1
    measurements, evaluation = _evaluation(session, student, result)
    school_class = student.school_class
    facts = letter_content.PupilFacts(
        name=student.name,
        grade=school_class.grade if school_class else None,
        class_name=school_class.name if school_class else None,
        student_number=student.masked_student_number,
        masked_id=mask_id_number(student.id_number),
        sex=student.sex,
        birth_date=student.birth_date,
        school_name=session.school.name,
        session_name=session.name,
        screening_date=result.screening_date,
    )
    content = letter_content.build_content(
        facts,
        findings,
        words,
        language=language,
        measurements=measurements,
        evaluation=evaluation,
        code=letter.code,
        url=letter_url(letter.code),
        expires=letter.code_expires_at.date(),
        atr_positive=session_rule_config(session).atr_positive_degrees,
    )
    return Prepared(letter, content)


def _audit_generation(prepared: Sequence[Prepared], user: User | None, how: str) -> None:
    db.session.flush()
    for item in prepared:
        letter = item.letter
        record_event(
            "generate",
            "letter",
            letter.id,
            school_id=letter.school_id,
            summary=f"{how}: session {letter.session_id}, pupil {letter.student_id}",
            after={
                "student_id": letter.student_id,
                "session_id": letter.session_id,
                "language": letter.language,
                "findings": [f["code"] + ":" + f["category"] for f in letter.findings],
                "template_version": letter.template_version,
            },
            user=user,
        )


def pupil_result(session: ScreeningSession, student: Student) -> ScreeningResult | None:
    return db.session.scalars(
        select(ScreeningResult)
        .where(ScreeningResult.session_id == session.id, ScreeningResult.student_id == student.id)
        .options(selectinload(ScreeningResult.findings))
    ).first()


def single_letter(
    session: ScreeningSession,
    student: Student,
    *,
    language_mode: str = "guardian",
    user: User | None,
) -> tuple[Letter, bytes]:
    """The PDF of one pupil's letter (with normal results: a summary letter)."""
    ensure_font()
    result = pupil_result(session, student)
    prepared = prepare(
        session, student, result, language_mode=language_mode, include_normal=True, user=user
    )
    if prepared is None:
        raise LetterError("no_result", "The pupil has no screening result in this session.")
    _audit_generation([prepared], user, "single")
    data = pdf.render_one(prepared.content, author=current_app.config["LETTER_AUTHOR"])
    return prepared.letter, data


def letter_file_name(letter: Letter) -> str:
    return f"letter-{letter.session_id}-{letter.student_id}.pdf"


def render_letter(letter: Letter, *, user: User | None = None) -> bytes:
    """A registered letter again (a parent's download): same language, same code."""
    ensure_font()
    result = pupil_result(letter.session, letter.student)
    prepared = prepare(
        letter.session,
        letter.student,
        result,
        language_mode=letter.language,
        include_normal=True,
        user=user,
    )
    if prepared is None:
        raise LetterError("no_result", "The pupil has no screening result in this session.")
    return pdf.render_one(prepared.content, author=current_app.config["LETTER_AUTHOR"])


# ----------------------------------------------------------------- batches


def class_rows(
    session: ScreeningSession, school_class: SchoolClass
) -> list[tuple[Student, ScreeningResult | None]]:
    """The class's active pupils in roster order (student number), results and findings in."""
    rows = db.session.execute(
        select(Student, ScreeningResult)
        .outerjoin(
            ScreeningResult,
            and_(
                ScreeningResult.student_id == Student.id,
                ScreeningResult.session_id == session.id,
            ),
        )
        .where(
            Student.class_id == school_class.id,
            Student.school_id == session.school_id,
            Student.active.is_(True),
        )
        .options(selectinload(ScreeningResult.findings), selectinload(Student.school_class))
        .order_by(Student.student_number)
    ).all()
    return [(student, result) for student, result in rows]


def letter_classes(session: ScreeningSession) -> list[tuple[SchoolClass, int, int]]:
    """Classes with results in the session: (class, pupils with findings, screened)."""
    flagged = func.sum(func.cast(ScreeningResult.flagged, db.Integer))
    rows = db.session.execute(
        select(SchoolClass, flagged, func.count(ScreeningResult.id))
        .join(Student, Student.class_id == SchoolClass.id)
        .join(
            ScreeningResult,
            and_(
                ScreeningResult.student_id == Student.id,
                ScreeningResult.session_id == session.id,
                ScreeningResult.absent.is_(False),
            ),
        )
        .where(SchoolClass.school_id == session.school_id, Student.active.is_(True))
        .group_by(SchoolClass.id)
        .order_by(
            SchoolClass.school_year.desc(),
            SchoolClass.grade,
            func.length(SchoolClass.name),
            SchoolClass.name,
        )
    ).all()
    return [(c, int(f or 0), int(n)) for c, f, n in rows]


def class_pdf(
    session: ScreeningSession,
    school_class: SchoolClass,
    *,
    language_mode: str,
    include_normal: bool,
    duplex: bool,
    user: User | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[bytes, int]:
    """One merged PDF of a class's letters in roster order; returns (bytes, letters)."""
    ensure_font()
    cache: dict[str, tuple[dict[str, str], str]] = {}
    prepared: list[Prepared] = []
    for student, result in class_rows(session, school_class):
        item = prepare(
            session,
            student,
            result,
            language_mode=language_mode,
            include_normal=include_normal,
            user=user,
            wording_cache=cache,
        )
        if item is not None:
            prepared.append(item)
    _audit_generation(prepared, user, "class batch")
    label = f"{school_class.grade}-{school_class.name}"
    data = pdf.render(
        [p.content for p in prepared],
        title=f"{session.name} · {label}",
        author=current_app.config["LETTER_AUTHOR"],
        subject=session.school.name,
        duplex=duplex,
    )
    if progress is not None:
        progress(len(prepared))
    return data, len(prepared)


_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same letters give the same archive


def school_zip(
    session: ScreeningSession,
    *,
    language_mode: str,
    include_normal: bool,
    duplex: bool,
    user: User | None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[bytes, int]:
    """A ZIP with one PDF per class (classes without letters are left out)."""
    classes = [c for c, flagged, n in letter_classes(session) if flagged or include_normal]
    buf = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for index, school_class in enumerate(classes, start=1):
            data, count = class_pdf(
                session,
                school_class,
                language_mode=language_mode,
                include_normal=include_normal,
                duplex=duplex,
                user=user,
            )
            if count:
                name = f"class-{school_class.grade}-{school_class.name}.pdf"
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
                total += count
            if progress is not None:
                progress(index, len(classes))
    return buf.getvalue(), total


def batch_file_name(session: ScreeningSession, school_class: SchoolClass | None, kind: str) -> str:
    if kind == "class" and school_class is not None:
        return f"letters-session{session.id}-class-{school_class.grade}-{school_class.name}.pdf"
    return f"letters-session{session.id}-school{session.school_id}.zip"


def start_batch(
    session: ScreeningSession,
    school_class: SchoolClass | None,
    *,
    language_mode: str,
    include_normal: bool,
    duplex: bool,
    user: User | None,
) -> LetterBatch:
    """Queue a class PDF (``school_class``) or a school ZIP (None) as a background job.

    Commits (through :func:`schoolhealth.jobs.enqueue`): a worker must see the rows.
    Without Redis the job runs here, inline, before this returns.
    """
    if language_mode not in LANGUAGE_MODES:
        raise LetterError("language", f"unknown language {language_mode!r}")
    kind = "class" if school_class is not None else "school"
    job = Job(
        kind="letters",
        user_id=user.id if user else None,
        school_id=session.school_id,
        params={},
    )
    db.session.add(job)
    db.session.flush()
    batch = LetterBatch(
        job_id=job.id,
        session_id=session.id,
        school_id=session.school_id,
        class_id=school_class.id if school_class else None,
        kind=kind,
        language=language_mode,
        include_normal=include_normal,
        duplex=duplex,
        file_name=batch_file_name(session, school_class, kind),
        created_by_id=user.id if user else None,
    )
    db.session.add(batch)
    db.session.flush()
    job.params = {"batch_id": batch.id}
    enqueue(job)
    return batch


@job_handler("letters")
def run_letter_batch(job: Job) -> dict[str, Any]:
    """The job: render the batch, store the file on its row. Idempotent (same bytes)."""
    batch = db.session.get(LetterBatch, int(job.params["batch_id"]))
    if batch is None:
        raise JobFailure("letters.gone", "The letter batch no longer exists.")
    session = db.session.get(ScreeningSession, batch.session_id)
    user = db.session.get(User, job.user_id) if job.user_id else None
    try:
        ensure_font()
    except pdf.LetterFontMissing as exc:
        raise JobFailure("letters.font", str(exc)) from exc

    if batch.kind == "class":
        school_class = db.session.get(SchoolClass, batch.class_id)
        set_progress(job, 0, 1)
        data, count = class_pdf(
            session,
            school_class,
            language_mode=batch.language,
            include_normal=batch.include_normal,
            duplex=batch.duplex,
            user=user,
        )
        set_progress(job, 1, 1)
    else:
        data, count = school_zip(
            session,
            language_mode=batch.language,
            include_normal=batch.include_normal,
            duplex=batch.duplex,
            user=user,
            progress=lambda done, total: set_progress(job, done, total),
        )
    batch.content = data
    batch.sha256 = hashlib.sha256(data).hexdigest()
    batch.letters = count
    record_event(
        "create",
        "letter_batch",
        batch.id,
        school_id=batch.school_id,
        summary=f"{batch.kind} batch of session {batch.session_id}: {count} letters",
        after={
            "session_id": batch.session_id,
            "class_id": batch.class_id,
            "language": batch.language,
            "include_normal": batch.include_normal,
            "duplex": batch.duplex,
            "letters": count,
            "sha256": batch.sha256,
        },
        user=user,
    )
    return {"batch_id": batch.id, "letters": count}


def mark_downloaded(batch: LetterBatch, *, user: User | None, ip_address: str | None) -> int:
    """Audit a batch download and mark its class's letters still "generated" as printed."""
    record_event(
        "download",
        "letter_batch",
        batch.id,
        school_id=batch.school_id,
        summary=batch.file_name,
        after={"sha256": batch.sha256, "letters": batch.letters},
        user=user,
    )
    query = select(Letter).where(
        Letter.session_id == batch.session_id, Letter.status == "generated"
    )
    if batch.class_id is not None:
        query = query.where(Letter.class_id == batch.class_id)
    letters = db.session.scalars(query).all()
    set_status(letters, "printed", user=user)
    return len(letters)


# ----------------------------------------------------------------- the register


def set_status(letters: Iterable[Letter], status: str, *, user: User | None) -> int:
    """Move letters to printed / handed out / slip returned (audited, each)."""
    if status not in LETTER_STATUSES:
        raise LetterError("status", f"unknown status {status!r}")
    now = utcnow()
    count = 0
    for letter in letters:
        if letter.status == status:
            continue
        before = letter.status
        letter.status = status
        letter.status_at = now
        letter.status_by_id = user.id if user else None
        record_event(
            "update",
            "letter",
            letter.id,
            school_id=letter.school_id,
            before={"status": before},
            after={"status": status},
            user=user,
        )
        count += 1
    return count


def session_register(session: ScreeningSession) -> list[Letter]:
    return list(
        db.session.scalars(
            select(Letter)
            .join(Student, Student.id == Letter.student_id)
            .where(Letter.session_id == session.id)
            .options(
                selectinload(Letter.student).selectinload(Student.school_class),
                selectinload(Letter.generated_by),
            )
            .order_by(Student.student_number)
        )
    )


def register_counts(letters: Sequence[Letter]) -> dict[str, int]:
    counts = dict.fromkeys(LETTER_STATUSES, 0)
    for letter in letters:
        counts[letter.status] = counts.get(letter.status, 0) + 1
    counts["total"] = len(letters)
    counts["slips_outstanding"] = sum(
        1 for x in letters if x.kind == "referral" and x.status != "slip_returned"
    )
    return counts


def pupil_letters(student: Student, session_ids: Select | None = None) -> list[Letter]:
    query = (
        select(Letter)
        .where(Letter.student_id == student.id)
        .options(selectinload(Letter.session), selectinload(Letter.generated_by))
        .order_by(Letter.generated_at.desc())
    )
    if session_ids is not None:
        query = query.where(Letter.session_id.in_(session_ids))
    return list(db.session.scalars(query))


# ----------------------------------------------------------------- parents online


def _throttle(key: str) -> LetterThrottle | None:
    return db.session.get(LetterThrottle, key)


def locked_until(keys: Sequence[str], now: datetime) -> datetime | None:
    """The latest lock-out still running among these throttle keys, if any."""
    times = [
        row.locked_until
        for row in (_throttle(k) for k in keys)
        if row is not None and row.locked_until is not None and row.locked_until > now
    ]
    return max(times) if times else None


def record_failure(key: str, limit: int, minutes: int, now: datetime) -> bool:
    """Count a failure; past ``limit`` within the window the key is locked. True if locked."""
    row = _throttle(key)
    window = timedelta(minutes=minutes)
    if row is None:
        row = LetterThrottle(key=key, failures=0, window_start=now)
        db.session.add(row)
    if row.window_start + window <= now:
        row.failures = 0
        row.window_start = now
    row.failures += 1
    if row.failures >= limit:
        row.locked_until = now + window
        row.failures = 0
        row.window_start = now
        return True
    return False


def clear_failures(key: str) -> None:
    row = _throttle(key)
    if row is not None and (row.locked_until is None or row.locked_until <= utcnow()):
        db.session.delete(row)


def client_key(ip_address: str | None) -> str:
    return f"ip:{(ip_address or 'unknown')[:64]}"


def code_key(code: str) -> str:
    return f"code:{code[:32]}"


@dataclass
class Lookup:
    """The outcome of a parent's attempt: the letter, or why not (never which part failed)."""

    letter: Letter | None
    reason: str  # "ok", "locked", "invalid", "expired"
    locked_until: datetime | None = None


def parent_lookup(code_text: str, birth_date: date | None, ip_address: str | None) -> Lookup:
    """Check a code and birth date, with lock-outs per code and per client; audited.

    The answer for an unknown code and for a wrong birth date is the same ("invalid"),
    so the page does not tell a guesser which codes exist.
    """
    config = current_app.config
    now = utcnow()
    code = normalize_code(code_text)
    keys = [client_key(ip_address), code_key(code)]
    until = locked_until(keys, now)
    letter = db.session.scalars(select(Letter).where(Letter.code == code)).first() if code else None
    school_id = letter.school_id if letter else None
    if until is not None:
        record_event(
            "parent_denied",
            "letter",
            letter.id if letter else None,
            school_id=school_id,
            summary="locked",
            after={"reason": "locked", "code_prefix": code[:4]},
        )
        return Lookup(None, "locked", until)
    ok = letter is not None and birth_date is not None and letter.student.birth_date == birth_date
    if ok and letter.code_expires_at <= now:
        record_event(
            "parent_denied", "letter", letter.id, school_id=school_id, after={"reason": "expired"}
        )
        return Lookup(None, "expired")
    if not ok:
        locked = record_failure(
            keys[0],
            config["LETTER_CLIENT_MAX_FAILURES"],
            config["LETTER_CLIENT_LOCKOUT_MINUTES"],
            now,
        )
        if letter is not None:
            locked = (
                record_failure(
                    keys[1],
                    config["LETTER_CODE_MAX_FAILURES"],
                    config["LETTER_CODE_LOCKOUT_MINUTES"],
                    now,
                )
                or locked
            )
        record_event(
            "parent_denied",
            "letter",
            letter.id if letter else None,
            school_id=school_id,
            summary="wrong birth date" if letter else "unknown code",
            after={"reason": "invalid", "code_prefix": code[:4], "locked": locked},
        )
        if locked:
            return Lookup(None, "locked", locked_until(keys, now))
        return Lookup(None, "invalid")
    clear_failures(keys[1])
    record_event(
        "parent_access",
        "letter",
        letter.id,
        school_id=school_id,
        summary=f"session {letter.session_id}, pupil {letter.student_id}",
    )
    return Lookup(letter, "ok")
