"""a mentee's choice to show their ratings to people who verify their records

Revision ID: 0011_verifier_disclosure
Revises: 0010_checkpoints
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_verifier_disclosure'
down_revision: str | None = '0010_checkpoints'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('show_ratings_to_verifiers', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('show_ratings_to_verifiers')
