"""HTTP routes of ``/instances``: parse, authorize, call the service, shape the answer.

Every route of Cloud Elements' instance API is here in its three spellings: by id
(``/instances/{id}``), by the caller's ``Element`` token (``/instances``,
``/instances/configuration``, ``/instances/enabled``), and under the element
(``/elements/{keyOrId}/instances[/{id}]``) — all on the same service functions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.models import Instance
from pollhub.deps import CallerDep, InstanceDep, InstanceId, SessionDep, TokenInstanceDep
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
    return _view(instance, owner=caller)


@router.get("", response_model=list[InstanceOut])
async def list_instances(
    session: SessionDep, caller: CallerDep, tags: Tags = None
) -> list[InstanceOut]:
    """The organization's instances; ``tags[]=T`` keeps those tagged with every T. With an
    ``Element`` token, only that instance."""
    return [_view(i) for i in await service.list_instances(session, caller, tags)]


@router.put("", response_model=InstanceOut)
async def replace_token_instance(
    body: InstanceCreate, instance: TokenInstanceDep, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """``PUT /instances/{id}`` for the instance of the ``Element`` token."""
    return await _replace(session, caller, instance, body)


@router.patch("", response_model=InstanceOut)
async def update_token_instance(
    body: InstanceUpdate, instance: TokenInstanceDep, session: SessionDep
) -> InstanceOut:
    """``PATCH /instances/{id}`` for the instance of the ``Element`` token."""
    return await _update(session, instance, body)


@router.get("/configuration", response_model=list[ConfigurationEntryOut])
async def token_configuration(instance: TokenInstanceDep) -> list[ConfigurationEntryOut]:
    """The configuration entries of the ``Element`` token's instance."""
    return _entries(instance)


@router.get("/configuration/{config_id}", response_model=ConfigurationEntryOut)
async def token_configuration_entry(
    config_id: ConfigId, instance: TokenInstanceDep
) -> ConfigurationEntryOut:
    """One configuration entry of the ``Element`` token's instance."""
    return _entry(service.configuration_entry(instance, config_id))


@router.patch("/configuration/{config_id}", response_model=ConfigurationEntryOut)
async def update_token_configuration_entry(
    config_id: ConfigId,
    body: ConfigurationEntryUpdate,
    instance: TokenInstanceDep,
    session: SessionDep,
) -> ConfigurationEntryOut:
    """Set one configuration entry of the ``Element`` token's instance."""
    return await _set_entry(session, instance, config_id, body)


@router.put("/enabled", response_model=InstanceOut)
async def enable_token_instance(instance: TokenInstanceDep, session: SessionDep) -> InstanceOut:
    """Enable the ``Element`` token's instance."""
    return await _set_enabled(session, instance, True)


@router.delete("/enabled", response_model=InstanceOut)
async def disable_token_instance(instance: TokenInstanceDep, session: SessionDep) -> InstanceOut:
    """Disable the ``Element`` token's instance."""
    return await _set_enabled(session, instance, False)


@router.get("/{instance_id}", response_model=InstanceOut)
async def get_instance(instance: InstanceDep) -> InstanceOut:
    """One instance."""
    return _view(instance)


@router.put("/{instance_id}", response_model=InstanceOut)
async def replace_instance(
    instance: InstanceDep, body: InstanceCreate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """Full update: name, tags and the whole configuration as given (secrets echoed as
    ``********`` are kept); with ``providerData.code`` the instance is re-provisioned."""
    return await _replace(session, caller, instance, body)


@router.patch("/{instance_id}", response_model=InstanceOut)
async def update_instance(
    instance: InstanceDep, body: InstanceUpdate, session: SessionDep
) -> InstanceOut:
    """Change name, tags or configuration, or re-authenticate with ``providerData.code``."""
    return await _update(session, instance, body)


@router.delete(
    "/{instance_id}",
    response_model=InstanceDeleted,
    responses={202: {"model": InstanceDeleted, "description": "Deleted once drained"}},
)
async def delete_instance(
    instance: InstanceDep, session: SessionDep, response: Response, drain: Drain = False
) -> InstanceDeleted:
    """Delete an instance: its polling stops and its provider subscriptions are removed.

    Callbacks not yet delivered are dropped, and ``droppedCallbacks`` says how many. With
    ``drain=true`` and callbacks pending, the answer is 202: events stop now, the pending
    callbacks are delivered (retries included), and the instance is deleted once none is
    left; until then it is listed with ``draining: true`` and cannot be changed.
    """
    return await _delete(session, instance, response, drain)


@router.get("/{instance_id}/configuration", response_model=list[ConfigurationEntryOut])
async def configuration(instance: InstanceDep) -> list[ConfigurationEntryOut]:
    """Every configuration entry ``{id, key, propertyValue}``; secrets as ``********``."""
    return _entries(instance)


@router.get("/{instance_id}/configuration/{config_id}", response_model=ConfigurationEntryOut)
async def configuration_entry(instance: InstanceDep, config_id: ConfigId) -> ConfigurationEntryOut:
    """One configuration entry."""
    return _entry(service.configuration_entry(instance, config_id))


@router.patch("/{instance_id}/configuration/{config_id}", response_model=ConfigurationEntryOut)
async def update_configuration_entry(
    instance: InstanceDep,
    config_id: ConfigId,
    body: ConfigurationEntryUpdate,
    session: SessionDep,
) -> ConfigurationEntryOut:
    """Set one entry's ``propertyValue`` (validated like any configuration change)."""
    return await _set_entry(session, instance, config_id, body)


@router.put("/{instance_id}/enabled", response_model=InstanceOut)
async def enable_instance(instance: InstanceDep, session: SessionDep) -> InstanceOut:
    """Enable the instance: polling and delivery resume where they stopped."""
    return await _set_enabled(session, instance, True)


@router.delete("/{instance_id}/enabled", response_model=InstanceOut)
async def disable_instance(instance: InstanceDep, session: SessionDep) -> InstanceOut:
    """Disable the instance: no polling, no delivery (its notifications wait)."""
    return await _set_enabled(session, instance, False)


async def _element(key_or_id: KeyOrId, session: SessionDep, caller: CallerDep) -> Element:
    return await service.element_for_path(session, caller, key_or_id)


async def _element_instance(
    element: Annotated[Element, Depends(_element)],
    instance_id: InstanceId,
    session: SessionDep,
    caller: CallerDep,
) -> Instance:
    return await service.get_instance(session, caller, instance_id, element=element)


# ``/elements/{keyOrId}/instances…``: the element of the path, and the caller's instance
# of that element (an instance of another element is 404, as another organization's).
ElementDep = Annotated[Element, Depends(_element)]
ElementInstanceDep = Annotated[Instance, Depends(_element_instance)]


@element_router.post("", response_model=InstanceOut)
async def create_element_instance(
    element: ElementDep, body: InstanceCreate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """``POST /instances`` for the element of the path (``element`` may be left out)."""
    instance = await service.create_instance(session, caller, body, element=element)
    await session.commit()
    return _view(instance, owner=caller)


@element_router.get("", response_model=list[InstanceOut])
async def list_element_instances(
    element: ElementDep, session: SessionDep, caller: CallerDep, tags: Tags = None
) -> list[InstanceOut]:
    """The organization's instances of this element."""
    instances = await service.list_instances(session, caller, tags, element=element)
    return [_view(i) for i in instances]


@element_router.get("/{instance_id}", response_model=InstanceOut)
async def get_element_instance(instance: ElementInstanceDep) -> InstanceOut:
    """One instance of this element."""
    return _view(instance)


@element_router.put("/{instance_id}", response_model=InstanceOut)
async def replace_element_instance(
    instance: ElementInstanceDep, body: InstanceCreate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """``PUT /instances/{id}`` for an instance of this element."""
    return await _replace(session, caller, instance, body)


@element_router.patch("/{instance_id}", response_model=InstanceOut)
async def update_element_instance(
    instance: ElementInstanceDep, body: InstanceUpdate, session: SessionDep
) -> InstanceOut:
    """``PATCH /instances/{id}`` for an instance of this element."""
    return await _update(session, instance, body)


@element_router.delete("/{instance_id}", response_model=InstanceDeleted)
async def delete_element_instance(
    instance: ElementInstanceDep, session: SessionDep, response: Response, drain: Drain = False
) -> InstanceDeleted:
    """``DELETE /instances/{id}`` for an instance of this element."""
    return await _delete(session, instance, response, drain)


async def _delete(
    session: AsyncSession, instance: Instance, response: Response, drain: bool
) -> InstanceDeleted:
    instance_id = instance.id  # the instance is gone from the session once deleted
    deletion = await service.delete_instance(session, instance, drain=drain)
    await session.commit()
    if not deletion.deleted:
        response.status_code = 202
        return InstanceDeleted(
            id=instance_id, deleted=False, draining=True, pendingCallbacks=deletion.undelivered
        )
    return InstanceDeleted(id=instance_id, deleted=True, droppedCallbacks=deletion.undelivered)


async def _replace(
    session: AsyncSession, caller: Caller, instance: Instance, body: InstanceCreate
) -> InstanceOut:
    instance = await service.replace_instance(session, caller, instance, body)
    await session.commit()
    return _view(instance)


async def _update(session: AsyncSession, instance: Instance, body: InstanceUpdate) -> InstanceOut:
    instance = await service.update_instance(session, instance, body)
    await session.commit()
    return _view(instance)


async def _set_enabled(session: AsyncSession, instance: Instance, enabled: bool) -> InstanceOut:
    instance = await service.set_enabled(session, instance, enabled=enabled)
    await session.commit()
    return _view(instance)


async def _set_entry(
    session: AsyncSession, instance: Instance, config_id: str, body: ConfigurationEntryUpdate
) -> ConfigurationEntryOut:
    entry = await service.set_configuration_entry(
        session, instance, config_id, body.propertyValue, key=body.key
    )
    await session.commit()
    return _entry(entry)


def _entries(instance: Instance) -> list[ConfigurationEntryOut]:
    return [_entry(entry) for entry in service.configuration_entries(instance)]


def _entry(entry: service.ConfigurationEntry) -> ConfigurationEntryOut:
    return ConfigurationEntryOut(id=entry.id, key=entry.key, propertyValue=entry.propertyValue)


def _view(instance: Instance, *, owner: Caller | None = None) -> InstanceOut:
    """The instance as the API shows it; ``owner`` is the caller who just created it (its
    user, not read again)."""
    element = service.element_of(instance)
    if owner is not None and owner.email is not None:
        user = UserSummary(id=owner.user_id, emailAddress=owner.email)
    else:
        user = UserSummary(id=instance.user.id, emailAddress=instance.user.email)
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
        user=user,
        warnings=service.configuration_warnings(instance),
        draining=service.is_draining(instance),
    )
