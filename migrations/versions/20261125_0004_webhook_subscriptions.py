"""Provider webhook subscriptions (Microsoft Graph).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Integer()),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(200), nullable=False),
        sa.Column("object_type", sa.String(100), nullable=False),
        sa.Column("client_state", sa.Text(), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("renew_at", TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("needs_catch_up", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_webhook_subscriptions_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
        sa.UniqueConstraint(
            "subscription_id", name=op.f("uq_webhook_subscriptions_subscription_id")
        ),
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_instance_id"), "webhook_subscriptions", ["instance_id"]
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_renew_at"), "webhook_subscriptions", ["renew_at"]
    )


def downgrade() -> None:
    op.drop_table("webhook_subscriptions")
