"""The whole stack for e2e tests: the real ``uunet up --dev`` command, once per session."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.stack import alive, children

UUNET = str(Path(sys.executable).parent / "uunet")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Start ``uunet up --dev``, yield its ``dev.json``; SIGTERM it at the end and check it stopped."""
    state = tmp_path_factory.mktemp("stack")
    argv = [UUNET, "up", "--dev", "--state-dir", str(state), "--timeout", "180"]
    if os.environ.get("UUNET_E2E_CHECKPOINT"):  # default: the shipped weights
        argv += ["--checkpoint", os.environ["UUNET_E2E_CHECKPOINT"]]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=open(state / "up.log", "wb"),  # noqa: SIM115 - closed with the process
        start_new_session=True,
    )
    dev_json = state / "dev.json"
    deadline = time.monotonic() + 240
    try:
        while not dev_json.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"uunet up did not start: {(state / 'up.log').read_text()[-2000:]}")
            time.sleep(0.5)
        info = json.loads(dev_json.read_text()) | {"state_dir": str(state)}
    except BaseException:  # never leave the stack running behind a failed setup
        with contextlib.suppress(ProcessLookupError):  # the group may be gone already
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    yield info
    started = children(proc.pid).values()  # as they are now (a worker may have been restarted)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert not dev_json.exists()
    assert [pid for pid in started if alive(pid)] == []
