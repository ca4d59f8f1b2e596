"""``flask letters``: a session's letters as a class PDF or a school ZIP, as in the browser."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..extensions import db
from ..models import SchoolClass, ScreeningSession
from . import pdf, services


def _find_class(session: ScreeningSession, name: str) -> SchoolClass:
    """A class of the session's school by "3-2" (grade-name) or by its name alone."""
    classes = [c for c, _flagged, _n in services.letter_classes(session)]
    wanted = name.strip()
    matches = [c for c in classes if f"{c.grade}-{c.name}" == wanted]
    if not matches:
        matches = [c for c in classes if c.name == wanted]
    if len(matches) != 1:
        known = ", ".join(f"{c.grade}-{c.name}" for c in classes) or "none"
        raise click.BadParameter(
            f"no single class {name!r} with results in this session (classes: {known})",
            param_hint="--class",
        )
    return matches[0]


@click.command("letters")
@click.option("--session", "session_id", type=int, required=True, help="Screening session id.")
@click.option("--class", "class_name", help='One class, e.g. "3-2" (grade-class): a PDF.')
@click.option(
    "--lang",
    type=click.Choice(["zh", "en", "guardian"]),
    default="guardian",
    show_default=True,
    help="Letter language, or each guardian's.",
)
@click.option("--all", "include_normal", is_flag=True, help="Also pupils with normal results.")
@click.option("--duplex", is_flag=True, help="Start each letter on an odd page.")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def letters_command(
    session_id: int,
    class_name: str | None,
    lang: str,
    include_normal: bool,
    duplex: bool,
    out: Path,
) -> None:
    """Write a session's parent letters: OUT.pdf for one class, OUT.zip for the school.

    The same PDFs as the browser's batches (and each letter is registered and audited).
    """
    session = db.session.scalars(
        select(ScreeningSession).where(ScreeningSession.id == session_id)
    ).first()
    if session is None:
        raise click.BadParameter(f"no session {session_id}", param_hint="--session")
    suffix = out.suffix.lower()
    if class_name and suffix != ".pdf":
        raise click.BadParameter("a class batch is written as a .pdf file", param_hint="OUT")
    if not class_name and suffix != ".zip":
        raise click.BadParameter(
            "without --class the school's letters are a .zip of class PDFs", param_hint="OUT"
        )
    try:
        if class_name:
            school_class = _find_class(session, class_name)
            data, count = services.class_pdf(
                session,
                school_class,
                language_mode=lang,
                include_normal=include_normal,
                duplex=duplex,
                user=None,
            )
        else:
            data, count = services.school_zip(
                session,
                language_mode=lang,
                include_normal=include_normal,
                duplex=duplex,
                user=None,
            )
    except pdf.LetterFontMissing as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    services.record_event(
        "export",
        "letter_batch",
        None,
        school_id=session.school_id,
        summary=f"flask letters: {out.name}",
        after={"session_id": session.id, "class": class_name, "letters": count, "lang": lang},
    )
    out.write_bytes(data)
    db.session.commit()
    click.echo(f"{count} letters written to {out}")
