"""spinal motion test (脊柱运动试验) on screening results

Revision ID: 5b1e7c0a9d21
Revises: d240a8e69118
Create Date: 2026-12-05 13:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5b1e7c0a9d21"
down_revision = "d240a8e69118"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("screening_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("motion_test", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screening_results", schema=None) as batch_op:
        batch_op.drop_column("motion_test")
