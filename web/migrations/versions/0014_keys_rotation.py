"""issuer keys: several per organization (ES256 and Ed25519), retired and revoked-from states

Revision ID: 0014_keys_rotation
Revises: 0013_tablet_signing_window
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0014_keys_rotation'
down_revision: str | None = '0013_tablet_signing_window'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = sa.text('retired_at IS NULL')
# SQLite's copy of the table has an unnamed unique constraint; naming it lets batch mode drop it.
NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _unique_org(bind) -> str:
    return 'uq_issuerkey_organization_id' if bind.dialect.name == 'sqlite' else 'issuerkey_organization_id_key'


def upgrade() -> None:
    # Existing rows are ES256 keys in use: they become the current ES256 key of their organization.
    with op.batch_alter_table('issuerkey', schema=None, naming_convention=NAMES) as batch_op:
        batch_op.drop_constraint(_unique_org(op.get_bind()), type_='unique')
        batch_op.add_column(sa.Column('retired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_from', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_reason', sqlmodel.sql.sqltypes.AutoString(length=300),
                                      nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_issuerkey_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('uq_issuerkey_current', ['organization_id', 'algorithm'], unique=True,
                              sqlite_where=CURRENT, postgresql_where=CURRENT)


def downgrade() -> None:
    # Only the current ES256 key of each organization can stay: the old table held one key per organization.
    op.execute("DELETE FROM issuerkey WHERE retired_at IS NOT NULL OR algorithm <> 'ES256'")
    with op.batch_alter_table('issuerkey', schema=None) as batch_op:
        batch_op.drop_index('uq_issuerkey_current', sqlite_where=CURRENT, postgresql_where=CURRENT)
        batch_op.drop_index(batch_op.f('ix_issuerkey_organization_id'))
        batch_op.drop_column('revoked_reason')
        batch_op.drop_column('revoked_from')
        batch_op.drop_column('retired_at')
        batch_op.create_unique_constraint('issuerkey_organization_id_key', ['organization_id'])
