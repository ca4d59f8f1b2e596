"""why a pupil was not screened; sessions that record refraction

Revision ID: 7c4e2a9b1f30
Revises: 5b1e7c0a9d21
Create Date: 2026-12-05 14:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7c4e2a9b1f30"
down_revision = "5b1e7c0a9d21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("screening_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_screened_reason", sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_screening_results_not_screened_reason_code"),
            "not_screened_reason IS NULL OR not_screened_reason IN "
            "('absent', 'refused', 'ill', 'exempt')",
        )
    with op.batch_alter_table("screening_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "records_refraction", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    # Pupils marked absent before reasons existed were absent; sessions that already hold
    # refraction values record refraction.
    op.execute(
        "UPDATE screening_results SET not_screened_reason = 'absent' "
        "WHERE absent = true AND not_screened_reason IS NULL"
    )
    # SE was not kept when only sphere and cylinder were entered: derive it now.
    for eye in ("right", "left"):
        op.execute(
            f"UPDATE screening_results SET se_{eye} = sph_{eye} + cyl_{eye} / 2.0 "
            f"WHERE se_{eye} IS NULL AND sph_{eye} IS NOT NULL AND cyl_{eye} IS NOT NULL"
        )
    op.execute(
        "UPDATE screening_sessions SET records_refraction = true WHERE id IN ("
        "SELECT session_id FROM screening_results WHERE sph_right IS NOT NULL "
        "OR cyl_right IS NOT NULL OR sph_left IS NOT NULL OR cyl_left IS NOT NULL "
        "OR se_right IS NOT NULL OR se_left IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("screening_sessions", schema=None) as batch_op:
        batch_op.drop_column("records_refraction")
    with op.batch_alter_table("screening_results", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("ck_screening_results_not_screened_reason_code"), type_="check"
        )
        batch_op.drop_column("not_screened_reason")
