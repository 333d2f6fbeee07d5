"""HTTP routes of ``/instances``: parse, authorize, call the service, shape the answer.

Every route of Cloud Elements' instance API is here in its three spellings: by id
(``/instances/{id}``), by the caller's ``Element`` token (``/instances``,
``/instances/configuration``, ``/instances/enabled``), and under the element
(``/elements/{keyOrId}/instances[/{id}]``) — all on the same service functions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.models import Instance
from pollhub.deps import CallerDep, InstanceId, SessionDep
from pollhub.elements.base import Element
from pollhub.instances import service
from pollhub.instances.schemas import (
    ConfigurationEntryOut,
    ConfigurationEntryUpdate,
    ElementSummary,
    InstanceCreate,
    InstanceDeleted,
    InstanceOut,
    InstanceUpdate,
    UserSummary,
)
from pollhub.tenancy.service import Caller

router = APIRouter(prefix="/instances", tags=["instances"])
element_router = APIRouter(prefix="/elements/{key_or_id}/instances", tags=["instances"])
ConfigId = Annotated[
    str, Path(min_length=1, max_length=200, description="an id from /configuration, or the key")
]
KeyOrId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="the element's key or numeric id",
    ),
]
Tags = Annotated[list[str] | None, Query(alias="tags[]")]
Drain = Annotated[bool, Query(description="deliver the pending callbacks first, then delete (202)")]


@router.post("", response_model=InstanceOut)
async def create_instance(
    body: InstanceCreate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """Create an element instance: exchange ``providerData.code`` for tokens (or import
    the client's tokens with ``externalAuthentication: "initial"``) and start its events."""
    instance = await service.create_instance(session, caller, body)
    await session.commit()
    return _view(instance)


@router.get("", response_model=list[InstanceOut])
async def list_instances(
    session: SessionDep, caller: CallerDep, tags: Tags = None
) -> list[InstanceOut]:
    """The organization's instances; ``tags[]=T`` keeps those tagged with every T. With an
    ``Element`` token, only that instance."""
    return [_view(i) for i in await service.list_instances(session, caller, tags)]


@router.put("", response_model=InstanceOut)
async def replace_token_instance(
    body: InstanceCreate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """``PUT /instances/{id}`` for the instance of the ``Element`` token."""
    instance = await service.token_instance(session, caller)
    return await _replace(session, caller, instance.id, body)


@router.patch("", response_model=InstanceOut)
async def update_token_instance(
    body: InstanceUpdate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """``PATCH /instances/{id}`` for the instance of the ``Element`` token."""
    instance = await service.token_instance(session, caller)
    return await _update(session, caller, instance.id, body)


@router.get("/configuration", response_model=list[ConfigurationEntryOut])
async def token_configuration(
    session: SessionDep, caller: CallerDep
) -> list[ConfigurationEntryOut]:
    """The configuration entries of the ``Element`` token's instance."""
    return _entries(await service.token_instance(session, caller))


@router.get("/configuration/{config_id}", response_model=ConfigurationEntryOut)
async def token_configuration_entry(
    config_id: ConfigId, session: SessionDep, caller: CallerDep
) -> ConfigurationEntryOut:
    """One configuration entry of the ``Element`` token's instance."""
    instance = await service.token_instance(session, caller)
    return _entry(service.configuration_entry(instance, config_id))


@router.patch("/configuration/{config_id}", response_model=ConfigurationEntryOut)
async def update_token_configuration_entry(
    config_id: ConfigId, body: ConfigurationEntryUpdate, session: SessionDep, caller: CallerDep
) -> ConfigurationEntryOut:
    """Set one configuration entry of the ``Element`` token's instance."""
    instance = await service.token_instance(session, caller)
    return await _set_entry(session, caller, instance.id, config_id, body)


@router.put("/enabled", response_model=InstanceOut)
async def enable_token_instance(session: SessionDep, caller: CallerDep) -> InstanceOut:
    """Enable the ``Element`` token's instance."""
    return await _set_enabled(session, await service.token_instance(session, caller), True)


@router.delete("/enabled", response_model=InstanceOut)
async def disable_token_instance(session: SessionDep, caller: CallerDep) -> InstanceOut:
    """Disable the ``Element`` token's instance."""
    return await _set_enabled(session, await service.token_instance(session, caller), False)


@router.get("/{instance_id}", response_model=InstanceOut)
async def get_instance(
    instance_id: InstanceId, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """One instance."""
    return _view(await service.get_instance(session, caller, instance_id))


@router.put("/{instance_id}", response_model=InstanceOut)
async def replace_instance(
    instance_id: InstanceId, body: InstanceCreate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """Full update: name, tags and the whole configuration as given (secrets echoed as
    ``********`` are kept); with ``providerData.code`` the instance is re-provisioned."""
    return await _replace(session, caller, instance_id, body)


@router.patch("/{instance_id}", response_model=InstanceOut)
async def update_instance(
    instance_id: InstanceId, body: InstanceUpdate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """Change name, tags or configuration, or re-authenticate with ``providerData.code``."""
    return await _update(session, caller, instance_id, body)


@router.delete(
    "/{instance_id}",
    response_model=InstanceDeleted,
    responses={202: {"model": InstanceDeleted, "description": "Deleted once drained"}},
)
async def delete_instance(
    instance_id: InstanceId,
    session: SessionDep,
    caller: CallerDep,
    response: Response,
    drain: Drain = False,
) -> InstanceDeleted:
    """Delete an instance: its polling stops and its provider subscriptions are removed.

    Callbacks not yet delivered are dropped, and ``droppedCallbacks`` says how many. With
    ``drain=true`` and callbacks pending, the answer is 202: events stop now, the pending
    callbacks are delivered (retries included), and the instance is deleted once none is
    left; until then it is listed with ``draining: true`` and cannot be changed.
    """
    return await _delete(session, caller, instance_id, response, drain)


@router.get("/{instance_id}/configuration", response_model=list[ConfigurationEntryOut])
async def configuration(
    instance_id: InstanceId, session: SessionDep, caller: CallerDep
) -> list[ConfigurationEntryOut]:
    """Every configuration entry ``{id, key, propertyValue}``; secrets as ``********``."""
    return _entries(await service.get_instance(session, caller, instance_id))


@router.get("/{instance_id}/configuration/{config_id}", response_model=ConfigurationEntryOut)
async def configuration_entry(
    instance_id: InstanceId, config_id: ConfigId, session: SessionDep, caller: CallerDep
) -> ConfigurationEntryOut:
    """One configuration entry."""
    instance = await service.get_instance(session, caller, instance_id)
    return _entry(service.configuration_entry(instance, config_id))


@router.patch("/{instance_id}/configuration/{config_id}", response_model=ConfigurationEntryOut)
async def update_configuration_entry(
    instance_id: InstanceId,
    config_id: ConfigId,
    body: ConfigurationEntryUpdate,
    session: SessionDep,
    caller: CallerDep,
) -> ConfigurationEntryOut:
    """Set one entry's ``propertyValue`` (validated like any configuration change)."""
    return await _set_entry(session, caller, instance_id, config_id, body)


@router.put("/{instance_id}/enabled", response_model=InstanceOut)
async def enable_instance(
    instance_id: InstanceId, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """Enable the instance: polling and delivery resume where they stopped."""
    instance = await service.get_instance(session, caller, instance_id)
    return await _set_enabled(session, instance, True)


@router.delete("/{instance_id}/enabled", response_model=InstanceOut)
async def disable_instance(
    instance_id: InstanceId, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """Disable the instance: no polling, no delivery (its notifications wait)."""
    instance = await service.get_instance(session, caller, instance_id)
    return await _set_enabled(session, instance, False)


@element_router.post("", response_model=InstanceOut)
async def create_element_instance(
    key_or_id: KeyOrId, body: InstanceCreate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """``POST /instances`` for the element of the path (``element`` may be left out)."""
    element = await service.element_for_path(session, caller, key_or_id)
    instance = await service.create_instance(session, caller, body, element=element)
    await session.commit()
    return _view(instance)


@element_router.get("", response_model=list[InstanceOut])
async def list_element_instances(
    key_or_id: KeyOrId, session: SessionDep, caller: CallerDep, tags: Tags = None
) -> list[InstanceOut]:
    """The organization's instances of this element."""
    element = await service.element_for_path(session, caller, key_or_id)
    instances = await service.list_instances(session, caller, tags, element=element)
    return [_view(i) for i in instances]


@element_router.get("/{instance_id}", response_model=InstanceOut)
async def get_element_instance(
    key_or_id: KeyOrId, instance_id: InstanceId, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """One instance of this element."""
    element = await service.element_for_path(session, caller, key_or_id)
    return _view(await service.get_instance(session, caller, instance_id, element=element))


@element_router.put("/{instance_id}", response_model=InstanceOut)
async def replace_element_instance(
    key_or_id: KeyOrId,
    instance_id: InstanceId,
    body: InstanceCreate,
    session: SessionDep,
    caller: CallerDep,
) -> InstanceOut:
    """``PUT /instances/{id}`` for an instance of this element."""
    element = await service.element_for_path(session, caller, key_or_id)
    return await _replace(session, caller, instance_id, body, element)


@element_router.patch("/{instance_id}", response_model=InstanceOut)
async def update_element_instance(
    key_or_id: KeyOrId,
    instance_id: InstanceId,
    body: InstanceUpdate,
    session: SessionDep,
    caller: CallerDep,
) -> InstanceOut:
    """``PATCH /instances/{id}`` for an instance of this element."""
    element = await service.element_for_path(session, caller, key_or_id)
    return await _update(session, caller, instance_id, body, element)


@element_router.delete("/{instance_id}", response_model=InstanceDeleted)
async def delete_element_instance(
    key_or_id: KeyOrId,
    instance_id: InstanceId,
    session: SessionDep,
    caller: CallerDep,
    response: Response,
    drain: Drain = False,
) -> InstanceDeleted:
    """``DELETE /instances/{id}`` for an instance of this element."""
    element = await service.element_for_path(session, caller, key_or_id)
    await service.get_instance(session, caller, instance_id, element=element)
    return await _delete(session, caller, instance_id, response, drain)


async def _delete(
    session: AsyncSession, caller: Caller, instance_id: int, response: Response, drain: bool
) -> InstanceDeleted:
    deletion = await service.delete_instance(session, caller, instance_id, drain=drain)
    await session.commit()
    if not deletion.deleted:
        response.status_code = 202
        return InstanceDeleted(
            id=instance_id, deleted=False, draining=True, pendingCallbacks=deletion.undelivered
        )
    return InstanceDeleted(id=instance_id, deleted=True, droppedCallbacks=deletion.undelivered)


async def _replace(
    session: AsyncSession,
    caller: Caller,
    instance_id: int,
    body: InstanceCreate,
    element: Element | None = None,
) -> InstanceOut:
    instance = await service.replace_instance(session, caller, instance_id, body, element=element)
    await session.commit()
    return _view(instance)


async def _update(
    session: AsyncSession,
    caller: Caller,
    instance_id: int,
    body: InstanceUpdate,
    element: Element | None = None,
) -> InstanceOut:
    instance = await service.update_instance(session, caller, instance_id, body, element=element)
    await session.commit()
    return _view(instance)


async def _set_enabled(session: AsyncSession, instance: Instance, enabled: bool) -> InstanceOut:
    instance = await service.set_enabled(session, instance, enabled=enabled)
    await session.commit()
    return _view(instance)


async def _set_entry(
    session: AsyncSession,
    caller: Caller,
    instance_id: int,
    config_id: str,
    body: ConfigurationEntryUpdate,
) -> ConfigurationEntryOut:
    entry = await service.set_configuration_entry(
        session, caller, instance_id, config_id, body.propertyValue, key=body.key
    )
    await session.commit()
    return _entry(entry)


def _entries(instance: Instance) -> list[ConfigurationEntryOut]:
    return [_entry(entry) for entry in service.configuration_entries(instance)]


def _entry(entry: service.ConfigurationEntry) -> ConfigurationEntryOut:
    return ConfigurationEntryOut(id=entry.id, key=entry.key, propertyValue=entry.propertyValue)


def _view(instance: Instance) -> InstanceOut:
    element = service.element_of(instance)
    return InstanceOut(
        id=instance.id,
        name=instance.name,
        token=instance.token,
        element=ElementSummary(key=element.key, name=element.name, hub=element.hub),
        elementId=element.id,
        tags=instance.tags,
        valid=instance.valid,
        invalidReason=instance.invalid_reason,
        disabled=instance.disabled,
        eventsEnabled=instance.events_enabled,
        createdDate=instance.created_at,
        updatedDate=instance.updated_at,
        configuration=service.shown_configuration(instance),
        externalAuthentication=(
            "initial" if instance.external_authentication == "initial" else "none"
        ),
        user=UserSummary(id=instance.user.id, emailAddress=instance.user.email),
        warnings=service.configuration_warnings(instance),
        draining=service.is_draining(instance),
    )
