"""Masking (issue 16, item 11): a configuration key whose name says secret, key, password,
passwd, token or credential is stored encrypted and shown as ``********``."""

from __future__ import annotations

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.models import Instance
from pollhub.instances.config import MASK
from tests import seeds
from tests.conftest import Tenant

API = "/elements/api-v2"
SECRET_LOOKING = [
    "passwd",
    "apiKey",
    "private_key",
    "event.notification.signature_key",
    "custom.credential",
    "db.password",
    "refreshToken",
    "client_secret",
]


@pytest.mark.parametrize("key", SECRET_LOOKING)
async def test_a_key_named_like_a_secret_is_masked_everywhere(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    key: str,
) -> None:
    body = seeds.filled(seeds.ONEDRIVE)
    body["configuration"][key] = "hunter2-the-value"

    created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    listed = await client.get(f"{API}/instances", headers=tenant.headers)

    assert created.status_code == 200, created.text
    assert created.json()["configuration"][key] == MASK
    assert "hunter2-the-value" not in listed.text
    stored = await session.get(Instance, created.json()["id"])
    assert stored is not None and key in stored.secrets and key not in stored.configuration


async def test_echoing_the_mask_back_keeps_the_secret(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    body = seeds.filled(seeds.ONEDRIVE)
    body["configuration"]["apiKey"] = "hunter2-the-value"
    created = (await client.post(f"{API}/instances", json=body, headers=tenant.headers)).json()

    patched = await client.patch(
        f"{API}/instances/{created['id']}",
        json={"configuration": created["configuration"]},
        headers=tenant.headers,
    )

    assert patched.status_code == 200, patched.text
    stored = await session.get(Instance, created["id"])
    assert stored is not None and stored.secrets["apiKey"] == "hunter2-the-value"


async def test_a_secret_stored_in_clear_before_is_masked_when_shown(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    created = (
        await client.post(
            f"{API}/instances", json=seeds.filled(seeds.ONEDRIVE), headers=tenant.headers
        )
    ).json()
    stored = await session.get(Instance, created["id"])
    assert stored is not None
    stored.configuration = {**stored.configuration, "passwd": "stored-in-clear"}
    await session.commit()

    shown = await client.get(f"{API}/instances/{created['id']}", headers=tenant.headers)

    assert shown.json()["configuration"]["passwd"] == MASK
