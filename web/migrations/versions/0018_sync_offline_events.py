"""offline sign-offs from shop tablets: the device's time, the tablet and the idempotency key on events, and the
sign-offs that arrived after the task changed (offlineconflict)

Revision ID: 0018_sync_offline_events
Revises: 0017_device_offline_verifiers
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0018_sync_offline_events'
down_revision: str | None = '0017_device_offline_verifiers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('progressevent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_time', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('tablet_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))
        batch_op.create_foreign_key('fk_progressevent_tablet_id', 'tabletdevice', ['tablet_id'], ['id'])
        batch_op.create_unique_constraint('uq_progressevent_idempotency_key', ['idempotency_key'])
    op.create_table(
        'offlineconflict',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('task_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('mentor_id', sa.Integer(), nullable=False),
        sa.Column('mentor_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('tablet_id', sa.Integer(), nullable=False),
        sa.Column('tablet_name', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column('device_time', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('base_version', sa.Integer(), nullable=False),
        sa.Column('rating', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('ro_number', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column('vin', sqlmodel.sql.sqltypes.AutoString(length=17), nullable=False),
        sa.Column('photo_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('photo_thumb', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('photo_type', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('photo_size', sa.Integer(), nullable=False),
        sa.Column('photo_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('server_state', sa.Text(), nullable=False),
        sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('resolved_by_id', sa.Integer(), nullable=True),
        sa.Column('resolution', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('resolution_event_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id']),
        sa.ForeignKeyConstraint(['mentor_id'], ['person.id']),
        sa.ForeignKeyConstraint(['resolution_event_id'], ['progressevent.id']),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['person.id']),
        sa.ForeignKeyConstraint(['shop_id'], ['organization.id']),
        sa.ForeignKeyConstraint(['tablet_id'], ['tabletdevice.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('idempotency_key'),
    )
    with op.batch_alter_table('offlineconflict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offlineconflict_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offlineconflict_mentor_id'), ['mentor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offlineconflict_shop_id'), ['shop_id'], unique=False)


def downgrade() -> None:
    op.drop_table('offlineconflict')
    with op.batch_alter_table('progressevent', schema=None) as batch_op:
        batch_op.drop_constraint('uq_progressevent_idempotency_key', type_='unique')
        batch_op.drop_constraint('fk_progressevent_tablet_id', type_='foreignkey')
        batch_op.drop_column('idempotency_key')
        batch_op.drop_column('tablet_id')
        batch_op.drop_column('device_time')
