"""json-server (npm, https://github.com/typicode/json-server) as a real REST provider for a
custom element: installed from the npm registry on first use into ``.cache/``, started on
a free port with its own request log, which shows what pollhub sent on the wire.

json-server 0.17 pages with ``_page``/``_limit`` and an RFC 8288 ``Link`` header, filters
with ``field_gte``, and keeps whatever fields a client writes (here ``createdAt`` and
``updatedAt``, as the client application of such an API would set them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.live import free_port

VERSION = "0.17.4"
CACHE = Path(__file__).resolve().parents[1] / ".cache" / f"json-server-{VERSION}"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def installed_json_server() -> Path:
    """The json-server executable, installed with npm when missing (a missing npm skips
    the test, or fails it when ``CI=true``)."""
    executable = CACHE / "node_modules" / ".bin" / "json-server"
    if executable.exists():
        return executable
    npm = shutil.which("npm")
    if npm is None:
        message = "npm is needed to install json-server for the custom element tests"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(CACHE),
            f"json-server@{VERSION}",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return executable


@dataclass
class JsonServer:
    """A running json-server: its base URL and the requests it logged."""

    url: str
    log: Path

    def requests(self) -> list[str]:
        """``GET /tickets?_page=2&_limit=2`` … for each request served, in order."""
        lines = _ANSI.sub("", self.log.read_text()).splitlines()
        return [" ".join(line.split()[:2]) for line in lines if re.match(r"^[A-Z]+ /", line)]


@contextmanager
def json_server(folder: Path, data: dict[str, list[object]]) -> Iterator[JsonServer]:
    """json-server serving ``data`` (collections by name) on 127.0.0.1."""
    executable = installed_json_server()
    database, log = folder / "db.json", folder / "json-server.log"
    database.write_text(json.dumps(data))
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(executable), "--host", "127.0.0.1", "--port", str(port), str(database)],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    server = JsonServer(f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_up(server, process)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_up(server: JsonServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"json-server exited: {server.log.read_text()[-2000:]}")
        try:
            httpx.get(f"{server.url}/db", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("json-server did not start within 30 s")
