"""One Dropbox account's files and folders, and the change log ``list_folder`` reads.

Every change (a file added, changed or deleted) is appended to a log with a sequence
number. ``files/list_folder`` lists what exists now, a page at a time; its last page's
cursor (and ``get_latest_cursor``) remember the log position, and
``files/list_folder/continue`` returns what changed after it — a path's last change only,
deletions as ``{".tag": "deleted"}`` entries (which carry no id), as Dropbox does.
Docs: https://www.dropbox.com/developers/documentation/http/documentation#files-list_folder
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pollhub.clock import clock
from pollhub.sandbox.data import JSON, InvalidFields, UnknownObject, int_field, text_field
from pollhub.sandbox.ids import hex_id
from pollhub.sandbox.timefmt import seconds_z

ACCOUNT_ID = "dbid:AADsandboxAccount0000000000000000000"


@dataclass
class Entry:
    """A file or folder."""

    id: str
    path_display: str
    folder: bool
    size: int = 0
    rev: str = ""
    client_modified: datetime | None = None
    server_modified: datetime | None = None
    content: str = ""

    @property
    def path_lower(self) -> str:
        """Dropbox's case-insensitive key of the entry."""
        return self.path_display.lower()

    def as_json(self) -> JSON:
        """The entry as ``files/list_folder`` lists it (``FileMetadata``/``FolderMetadata``)."""
        name = self.path_display.rsplit("/", 1)[-1]
        common: JSON = {
            "name": name,
            "path_lower": self.path_lower,
            "path_display": self.path_display,
            "id": self.id,
        }
        if self.folder:
            return {".tag": "folder", **common}
        assert self.client_modified is not None and self.server_modified is not None
        return {
            ".tag": "file",
            **common,
            "client_modified": seconds_z(self.client_modified),
            "server_modified": seconds_z(self.server_modified),
            "rev": self.rev,
            "size": self.size,
            "is_downloadable": True,
            "content_hash": hashlib.sha256(self.content.encode()).hexdigest(),
        }


@dataclass(frozen=True)
class Change:
    """One entry of the change log: the path's state after the change (None: deleted)."""

    seq: int
    path_display: str
    entry: Entry | None


class StaleCursor(Exception):
    """A cursor from before a reset (Dropbox answers 409 ``reset``)."""


@dataclass(frozen=True)
class Cursor:
    """Where a listing got to: ``offset`` into a full listing, or a log position."""

    path: str
    recursive: bool
    include_deleted: bool
    seq: int
    offset: int | None  # None: the listing is done; read changes after ``seq``


class DropboxStore:
    """The account's entries; also the control API's ``dropbox/files`` collection."""

    def __init__(self) -> None:
        self.epoch = hex_id(8)
        self.entries: dict[str, Entry] = {}
        self.log: list[Change] = []

    # Reading ----------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        """Whether ``path`` is the root or an existing folder."""
        entry = self.entries.get(path.lower())
        return path == "" or (entry is not None and entry.folder)

    def folder_path(self, path: str) -> str:
        """``path`` as a path: a folder's ``id:…`` (as Dropbox accepts in place of a path)
        becomes its path, anything else is returned as given."""
        if not path.startswith("id:"):
            return path
        found = next((e for e in self.entries.values() if e.id == path and e.folder), None)
        return found.path_display if found is not None else path

    def metadata(self, path: str) -> Entry | None:
        """The file or folder at ``path`` (or with the ``id:…`` it names), if any."""
        if path.startswith("id:"):
            return next((e for e in self.entries.values() if e.id == path), None)
        return self.entries.get(path.lower())

    def listing(self, path: str, recursive: bool) -> list[Entry]:
        """What exists under ``path`` now, parents before children."""
        found = [e for e in self.entries.values() if _under(e.path_lower, path.lower(), recursive)]
        return sorted(found, key=lambda e: e.path_lower)

    def changes(self, cursor: Cursor) -> list[Change]:
        """The last change of each path under the cursor's folder since its position."""
        latest: dict[str, Change] = {}
        for change in self.log[cursor.seq :]:
            if _under(change.path_display.lower(), cursor.path.lower(), cursor.recursive):
                latest.pop(change.path_display.lower(), None)
                latest[change.path_display.lower()] = change
        return sorted(latest.values(), key=lambda c: c.seq)

    def encode(self, cursor: Cursor) -> str:
        """An opaque cursor bound to this store's epoch."""
        raw = json.dumps({"e": self.epoch, **cursor.__dict__}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, token: str) -> Cursor:
        """The cursor a token carries; :class:`StaleCursor` when it is from before a reset,
        ValueError when it is not a cursor at all."""
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            epoch = data.pop("e")
            cursor = Cursor(**data)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError, AttributeError) as exc:
            raise ValueError("invalid cursor") from exc
        if epoch != self.epoch:
            raise StaleCursor(token)
        return cursor

    # The control API's collection -------------------------------------------------

    def list_objects(self) -> list[JSON]:
        """Every file and folder, with its ``id``."""
        return [e.as_json() for e in self.listing("", recursive=True)]

    def create(self, fields: Mapping[str, Any]) -> JSON:
        """A new file (``path`` or ``name`` under the root, ``size``, ``content``), or a
        folder with ``"folder": true``; missing parent folders are created too."""
        name = text_field(fields, "name", f"file-{hex_id(6)}.txt")
        path = text_field(fields, "path", f"/{name}")
        if not path.startswith("/") or path.endswith("/") or "//" in path:
            raise InvalidFields("path must look like /folder/name.ext")
        if path.lower() in self.entries:
            raise InvalidFields(f"{path} already exists")
        folder = fields.get("folder") is True
        self._ensure_parents(path)
        entry = Entry(_new_id(), path, folder)
        if not folder:
            self._write(entry, fields)
        self.entries[entry.path_lower] = entry
        self._record(entry)
        return entry.as_json()

    def update(self, object_id: str, fields: Mapping[str, Any]) -> JSON:
        """Upload a new version of a file: new ``rev``, ``server_modified`` moves on."""
        entry = self._existing(object_id)
        if entry.folder:
            raise InvalidFields("folders have no content to change")
        self._write(entry, fields)
        self._record(entry)
        return entry.as_json()

    def delete(self, object_id: str) -> JSON:
        """Delete a file or folder (and everything in it)."""
        entry = self._existing(object_id)
        doomed = [e for e in self.entries.values() if _under(e.path_lower, entry.path_lower, True)]
        for gone in [*doomed, entry]:
            del self.entries[gone.path_lower]
            self.log.append(Change(len(self.log) + 1, gone.path_display, None))
        return {".tag": "deleted", "name": entry.path_display.rsplit("/", 1)[-1], "id": entry.id}

    def _existing(self, object_id: str) -> Entry:
        for entry in self.entries.values():
            if object_id in (entry.id, entry.path_lower):
                return entry
        raise UnknownObject(object_id)

    def _ensure_parents(self, path: str) -> None:
        parts = path.split("/")[1:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/" + "/".join(parts[:depth])
            if parent.lower() not in self.entries:
                folder = Entry(_new_id(), parent, True)
                self.entries[folder.path_lower] = folder
                self._record(folder)

    def _write(self, entry: Entry, fields: Mapping[str, Any]) -> None:
        now = clock.now()
        entry.size = int_field(fields, "size", entry.size)
        entry.content = text_field(fields, "content", entry.content or hex_id(8))
        entry.rev = hex_id(9) + hex_id(6)  # Dropbox revs: at least 9 hex digits
        entry.client_modified = entry.server_modified = now

    def _record(self, entry: Entry) -> None:
        self.log.append(Change(len(self.log) + 1, entry.path_display, entry))


def _under(path_lower: str, folder: str, recursive: bool) -> bool:
    if not path_lower.startswith(f"{folder}/") or path_lower == folder:
        return False
    return recursive or "/" not in path_lower[len(folder) + 1 :]


def _new_id() -> str:
    return "id:" + secrets.token_urlsafe(16).replace("-", "A").replace("_", "B")[:22]
