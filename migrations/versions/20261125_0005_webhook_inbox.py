"""Webhook inbox: accepted events waiting for their objects to be fetched.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.Integer()),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("events", JSON_OBJECT, nullable=False),
        sa.Column("body", JSON_OBJECT, nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", TIMESTAMP, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_webhook_inbox_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbox")),
    )
    op.create_index(op.f("ix_webhook_inbox_instance_id"), "webhook_inbox", ["instance_id"])
    op.create_index(op.f("ix_webhook_inbox_next_attempt_at"), "webhook_inbox", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("webhook_inbox")
