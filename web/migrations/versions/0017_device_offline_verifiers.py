"""offline PIN verifiers per tablet and mentor; what a tablet last reported (when, and its unsent signatures)

Revision ID: 0017_device_offline_verifiers
Revises: 0013_tablet_signing_window
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0017_device_offline_verifiers'
down_revision: str | None = '0016_outside_status_index'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('tabletdevice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('queued_count', sa.Integer(), nullable=False, server_default='0'))
    op.create_table('offlineverifier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('salt', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('iterations', sa.Integer(), nullable=False),
    sa.Column('key_encrypted', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['tabletdevice.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_id', 'person_id', name='uq_offlineverifier_device_person')
    )
    op.create_index(op.f('ix_offlineverifier_device_id'), 'offlineverifier', ['device_id'], unique=False)
    op.create_index(op.f('ix_offlineverifier_person_id'), 'offlineverifier', ['person_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_offlineverifier_person_id'), table_name='offlineverifier')
    op.drop_index(op.f('ix_offlineverifier_device_id'), table_name='offlineverifier')
    op.drop_table('offlineverifier')
    with op.batch_alter_table('tabletdevice', schema=None) as batch_op:
        batch_op.drop_column('queued_count')
        batch_op.drop_column('last_seen_at')
