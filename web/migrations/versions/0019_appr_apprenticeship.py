"""registered apprenticeships: the program per triad, its work-process schedule, the OJL hours ledger,
classroom hours (RTI) and credit for prior learning

Revision ID: 0019_appr_apprenticeship
Revises: 0018_sync_offline_events
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0019_appr_apprenticeship'
down_revision: str | None = '0018_sync_offline_events'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('apprenticeship',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('triad_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('registration_number', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('occupation', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('occupation_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('term_hours', sa.Integer(), nullable=False),
    sa.Column('probation_hours', sa.Integer(), nullable=False),
    sa.Column('credit_rule', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('credit_value', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('status_date', sa.Date(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['shop_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['triad_id'], ['triad.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('triad_id')
    )
    with op.batch_alter_table('apprenticeship', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apprenticeship_shop_id'), ['shop_id'], unique=False)
    op.create_table('rtirecord',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('apprenticeship_id', sa.Integer(), nullable=False),
    sa.Column('term', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('course', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('hours', sa.Integer(), nullable=False),
    sa.Column('result', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['apprenticeship_id'], ['apprenticeship.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rtirecord', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rtirecord_apprenticeship_id'), ['apprenticeship_id'], unique=False)
    op.create_table('workprocess',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('apprenticeship_id', sa.Integer(), nullable=False),
    sa.Column('area_code', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('target_hours', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['apprenticeship_id'], ['apprenticeship.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('workprocess', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workprocess_apprenticeship_id'), ['apprenticeship_id'], unique=False)
    op.create_table('hoursentry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('apprenticeship_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('work_process_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('ro_number', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('logged_by_id', sa.Integer(), nullable=True),
    sa.Column('logged_by_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('logged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('return_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['apprenticeship_id'], ['apprenticeship.id'], ),
    sa.ForeignKeyConstraint(['corrects_id'], ['hoursentry.id'], ),
    sa.ForeignKeyConstraint(['decided_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['logged_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['work_process_id'], ['workprocess.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('apprenticeship_id', 'seq')
    )
    with op.batch_alter_table('hoursentry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hoursentry_apprenticeship_id'), ['apprenticeship_id'], unique=False)
    op.create_table('priorcredit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('task_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('issuer_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('issuer_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('evidence_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('credited_by_id', sa.Integer(), nullable=True),
    sa.Column('credited_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('rechecked_by_id', sa.Integer(), nullable=True),
    sa.Column('rechecked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], ),
    sa.ForeignKeyConstraint(['credited_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['rechecked_by_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('priorcredit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_priorcredit_assignment_id'), ['assignment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('priorcredit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_priorcredit_assignment_id'))
    op.drop_table('priorcredit')
    with op.batch_alter_table('hoursentry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hoursentry_apprenticeship_id'))
    op.drop_table('hoursentry')
    with op.batch_alter_table('workprocess', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workprocess_apprenticeship_id'))
    op.drop_table('workprocess')
    with op.batch_alter_table('rtirecord', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rtirecord_apprenticeship_id'))
    op.drop_table('rtirecord')
    with op.batch_alter_table('apprenticeship', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apprenticeship_shop_id'))
    op.drop_table('apprenticeship')
