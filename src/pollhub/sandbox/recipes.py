"""What ``pollhub demo`` does with each simulated provider: the instance it creates (the
element's own configuration) and the changes it keeps making through the control API.

Kept with the simulators, so a new simulated element joins the demo without touching it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pollhub.db import configuration as keys
from pollhub.sandbox.data.docushare import DEFAULT_DOMAIN

Fields = Callable[[int], dict[str, Any]]


@dataclass(frozen=True)
class DemoInstance:
    """An instance the demo creates: its element, name and element-specific configuration."""

    element_key: str
    name: str
    configuration: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoChange:
    """Changes to one control API collection: fields of a new object, of an update."""

    element_key: str
    collection: str
    new: Fields
    changed: Fields


DEMO_INSTANCES = (
    DemoInstance("onedrivev2", "Demo OneDrive"),
    DemoInstance("googlesuite", "Demo Google Suite"),
    DemoInstance(
        "docushareflex",
        "Demo DocuShare Flex",
        {keys.VENDOR_TYPE: "polling", "docushare.domain": DEFAULT_DOMAIN},
    ),
    DemoInstance(
        "microsoftgraph",
        "Demo Microsoft Graph",
        {keys.OAUTH_SCOPE: "Calendars.Read Calendars.ReadWrite offline_access"},
    ),
    DemoInstance("dropbox", "Demo Dropbox"),
)

DEMO_CHANGES = (
    DemoChange(
        "onedrivev2", "files", lambda n: {"name": f"report-{n}.docx"}, lambda n: {"size": n}
    ),
    DemoChange(
        "docushareflex",
        "documents",
        lambda n: {"title": f"Contract {n}"},
        lambda n: {"title": f"Contract {n} v2"},
    ),
    DemoChange(
        "googlesuite",
        "calendar-events",
        lambda n: {"summary": f"Meeting {n}"},
        lambda n: {"summary": f"Meeting {n} (moved)"},
    ),
    DemoChange(
        "googlesuite",
        "contact-groups",
        lambda n: {"name": f"Team {n}"},
        lambda n: {"name": f"Team {n} renamed"},
    ),
    DemoChange(
        "googlesuite",
        "messages",
        lambda n: {"subject": f"Hello {n}"},
        lambda n: {"addLabelIds": ["STARRED"]},
    ),
    DemoChange(
        "microsoftgraph",
        "events",
        lambda n: {"subject": f"Standup {n}"},
        lambda n: {"subject": f"Standup {n} (moved)"},
    ),
    DemoChange(
        "dropbox",
        "files",
        lambda n: {"path": f"/Shared/notes-{n}.txt", "size": n},
        lambda n: {"size": n * 10},
    ),
)
