"""The element catalog of one organization: the built-in elements and its own.

An organization registers custom elements (CONTRACT section 7) that only it sees; their
keys never clash with a built-in element's or with another of its own, so a key names one
element for everything that looks one up (instances, the poller, the hub, the console).
Called by the API and the console; takes a session, leaves committing to the caller.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import CustomElement, Instance
from pollhub.elements import catalog, custom_element, get_element
from pollhub.elements.base import Element
from pollhub.elements.custom import element_from_definition
from pollhub.elements.definition import ElementDefinition
from pollhub.errors import BadRequest, Conflict, NotFound
from pollhub.outbound.policy import allow_private_addresses, check_outbound_url
from pollhub.polling.config import PollerResource
from pollhub.polling.plan import check_resource


async def elements_of(session: AsyncSession, organization_id: int) -> list[Element]:
    """Every element the organization can use: the built-in ones, then its own by key."""
    own = await session.scalars(
        select(CustomElement)
        .where(CustomElement.organization_id == organization_id)
        .order_by(CustomElement.key)
    )
    return [*catalog().values(), *(custom_element(row.definition) for row in own)]


async def find_element(session: AsyncSession, organization_id: int, key: str) -> Element | None:
    """The element ``key`` as the organization sees it: built-in, its own, or None. A
    number is a built-in element's Cloud Elements id (``/elements/146``)."""
    element = get_element(key)
    if element is not None:
        return element
    if key.isdecimal():
        return next((e for e in catalog().values() if e.id == int(key)), None)
    row = await _custom(session, organization_id, key)
    return custom_element(row.definition) if row else None


async def element_or_404(session: AsyncSession, organization_id: int, key: str) -> Element:
    """:func:`find_element`, or :class:`NotFound` (another organization's is not found)."""
    element = await find_element(session, organization_id, key)
    if element is None:
        raise NotFound(f"No element found with key '{key}'")
    return element


async def register(
    session: AsyncSession, organization_id: int, definition: ElementDefinition
) -> CustomElement:
    """Store a new custom element; a key already taken is a :class:`Conflict`."""
    _data_only(definition)
    if get_element(definition.key) is not None:
        raise Conflict(f"'{definition.key}' is a built-in element; choose another key")
    if await _custom(session, organization_id, definition.key) is not None:
        raise Conflict(f"an element with key '{definition.key}' already exists")
    await _check_addresses(definition)
    now = clock.now()
    row = CustomElement(
        organization_id=organization_id,
        key=definition.key,
        definition=_stored(definition),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:  # registered at the same moment by another request
        raise Conflict(f"an element with key '{definition.key}' already exists") from exc
    return row


async def replace(
    session: AsyncSession, organization_id: int, key: str, definition: ElementDefinition
) -> CustomElement:
    """Replace a custom element's definition; its instances use the new one from now on."""
    row = await _own(session, organization_id, key)
    if definition.key != key:
        raise BadRequest(f"'key': the definition's key '{definition.key}' is not '{key}'")
    _data_only(definition)
    await _check_addresses(definition)
    row.definition = _stored(definition)
    row.updated_at = clock.now()
    await session.flush()
    return row


async def remove(session: AsyncSession, organization_id: int, key: str) -> None:
    """Delete a custom element nothing uses any more."""
    row = await _own(session, organization_id, key)
    in_use = await session.scalar(
        select(func.count())
        .select_from(Instance)
        .where(Instance.organization_id == organization_id, Instance.element_key == key)
    )
    if in_use:
        raise Conflict(f"element '{key}' is used by {in_use} instance(s); delete them first")
    await session.delete(row)
    await session.flush()


async def _own(session: AsyncSession, organization_id: int, key: str) -> CustomElement:
    if get_element(key) is not None:
        raise Conflict(f"'{key}' is a built-in element; it cannot be changed or deleted")
    row = await _custom(session, organization_id, key)
    if row is None:
        raise NotFound(f"No element found with key '{key}'")
    return row


async def _custom(session: AsyncSession, organization_id: int, key: str) -> CustomElement | None:
    found: CustomElement | None = await session.scalar(
        select(CustomElement).where(
            CustomElement.organization_id == organization_id, CustomElement.key == key
        )
    )
    return found


def _data_only(definition: ElementDefinition) -> None:
    # Change feeds and webhooks are Python capabilities of built-in elements; a custom
    # element is data, polled through its lists.
    if "webhook" in definition.eventMechanisms:
        raise BadRequest(
            "'eventMechanisms': a custom element is polled; webhooks need a built-in capability"
        )
    _check_default_polling(definition)
    for name, resource in definition.resources.items():
        if resource.changeFeed is not None:
            raise BadRequest(
                f"'resources.{name}.changeFeed': change feeds are capabilities of built-in "
                "elements; a custom element is polled through its list, paging and filters"
            )


def _check_default_polling(definition: ElementDefinition) -> None:
    """The default poller configuration must be one an instance can use: checked now, so a
    bad date format is a 400 here and not at every instance's creation."""
    element = element_from_definition(definition)
    for name, entry in element.default_poller_configuration().items():
        where = (
            f"defaultPollerConfiguration.{name}"
            if definition.defaultPollerConfiguration
            else f"resources.{name}"
        )
        try:
            check_resource(element, PollerResource.model_validate(entry))
        except ValidationError as exc:
            problems = "; ".join(
                f"'{where}.{'.'.join(map(str, e['loc']))}': {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise BadRequest(problems) from exc
        except ValueError as exc:
            raise BadRequest(f"'{where}': {exc}") from exc


async def _check_addresses(definition: ElementDefinition) -> None:
    """Refuse provider URLs into pollhub's own network now, with a 400 naming the field;
    every request (next links and token calls too) is checked again on the address it
    connects to."""
    allow = allow_private_addresses()
    for field, url in definition.outbound_urls():
        await check_outbound_url(url, key=field, allow_private=allow, where="definition")


def _stored(definition: ElementDefinition) -> dict[str, object]:
    return definition.model_dump(mode="json", by_alias=True, exclude_unset=True)
