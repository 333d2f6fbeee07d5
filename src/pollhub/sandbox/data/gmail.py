"""Gmail: the sandbox user's mailbox and its history.

Every change (message added or deleted, labels added or removed) writes one history
record with the next history id. Records older than the retention period are dropped,
and a ``startHistoryId`` from before the oldest kept record gets 404, as Gmail answers.
Docs: https://developers.google.com/gmail/api/guides/sync
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from pollhub.clock import clock
from pollhub.sandbox.data import (
    JSON,
    InvalidFields,
    UnknownObject,
    string_list_field,
    text_field,
)
from pollhub.sandbox.data.accounts import GoogleUser
from pollhub.sandbox.ids import hex_id
from pollhub.sandbox.timefmt import epoch_millis

HISTORY_RETENTION = timedelta(days=7)
HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")
FORMATS = ("full", "metadata", "minimal", "raw")
FIRST_HISTORY_ID = 100000
_HIDDEN_UNLESS_ASKED = {"SPAM", "TRASH"}


@dataclass
class GmailMessage:
    """One message."""

    id: str
    thread_id: str
    label_ids: list[str]
    subject: str
    sender: str
    to: str
    body: str
    internal_date: datetime
    history_id: int

    def headers(self) -> list[JSON]:
        """The RFC 822 headers Gmail returns in ``payload.headers``."""
        return [
            {"name": "From", "value": self.sender},
            {"name": "To", "value": self.to},
            {"name": "Subject", "value": self.subject},
            {"name": "Date", "value": format_datetime(self.internal_date)},
            {"name": "Message-ID", "value": f"<{self.id}@mail.sandbox>"},
        ]

    def rfc822(self) -> bytes:
        """The whole message as Gmail's ``raw`` format encodes it."""
        lines = [f"{h['name']}: {h['value']}" for h in self.headers()]
        return (
            "\r\n".join([*lines, "Content-Type: text/plain; charset=UTF-8", "", self.body])
        ).encode()


@dataclass
class HistoryRecord:
    """One history record; the lists say what happened to ``message``."""

    id: int
    time: datetime
    message: JSON
    added: bool = False
    deleted: bool = False
    labels_added: list[str] = field(default_factory=list)
    labels_removed: list[str] = field(default_factory=list)

    def types(self) -> set[str]:
        """The ``historyTypes`` this record belongs to."""
        found = set()
        if self.added:
            found.add("messageAdded")
        if self.deleted:
            found.add("messageDeleted")
        if self.labels_added:
            found.add("labelAdded")
        if self.labels_removed:
            found.add("labelRemoved")
        return found

    def as_json(self, wanted: Iterable[str]) -> JSON:
        """The ``history[]`` entry, with only the wanted types' lists."""
        wanted = set(wanted)
        ref = {"id": self.message["id"], "threadId": self.message["threadId"]}
        data: JSON = {"id": str(self.id), "messages": [ref]}
        if self.added and "messageAdded" in wanted:
            data["messagesAdded"] = [{"message": self.message}]
        if self.deleted and "messageDeleted" in wanted:
            data["messagesDeleted"] = [{"message": self.message}]
        if self.labels_added and "labelAdded" in wanted:
            data["labelsAdded"] = [{"message": self.message, "labelIds": self.labels_added}]
        if self.labels_removed and "labelRemoved" in wanted:
            data["labelsRemoved"] = [{"message": self.message, "labelIds": self.labels_removed}]
        return data


class GmailStore:
    """The mailbox; also the control API's ``googlesuite/messages``."""

    def __init__(self, user: GoogleUser) -> None:
        self.user = user
        self.epoch = hex_id(8)
        self.history_id = FIRST_HISTORY_ID
        # The oldest startHistoryId that still has complete history after it.
        self.oldest_start = FIRST_HISTORY_ID
        self.records: list[HistoryRecord] = []
        self.messages: dict[str, GmailMessage] = {}

    def history_after(self, start: int) -> list[HistoryRecord] | None:
        """Records after ``start``, or None when that history is no longer kept."""
        self._forget_old_history()
        if start < self.oldest_start:
            return None
        return [r for r in self.records if r.id > start]

    def forget_history(self) -> None:
        """Drop all history now (every earlier startHistoryId then gets 404)."""
        self.records.clear()
        self.oldest_start = self.history_id

    def newest_first(self) -> list[GmailMessage]:
        """Messages, newest first (Gmail's list order)."""
        return sorted(self.messages.values(), key=lambda m: m.internal_date, reverse=True)

    def profile_json(self) -> JSON:
        """``users.getProfile``."""
        return {
            "emailAddress": self.user.email,
            "messagesTotal": len(self.messages),
            "threadsTotal": len({m.thread_id for m in self.messages.values()}),
            "historyId": str(self.history_id),
        }

    def message_json(
        self, message: GmailMessage, fmt: str = "full", metadata_headers: Iterable[str] = ()
    ) -> JSON:
        """A Message resource in one of Gmail's formats."""
        raw = message.rfc822()
        data: JSON = {
            "id": message.id,
            "threadId": message.thread_id,
            "labelIds": list(message.label_ids),
            "snippet": message.body[:200],
            "sizeEstimate": len(raw),
            "historyId": str(message.history_id),
            "internalDate": epoch_millis(message.internal_date),
        }
        if fmt == "raw":
            data["raw"] = base64.urlsafe_b64encode(raw).decode()
        elif fmt == "metadata":
            wanted = {h.lower() for h in metadata_headers}
            headers = [h for h in message.headers() if not wanted or h["name"].lower() in wanted]
            data["payload"] = {"mimeType": "text/plain", "headers": headers}
        elif fmt == "full":
            body = message.body.encode()
            data["payload"] = {
                "partId": "",
                "mimeType": "text/plain",
                "filename": "",
                "headers": message.headers(),
                "body": {"size": len(body), "data": base64.urlsafe_b64encode(body).decode()},
            }
        return data

    # The control API's collection -------------------------------------------------

    def list_objects(self) -> list[JSON]:
        """Every message, newest first."""
        return [self.message_json(m, "metadata") for m in self.newest_first()]

    def create(self, fields: Mapping[str, Any]) -> JSON:
        """A message arrives (``subject``, ``from``, ``to``, ``body``, ``labelIds``,
        ``threadId``), writing a ``messagesAdded`` record."""
        message_id = hex_id(16)
        message = GmailMessage(
            id=message_id,
            thread_id=text_field(fields, "threadId", message_id),
            label_ids=string_list_field(fields, "labelIds", ["INBOX", "UNREAD"]),
            subject=text_field(fields, "subject", "Sandbox message"),
            sender=text_field(fields, "from", "Someone <someone@example.com>"),
            to=text_field(fields, "to", self.user.email),
            body=text_field(fields, "body", "Hello from the sandbox."),
            internal_date=clock.now(),
            history_id=0,
        )
        self.messages[message.id] = message
        self._record(message, added=True)
        return self.message_json(message, "metadata")

    def update(self, object_id: str, fields: Mapping[str, Any]) -> JSON:
        """Change labels: ``labelIds`` (the new set) or ``addLabelIds``/``removeLabelIds``,
        writing ``labelsAdded``/``labelsRemoved``. Nothing else of a message can change."""
        message = self._existing(object_id)
        if unknown := set(fields) - {"labelIds", "addLabelIds", "removeLabelIds"}:
            raise InvalidFields(f"only labels of a message can change, not {sorted(unknown)}")
        current = list(message.label_ids)
        target = string_list_field(fields, "labelIds", current)
        target += [x for x in string_list_field(fields, "addLabelIds", []) if x not in target]
        removing = set(string_list_field(fields, "removeLabelIds", []))
        target = [x for x in target if x not in removing]
        added = [x for x in target if x not in current]
        removed = [x for x in current if x not in target]
        message.label_ids = target
        if added or removed:
            self._record(message, labels_added=added, labels_removed=removed)
        return self.message_json(message, "metadata")

    def delete(self, object_id: str) -> JSON:
        """Delete a message for good, writing a ``messagesDeleted`` record."""
        message = self._existing(object_id)
        del self.messages[object_id]
        self._record(message, deleted=True)
        return {"id": message.id, "threadId": message.thread_id, "deleted": True}

    # helpers ---------------------------------------------------------------------

    def _record(
        self,
        message: GmailMessage,
        *,
        added: bool = False,
        deleted: bool = False,
        labels_added: list[str] | None = None,
        labels_removed: list[str] | None = None,
    ) -> None:
        self.history_id += 1
        message.history_id = self.history_id
        ref: JSON = {
            "id": message.id,
            "threadId": message.thread_id,
            "labelIds": list(message.label_ids),
        }
        record = HistoryRecord(
            self.history_id,
            clock.now(),
            ref,
            added=added,
            deleted=deleted,
            labels_added=labels_added or [],
            labels_removed=labels_removed or [],
        )
        self.records.append(record)

    def _forget_old_history(self) -> None:
        cutoff = clock.now() - HISTORY_RETENTION
        while self.records and self.records[0].time < cutoff:
            self.oldest_start = self.records.pop(0).id

    def _existing(self, message_id: str) -> GmailMessage:
        message = self.messages.get(message_id)
        if message is None:
            raise UnknownObject(message_id)
        return message


def visible(message: GmailMessage, label_ids: list[str], include_spam_trash: bool) -> bool:
    """Whether ``messages.list`` shows a message for these filters."""
    if not include_spam_trash and _HIDDEN_UNLESS_ASKED & set(message.label_ids):
        return False
    return all(label in message.label_ids for label in label_ids)


# ``users.messages.list``'s ``q``: the operators Gmail's search has that the sandbox honours.
# https://support.google.com/mail/answer/7190 and
# https://developers.google.com/gmail/api/guides/filtering
_TERM = re.compile(r'(-?)(?:([a-z]+):)?(?:"([^"]*)"|([^\s"]+))', re.IGNORECASE)
_GMAIL_DATE = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$")
# Gmail reads a yyyy/mm/dd date as midnight in Pacific time; seconds are exact.
_GMAIL_DATE_ZONE = ZoneInfo("America/Los_Angeles")
_IS_LABELS = {"unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT"}


def _gmail_moment(text: str) -> datetime | None:
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    found = _GMAIL_DATE.match(text)
    if found is None:
        return None
    year, month, day = (int(part) for part in found.groups())
    try:
        return datetime(year, month, day, tzinfo=_GMAIL_DATE_ZONE)
    except ValueError:
        return None


def _has_words(text: str, phrase: str) -> bool:
    # Gmail matches whole words (a quoted phrase: the words in order), ignoring case.
    words = re.findall(r"\w+", phrase)
    if not words:
        return False
    pattern = r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _term_holds(message: GmailMessage, operator: str, value: str) -> bool:
    if operator == "from":
        return value.lower() in message.sender.lower()
    if operator == "to":
        return value.lower() in message.to.lower()
    if operator == "subject":
        return _has_words(message.subject, value)
    if operator == "label":
        return value.upper() in (label.upper() for label in message.label_ids)
    if operator == "is":
        if value.lower() == "read":
            return "UNREAD" not in message.label_ids
        return _IS_LABELS.get(value.lower()) in message.label_ids
    if operator in ("after", "before") and (moment := _gmail_moment(value)) is not None:
        # after: includes its moment, before: does not (after:2014/01/01
        # before:2014/02/01 is "in January 2014").
        if operator == "after":
            return message.internal_date >= moment
        return message.internal_date < moment
    # Anything else is words searched for in the whole message.
    words = value if not operator else f"{operator}:{value}"
    text = " ".join((message.subject, message.sender, message.to, message.body))
    return _has_words(text, words)


def matches_query(message: GmailMessage, query: str) -> bool:
    """Whether a message satisfies a ``q`` search: every term must hold (``-`` negates
    one). Terms: ``from:``, ``to:``, ``subject:``, ``label:``, ``is:`` (``unread``,
    ``read``, ``starred``, ``important``), ``after:``/``before:`` (seconds since 1970, or
    ``yyyy/mm/dd``), and plain words or ``"quoted phrases"`` anywhere in the message."""
    for negated, operator, quoted, bare in _TERM.findall(query):
        value = quoted or bare
        holds = _term_holds(message, operator.lower(), value)
        if holds == bool(negated):
            return False
    return True
