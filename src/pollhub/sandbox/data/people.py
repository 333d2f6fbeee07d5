"""Google People: the sandbox user's contact groups.

Deleted groups stay as tombstones and come back with ``metadata.deleted: true`` in
sync-token mode. Sync tokens expire seven days after they were issued, as People's do.
Docs: https://developers.google.com/people/api/rest/v1/contactGroups/list
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pollhub.clock import clock
from pollhub.sandbox.data import JSON, InvalidFields, UnknownObject, int_field, text_field
from pollhub.sandbox.ids import hex_id, opaque
from pollhub.sandbox.timefmt import millis_z

SYNC_TOKEN_LIFETIME = timedelta(days=7)
GROUP_FIELDS = ("clientData", "groupType", "memberCount", "metadata", "name")
DEFAULT_GROUP_FIELDS = frozenset({"metadata", "groupType", "memberCount", "name"})

# The system groups every Google account has: (id, formatted name).
_SYSTEM_GROUPS = (
    ("chatBuddies", "Chat contacts"),
    ("all", "All Contacts"),
    ("friends", "Friends"),
    ("family", "Family"),
    ("coworkers", "Coworkers"),
    ("myContacts", "My Contacts"),
    ("starred", "Starred"),
    ("blocked", "Blocked"),
)


@dataclass
class ContactGroup:
    """A contact group (system or user-created)."""

    id: str
    name: str
    formatted_name: str
    system: bool
    updated: datetime
    seq: int
    member_count: int = 0
    deleted: bool = False
    etag: str = field(default_factory=lambda: opaque(8))

    @property
    def resource_name(self) -> str:
        """``contactGroups/<id>``."""
        return f"contactGroups/{self.id}"


class PeopleStore:
    """Contact groups; also the control API's ``googlesuite/contact-groups``."""

    def __init__(self) -> None:
        self.epoch = hex_id(8)
        self._seq = 0
        now = clock.now()
        self.groups: dict[str, ContactGroup] = {}
        for group_id, formatted in _SYSTEM_GROUPS:
            self.groups[group_id] = ContactGroup(
                group_id, group_id, formatted, True, now, self._next()
            )

    @property
    def current_seq(self) -> int:
        """The sequence number of the latest change."""
        return self._seq

    def changed(self, since: int, upto: int) -> list[ContactGroup]:
        """Groups changed in ``(since, upto]``; a full list (``since == 0``) has no
        tombstones."""
        found = [
            g
            for g in self.groups.values()
            if since < g.seq <= upto and not (since == 0 and g.deleted)
        ]
        return sorted(found, key=lambda g: g.seq)

    def group_json(self, group: ContactGroup, fields: frozenset[str]) -> JSON:
        """A ContactGroup with the requested ``groupFields`` (resourceName and etag always).

        Zero member counts are left out, as proto3 JSON leaves out default values.
        """
        data: JSON = {"resourceName": group.resource_name, "etag": group.etag}
        if "metadata" in fields:
            metadata: JSON = {"updateTime": millis_z(group.updated)}
            if group.deleted:
                metadata["deleted"] = True
            data["metadata"] = metadata
        if "groupType" in fields:
            data["groupType"] = "SYSTEM_CONTACT_GROUP" if group.system else "USER_CONTACT_GROUP"
        if "name" in fields:
            data["name"] = group.name
            data["formattedName"] = group.formatted_name
        if "memberCount" in fields and group.member_count:
            data["memberCount"] = group.member_count
        return data

    # The control API's collection -------------------------------------------------

    def list_objects(self) -> list[JSON]:
        """Every group, tombstones included."""
        groups = sorted(self.groups.values(), key=lambda g: g.seq)
        return [{**self.group_json(g, frozenset(GROUP_FIELDS)), "id": g.id} for g in groups]

    def create(self, fields: Mapping[str, Any]) -> JSON:
        """A new user contact group (``name``, ``memberCount``)."""
        name = text_field(fields, "name", f"Group {len(self.groups) + 1}")
        if not name.strip():
            raise InvalidFields("name must not be empty")
        group = ContactGroup(
            hex_id(16),
            name,
            name,
            False,
            clock.now(),
            self._next(),
            member_count=int_field(fields, "memberCount", 0),
        )
        self.groups[group.id] = group
        return {**self.group_json(group, frozenset(GROUP_FIELDS)), "id": group.id}

    def update(self, object_id: str, fields: Mapping[str, Any]) -> JSON:
        """Rename a group or change its member count."""
        group = self._existing(object_id)
        group.name = group.formatted_name = text_field(fields, "name", group.name)
        group.member_count = int_field(fields, "memberCount", group.member_count)
        self._touch(group)
        return {**self.group_json(group, frozenset(GROUP_FIELDS)), "id": group.id}

    def delete(self, object_id: str) -> JSON:
        """Delete a user group (system groups cannot be deleted)."""
        group = self._existing(object_id)
        group.deleted = True
        self._touch(group)
        return {**self.group_json(group, frozenset(GROUP_FIELDS)), "id": group.id}

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _touch(self, group: ContactGroup) -> None:
        group.updated = clock.now()
        group.etag = opaque(8)
        group.seq = self._next()

    def _existing(self, group_id: str) -> ContactGroup:
        group = self.groups.get(group_id.removeprefix("contactGroups/"))
        if group is None or group.deleted:
            raise UnknownObject(group_id)
        if group.system:
            raise InvalidFields("system contact groups cannot be changed")
        return group


@dataclass
class Contact:
    """One of the user's contacts (a People ``Person`` in ``people/me/connections``)."""

    id: str
    name: str
    email: str
    updated: datetime
    etag: str = field(default_factory=lambda: opaque(8))


PERSON_FIELDS = ("names", "emailAddresses", "phoneNumbers", "metadata", "photos")


class ContactStore:
    """The user's contacts; also the control API's ``googlesuite/contacts``.

    Docs: https://developers.google.com/people/api/rest/v1/people.connections/list
    """

    def __init__(self) -> None:
        self.epoch = hex_id(8)
        self.contacts: dict[str, Contact] = {}

    def listed(self) -> list[Contact]:
        """Every contact, in creation order."""
        return list(self.contacts.values())

    def person_json(self, contact: Contact, fields: frozenset[str]) -> JSON:
        """A Person with the requested ``personFields`` (resourceName and etag always)."""
        data: JSON = {"resourceName": f"people/{contact.id}", "etag": contact.etag}
        if "metadata" in fields:
            source = {"type": "CONTACT", "id": contact.id, "updateTime": millis_z(contact.updated)}
            data["metadata"] = {"sources": [source], "objectType": "PERSON"}
        if "names" in fields:
            given, _, family = contact.name.partition(" ")
            name: JSON = {"displayName": contact.name, "givenName": given}
            if family:
                name["familyName"] = family
            data["names"] = [name]
        if "emailAddresses" in fields and contact.email:
            data["emailAddresses"] = [{"value": contact.email}]
        return data

    # The control API's collection -------------------------------------------------

    def list_objects(self) -> list[JSON]:
        """Every contact."""
        return [self._shown(c) for c in self.contacts.values()]

    def create(self, fields: Mapping[str, Any]) -> JSON:
        """A new contact (``name``, ``email``)."""
        contact = Contact(
            "c" + str(int(hex_id(12), 16)),
            text_field(fields, "name", f"Contact {len(self.contacts) + 1}"),
            text_field(fields, "email", ""),
            clock.now(),
        )
        self.contacts[contact.id] = contact
        return self._shown(contact)

    def update(self, object_id: str, fields: Mapping[str, Any]) -> JSON:
        """Rename a contact or change its email address."""
        contact = self._existing(object_id)
        contact.name = text_field(fields, "name", contact.name)
        contact.email = text_field(fields, "email", contact.email)
        contact.updated = clock.now()
        contact.etag = opaque(8)
        return self._shown(contact)

    def delete(self, object_id: str) -> JSON:
        """Delete a contact (connections then no longer list it)."""
        contact = self._existing(object_id)
        del self.contacts[contact.id]
        return self._shown(contact)

    def _shown(self, contact: Contact) -> JSON:
        return {**self.person_json(contact, frozenset(PERSON_FIELDS)), "id": contact.id}

    def _existing(self, contact_id: str) -> Contact:
        contact = self.contacts.get(contact_id.removeprefix("people/"))
        if contact is None:
            raise UnknownObject(contact_id)
        return contact
