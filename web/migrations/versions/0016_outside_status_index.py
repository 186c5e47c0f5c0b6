"""each issued credential's bit in its issuer's Bitstring Status List

Revision ID: 0016_outside_status_index
Revises: 0015_di_credential_json (merged from branches keys and di; the lead re-chains)
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_outside_status_index'
down_revision: str | None = '0015_di_credential_json'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('issuedcredential', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_index', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_issuedcredential_status_index', ['issuer_id', 'status_index'])


def downgrade() -> None:
    with op.batch_alter_table('issuedcredential', schema=None) as batch_op:
        batch_op.drop_constraint('uq_issuedcredential_status_index', type_='unique')
        batch_op.drop_column('status_index')
