"""issued credentials: the Data Integrity (eddsa-rdfc-2022) form beside the VC-JWT

Revision ID: 0015_di_credential_json
Revises: 0014_keys_rotation
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_di_credential_json'
down_revision: str | None = '0014_keys_rotation'  # needs the Ed25519 keys of 0014_keys_rotation
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('issuedcredential') as batch:
        batch.add_column(sa.Column('di_json', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('issuedcredential') as batch:
        batch.drop_column('di_json')
