"""Roster import throughput: 100,000 pupils through the real service, against raw inserts.

    .venv/bin/python bench/roster_import.py                      # temporary SQLite file
    .venv/bin/python bench/roster_import.py --database-url \\
        postgresql+psycopg://postgres@127.0.0.1:5432/test_h3     # drops/creates its tables
    .venv/bin/python bench/roster_import.py --rows 20000 --seed 7

Generates a deterministic roster CSV (UTF-8 with BOM, Chinese headers): plausible
Chinese names, sexes, birth dates that fit grades 1-9, ten classes a grade, GB 11643
resident ID numbers with correct check digits for about two thirds of the pupils (their
student number is then G + the ID number, as national numbers are), guardian phones.

Then, in one run on one database, it times:

* the import as the CLI does it: read the file, phase 1 (parse_roster), phase 2
  (apply_roster: pupils, classes, enrolments, audit), commit;
* the re-import of the same file (every pupil unchanged: phase 1 and an import event);
* the raw insert limit of the same database for the same pupil rows: COPY through
  psycopg on PostgreSQL, one executemany in one transaction on SQLite, into the same
  students table with its indexes and foreign keys (values computed beforehand);

and prints rows per second and the import's ratio to raw. Redis is not used.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, func, select, text  # noqa: E402

from schoolhealth import create_app  # noqa: E402
from schoolhealth.extensions import db  # noqa: E402
from schoolhealth.models import (  # noqa: E402
    AuditEvent,
    District,
    Enrolment,
    School,
    SchoolClass,
    Student,
    utcnow,
)
from schoolhealth.roster.importing import apply_roster, parse_roster, read_roster  # noqa: E402
from schoolhealth.roster.services import name_initials  # noqa: E402
from schoolhealth.rules.idnumber import check_character  # noqa: E402

SCHOOL_YEAR = 2026
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
DOUBLE_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方")
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红玲芬燕彬鹏辉建国浩宇子轩梓涵一诺"
    "欣怡雨泽思彤俊佳博文晨曦梦瑶嘉懿若汐宸皓睿铭可馨语桐沐阳天佑奕辰安琪紫萱诗琪锦程家豪"
)
AREAS = (
    "110105",
    "110108",
    "310104",
    "310115",
    "440106",
    "440305",
    "510107",
    "330106",
    "130102",
    "420106",
)
HEADER = ("学籍号", "姓名", "性别", "出生日期", "年级", "班级", "身份证号", "家长电话")
GRADE_TEXT = ("一年级", "二年级", "三年级", "四年级", "五年级", "六年级", "初一", "初二", "初三")


def generate(rows: int, seed: int) -> list[tuple[str, ...]]:
    """Deterministic roster rows in HEADER order, as a school's export would hold them."""
    rng = random.Random(seed)
    seen_ids: set[str] = set()
    out = []
    for n in range(rows):
        grade = rng.randrange(1, 10)
        sex = rng.choice("MF")
        # Age 6 on 1 September of the year they start grade 1.
        start = date(SCHOOL_YEAR - grade - 6, 9, 1)
        birth = start + timedelta(days=rng.randrange(365))
        surname = rng.choice(DOUBLE_SURNAMES) if rng.random() < 0.01 else rng.choice(SURNAMES)
        name = surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        id_number = ""
        if rng.random() < 0.67:
            while not id_number or id_number in seen_ids:
                sequence = rng.randrange(500) * 2 + (1 if sex == "M" else 0)
                first17 = f"{rng.choice(AREAS)}{birth:%Y%m%d}{sequence:03d}"
                id_number = first17 + check_character(first17)
            seen_ids.add(id_number)
            number = "G" + id_number
        else:
            number = f"L{n:013d}"
        phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}" if rng.random() < 0.8 else ""
        out.append(
            (
                number,
                name,
                "男" if sex == "M" else "女",
                birth.isoformat() if n % 3 else f"{birth.year}/{birth.month}/{birth.day}",
                GRADE_TEXT[grade - 1] if n % 4 == 0 else str(grade),
                f"{rng.randrange(1, 11)}班",
                id_number,
                phone,
            )
        )
    return out


def to_csv(rows: list[tuple[str, ...]]) -> bytes:
    lines = [",".join(HEADER), *(",".join(row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def timed(label: str, timings: list[tuple[str, float, float, int | None]], rows: int | None = None):
    """Record the wall time and this process's CPU time of a block."""

    class _Timer:
        def __enter__(self):
            self.start, self.cpu = time.perf_counter(), time.process_time()
            return self

        def __exit__(self, *exc):
            wall, cpu = time.perf_counter() - self.start, time.process_time() - self.cpu
            timings.append((label, wall, cpu, rows))
            return False

    return _Timer()


def import_file(data: bytes, school: School, timings: list, prefix: str, rows: int) -> dict:
    with timed(f"{prefix}: read file", timings):
        table = read_roster(data, "roster.csv")
    with timed(f"{prefix}: phase 1 (parse_roster)", timings):
        parse = parse_roster(table, school=school, school_year=SCHOOL_YEAR, file_name="roster.csv")
    with timed(f"{prefix}: phase 2 (apply_roster)", timings):
        summary = apply_roster(parse, school=school, school_year=SCHOOL_YEAR, user=None)
    with timed(f"{prefix}: commit", timings):
        db.session.commit()
    steps = [t for t in timings if t[0].startswith(prefix + ":")]
    timings.append((f"{prefix}: total", sum(t[1] for t in steps), sum(t[2] for t in steps), rows))
    if parse.has_errors:
        raise SystemExit(f"the generated roster has errors: {parse.issues[:5]}")
    return summary.to_dict()


def raw_insert(url: str, school: School, rows: list[tuple[str, ...]], timings: list) -> None:
    """The same pupils straight into the students table, values computed beforehand."""
    classes = {
        (grade, name): class_id
        for class_id, grade, name in db.session.execute(
            select(SchoolClass.id, SchoolClass.grade, SchoolClass.name).where(
                SchoolClass.school_id == school.id, SchoolClass.school_year == SCHOOL_YEAR
            )
        )
    }
    now = utcnow()
    grades = {text: i + 1 for i, text in enumerate(GRADE_TEXT)}
    records = []
    for number, name, sex, birth, grade, klass, id_number, phone in rows:
        g = grades.get(grade) or int(grade)
        if "/" in birth:
            y, m, d = (int(p) for p in birth.split("/"))
            birth_date = date(y, m, d)
        else:
            birth_date = date.fromisoformat(birth)
        records.append(
            (
                school.id,
                number,
                name,
                name_initials(name),
                "M" if sex == "男" else "F",
                birth_date,
                id_number or None,
                phone or None,
                "zh",
                classes[(g, klass.removesuffix("班"))],
                True,
                now,
                now,
            )
        )
    db.session.execute(delete(AuditEvent))
    db.session.execute(delete(Enrolment))
    db.session.execute(delete(Student))
    db.session.commit()
    columns = (
        "school_id",
        "student_number",
        "name",
        "name_initials",
        "sex",
        "birth_date",
        "id_number",
        "guardian_phone",
        "guardian_language",
        "class_id",
        "active",
        "created_at",
        "updated_at",
    )
    engine = db.engine
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with timed("raw: COPY students (psycopg)", timings, len(records)):
                with raw.cursor() as cursor:
                    sql = f"COPY students ({', '.join(columns)}) FROM STDIN"
                    with cursor.copy(sql) as copy:
                        for record in records:
                            copy.write_row(record)
                raw.commit()
        finally:
            raw.close()
    else:
        path = engine.url.database
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA foreign_keys=ON")
        stored = [(*r[:5], r[5].isoformat(), *r[6:10], 1, str(r[11]), str(r[12])) for r in records]
        placeholders = ", ".join("?" * len(columns))
        with timed("raw: executemany students (sqlite3)", timings, len(records)):
            conn.executemany(
                f"INSERT INTO students ({', '.join(columns)}) VALUES ({placeholders})", stored
            )
            conn.commit()
        conn.close()
    db.session.expire_all()
    inserted = db.session.scalar(select(func.count()).select_from(Student))
    assert inserted == len(records), (inserted, len(records))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="roster-bench-")
    try:
        run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: str) -> None:
    url = args.database_url or f"sqlite:///{os.path.join(folder, 'bench.sqlite')}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": {},
            "IMPORT_MAX_ROWS": max(args.rows, 2_000_000),
            "IMPORT_MAX_ROWS_PER_SCHOOL": max(args.rows, 2_000_000),
        }
    )
    rows = generate(args.rows, args.seed)
    data = to_csv(rows)
    timings: list[tuple[str, float, float, int | None]] = []
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            version = db.session.scalar(text("SHOW server_version"))
            database = f"PostgreSQL {version}"
        else:
            database = f"SQLite {sqlite3.sqlite_version} (file, {url.split('///')[-1]})"
        db.create_all()
        school = School(code="BENCH", name="基准测试学校", district=District(name="基准区"))
        db.session.add(school)
        db.session.commit()

        first = import_file(data, school, timings, "import", args.rows)
        second = import_file(data, school, timings, "re-import", args.rows)
        assert first["created"] == args.rows, first
        assert second["unchanged"] == args.rows, second
        raw_insert(url, school, rows, timings)

    print(
        f"Roster import benchmark: {args.rows:,} pupils, {len(data) / 1e6:.1f} MB CSV, "
        f"seed {args.seed}"
    )
    print(
        f"Database: {database}; CPUs: {os.cpu_count()}; load average: "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(
        f"First import: {first['created']:,} created, {first['classes_created']} classes; "
        f"re-import: {second['unchanged']:,} unchanged"
    )
    print()
    print(f"{'step':<40} {'wall s':>8} {'cpu s':>8} {'rows/s':>10}")
    print("-" * 69)
    rates = {}
    for label, wall, cpu, count in timings:
        rate = f"{count / wall:,.0f}" if count else ""
        if count:
            rates[label.split(":")[0]] = count / wall
        print(f"{label:<40} {wall:>8.2f} {cpu:>8.2f} {rate:>10}")
    print("-" * 69)
    raw_rate = rates["raw"]
    print(f"{'import rows/s / raw rows/s':<58} {rates['import'] / raw_rate:>10.2f}")
    print(f"{'re-import rows/s / raw rows/s':<58} {rates['re-import'] / raw_rate:>10.2f}")
    print("(cpu s: this Python process only; the database server works on top of it)")


if __name__ == "__main__":
    main()
