"""HTTP routes of ``/instances``: parse, authorize, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from pollhub.db.models import Instance
from pollhub.deps import CallerDep, InstanceId, SessionDep
from pollhub.instances import service
from pollhub.instances.schemas import (
    ElementSummary,
    InstanceCreate,
    InstanceDeleted,
    InstanceOut,
    InstanceUpdate,
    UserSummary,
)

router = APIRouter(prefix="/instances", tags=["instances"])


@router.post("", response_model=InstanceOut)
async def create_instance(
    body: InstanceCreate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """Create an element instance: exchange the code for tokens and start its events."""
    instance = await service.create_instance(session, caller, body)
    await session.commit()
    return _view(instance)


@router.get("", response_model=list[InstanceOut])
async def list_instances(
    session: SessionDep,
    caller: CallerDep,
    tags: Annotated[list[str] | None, Query(alias="tags[]")] = None,
) -> list[InstanceOut]:
    """The organization's instances; ``tags[]=T`` keeps those tagged with every T."""
    return [_view(i) for i in await service.list_instances(session, caller, tags)]


@router.get("/{instance_id}", response_model=InstanceOut)
async def get_instance(
    instance_id: InstanceId, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """One instance."""
    return _view(await service.get_instance(session, caller, instance_id))


@router.patch("/{instance_id}", response_model=InstanceOut)
async def update_instance(
    instance_id: InstanceId, body: InstanceUpdate, session: SessionDep, caller: CallerDep
) -> InstanceOut:
    """Change name, tags or configuration, or re-authenticate with ``providerData.code``."""
    instance = await service.update_instance(session, caller, instance_id, body)
    await session.commit()
    return _view(instance)


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
    drain: Annotated[
        bool,
        Query(description="deliver the pending callbacks first, then delete (202)"),
    ] = False,
) -> InstanceDeleted:
    """Delete an instance: its polling stops and its provider subscriptions are removed.

    Callbacks not yet delivered are dropped, and ``droppedCallbacks`` says how many. With
    ``drain=true`` and callbacks pending, the answer is 202: events stop now, the pending
    callbacks are delivered (retries included), and the instance is deleted once none is
    left; until then it is listed with ``draining: true`` and cannot be changed.
    """
    deletion = await service.delete_instance(session, caller, instance_id, drain=drain)
    await session.commit()
    if not deletion.deleted:
        response.status_code = 202
        return InstanceDeleted(
            id=instance_id, deleted=False, draining=True, pendingCallbacks=deletion.undelivered
        )
    return InstanceDeleted(id=instance_id, deleted=True, droppedCallbacks=deletion.undelivered)


def _view(instance: Instance) -> InstanceOut:
    element = service.element_of(instance)
    return InstanceOut(
        id=instance.id,
        name=instance.name,
        token=instance.token,
        element=ElementSummary(key=element.key, name=element.name, hub=element.hub),
        tags=instance.tags,
        valid=instance.valid,
        invalidReason=instance.invalid_reason,
        disabled=instance.disabled,
        eventsEnabled=instance.events_enabled,
        createdDate=instance.created_at,
        updatedDate=instance.updated_at,
        configuration=service.shown_configuration(instance),
        user=UserSummary(id=instance.user.id, emailAddress=instance.user.email),
        warnings=service.configuration_warnings(instance),
        draining=service.is_draining(instance),
    )
