"""Whole-database backup and restore: ``flask backup OUT`` and ``flask restore IN``.

A school system's records outlive any one server, so a backup must be a file that the
same tools read back on another machine: PostgreSQL's own custom-format dump
(pg_dump/pg_restore, which keep types, sequences and constraints exactly) and, for the
embedded SQLite default, SQLite's online backup API (a consistent copy even while the
site is serving). Both are checked before a restore touches anything, and a restore
replaces the whole database in one step or not at all.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    dialect: str
    size_bytes: int


def _libpq_url(url: URL) -> str:
    """The SQLAlchemy URL as libpq reads it (pg_dump knows no ``+psycopg`` driver part)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return Path(url.database)


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} was not found; install PostgreSQL's client tools "
            "(Debian: apt-get install postgresql-client)."
        )
    return path


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: {' / '.join(detail[-3:])}")


def backup_database(database_url: str | URL, out: str | os.PathLike[str]) -> BackupInfo:
    """Write a consistent copy of the whole database to ``out`` (replaced if it exists)."""
    url = make_url(database_url)
    target = Path(out)
    if target.parent and not target.parent.exists():
        raise BackupError(f"The folder {target.parent} does not exist.")
    partial = target.with_name(target.name + ".partial")
    try:
        if url.get_backend_name() == "postgresql":
            _run(
                [
                    _pg_tool("pg_dump"),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={partial}",
                    f"--dbname={_libpq_url(url)}",
                ]
            )
        elif url.get_backend_name() == "sqlite":
            source = sqlite3.connect(f"file:{_sqlite_path(url)}?mode=ro", uri=True)
            partial.unlink(missing_ok=True)
            copy = sqlite3.connect(partial)
            try:
                with copy:
                    source.backup(copy)
            finally:
                copy.close()
                source.close()
        else:
            raise BackupError(f"Backups of {url.get_backend_name()} databases are not supported.")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupInfo(target, url.get_backend_name(), target.stat().st_size)


def check_backup(path: str | os.PathLike[str], dialect: str) -> None:
    """Refuse a file that is not a backup of this kind of database, before anything changes."""
    source = Path(path)
    if not source.is_file():
        raise BackupError(f"{source} is not a file.")
    with source.open("rb") as handle:
        head = handle.read(16)
    if dialect == "postgresql":
        if not head.startswith(PG_DUMP_MAGIC):
            raise BackupError(
                f"{source} is not a PostgreSQL backup made by `flask backup` (pg_dump custom "
                "format)."
            )
        _run([_pg_tool("pg_restore"), "--list", str(source)])
        return
    if head != SQLITE_MAGIC:
        raise BackupError(f"{source} is not a SQLite backup made by `flask backup`.")
    connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is damaged: {exc}") from exc
    finally:
        connection.close()
    if verdict != "ok":
        raise BackupError(f"{source} is damaged: {verdict}")
    if "students" not in tables:
        raise BackupError(f"{source} is a SQLite file but not a SchoolHealth database.")


def restore_database(database_url: str | URL, source: str | os.PathLike[str]) -> None:
    """Replace the whole database with the backup ``source``: all of it, or nothing.

    The caller must have closed its own connections (``db.engine.dispose()``): PostgreSQL
    cannot drop tables that another session still reads, and SQLite's copy takes a lock.
    """
    url = make_url(database_url)
    dialect = url.get_backend_name()
    check_backup(source, dialect)
    if dialect == "postgresql":
        _run(
            [
                _pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={_libpq_url(url)}",
                str(source),
            ]
        )
        return
    if dialect != "sqlite":
        raise BackupError(f"Restoring {dialect} databases is not supported.")
    backup = sqlite3.connect(f"file:{Path(source)}?mode=ro", uri=True)
    live = sqlite3.connect(_sqlite_path(url), timeout=30)
    try:
        with live:
            backup.backup(live)
    finally:
        live.close()
        backup.close()
