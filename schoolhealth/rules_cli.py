"""``flask rules ...``: offline use of the screening rules (registered in create_app).

``flask rules evaluate IN OUT`` reads a results file (docs/formats/results.md: CSV or
spreadsheet, Chinese or English headers) and writes the evaluation CSV of
docs/formats/evaluation.md (UTF-8 with BOM, input columns first). Nothing is written
to the database: institutions can check a file before uploading it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from flask.cli import AppGroup

from .results_file import evaluate_file
from .rules import (
    DEFAULT_CONFIG,
    GROWTH_REFERENCES,
    RULESET_VERSION,
    InvalidMeasurement,
    RuleConfig,
    parse_date,
)
from .tabular import FileRejected

rules_cli = AppGroup("rules", help="Screening rules: evaluate results files offline.")


@rules_cli.command("evaluate")
@click.argument(
    "in_path", metavar="IN", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.argument("out_path", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--screening-date",
    default=None,
    help="Date for rows without a screening_date (检查日期) value, e.g. 2026-09-15.",
)
@click.option(
    "--growth-reference",
    type=click.Choice(GROWTH_REFERENCES),
    default=DEFAULT_CONFIG.growth_reference,
    show_default=True,
    help="BMI reference: WS/T 586-2018, WHO 2007 or CDC 2000.",
)
@click.option(
    "--atr-positive-degrees",
    default=str(DEFAULT_CONFIG.atr_positive_degrees),
    show_default=True,
    help="Scoliometer ATR at or above which a pupil is referred.",
)
@click.option(
    "--myopia-se-operator",
    type=click.Choice(["<=", "<"]),
    default=DEFAULT_CONFIG.myopia_se_operator,
    show_default=True,
    help="Screening myopia: SE <= -0.50 D (default) or SE < -0.50 D.",
)
def evaluate_command(
    in_path: Path,
    out_path: Path,
    screening_date: str | None,
    growth_reference: str,
    atr_positive_degrees: str,
    myopia_se_operator: str,
) -> None:
    """Classify every pupil of results file IN and write OUT.csv (evaluation.md columns)."""
    try:
        config = RuleConfig(
            growth_reference=growth_reference,
            atr_positive_degrees=Decimal(atr_positive_degrees),
            myopia_se_operator=myopia_se_operator,
        )
        default_date = parse_date(screening_date, "--screening-date")
    except (InvalidMeasurement, InvalidOperation) as exc:
        raise click.BadParameter(str(exc)) from exc
    try:
        report = evaluate_file(in_path, out_path, config=config, screening_date=default_date)
    except FileRejected as exc:
        raise click.ClickException(f"{in_path.name}: {exc}") from exc
    options = config.describe()
    click.echo(
        f"{report.rows} rows evaluated with rule set {RULESET_VERSION}"
        + (f" ({options})" if options else "")
        + f": {report.clean} clean, {report.with_errors} with rejected values "
        f"({report.blank} left blank), {report.referred} with a referral. Wrote {out_path}."
    )
