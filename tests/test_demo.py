"""``pollhub demo`` — the README's first command — run as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.live import free_port


def test_the_demo_shows_callbacks_arriving_and_exits_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLLHUB_")}

    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "pollhub"),
            "demo",
            "--port",
            str(port),
            "--duration",
            "20",
        ],
        cwd=tmp_path,
        env={**env, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = re.search(r"(\d+) changes made, (\d+) callbacks received", result.stdout)
    assert summary and int(summary.group(2)) > 0, result.stdout[-3000:]
    assert "CREATED" in result.stdout
    assert f"http://127.0.0.1:{port}/docs" in result.stdout
    for element in ("onedrivev2", "googlesuite", "docushareflex", "microsoftgraph", "dropbox"):
        assert f"({element}): HTTP 200" in result.stdout
    assert "Traceback" not in result.stderr
