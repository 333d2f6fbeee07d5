"""The Dockerfile and docker-compose.yml, exercised outside Docker: every command they run
is run here against PostgreSQL, so the files cannot drift from the code."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.live import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def dockerfile_instruction(name: str) -> str:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    [line] = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    return line.removeprefix(f"{name} ").strip()


def exec_form(text: str) -> list[str]:
    """A Dockerfile JSON-array instruction as argv."""
    return [part.strip().strip('"') for part in text.strip("[]").split('",')]


@pytest.fixture
def postgres_env(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> dict[str, str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("compose runs pollhub on PostgreSQL; this is the PostgreSQL run's test")
    # An empty database: instances left by earlier tests were encrypted with another key.
    request.getfixturevalue("sessionmaker")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLLHUB_")}
    env.update(
        {
            "POLLHUB_DATABASE_URL": database_url,
            "POLLHUB_SECRET_KEY": "compose-test-key",
            "POLLHUB_PUBLIC_URL": "http://127.0.0.1:8000",
        }
    )
    return env


def test_compose_sets_every_variable_pollhub_needs() -> None:
    services = compose()["services"]
    environment = services["migrate"]["environment"]

    assert environment["POLLHUB_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "POLLHUB_SECRET_KEY" in environment
    for name in ("api", "worker"):
        assert services[name]["environment"] == environment
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert "pgdata" in compose()["volumes"]
    assert services["postgres"]["healthcheck"]["test"]


def test_the_image_entrypoint_is_the_pollhub_command() -> None:
    assert exec_form(dockerfile_instruction("ENTRYPOINT")) == ["pollhub"]
    assert (BIN / "pollhub").exists()


def test_compose_migrate_runs_on_postgres(postgres_env: dict[str, str]) -> None:
    command = compose()["services"]["migrate"]["command"]

    result = subprocess.run(
        [str(BIN / "pollhub"), *command], env=postgres_env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    again = subprocess.run(
        [str(BIN / "pollhub"), *command], env=postgres_env, capture_output=True, text=True
    )
    assert again.returncode == 0, "migrating twice is harmless"


def test_compose_api_serves_and_passes_both_health_checks(postgres_env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "pollhub"), "migrate"], env=postgres_env, check=True)
    port = free_port()
    command = [
        "127.0.0.1" if part == "0.0.0.0" else str(port) if part == "8000" else part
        for part in compose()["services"]["api"]["command"]
    ]
    api = subprocess.Popen(
        [str(BIN / "pollhub"), *command], env=postgres_env, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_health(port)
        for check in (
            compose()["services"]["api"]["healthcheck"]["test"][1:],
            exec_form(re.sub(r".*CMD ", "", dockerfile_instruction("HEALTHCHECK"))),
        ):
            argv = [part.replace("8000", str(port)) for part in check]
            argv[0] = sys.executable if argv[0] == "python" else argv[0]
            assert subprocess.run(argv, timeout=10).returncode == 0, shlex.join(argv)
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(timeout=20)


def test_compose_worker_starts_and_stops_cleanly(postgres_env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "pollhub"), "migrate"], env=postgres_env, check=True)
    command = compose()["services"]["worker"]["command"]
    worker = subprocess.Popen(
        [str(BIN / "pollhub"), *command], env=postgres_env, stderr=subprocess.PIPE, text=True
    )
    assert worker.stderr is not None
    # Signals are handled once it runs (the start may take seconds on a loaded machine).
    started = worker.stderr.readline()
    while started and "poll worker" not in started:
        started = worker.stderr.readline()
    time.sleep(3)
    assert worker.poll() is None, started + worker.stderr.read()

    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=30)

    assert worker.returncode == 0, stderr
    assert "poll worker" in stderr and "stopped" in stderr
    assert "Traceback" not in stderr, stderr


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
