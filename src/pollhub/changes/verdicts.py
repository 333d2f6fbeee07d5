"""Deciding what an observed object means: CREATED, UPDATED, DELETED — or nothing new.

Pure functions. An object whose fingerprint has not moved since it was last remembered
was already reported (an overlapping window, a retried poll, a notification sent twice),
so the same change is never reported twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from pollhub.elements.reading import ChangeKind

# What a change to an object remembered as deleted means: the object is back (a restored
# file, seen by a read) or the change is older news than the deletion (providers that
# never reuse ids and do not promise order, such as Graph's notifications).
AfterDelete = Literal["created", "stale"]
DELETED_VERSION = "deleted"


@dataclass(frozen=True)
class Seen:
    """What was last remembered of an object."""

    fingerprint: str
    deleted: bool


@dataclass(frozen=True)
class Verdict:
    """What to report (``event_type`` None: nothing) and what to remember."""

    event_type: str | None
    fingerprint: str
    deleted: bool


def digest(version: str) -> str:
    """The fingerprint of an object's version (an updated date, an etag, its JSON)."""
    return hashlib.sha256(version.encode()).hexdigest()


def fingerprint_of(kind: ChangeKind | None, version: str) -> str:
    """The fingerprint an observation leaves: its version's, or the deletion's."""
    return digest(DELETED_VERSION if kind == "deleted" else version)


def classify(
    kind: ChangeKind | None,
    version: str,
    previous: Seen | None,
    *,
    unseen: str,
    quiet: bool = False,
    after_delete: AfterDelete = "created",
) -> Verdict:
    """Classify one observation of an object against what was remembered of it.

    ``kind`` is what the provider says happened, if it says; ``unseen`` is what to report
    for an object never seen whose kind is not given. ``quiet`` observations (a baseline,
    objects a reader marks silent) are remembered, not reported.
    """
    deleted = kind == "deleted"
    fingerprint = fingerprint_of(kind, version)
    if quiet:
        return Verdict(None, fingerprint, deleted)
    if previous is not None and (previous.fingerprint, previous.deleted) == (fingerprint, deleted):
        return Verdict(None, fingerprint, deleted)  # reported already
    if deleted:
        return Verdict("DELETED", fingerprint, True)
    if previous is not None and previous.deleted and after_delete == "stale":
        return Verdict(None, previous.fingerprint, True)
    if kind is not None:
        return Verdict(kind.upper(), fingerprint, False)
    if previous is not None:
        # Seen before: changed, or back from the dead — which is a creation.
        return Verdict("CREATED" if previous.deleted else "UPDATED", fingerprint, False)
    return Verdict(unseen, fingerprint, False)
