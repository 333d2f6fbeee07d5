"""The one sandbox user of each provider (their data is shared by all their tokens)."""

from __future__ import annotations

from dataclasses import dataclass

# The tenant Microsoft uses for personal (MSA) accounts.
MSA_CONSUMER_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"


@dataclass(frozen=True)
class MicrosoftUser:
    """The sandbox Microsoft account (OneDrive and Outlook)."""

    id: str
    display_name: str
    mail: str
    tenant_id: str = MSA_CONSUMER_TENANT_ID


@dataclass(frozen=True)
class GoogleUser:
    """The sandbox Google account (Calendar, People, Gmail)."""

    email: str
    display_name: str


DEFAULT_MICROSOFT_USER = MicrosoftUser(
    id="6e5b2f3a-4c1d-4f7e-9a8b-0c1d2e3f4a5b",
    display_name="Sandbox User",
    mail="sandbox.user@outlook.com",
)
DEFAULT_GOOGLE_USER = GoogleUser(email="sandbox.user@gmail.com", display_name="Sandbox User")
