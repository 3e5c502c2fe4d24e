"""``python -m shared.devstack.deathsig PARENT_PID CMD [ARG...]``: exec CMD so that the kernel kills
it (SIGKILL) when PARENT_PID dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``, kept across exec).

A launcher rather than a ``preexec_fn``: code run between fork and exec in a threaded parent (the
test runner, an asyncio loop with worker threads) can deadlock on a lock another thread held.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    """Arm the death signal, check the parent is still there, exec the command."""
    parent, command = int(argv[0]), argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        sys.exit(f"deathsig: prctl failed (errno {ctypes.get_errno()})")
    if os.getppid() != parent:  # the parent died before the prctl: follow it now
        sys.exit(1)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
