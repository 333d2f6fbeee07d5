"""HTTP routes of polling: poll now, and where each resource's polling stands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from pollhub.clock import clock
from pollhub.db.configuration import StoredConfiguration
from pollhub.db.models import Instance, PollState
from pollhub.deps import InstanceDep, SessionDep
from pollhub.elements import element_of
from pollhub.errors import Conflict
from pollhub.polling import schedule
from pollhub.polling.config import PollerResource
from pollhub.polling.plan import describe_resource

router = APIRouter(prefix="/instances", tags=["polling"])


class ResourcePollStatus(BaseModel):
    """Where polling of one resource stands."""

    resource: str
    nextPollDate: datetime
    lastPollDate: datetime | None
    lastSuccessDate: datetime | None
    lastResult: str | None
    lastError: str | None
    consecutiveFailures: int
    cursorAgeSeconds: float | None
    baselined: bool
    reading: dict[str, Any] | None = None  # what goes to the provider, what is applied after


@router.post("/{instance_id}/events/poll", status_code=202)
async def poll_now(instance: InstanceDep, session: SessionDep) -> JSONResponse:
    """Poll every resource of the instance at the next tick."""
    if not instance.events_enabled:
        raise Conflict(f"Events are not enabled for instance {instance.id}")
    count = await schedule.poll_now(session, instance.id)
    await session.commit()
    return JSONResponse({"instanceId": instance.id, "resources": count}, status_code=202)


@router.get("/{instance_id}/poller", response_model=list[ResourcePollStatus])
async def poll_status(instance: InstanceDep, session: SessionDep) -> list[ResourcePollStatus]:
    """Per resource: last poll, its result and error, and how old the cursor is."""
    states = await session.scalars(
        select(PollState).where(PollState.instance_id == instance.id).order_by(PollState.resource)
    )
    now = clock.now()
    reading = _how_resources_are_read(instance)
    return [
        ResourcePollStatus(
            resource=state.resource,
            nextPollDate=state.next_poll_at,
            lastPollDate=state.last_poll_at,
            lastSuccessDate=state.last_success_at,
            lastResult=state.last_result,
            lastError=state.last_error,
            consecutiveFailures=state.consecutive_failures,
            cursorAgeSeconds=(now - state.last_success_at).total_seconds()
            if state.last_success_at
            else None,
            baselined=state.cursor is not None,
            reading=reading.get(state.resource),
        )
        for state in states
    ]


def _how_resources_are_read(instance: Instance) -> dict[str, dict[str, Any]]:
    element = element_of(instance)
    entries = StoredConfiguration.of(instance).poller_configuration
    if element is None:
        return {}
    resources = {name: PollerResource.model_validate(entry) for name, entry in entries.items()}
    return {name: describe_resource(element, resources, name) for name in resources}
