"""Drop ``ix_notifications_due`` (status, next_attempt_at): no query leads with it any more,
and it cost every outbox write.

The dispatcher's claims read the partial indexes of migrations 0003 and 0009 (each
instance's undelivered notifications in order, the few leased); the backlog gauge reads
``ix_notifications_queue``. Every lease and every attempt result rewrites a notification
row, and this index took one more entry each time (PostgreSQL: leasing 3,000 rows 97-111 ms
with it, 81-88 ms without). On SQLite, which keeps no statistics, it was also the index the
planner wrongly preferred for every claim, walking the whole backlog (15 ms a claim over
20,000 due, 2.7-4.7 ms without it).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_index("ix_notifications_due")


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.create_index("ix_notifications_due", ["status", "next_attempt_at"], unique=False)
