"""report covering indexes

Revision ID: 55c8753f32e3
Revises: 891a7095507f
Create Date: 2026-12-05 13:00:00.000000

The reports (schoolhealth/reports/services.py) sum evaluation codes of every result of
a district's sessions; this index holds every column they read, led by the session, so
the sum is an index-only range scan instead of a read of the wide results table; and
(id, sex) of students, for the grouping by sex.
"""

from alembic import op


# revision identifiers, used by Alembic.
revision = '55c8753f32e3'
down_revision = '891a7095507f'
branch_labels = None
depends_on = None

COLUMNS = [
    'session_id',
    'absent',
    'age_band',
    'weight_status',
    'thinness',
    'stunting',
    'vision_right',
    'vision_left',
    'myopia_right',
    'myopia_left',
    'spine',
    'caries',
    'student_id',
]


def upgrade() -> None:
    with op.batch_alter_table('screening_results', schema=None) as batch_op:
        batch_op.create_index('ix_screening_results_report', COLUMNS, unique=False)
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.create_index('ix_students_id_sex', ['id', 'sex'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.drop_index('ix_students_id_sex')
    with op.batch_alter_table('screening_results', schema=None) as batch_op:
        batch_op.drop_index('ix_screening_results_report')
