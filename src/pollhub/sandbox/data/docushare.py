"""DocuShare Flex sites and their documents, in the shape fixed by
:mod:`pollhub.elements.docushareflex` (DocuShare's public API documentation is thin).

Each site (``<name>.docushareflex.com``) keeps its own documents. A deleted document
stays as a tombstone: it is listed with ``"deleted": true`` and ``modified_date`` = the
deletion time when it changed after ``modifiedAfter``. Document shape::

    {"handle": "Document-1001", "title": "Q3 report.pdf", "owner": "sandbox.user",
     "create_date": "2026-11-20T10:00:00Z", "modified_date": "2026-11-21T08:30:12Z",
     "deleted": true}            # "deleted" only on deleted documents
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pollhub.clock import clock
from pollhub.sandbox.data import JSON, InvalidFields, UnknownObject, text_field
from pollhub.sandbox.timefmt import seconds_z

DEFAULT_DOMAIN = "demo.docushareflex.com"
DEFAULT_OWNER = "sandbox.user"
FIRST_HANDLE = 1001


@dataclass
class Document:
    """One document of one site."""

    handle: str
    domain: str
    title: str
    owner: str
    created: datetime
    modified: datetime
    deleted: bool = False

    def as_json(self) -> JSON:
        """The document as the objects API lists it."""
        data: JSON = {
            "handle": self.handle,
            "title": self.title,
            "create_date": seconds_z(self.created),
            "modified_date": seconds_z(self.modified),
            "owner": self.owner,
        }
        if self.deleted:
            data["deleted"] = True
        return data


class DocuShareStore:
    """Every site's documents; also the control API's ``docushareflex/documents``.

    Handles are numbered across all sites so a handle alone names one document.
    """

    def __init__(self) -> None:
        self._next_handle = FIRST_HANDLE
        self.documents: dict[str, Document] = {}

    def changed(self, domain: str, modified_after: datetime | None) -> list[Document]:
        """A site's documents, oldest change first: those changed after
        ``modified_after`` (tombstones included), or every live one when it is None."""
        found = [
            d
            for d in self.documents.values()
            if d.domain == domain
            and (d.modified > modified_after if modified_after else not d.deleted)
        ]
        return sorted(found, key=lambda d: (d.modified, int(d.handle.split("-")[1])))

    def live(self, domain: str, handle: str) -> Document | None:
        """A site's non-deleted document by handle."""
        doc = self.documents.get(handle)
        return doc if doc is not None and doc.domain == domain and not doc.deleted else None

    # The control API's collection -------------------------------------------------

    def list_objects(self) -> list[JSON]:
        """Every document of every site, with its ``domain``."""
        return [
            {**d.as_json(), "id": d.handle, "domain": d.domain} for d in self.documents.values()
        ]

    def create(self, fields: Mapping[str, Any]) -> JSON:
        """A new document (``title``, ``owner``) on site ``domain``."""
        domain = text_field(fields, "domain", DEFAULT_DOMAIN).lower()
        if not domain or "/" in domain:
            raise InvalidFields("domain must be a host name")
        now = clock.now()
        handle = f"Document-{self._next_handle}"
        self._next_handle += 1
        title = text_field(fields, "title", f"{handle}.pdf")
        doc = Document(handle, domain, title, text_field(fields, "owner", DEFAULT_OWNER), now, now)
        self.documents[handle] = doc
        return {**doc.as_json(), "id": handle, "domain": domain}

    def update(self, object_id: str, fields: Mapping[str, Any]) -> JSON:
        """Retitle a document or change its owner."""
        doc = self._existing(object_id, fields)
        doc.title = text_field(fields, "title", doc.title)
        doc.owner = text_field(fields, "owner", doc.owner)
        doc.modified = clock.now()
        return {**doc.as_json(), "id": doc.handle, "domain": doc.domain}

    def delete(self, object_id: str) -> JSON:
        """Delete a document, leaving a tombstone dated now."""
        doc = self._existing(object_id, {})
        doc.deleted = True
        doc.modified = clock.now()
        return {**doc.as_json(), "id": doc.handle, "domain": doc.domain}

    def _existing(self, handle: str, fields: Mapping[str, Any]) -> Document:
        doc = self.documents.get(handle)
        if doc is None or doc.deleted:
            raise UnknownObject(handle)
        if "domain" in fields and str(fields["domain"]).lower() != doc.domain:
            raise UnknownObject(handle)
        return doc
