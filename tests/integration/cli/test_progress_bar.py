"""The CLI's progress bar in a real terminal (a pty): frames, frames/s and an ETA, and still there
when the terminal reports 0 columns (some CI and serial consoles do)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import sys
import termios

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses a pty")

FEED = """
import time
from uunet_cli.pipeline_common import progress_bar
with progress_bar("restoring", False, 40) as update:
    for i in range(1, 41):
        update(i / 40)
        time.sleep(0.01)
"""


def bar_output(columns: int) -> str:
    """What the bar writes to a pty of ``columns`` columns (escape codes and all)."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is its stdin/stdout/stderr
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        os.execv(sys.executable, [sys.executable, "-c", FEED])
    out = b""
    while select.select([fd], [], [], 20)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the pty
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out.decode(errors="replace")


@pytest.mark.parametrize("columns", [0, 100])
def test_bar_counts_frames_with_rate_and_eta(columns: int) -> None:
    text = bar_output(columns)
    assert "restoring:" in text and "/40 frames" in text, text
    assert "frames/s" in text and "ETA " in text, text
    assert "%/s" not in text
