"""The ``pollhub`` command, run as a user would run it: as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

PYTHON_BIN = Path(sys.executable).parent


def pollhub(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PYTHON_BIN / "pollhub"), *args],
        cwd=cwd,
        env={**_clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("POLLHUB_")}


def test_orgs_create_prints_the_organization_and_user_with_their_secrets(tmp_path: Path) -> None:
    result = pollhub("orgs", "create", "Acme", "--email", "admin@acme.example", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["organization"]["name"] == "Acme"
    assert created["user"]["email"] == "admin@acme.example"
    assert len(created["organization"]["secret"]) >= 40
    assert len(created["user"]["secret"]) >= 40
    assert (tmp_path / "pollhub.db").exists(), "the embedded database is created on first use"


def test_users_create_adds_a_user_to_an_organization(tmp_path: Path) -> None:
    org = json.loads(
        pollhub("orgs", "create", "Acme", "--email", "a@a.example", cwd=tmp_path).stdout
    )

    result = pollhub(
        "users",
        "create",
        "--org",
        str(org["organization"]["id"]),
        "--email",
        "b@a.example",
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    user = json.loads(result.stdout)["user"]
    assert user["email"] == "b@a.example" and user["secret"] != org["user"]["secret"]


def test_users_create_for_an_unknown_organization_fails_clearly(tmp_path: Path) -> None:
    result = pollhub("users", "create", "--org", "999", "--email", "b@a.example", cwd=tmp_path)

    assert result.returncode == 1
    assert "No organization found with ID 999" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_says_which_migrations_it_applied_then_that_none_were_needed(
    tmp_path: Path,
) -> None:
    first = pollhub("migrate", cwd=tmp_path)
    again = pollhub("migrate", cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    migrations = sorted((Path(__file__).parents[1] / "migrations" / "versions").glob("*.py"))
    assert f"applied {len(migrations)} migrations:" in first.stdout
    assert "up to date" not in first.stdout
    assert again.returncode == 0, again.stderr
    assert "already up to date: no migration applied" in again.stdout


def test_help_texts_show_no_literal_markup() -> None:
    for command in ([], ["migrate"], ["serve"], ["api"], ["worker"], ["demo"], ["keygen"]):
        result = pollhub(*command, "--help", cwd=Path.cwd())
        assert result.returncode == 0, result.stderr
        assert "``" not in result.stdout, (command, result.stdout)


def test_a_non_sqlite_database_needs_a_secret_key(tmp_path: Path) -> None:
    env = {"POLLHUB_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none"}

    result = pollhub("api", "--port", "1", cwd=tmp_path, env=env)

    assert result.returncode != 0
    assert "POLLHUB_SECRET_KEY" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_migrates_and_answers_health_and_docs(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [str(PYTHON_BIN / "pollhub"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/health")
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=30)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)

    assert health.json()["status"] == "ok", output
    assert docs.status_code == 200
    assert process.returncode == 0, output


def _wait_for(url: str, seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer within {seconds} s")
            time.sleep(0.2)


def test_serve_on_another_port_points_the_sandbox_at_that_port(tmp_path: Path) -> None:
    port = _free_port()
    org = json.loads(
        pollhub("orgs", "create", "Acme", "--email", "a@a.example", cwd=tmp_path).stdout
    )
    auth = f"User {org['user']['secret']}, Organization {org['organization']['secret']}"
    process = subprocess.Popen(
        [str(PYTHON_BIN / "pollhub"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**_clean_env(), "POLLHUB_SANDBOX": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/health")
        created = httpx.post(
            f"http://127.0.0.1:{port}/elements/api-v2/instances",
            headers={"Authorization": auth},
            json={
                "element": {"key": "onedrivev2"},
                "providerData": {"code": "any-code"},
                "configuration": {"oauth.api.key": "id", "oauth.api.secret": "secret"},
                "name": "On another port",
            },
            timeout=30,
        )
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)

    assert created.status_code == 200, created.text + output
    assert created.json()["name"] == "On another port"


def test_the_worker_does_not_log_every_scheduler_tick(tmp_path: Path) -> None:
    assert pollhub("migrate", cwd=tmp_path).returncode == 0
    process = subprocess.Popen(
        [str(PYTHON_BIN / "pollhub"), "worker"],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first_lines = []
    for line in process.stdout:  # its own INFO line says the scheduler has started
        first_lines.append(line)
        if "poll worker" in line or len(first_lines) > 50:
            break
    time.sleep(4)  # four scheduler ticks
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    output = "".join(first_lines) + rest

    assert process.returncode == 0, output
    assert "poll worker" in output, "the worker's own INFO lines are still logged"
    assert "apscheduler" not in output, output
