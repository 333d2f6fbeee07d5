"""ORM models: organizations, their users, and element instances."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, MetaData, String, Text
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


class Instance(Base):
    """An element instance: one connection to one account at a provider.

    ``configuration`` holds the non-secret configuration keys as validated;
    ``secrets`` holds the secret ones (client secret, OAuth tokens, signature key),
    encrypted at rest.
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
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    invalid_reason: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    events_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
