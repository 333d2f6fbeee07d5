"""``pollhub demo`` — the README's first command — run as a user runs it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from pollhub.demo import SIGNATURE_KEY, signature_verdict
from tests.live import free_port


def test_the_demo_prints_callbacks_as_they_arrive_when_piped_and_exits_cleanly(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLLHUB_")}
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "pollhub"),
            "demo",
            "--port",
            str(port),
            "--duration",
            "40",
        ],
        cwd=tmp_path,
        env={**env, "COLUMNS": "160"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    started = time.monotonic()
    seen = []
    for line in process.stdout:  # output is a pipe here, as with `pollhub demo | tee`
        seen.append(line)
        if "CREATED" in line:
            break
    arrived_after = time.monotonic() - started
    still_running = process.poll() is None
    rest, errors = process.communicate(timeout=120)
    output = "".join(seen) + rest

    assert process.returncode == 0, output[-3000:] + errors[-3000:]
    assert still_running, f"the first callback was printed only at the end ({arrived_after:.0f} s)"
    created = next(line for line in seen if "CREATED" in line)
    assert "delivered ✓sig" in created, created
    assert "BAD SIGNATURE" not in output
    summary = re.search(r"(\d+) changes made, (\d+) callbacks received", output)
    assert summary and int(summary.group(2)) > 0, output[-3000:]
    assert f"http://127.0.0.1:{port}/docs" in output
    assert f"http://127.0.0.1:{port}/sandbox/docs" in output
    for element in ("onedrivev2", "googlesuite", "docushareflex", "microsoftgraph", "dropbox"):
        assert f"({element}): HTTP 200" in output
    assert "Traceback" not in errors


def test_the_demo_client_verifies_signatures_not_only_their_presence() -> None:
    body = b'{"message": {"events": []}}'
    good = (
        "sha256="
        + base64.b64encode(hmac.new(SIGNATURE_KEY.encode(), body, hashlib.sha256).digest()).decode()
    )
    forged = (
        "sha256="
        + base64.b64encode(hmac.new(b"another-key", body, hashlib.sha256).digest()).decode()
    )

    assert signature_verdict(body, good) == "✓sig"
    assert signature_verdict(body, forged) == "✗sig BAD SIGNATURE"
    assert signature_verdict(body + b" ", good) == "✗sig BAD SIGNATURE"
    assert signature_verdict(body, None) == "unsigned"
