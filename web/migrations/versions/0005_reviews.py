"""reviews, pay plans, tool notes (issue #5)

Revision ID: 0005_reviews
Revises: 0004_records
Create Date: 2026-11-23 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel.sql.sqltypes  # noqa: F401
from alembic import op  # noqa: F401


revision: str = '0005_reviews'
down_revision: str | None = '0004_records'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
