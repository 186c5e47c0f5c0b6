"""a shop option: any of its mentors may sign a mentee's task (off: only the mentee's own mentor)

Revision ID: 0008_signing_rule
Revises: 0007_invitations
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_signing_rule'
down_revision: str | None = '0007_invitations'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing shops start with the narrower rule (only the triad's mentor signs); an admin turns it on.
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.add_column(sa.Column('any_mentor_signs', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.drop_column('any_mentor_signs')
