"""an index for the newest events of a shop (dashboard and manager pages)

Revision ID: 0006_event_time_index
Revises: 0005_reviews
Create Date: 2026-11-23 00:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0006_event_time_index'
down_revision: str | None = '0005_reviews'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_progressevent_at_id', 'progressevent', ['at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_progressevent_at_id', table_name='progressevent')
