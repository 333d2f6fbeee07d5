"""What ``pollhub demo`` does with each simulated provider: the instance it creates (the
element's own configuration) and the changes it keeps making through the control API.

Kept with the simulators, so a new simulated element joins the demo by adding a row to
:data:`RECIPES`, without touching the demo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pollhub.sandbox.data.docushare import DEFAULT_DOMAIN

# The fields of a control API request, as data: in a string "{n}" is the change's number,
# and a :class:`Count` is that number as a JSON number.
Template = Mapping[str, Any]


@dataclass(frozen=True)
class Count:
    """In a template: the change's number times ``factor``, as a number."""

    factor: int = 1


N = Count()


@dataclass(frozen=True)
class Recipe:
    """The demo's instance of one element (name, element-specific configuration) and, per
    control API collection, the fields of a new object and of an update."""

    name: str
    changes: Mapping[str, tuple[Template, Template]]
    configuration: Mapping[str, Any] = field(default_factory=dict)


RECIPES: Mapping[str, Recipe] = {
    "onedrivev2": Recipe("Demo OneDrive", {"files": ({"name": "report-{n}.docx"}, {"size": N})}),
    "googlesuite": Recipe(
        "Demo Google Suite",
        {
            "calendar-events": ({"summary": "Meeting {n}"}, {"summary": "Meeting {n} (moved)"}),
            "contact-groups": ({"name": "Team {n}"}, {"name": "Team {n} renamed"}),
            "messages": ({"subject": "Hello {n}"}, {"addLabelIds": ["STARRED"]}),
        },
    ),
    "docushareflex": Recipe(
        "Demo DocuShare Flex",
        {"documents": ({"title": "Contract {n}"}, {"title": "Contract {n} v2"})},
        {"event.vendor.type": "polling", "docushare.domain": DEFAULT_DOMAIN},
    ),
    "microsoftgraph": Recipe(
        "Demo Microsoft Graph",
        {"events": ({"subject": "Standup {n}"}, {"subject": "Standup {n} (moved)"})},
        {"oauth.scope": "Calendars.Read Calendars.ReadWrite offline_access"},
    ),
    "dropbox": Recipe(
        "Demo Dropbox",
        {"files": ({"path": "/Shared/notes-{n}.txt", "size": N}, {"size": Count(10)})},
    ),
}


def fill(template: Template, n: int) -> dict[str, Any]:
    """The fields ``template`` stands for at the demo's ``n``-th change."""
    return {key: _fill_value(value, n) for key, value in template.items()}


def _fill_value(value: Any, n: int) -> Any:
    if isinstance(value, Count):
        return value.factor * n
    if isinstance(value, str):
        return value.format(n=n)
    return value


@dataclass(frozen=True)
class DemoInstance:
    """An instance the demo creates: its element, name and element-specific configuration."""

    element_key: str
    name: str
    configuration: Mapping[str, Any]


@dataclass(frozen=True)
class DemoChange:
    """Changes to one control API collection: fields of a new object, of an update."""

    element_key: str
    collection: str
    new_fields: Template
    changed_fields: Template

    def new(self, n: int) -> dict[str, Any]:
        """The fields of the object the ``n``-th change creates."""
        return fill(self.new_fields, n)

    def changed(self, n: int) -> dict[str, Any]:
        """The fields the ``n``-th change updates."""
        return fill(self.changed_fields, n)


DEMO_INSTANCES = tuple(
    DemoInstance(key, recipe.name, recipe.configuration) for key, recipe in RECIPES.items()
)
DEMO_CHANGES = tuple(
    DemoChange(key, collection, new, changed)
    for key, recipe in RECIPES.items()
    for collection, (new, changed) in recipe.changes.items()
)
