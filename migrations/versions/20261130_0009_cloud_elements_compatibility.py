"""Cloud Elements compatibility: configuration as sent, token import, queued deliveries.

``instances.configuration_sent`` keeps the non-secret configuration values exactly as the
client sent them (``"15"``, ``"true"``), so they read back unchanged;
``instances.external_authentication`` records an instance created from tokens the client
already held (``externalAuthentication: "initial"``). The partial index on undelivered
notifications also covers ``queued`` ones, because a queued notification holds back the
later notifications of its instance.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UNDELIVERED = sa.text("status IN ('pending', 'retrying')")
HOLDING_BACK = sa.text("status IN ('pending', 'retrying', 'queued')")


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("configuration_sent", JSON_OBJECT, nullable=True))
        batch_op.add_column(
            sa.Column(
                "external_authentication",
                sa.String(20),
                nullable=False,
                server_default="none",
            )
        )
    _recreate_undelivered_index(HOLDING_BACK)


def downgrade() -> None:
    _recreate_undelivered_index(UNDELIVERED)
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("external_authentication")
        batch_op.drop_column("configuration_sent")


def _recreate_undelivered_index(where: sa.TextClause) -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_undelivered")
        batch_op.create_index(
            "ix_notifications_undelivered",
            ["instance_id", "id"],
            unique=False,
            sqlite_where=where,
            postgresql_where=where,
        )
