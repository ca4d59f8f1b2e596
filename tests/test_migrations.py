"""Migrations are code under test (docs/DEVELOPING.md, habit 11).

One head (Redash); ``upgrade head`` on an empty database gives exactly the models'
schema, and every revision downgrades and upgrades again (SecureDrop). Each test gets
its own empty database, never the session-wide one of tests/conftest.py: a temporary
SQLite file, or with TEST_DATABASE_URL a temporary PostgreSQL database
(``test_migrations_<pid>``, dropped afterwards; a scratch schema when the role may not
create databases).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, UniqueConstraint, inspect
from sqlalchemy.engine import make_url

from config import BASE_DIR
from schoolhealth import create_app
from schoolhealth.extensions import db

MIGRATIONS = BASE_DIR / "migrations"
FILE_NAME = re.compile(r"(\d{8})_(\d{4})_([0-9a-f]+)_(\w+)\.py")


def _script() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def _postgres_scratch(url: str) -> Iterator[str]:
    """A new empty database on the server of ``url`` (or a schema, without CREATEDB)."""
    import psycopg
    from psycopg import sql

    base = make_url(url)
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"test_migrations_{os.getpid()}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
            scratch = base.update_query_dict({"options": f"-csearch_path={name}"})
            yield scratch.render_as_string(hide_password=False)
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
            return
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url and make_url(url).get_backend_name() == "postgresql":
        yield from _postgres_scratch(url)
    else:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"


@pytest.fixture
def migrations_app(scratch_url: str) -> Iterator[Any]:
    """The app on the scratch database, its context pushed (env.py reads current_app)."""
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": scratch_url, "SQLALCHEMY_ENGINE_OPTIONS": {}}
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _alembic_config(app: Any) -> Config:
    return app.extensions["migrate"].migrate.get_config()


def _schema_differences() -> list[Any]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_migrations_have_a_single_head() -> None:
    heads = _script().get_heads()
    assert len(heads) == 1, f"several heads {heads}: merge them (flask db merge heads)"


def test_migration_files_are_date_stamped() -> None:
    for revision in _script().walk_revisions():
        name = Path(revision.path).name
        match = FILE_NAME.fullmatch(name)
        assert match, f"{name} does not follow alembic.ini's file_template"
        assert match.group(3) == revision.revision


def test_upgrade_head_gives_the_models_schema(migrations_app: Any) -> None:
    command.upgrade(_alembic_config(migrations_app), "head")
    assert _tables() == set(db.metadata.tables) | {"alembic_version"}
    assert _schema_differences() == []


def test_constraint_and_index_names_follow_the_naming_convention(migrations_app: Any) -> None:
    command.upgrade(_alembic_config(migrations_app), "head")
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        expected = {
            "unique": {c.name for c in table.constraints if isinstance(c, UniqueConstraint)},
            "foreign": {c.name for c in table.foreign_key_constraints},
            "check": {c.name for c in table.constraints if isinstance(c, CheckConstraint)},
            "index": {i.name for i in table.indexes},
        }
        found = {
            "unique": {c["name"] for c in inspector.get_unique_constraints(table.name)},
            "foreign": {c["name"] for c in inspector.get_foreign_keys(table.name)},
            "check": {c["name"] for c in inspector.get_check_constraints(table.name)},
            # PostgreSQL lists the index behind each unique constraint too
            "index": {
                i["name"]
                for i in inspector.get_indexes(table.name)
                if "duplicates_constraint" not in i
            },
        }
        assert found == expected, table.name


def test_downgrade_base_then_upgrade_head(migrations_app: Any) -> None:
    config = _alembic_config(migrations_app)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert _tables() <= {"alembic_version"}
    command.upgrade(config, "head")
    assert _schema_differences() == []


def test_every_revision_downgrades_and_upgrades_again(migrations_app: Any) -> None:
    config = _alembic_config(migrations_app)
    revisions = list(reversed(list(_script().walk_revisions())))  # base first
    for revision in revisions:
        command.upgrade(config, revision.revision)
        command.downgrade(config, revision.down_revision or "base")
        command.upgrade(config, revision.revision)
    assert _schema_differences() == []
