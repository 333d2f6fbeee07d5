"""pollhub API processes of their own (``pollhub api``), for what only a real process
shows: its memory, and what several processes share."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.live import free_port

POLLHUB = Path(sys.executable).parent / "pollhub"


class ApiProcess:
    """``pollhub api`` on 127.0.0.1 with the test's settings plus ``env``."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, **env, "POLLHUB_LOG_LEVEL": "WARNING"}
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ApiProcess:
        self._process = subprocess.Popen(
            [str(POLLHUB), "api", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"pollhub api exited with {self._process.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("pollhub api did not become healthy")

    def __exit__(self, *_: object) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait(timeout=30)

    def rss_bytes(self) -> int:
        """The process's resident memory now."""
        assert self._process is not None
        status = Path(f"/proc/{self._process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024
