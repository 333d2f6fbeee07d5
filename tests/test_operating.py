"""Starting pollhub's processes as an operator does: refusals with a reason, bind defaults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.live import free_port

BIN = Path(sys.executable).parent
UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/none"


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLLHUB_")}
    return {**env, **settings}


def test_a_worker_on_postgresql_without_a_secret_key_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "pollhub"), "worker"],
        cwd=tmp_path,
        env=_env(POLLHUB_DATABASE_URL=UNREACHABLE_POSTGRES),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "POLLHUB_SECRET_KEY must be set" in result.stderr
    assert "pollhub keygen" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_api_listens_on_loopback_by_default(tmp_path: Path) -> None:
    port = free_port()
    api = subprocess.Popen(
        [str(BIN / "pollhub"), "api", "--port", str(port)],
        cwd=tmp_path,
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_health(port)
    finally:
        api.send_signal(signal.SIGINT)
        _, stderr = api.communicate(timeout=20)

    assert f"Uvicorn running on http://127.0.0.1:{port}" in stderr


def test_the_sandbox_is_refused_on_a_network_interface_unless_asked(tmp_path: Path) -> None:
    for command in ("api", "serve"):
        result = subprocess.run(
            [str(BIN / "pollhub"), command, "--host", "0.0.0.0", "--port", str(free_port())],
            cwd=tmp_path,
            env=_env(POLLHUB_SANDBOX="true"),
            capture_output=True,
            text=True,
            timeout=30,
        )

        assert result.returncode == 2, command
        assert "POLLHUB_SANDBOX_ON_NETWORK=true" in result.stderr
        assert "Traceback" not in result.stderr


def test_the_sandbox_listens_on_the_network_when_asked_explicitly(tmp_path: Path) -> None:
    port = free_port()
    api = subprocess.Popen(
        [str(BIN / "pollhub"), "api", "--host", "0.0.0.0", "--port", str(port)],
        cwd=tmp_path,
        env=_env(POLLHUB_SANDBOX="true", POLLHUB_SANDBOX_ON_NETWORK="true"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_health(port)
        sandbox = httpx.get(f"http://127.0.0.1:{port}/sandbox/control/notifications", timeout=30)
    finally:
        api.send_signal(signal.SIGINT)
        _, stderr = api.communicate(timeout=20)

    assert sandbox.status_code == 200
    assert f"Uvicorn running on http://0.0.0.0:{port}" in stderr


def _wait_for_health(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("the API did not become healthy")
