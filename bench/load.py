"""Load test: signed-in nurses saving results through gunicorn while a roster import runs.

    .venv/bin/python bench/load.py                                   # 50 nurses, 60 s, PostgreSQL
    .venv/bin/python bench/load.py --nurses 10 --seconds 10          # a quick run
    .venv/bin/python bench/load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/x

What it does, all on this machine (loopback only, bounded in count and time):

1. WIPES the database named by ``--database-url`` (default ``.../test_load``, created if
   missing), migrates it with ``flask db upgrade`` and seeds the demo district with
   ``--pupils`` pupils, then adds one nurse account and one open screening session
   (growth + vision) per class used, so every nurse owns her own class: saves never
   conflict, and any answer but 200 counts as an error.
2. Starts ``gunicorn -w 2 wsgi:app`` with the production configuration (CSRF, secure
   settings except the cookie's HTTPS flag, which plain loopback HTTP cannot carry).
3. Each nurse signs in through the login form, opens her class grid and, for
   ``--seconds``, saves one measurement after another through the grid's JSON endpoint,
   as grid.js does (height, weight, then both eyes' acuity, pupil after pupil, with the
   row version the server returned).
4. Meanwhile ``flask import-roster`` loads a ``--import-rows`` roster into another
   school in a separate process, as an operator would during the school day.

It prints saves/s, latency p50 / p95 / p99 / max, the answers by status, the import's
duration, and exits 1 if any save failed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

PASSWORD = "load-test nurse passphrase 2026"
FIELDS = ("height_cm", "weight_kg", "ucva_left", "ucva_right")
CONFIRMATION = "422 needs_confirmation (confirmed)"


def value_for(field_name: str, counter: int) -> str:
    """Plausible values, varied so every save really changes the row."""
    step = counter % 10
    return {
        "height_cm": f"{125 + step}.{counter % 10}",
        "weight_kg": f"{24 + step}.{(counter * 3) % 10}",
        "ucva_left": ("4.8", "4.9", "5.0", "4.7")[counter % 4],
        "ucva_right": ("5.0", "4.9", "4.6", "5.1")[counter % 4],
    }[field_name]


# --- database set-up -------------------------------------------------------------------


def prepare_database(url: str, pupils: int, nurses: int) -> tuple[list[dict], str]:
    """Wipe, migrate and seed; returns one dict a nurse (login, session, class, pupils)."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        )
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    engine = create_engine(parsed)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()

    env = {**os.environ, "DATABASE_URL": url, "SCHOOLHEALTH_CONFIG": "development"}
    env.pop("REDIS_URL", None)
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [*flask, "seed-demo", "--pupils", str(pupils)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )

    os.environ["DATABASE_URL"] = url
    from schoolhealth import create_app
    from schoolhealth.admin import services as admin_services
    from schoolhealth.extensions import db
    from schoolhealth.models import SchoolClass, Student
    from schoolhealth.screening import sessions as screening

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    plans: list[dict] = []
    with app.app_context():
        classes = db.session.scalars(
            select(SchoolClass).order_by(SchoolClass.school_id, SchoolClass.id)
        ).all()
        busy = [c for c in classes if c.students][: nurses + 1]
        if len(busy) < nurses + 1:
            raise SystemExit(f"--pupils {pupils} gives {len(busy)} classes; raise it.")
        import_school = busy[-1].school
        sessions: dict[int, object] = {}
        for index, school_class in enumerate(busy[:nurses]):
            school = school_class.school
            if school.id not in sessions:
                session = screening.create_session(
                    school,
                    name=f"Load test {school.code}",
                    start_date=date.today(),
                    types=["growth", "vision"],
                    user=None,
                )
                screening.change_status(session, "in_progress", user=None)
                sessions[school.id] = session
            username = f"load_nurse_{index:02d}"
            admin_services.create_user(
                username, role="nurse", password=PASSWORD, school=school, locale="en"
            )
            pupil_ids = db.session.scalars(
                select(Student.id)
                .where(Student.class_id == school_class.id, Student.active.is_(True))
                .order_by(Student.id)
            ).all()
            plans.append(
                {
                    "username": username,
                    "session_id": sessions[school.id].id,
                    "class_id": school_class.id,
                    "pupils": list(pupil_ids),
                }
            )
        import_code = import_school.code
        db.session.commit()
    return plans, import_code


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SCHOOLHEALTH_CONFIG": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "SESSION_COOKIE_SECURE": "false",
        # One client address (loopback) stands for 50 nurses here: lift the per-address
        # sign-in throttle that protects a real site.
        "LOGIN_LIMIT_PER_ADDRESS": "10000 per minute",
    }
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {log}") from None
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start within 60 s")


# --- a nurse ---------------------------------------------------------------------------------


CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
ROW = re.compile(r'data-student-id="(\d+)" data-version="(\d+)"')


@dataclass
class NurseStats:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


class Nurse:
    def __init__(self, base: str, plan: dict) -> None:
        self.base = base
        self.plan = plan
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.versions: dict[int, int] = {}
        self.csrf = ""

    def _get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

    def sign_in(self) -> None:
        page = self._get("/login")
        token = CSRF_INPUT.search(page).group(1)
        form = urllib.parse.urlencode(
            {"csrf_token": token, "username": self.plan["username"], "password": PASSWORD}
        ).encode()
        with self.opener.open(self.base + "/login", data=form, timeout=30) as response:
            if "/login" in response.geturl():
                raise RuntimeError(f"{self.plan['username']} could not sign in")
        grid = self._get(
            f"/screening/sessions/{self.plan['session_id']}/classes/{self.plan['class_id']}"
        )
        self.csrf = CSRF_META.search(grid).group(1)
        self.versions = {int(s): int(v) for s, v in ROW.findall(grid)}
        if not self.versions:
            raise RuntimeError(f"{self.plan['username']}'s grid shows no pupils")

    def save(
        self,
        student_id: int,
        field_name: str,
        value: str,
        stats: NurseStats,
        *,
        confirm: bool = False,
    ) -> None:
        """One save as grid.js makes it; an improbable value is confirmed and sent again."""
        fields = {"field": field_name, "value": value, "version": self.versions[student_id]}
        if confirm:
            fields["confirm"] = True
        body = json.dumps(fields).encode()
        request = urllib.request.Request(
            f"{self.base}/screening/sessions/{self.plan['session_id']}/students/{student_id}/field",
            data=body,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-CSRFToken": self.csrf,
            },
        )
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=30) as response:
                status, payload = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, payload = error.code, {}
            with contextlib.suppress(ValueError):
                payload = json.loads(error.read() or b"{}")
        except OSError as error:  # connection refused/reset, timeout
            status, payload = 0, {"error": str(error)}
        stats.latencies.append(time.perf_counter() - started)
        if status == 422 and payload.get("error") == "needs_confirmation" and not confirm:
            # The nurse is asked "unusual for this age?" and presses Enter: grid.js sends
            # the value again with confirm. An answer the system is meant to give.
            stats.statuses[CONFIRMATION] += 1
            self.save(student_id, field_name, value, stats, confirm=True)
            return
        stats.statuses[status] += 1
        if status == 200:
            self.versions[student_id] = int(payload["version"])
        else:
            if "version" in payload:
                self.versions[student_id] = int(payload["version"])
            if len(stats.errors) < 5:
                stats.errors.append(f"{status} {payload.get('error')}: {payload.get('message')}")

    def work(self, until: float, stats: NurseStats) -> None:
        counter = 0
        pupils = list(self.versions)
        while time.monotonic() < until:
            student_id = pupils[(counter // len(FIELDS)) % len(pupils)]
            field_name = FIELDS[counter % len(FIELDS)]
            self.save(student_id, field_name, value_for(field_name, counter), stats)
            counter += 1


# --- the import beside it ---------------------------------------------------------------


def load_roster_module():
    spec = importlib.util.spec_from_file_location(
        "roster_bench", ROOT / "bench" / "roster_import.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_import(url: str, school_code: str, rows: int, folder: Path, result: dict) -> None:
    roster = load_roster_module()
    path = folder / "import.csv"
    path.write_bytes(roster.to_csv(roster.generate(rows, seed=11)))
    env = {**os.environ, "DATABASE_URL": url, "SCHOOLHEALTH_CONFIG": "development"}
    env.pop("REDIS_URL", None)
    started = time.perf_counter()
    completed = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "flask"),
            "--app",
            "wsgi",
            "import-roster",
            str(path),
            "--school",
            school_code,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    result["seconds"] = time.perf_counter() - started
    result["exit_code"] = completed.returncode
    result["tail"] = (completed.stdout + completed.stderr).strip().splitlines()[-2:]


# --- main ------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test_load",
        help="a PostgreSQL database to WIPE and use (created if missing)",
    )
    parser.add_argument("--nurses", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--pupils", type=int, default=4000, help="demo pupils to seed")
    parser.add_argument("--import-rows", type=int, default=20000, help="rows of the roster import")
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("the load test runs on PostgreSQL, as production does")

    folder = Path(tempfile.mkdtemp(prefix="schoolhealth-load-"))
    print(f"preparing {args.database_url} ({args.pupils} pupils, {args.nurses} nurses)…")
    plans, import_school = prepare_database(args.database_url, args.pupils, args.nurses)
    port = free_port()
    server = start_gunicorn(args.database_url, port, args.workers, folder / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    try:
        nurses = [Nurse(base, plan) for plan in plans]
        for nurse in nurses:
            nurse.sign_in()
        print(f"{len(nurses)} nurses signed in; saving for {args.seconds:.0f} s …")
        import_result: dict = {}
        importer = threading.Thread(
            target=run_import,
            args=(args.database_url, import_school, args.import_rows, folder, import_result),
        )
        stats = [NurseStats() for _ in nurses]
        until = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=n.work, args=(until, s))
            for n, s in zip(nurses, stats, strict=True)
        ]
        started = time.perf_counter()
        importer.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        importer.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    latencies = [x for s in stats for x in s.latencies]
    statuses: Counter = Counter()
    for s in stats:
        statuses.update(s.statuses)
    errors = [e for s in stats for e in s.errors]
    failed = sum(n for status, n in statuses.items() if status not in (200, CONFIRMATION))
    ms = [x * 1000 for x in latencies]
    print(f"saves: {len(latencies)} in {elapsed:.1f} s = {len(latencies) / elapsed:.1f} saves/s")
    print(
        f"latency ms: p50 {percentile(ms, 0.50):.1f}  p95 {percentile(ms, 0.95):.1f}  "
        f"p99 {percentile(ms, 0.99):.1f}  max {max(ms):.1f}  (mean {statistics.fmean(ms):.1f})"
    )
    print("answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)))
    print(
        f"roster import of {args.import_rows} rows beside it: exit {import_result.get('exit_code')}"
        f" in {import_result.get('seconds', 0):.1f} s ({' / '.join(import_result.get('tail', []))})"
    )
    for error in errors[:10]:
        print(f"  error: {error}")
    print(f"errors {failed}")
    return 1 if failed or import_result.get("exit_code") not in (0,) else 0


if __name__ == "__main__":
    raise SystemExit(main())
