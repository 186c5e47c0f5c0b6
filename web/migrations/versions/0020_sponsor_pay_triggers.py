"""wage schedule triggers (approved OJL hours, a credential issued) and completion certificates as a record kind

Revision ID: 0020_sponsor_pay_triggers
Revises: 0019_appr_apprenticeship
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0020_sponsor_pay_triggers'
down_revision: str | None = '0019_appr_apprenticeship'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('paystep', schema=None) as batch_op:
        batch_op.add_column(sa.Column('milestone_hours', sa.Integer(), nullable=True))
    with op.batch_alter_table('completionrecord', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False,
                                      server_default='record'))


def downgrade() -> None:
    with op.batch_alter_table('completionrecord', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('paystep', schema=None) as batch_op:
        batch_op.drop_column('milestone_hours')
