"""Object fingerprints are sha256 digests everywhere: hash the raw etags webhooks stored.

Polling stored digests while the webhook receiver stored Graph's raw ``@odata.etag`` (and
the word ``deleted``); one change-detection path now digests every version, so existing
rows are brought to the same form and keep deduplicating after the upgrade.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import hashlib
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_FINGERPRINTS = sa.table(
    "object_fingerprints", sa.column("id", sa.Integer()), sa.column("fingerprint", sa.String())
)


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_FINGERPRINTS.c.id, _FINGERPRINTS.c.fingerprint))
    for row_id, fingerprint in list(rows):
        if not _DIGEST.match(fingerprint or ""):
            digest = hashlib.sha256((fingerprint or "").encode()).hexdigest()
            connection.execute(
                _FINGERPRINTS.update()
                .where(_FINGERPRINTS.c.id == row_id)
                .values(fingerprint=digest)
            )


def downgrade() -> None:
    # Digests cannot be turned back into etags; the receiver treats them as new versions.
    pass
