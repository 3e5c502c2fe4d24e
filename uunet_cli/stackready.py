"""``uunet up --wait-ready``: block until the stack another ``uunet up`` is starting is ready.

Ready means what a script needs next: ``DIR/dev.json`` is written (``uunet up`` writes it only once
both APIs answer) and both APIs still answer ``/readyz`` now. A ``dev.json`` left over by a stack that
was killed hard names ports nobody answers on, so it is never taken for a ready stack.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from shared.domain.errors import ConfigError

_POLL_S = 0.25


def wait_ready(state_dir: Path, timeout_s: float) -> dict[str, str]:
    """The content of ``dev.json`` once the stack answers; ConfigError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        info = _ready_info(state_dir / "dev.json")
        if info is not None:
            return info
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"the stack in {state_dir} is not ready after {timeout_s:.0f} s "
                f"(is `uunet up --dev --state-dir {state_dir}` running? logs: {state_dir / 'logs'})"
            )
        time.sleep(_POLL_S)


def _ready_info(dev_json: Path) -> dict[str, str] | None:
    try:
        info = json.loads(dev_json.read_text())
    except (OSError, ValueError):  # not written yet, or being written
        return None
    urls = [info.get("public_url"), info.get("private_url")]
    if not all(isinstance(url, str) for url in urls):
        return None
    return info if all(_answers(f"{url}/readyz") for url in urls) else None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False
