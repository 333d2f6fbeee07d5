"""ORM models: tenants and instances, the notification outbox, and polling state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pollhub.db.types import EncryptedJSON, EncryptedString, UTCDateTime

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONObject = JSON().with_variant(JSONB(), "postgresql")
_UNDELIVERED = text("status IN ('pending', 'retrying')")
# A queued notification (failure policy "queue") holds back its instance's later ones.
_HOLDING_BACK = text("status IN ('pending', 'retrying', 'queued')")
_LEASED = text("lease_owner IS NOT NULL")


class Base(DeclarativeBase):
    """Declarative base with pollhub's naming convention."""

    metadata = MetaData(naming_convention=_NAMING)


class Organization(Base):
    """A tenant. Its secret is stored only as a hash."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    users: Mapped[list[User]] = relationship(back_populates="organization")


class User(Base):
    """A person or program acting for an organization. Its secret is stored only as a hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    organization: Mapped[Organization] = relationship(back_populates="users")


class AuthFailure(Base):
    """Failed authentications of one key (a presented credential, or a client address)
    in the current one-minute window, shared by every API process."""

    __tablename__ = "auth_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    failures: Mapped[int] = mapped_column(Integer)


class ConsoleSession(Base):
    """A signed-in console browser. The cookie holds the session id; only its hash is
    stored. Sign-out deletes every session of the user, and a session whose user's secret
    changed since sign-in is no longer valid."""

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    user_secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CustomElement(Base):
    """An element an organization defined itself (CONTRACT section 7), private to it.

    ``definition`` is the element definition as validated when it was registered or last
    replaced; it holds no secret (instance credentials live in the instances' secrets).
    """

    __tablename__ = "custom_elements"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Instance(Base):
    """An element instance: one connection to one account at a provider.

    ``configuration`` holds the non-secret configuration keys as validated;
    ``secrets`` holds the secret ones (client secret, OAuth tokens, signature key),
    encrypted at rest; ``configuration_sent`` the non-secret values exactly as the client
    sent them, so they read back unchanged.
    """

    __tablename__ = "instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    element_key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSONObject, default=list)
    token: Mapped[str] = mapped_column(EncryptedString())
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    configuration: Mapped[dict[str, Any]] = mapped_column(JSONObject, default=dict)
    secrets: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON(), default=dict)
    configuration_sent: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    # "none", or "initial" for an instance created from tokens the client already held.
    external_authentication: Mapped[str] = mapped_column(
        String(20), default="none", server_default="none"
    )
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    invalid_reason: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    events_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set by ``DELETE ?drain=true``: the instance is deleted once its outbox is empty.
    delete_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
    # An instance of a custom element names it by key within its organization (a key is
    # never both a built-in's and a custom element's). Loaded with every instance, in one
    # extra query per batch, so the poller, the token keeper and the hub have it at hand.
    custom_element: Mapped[CustomElement | None] = relationship(
        primaryjoin="and_(foreign(Instance.organization_id) == CustomElement.organization_id, "
        "foreign(Instance.element_key) == CustomElement.key)",
        viewonly=True,
        lazy="selectin",
    )

    @property
    def element_definition(self) -> dict[str, Any] | None:
        """The custom element's definition, or None for a built-in element."""
        return self.custom_element.definition if self.custom_element else None


class Notification(Base):
    """The outbox: one callback to deliver, written in the same transaction as the change.

    ``body`` holds the exact bytes POSTed (serialized once), so every retry sends, and
    signs, the same thing. Rows of one instance are delivered in ``id`` order.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        # Partial indexes for the dispatcher's claim (migrations 0003, 0009): undelivered
        # rows in order, per instance, and the few leased at any moment. No index leads with
        # the status (migration 0014): every lease and result rewrites the row.
        Index(
            "ix_notifications_queue", "id", sqlite_where=_UNDELIVERED, postgresql_where=_UNDELIVERED
        ),
        Index(
            "ix_notifications_undelivered",
            "instance_id",
            "id",
            sqlite_where=_HOLDING_BACK,
            postgresql_where=_HOLDING_BACK,
        ),
        Index(
            "ix_notifications_leased", "instance_id", sqlite_where=_LEASED, postgresql_where=_LEASED
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(Integer, index=True)
    callback_url: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    object_type: Mapped[str] = mapped_column(String(200))
    event_types: Mapped[str] = mapped_column(String(100))
    event_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PollState(Base):
    """Polling of one resource of one instance: when it is due, who holds it, where it got to."""

    __tablename__ = "poll_states"
    __table_args__ = (UniqueConstraint("instance_id", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(Integer)
    resource: Mapped[str] = mapped_column(String(200))
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_result: Mapped[str | None] = mapped_column(String(50))
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)


class ObjectFingerprint(Base):
    """The last version of an object pollhub reported, so a change is never reported twice."""

    __tablename__ = "object_fingerprints"
    __table_args__ = (UniqueConstraint("instance_id", "resource", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(200))
    object_id: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookSubscription(Base):
    """A provider webhook subscription (Microsoft Graph) that feeds one instance.

    ``renew_at`` is when a worker should next act on it: renew it, re-create it
    (``status`` removed or failed), or catch up on missed notifications.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[str] = mapped_column(String(200), unique=True)
    object_type: Mapped[str] = mapped_column(String(100))
    client_state: Mapped[str] = mapped_column(EncryptedString())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    renew_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    needs_catch_up: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookReceipt(Base):
    """A change of an object a webhook subscription has already processed (its version's
    fingerprint), so that notification, replayed or resent, is never news again — until
    the receipt is pruned, ``POLLHUB_WEBHOOK_RECEIPT_RETENTION_DAYS`` after it was written."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (UniqueConstraint("subscription_row_id", "object_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_row_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    object_id: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class WebhookInbox(Base):
    """Accepted webhook events waiting for slow work (fetching the changed objects) before
    they go to the outbox; written while the provider waits only for its 202."""

    __tablename__ = "webhook_inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSONObject)
    body: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
