"""Webhook receipts record when they were written, so those older than
``POLLHUB_WEBHOOK_RECEIPT_RETENTION_DAYS`` can be pruned (the table grew by one row per
version of every live object, forever). Receipts written before count from now.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_receipts") as batch:
        batch.add_column(
            sa.Column(
                "received_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )
        batch.create_index(batch.f("ix_webhook_receipts_received_at"), ["received_at"])
    # The default only dates the rows that were there; every receipt written from now on
    # says when.
    with op.batch_alter_table("webhook_receipts") as batch:
        batch.alter_column("received_at", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("webhook_receipts") as batch:
        batch.drop_index(batch.f("ix_webhook_receipts_received_at"))
        batch.drop_column("received_at")
