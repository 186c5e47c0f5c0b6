"""partner schools recorded by a shop; set-password links of invitations sent by email

Revision ID: 0012_people_invite_links
Revises: 0011_verifier_disclosure
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0012_people_invite_links'
down_revision: str | None = '0011_verifier_disclosure'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (with its reference) on both databases: SQLite's batch mode would copy the
    # organization table, which every other table points at.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE organization ADD COLUMN created_by_org_id INTEGER REFERENCES organization (id)")
    else:
        op.add_column('organization', sa.Column('created_by_org_id', sa.Integer(), nullable=True))
        op.create_foreign_key('organization_created_by_org_id_fkey', 'organization', 'organization',
                              ['created_by_org_id'], ['id'])
    op.add_column('invitation', sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.create_index(op.f('ix_invitation_token_hash'), 'invitation', ['token_hash'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_invitation_token_hash'), table_name='invitation')
    with op.batch_alter_table('invitation') as batch:
        batch.drop_column('token_hash')
    with op.batch_alter_table('organization') as batch:
        batch.drop_column('created_by_org_id')
