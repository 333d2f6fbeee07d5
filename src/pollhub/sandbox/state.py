"""Everything one sandbox app holds in memory, and the control API's collections."""

from __future__ import annotations

from dataclasses import dataclass, field

from pollhub.sandbox.data import ControlledCollection
from pollhub.sandbox.data.accounts import (
    DEFAULT_GOOGLE_USER,
    DEFAULT_MICROSOFT_USER,
    GoogleUser,
    MicrosoftUser,
)
from pollhub.sandbox.data.calendar import CalendarStore
from pollhub.sandbox.data.docushare import DocuShareStore
from pollhub.sandbox.data.drive import DriveStore
from pollhub.sandbox.data.dropbox import DropboxStore
from pollhub.sandbox.data.gmail import GmailStore
from pollhub.sandbox.data.outlook import OutlookStore
from pollhub.sandbox.data.people import ContactStore, PeopleStore
from pollhub.sandbox.data.subscriptions import SubscriptionStore
from pollhub.sandbox.faults import FaultBook
from pollhub.sandbox.notifier import Notifier
from pollhub.sandbox.tokens import DEFAULT_ACCESS_TOKEN_LIFETIME, TokenStore


@dataclass
class ProviderData:
    """The providers' data; replaced wholesale by a reset."""

    microsoft_user: MicrosoftUser
    google_user: GoogleUser
    drive: DriveStore
    outlook: OutlookStore
    subscriptions: SubscriptionStore
    calendar: CalendarStore
    people: PeopleStore
    contacts: ContactStore
    gmail: GmailStore
    docushare: DocuShareStore
    dropbox: DropboxStore

    @classmethod
    def fresh(cls, microsoft_user: MicrosoftUser, google_user: GoogleUser) -> ProviderData:
        """Empty stores (plus what every real account has: a root folder, a primary
        calendar, the system contact groups)."""
        drive = DriveStore(microsoft_user)
        return cls(
            microsoft_user=microsoft_user,
            google_user=google_user,
            drive=drive,
            outlook=OutlookStore(microsoft_user),
            subscriptions=SubscriptionStore(microsoft_user, drive.drive_id),
            calendar=CalendarStore(google_user),
            people=PeopleStore(),
            contacts=ContactStore(),
            gmail=GmailStore(google_user),
            docushare=DocuShareStore(),
            dropbox=DropboxStore(),
        )


@dataclass
class SandboxState:
    """One sandbox's state: tokens, faults, notifications and the providers' data."""

    access_token_lifetime: int = DEFAULT_ACCESS_TOKEN_LIFETIME
    microsoft_user: MicrosoftUser = DEFAULT_MICROSOFT_USER
    google_user: GoogleUser = DEFAULT_GOOGLE_USER
    tokens: TokenStore = field(init=False)
    faults: FaultBook = field(default_factory=FaultBook)
    notifier: Notifier = field(default_factory=Notifier)
    data: ProviderData = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = TokenStore(self.access_token_lifetime)
        self.data = ProviderData.fresh(self.microsoft_user, self.google_user)

    def reset(self) -> None:
        """Forget everything: data, tokens, faults and the delivery log. Every earlier
        delta, sync and page token becomes stale."""
        self.tokens = TokenStore(self.access_token_lifetime)
        self.faults.clear()
        self.notifier.clear()
        self.data = ProviderData.fresh(self.microsoft_user, self.google_user)

    def collections(self) -> dict[tuple[str, str], ControlledCollection]:
        """The control API's collections by ``(elementKey, collection)``."""
        data = self.data
        return {
            ("onedrivev2", "files"): data.drive,
            ("googlesuite", "calendar-events"): data.calendar,
            ("googlesuite", "contact-groups"): data.people,
            ("googlesuite", "contacts"): data.contacts,
            ("googlesuite", "messages"): data.gmail,
            ("docushareflex", "documents"): data.docushare,
            ("microsoftgraph", "events"): data.outlook,
            ("dropbox", "files"): data.dropbox,
        }
