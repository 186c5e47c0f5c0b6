"""invitations; the organization that created each account

Revision ID: 0007_invitations
Revises: 0006_event_time_index
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0007_invitations'
down_revision: str | None = '0006_event_time_index'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'invitation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('invited_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('accepted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('declined_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['invited_by_id'], ['person.id']),
        sa.ForeignKeyConstraint(['organization_id'], ['organization.id']),
        sa.ForeignKeyConstraint(['person_id'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_invitation_organization_id'), 'invitation', ['organization_id'], unique=False)
    op.create_index(op.f('ix_invitation_person_id'), 'invitation', ['person_id'], unique=False)
    # A plain ADD COLUMN (with its reference) on both databases: SQLite's batch mode would copy the person
    # table, which every other table points at.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE person ADD COLUMN created_by_org_id INTEGER REFERENCES organization (id)")
    else:
        op.add_column('person', sa.Column('created_by_org_id', sa.Integer(), nullable=True))
        op.create_foreign_key('person_created_by_org_id_fkey', 'person', 'organization',
                              ['created_by_org_id'], ['id'])
    op.create_index(op.f('ix_person_created_by_org_id'), 'person', ['created_by_org_id'], unique=False)
    # Existing accounts: an account whose memberships are all in one organization is that organization's to
    # manage; an account shared by several (or by none) is managed only by its person and the CLI.
    op.execute("""
        UPDATE person SET created_by_org_id = (
            SELECT MIN(m.organization_id) FROM membership m WHERE m.person_id = person.id)
        WHERE (SELECT COUNT(DISTINCT m.organization_id) FROM membership m WHERE m.person_id = person.id) = 1
    """)


def downgrade() -> None:
    op.drop_index(op.f('ix_person_created_by_org_id'), table_name='person')
    with op.batch_alter_table('person') as batch:
        batch.drop_column('created_by_org_id')
    op.drop_index(op.f('ix_invitation_person_id'), table_name='invitation')
    op.drop_index(op.f('ix_invitation_organization_id'), table_name='invitation')
    op.drop_table('invitation')
