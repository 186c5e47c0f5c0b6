"""a shop's multi-sign window on tablets (the setting, the turn's window, the events signed within it), and
the day a practice was done

Revision ID: 0013_tablet_signing_window
Revises: 0012_people_invite_links
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0013_tablet_signing_window'
down_revision: str | None = '0012_people_invite_links'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tablet_window', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('tablet_window_minutes', sa.Integer(), nullable=False, server_default='3'))
    with op.batch_alter_table('progressevent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('in_window', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('practiced_on', sa.Date(), nullable=True))
    with op.batch_alter_table('websession', schema=None) as batch_op:
        batch_op.add_column(sa.Column('window_mentee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('window_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key('fk_websession_window_mentee_id', 'person', ['window_mentee_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('websession', schema=None) as batch_op:
        batch_op.drop_constraint('fk_websession_window_mentee_id', type_='foreignkey')
        batch_op.drop_column('window_until')
        batch_op.drop_column('window_mentee_id')
    with op.batch_alter_table('progressevent', schema=None) as batch_op:
        batch_op.drop_column('practiced_on')
        batch_op.drop_column('in_window')
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.drop_column('tablet_window_minutes')
        batch_op.drop_column('tablet_window')
