"""``flask create-user`` and ``flask create-school``: set up a site from the shell.

Both call admin/services.py, like the admin pages, so the same rules hold (unique
usernames, the scope each role needs, password strength), and both commit once at the
end: a command that fails changes nothing and exits with status 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask.cli import with_appcontext

from ..extensions import db
from ..models import Role
from . import services
from .services import AdminError


def _run(action: Callable[[], Any]) -> Any:
    """Run ``action`` in one transaction; a refused change rolls back and exits non-zero."""
    try:
        result = action()
    except AdminError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return result


@click.command("create-user")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="admin, nurse (needs --school), institution (needs --institution) "
    "or official (needs --district).",
)
@click.option("--school", "school_code", metavar="CODE", help="School code, for a nurse.")
@click.option("--institution", metavar="NAME", help="Institution name or code.")
@click.option("--district", metavar="NAME", help="District name or code, for an official.")
@click.option("--display-name", default="", help="The name shown on pages.")
@click.option(
    "--password",
    default=None,
    help="Prompted for (twice, hidden) when not given; avoid it on shared machines, "
    "the shell history keeps it.",
)
@click.option(
    "--language",
    "locale",
    type=click.Choice(["zh_Hans_CN", "en"]),
    default=None,
    help="Preferred language; without it the browser's choice is used.",
)
@with_appcontext
def create_user_command(
    username: str,
    role: str,
    school_code: str | None,
    institution: str | None,
    district: str | None,
    display_name: str,
    password: str | None,
    locale: str | None,
) -> None:
    """Create the account USERNAME, e.g. flask create-user wang --role nurse --school S01."""
    scope = services.ROLE_SCOPE[role]
    given = {"school": school_code, "institution": institution, "district": district}
    for name, value in given.items():
        if value and name != scope:
            needed = f"--{scope}" if scope else "no scope option"
            raise click.UsageError(
                f"--{name} does not apply to the role {role} (it takes {needed})."
            )

    scope_objects: dict[str, Any] = {}
    if school_code:
        scope_objects["school"] = services.find_school(school_code)
        if scope_objects["school"] is None:
            raise click.ClickException(f"No school has the code {school_code!r}.")
    if institution:
        scope_objects["institution"] = services.find_institution(institution)
        if scope_objects["institution"] is None:
            raise click.ClickException(f"No institution is named {institution!r}.")
    if district:
        scope_objects["district"] = services.find_district(district)
        if scope_objects["district"] is None:
            raise click.ClickException(f"No district is named {district!r}.")
    if services.find_user(username) is not None:
        raise click.ClickException(f"The username {username!r} is taken.")

    if password is None:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password"
        )
    user = _run(
        lambda: services.create_user(
            username,
            role=role,
            password=password,
            display_name=display_name,
            locale=locale,
            **scope_objects,
        )
    )
    where = ""
    if user.school is not None:
        where = f" at school {user.school.code} {user.school.name}"
    elif user.institution is not None:
        where = f" of institution {user.institution.name}"
    elif user.district is not None:
        where = f" of district {user.district.name}"
    click.echo(f"Created user {user.username} ({user.role}){where}.")


@click.command("create-school")
@click.argument("code")
@click.argument("name")
@click.option(
    "--district",
    metavar="NAME",
    help="District name (created if missing); required for a new school.",
)
@with_appcontext
def create_school_command(code: str, name: str, district: str | None) -> None:
    """Create school CODE called NAME, or update the name (and district) of school CODE."""
    change = _run(
        lambda: services.create_school(code, name, district=district, update_existing=True)
    )
    school = change.school
    if change.district_created:
        click.echo(f"Created district {school.district.name}.")
    if change.created:
        click.echo(
            f"Created school {school.code} {school.name} in district {school.district.name}."
        )
    elif change.changes:
        for field_name, (old, new) in change.changes.items():
            if field_name == "district_id":
                click.echo(f"Moved school {school.code} to district {school.district.name}.")
            else:
                click.echo(f"Updated school {school.code}: {field_name} {old!r} -> {new!r}.")
    else:
        click.echo(f"School {school.code} {school.name} is already up to date.")
