"""A OneDrive drive as Microsoft Graph shows it, with a delta feed.

Every change takes the next number of a per-drive sequence; the delta feed is "items
whose sequence is above the token's". As in OneDrive, the ancestors of a changed item
change too (their eTag/cTag move), so they reappear in the feed; deleted items stay as
tombstones and appear with ``"deleted": {"state": "deleted"}``.
Docs: https://learn.microsoft.com/graph/api/driveitem-delta
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pollhub.clock import clock
from pollhub.sandbox.data import JSON, InvalidFields, UnknownObject, int_field, text_field
from pollhub.sandbox.data.accounts import MicrosoftUser
from pollhub.sandbox.ids import decode_cursor, encode_cursor, guid, hex_id, onedrive_item_id
from pollhub.sandbox.timefmt import seconds_z

DRIVE_TYPE = "personal"


@dataclass
class DriveItem:
    """A file or folder (or the root folder)."""

    id: str
    name: str
    parent_id: str | None
    is_folder: bool
    created: datetime
    modified: datetime
    seq: int
    size: int = 0
    mime_type: str = "application/octet-stream"
    version: int = 1
    deleted: bool = False
    resource_guid: str = field(default_factory=lambda: guid().upper())

    @property
    def e_tag(self) -> str:
        """OneDrive's eTag shape: ``"{GUID},version"``."""
        return f'"{{{self.resource_guid}}},{self.version}"'

    @property
    def c_tag(self) -> str:
        """OneDrive's cTag shape: ``"c:{GUID},version"``."""
        return f'"c:{{{self.resource_guid}}},{self.version}"'


class StaleDeltaToken(Exception):
    """The delta token is unknown or no longer valid (Graph answers 410)."""


@dataclass(frozen=True)
class DeltaPage:
    """One page of the delta feed and the token of what comes next: a page token for
    ``@odata.nextLink`` or, on the last page, a delta token for ``@odata.deltaLink``."""

    items: list[DriveItem]
    next_page_token: str | None
    delta_token: str | None


class DriveStore:
    """The drive of the sandbox user; also the control API's ``onedrivev2/files``."""

    def __init__(self, user: MicrosoftUser) -> None:
        self.user = user
        self.drive_id = hex_id(16)
        self.epoch = hex_id(8)
        self._seq = 0
        self.items: dict[str, DriveItem] = {}
        now = clock.now()
        self.root = DriveItem(onedrive_item_id(), "root", None, True, now, now, self._next())
        self.items[self.root.id] = self.root

    @property
    def current_seq(self) -> int:
        """The sequence number of the latest change."""
        return self._seq

    def delta_page(self, token: str, top: int) -> DeltaPage:
        """A page of the delta feed for ``token``: empty for a full enumeration,
        ``latest`` for a baseline, else a token from an earlier page."""
        if token == "latest":
            return DeltaPage([], None, self._delta_token(self._seq))
        since, upto, after = 0, self._seq, 0
        if token:
            page = decode_cursor("page", self.epoch, token)
            delta = decode_cursor("delta", self.epoch, token)
            if page is not None:
                since, upto, after, top = page["s"], page["u"], page["a"], page["t"]
            elif delta is not None:
                since = delta["s"]
            else:
                raise StaleDeltaToken(token)
        items = self.changes(since, upto, after, top + 1)
        if len(items) <= top:
            return DeltaPage(items, None, self._delta_token(upto))
        cursor = {"s": since, "u": upto, "a": items[top - 1].seq, "t": top}
        return DeltaPage(items[:top], encode_cursor("page", self.epoch, cursor), None)

    def changes(self, since: int, upto: int, after: int, limit: int) -> list[DriveItem]:
        """Items changed in ``(since, upto]``, in change order, after sequence ``after``.

        A full enumeration (``since == 0``) lists what exists, without tombstones.
        """
        found = [
            item
            for item in self.items.values()
            if max(since, after) < item.seq <= upto and not (since == 0 and item.deleted)
        ]
        return sorted(found, key=lambda item: item.seq)[:limit]

    def live_item(self, item_id: str) -> DriveItem | None:
        """A non-deleted item by id ("root" names the root)."""
        item = self.root if item_id == "root" else self.items.get(item_id)
        return None if item is None or item.deleted else item

    def item_json(self, item: DriveItem, *, with_path: bool) -> JSON:
        """The driveItem resource. Delta responses omit ``parentReference.path``."""
        reference: JSON = {"driveId": self.drive_id, "driveType": DRIVE_TYPE}
        if item.parent_id is not None:
            reference["id"] = item.parent_id
            if with_path:
                reference["path"] = self._path_of(item.parent_id)
        data: JSON = {"id": item.id, "name": item.name, "parentReference": reference}
        if item.deleted:
            data["lastModifiedDateTime"] = seconds_z(item.modified)
            data["deleted"] = {"state": "deleted"}
        else:
            user = {"user": {"displayName": self.user.display_name, "id": self.user.id}}
            data.update(
                {
                    "createdDateTime": seconds_z(item.created),
                    "lastModifiedDateTime": seconds_z(item.modified),
                    "eTag": item.e_tag,
                    "cTag": item.c_tag,
                    "size": self._size_of(item),
                    "webUrl": f"https://onedrive.live.com/?id={item.id}",
                    "createdBy": user,
                    "lastModifiedBy": user,
                    "fileSystemInfo": {
                        "createdDateTime": seconds_z(item.created),
                        "lastModifiedDateTime": seconds_z(item.modified),
                    },
                }
            )
        if item.is_folder:
            data["folder"] = {"childCount": len(self._children(item.id))}
        else:
            data["file"] = {"mimeType": item.mime_type}
        if item is self.root:
            data["root"] = {}
        return data

    def drive_json(self) -> JSON:
        """The drive resource (``GET /me/drive``)."""
        owner = {"user": {"displayName": self.user.display_name, "id": self.user.id}}
        used = sum(self._size_of(i) for i in self._children(self.root.id))
        return {
            "id": self.drive_id,
            "driveType": DRIVE_TYPE,
            "name": "OneDrive",
            "owner": owner,
            "quota": {"total": 5 * 1024**3, "used": used, "remaining": 5 * 1024**3 - used},
        }

    # The control API's collection -------------------------------------------------

    def list_objects(self) -> list[JSON]:
        """Every live item, the root included."""
        return [self.item_json(i, with_path=True) for i in self.items.values() if not i.deleted]

    def create(self, fields: Mapping[str, Any]) -> JSON:
        """A new file, or a folder when ``folder`` is true (``parentId`` picks the folder)."""
        is_folder = bool(fields.get("folder", False))
        default_name = (
            f"New folder {len(self.items)}" if is_folder else f"File {len(self.items)}.txt"
        )
        parent = self._folder(text_field(fields, "parentId", self.root.id))
        now = clock.now()
        item = DriveItem(
            onedrive_item_id(),
            text_field(fields, "name", default_name),
            parent.id,
            is_folder,
            now,
            now,
            self._next(),
            size=0 if is_folder else int_field(fields, "size", 0),
            mime_type=text_field(fields, "mimeType", "text/plain"),
        )
        self.items[item.id] = item
        self._touch_ancestors(item.parent_id)
        return self.item_json(item, with_path=True)

    def update(self, object_id: str, fields: Mapping[str, Any]) -> JSON:
        """Rename, resize, retype or move (``parentId``) an item."""
        item = self._existing(object_id)
        old_parent = item.parent_id
        item.name = text_field(fields, "name", item.name)
        if not item.is_folder:
            item.size = int_field(fields, "size", item.size)
            item.mime_type = text_field(fields, "mimeType", item.mime_type)
        if "parentId" in fields:
            item.parent_id = self._folder(text_field(fields, "parentId", "")).id
        item.modified = clock.now()
        item.version += 1
        item.seq = self._next()
        self._touch_ancestors(old_parent)
        if item.parent_id != old_parent:
            self._touch_ancestors(item.parent_id)
        return self.item_json(item, with_path=True)

    def delete(self, object_id: str) -> JSON:
        """Delete an item (and everything in a folder) leaving tombstones."""
        item = self._existing(object_id)
        now = clock.now()
        for doomed in [*self._descendants(item.id), item]:
            doomed.deleted = True
            doomed.modified = now
            doomed.seq = self._next()
        self._touch_ancestors(item.parent_id)
        return self.item_json(item, with_path=False)

    # helpers ---------------------------------------------------------------------

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _delta_token(self, upto: int) -> str:
        return encode_cursor("delta", self.epoch, {"s": upto})

    def _existing(self, item_id: str) -> DriveItem:
        item = self.items.get(item_id)
        if item is None or item.deleted:
            raise UnknownObject(item_id)
        if item is self.root:
            raise InvalidFields("the root folder cannot be changed")
        return item

    def _folder(self, folder_id: str) -> DriveItem:
        folder = self.live_item(folder_id)
        if folder is None or not folder.is_folder:
            raise InvalidFields(f"parentId {folder_id!r} is not a folder of this drive")
        return folder

    def children(self, folder_id: str) -> list[DriveItem]:
        """A folder's live children, in creation order."""
        return self._children(folder_id)

    def _children(self, folder_id: str) -> list[DriveItem]:
        return [i for i in self.items.values() if i.parent_id == folder_id and not i.deleted]

    def _descendants(self, folder_id: str) -> list[DriveItem]:
        found: list[DriveItem] = []
        for child in self._children(folder_id):
            found.extend([*self._descendants(child.id), child])
        return found

    def _size_of(self, item: DriveItem) -> int:
        if not item.is_folder:
            return item.size
        return sum(self._size_of(child) for child in self._children(item.id))

    def _path_of(self, folder_id: str) -> str:
        names: list[str] = []
        folder = self.items.get(folder_id)
        while folder is not None and folder is not self.root:
            names.append(folder.name)
            folder = self.items.get(folder.parent_id or "")
        return "/drive/root:" + "".join(f"/{name}" for name in reversed(names))

    def _touch_ancestors(self, folder_id: str | None) -> None:
        # OneDrive reports a folder again when anything below it changes.
        while folder_id is not None:
            folder = self.items[folder_id]
            folder.version += 1
            folder.seq = self._next()
            folder_id = folder.parent_id
