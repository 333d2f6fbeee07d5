"""Partial indexes that keep claiming from the outbox cheap as delivered rows accumulate.

The dispatcher's claim walks undelivered notifications in id order and, for each, asks
whether an older one of the same instance is still undelivered, or another one is leased.
Partial indexes over just those rows make each question an index seek, however many
delivered notifications the history keeps.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDELIVERED = sa.text("status IN ('pending', 'retrying')")
LEASED = sa.text("lease_owner IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_queue",
            ["id"],
            unique=False,
            sqlite_where=UNDELIVERED,
            postgresql_where=UNDELIVERED,
        )
        batch_op.create_index(
            "ix_notifications_undelivered",
            ["instance_id", "id"],
            unique=False,
            sqlite_where=UNDELIVERED,
            postgresql_where=UNDELIVERED,
        )
        batch_op.create_index(
            "ix_notifications_leased",
            ["instance_id"],
            unique=False,
            sqlite_where=LEASED,
            postgresql_where=LEASED,
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_leased")
        batch_op.drop_index("ix_notifications_undelivered")
        batch_op.drop_index("ix_notifications_queue")
