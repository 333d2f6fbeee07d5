"""Webhook receipts: the changes each subscription has processed, so a notification of one
of them, resent or replayed however late, emits nothing.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_receipts",
        sa.Column("id", sa.Integer()),
        sa.Column("subscription_row_id", sa.Integer(), nullable=False),
        sa.Column("object_id", sa.String(500), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_row_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_receipts_subscription_row_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_receipts")),
        sa.UniqueConstraint(
            "subscription_row_id",
            "object_id",
            "fingerprint",
            name=op.f("uq_webhook_receipts_subscription_row_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("webhook_receipts")
