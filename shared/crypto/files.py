"""Owner-only files: keys, sealed weights, API key hashes and dev secrets are written through here."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically and owner-only (0600) from the first byte.

    A reader polling for the file never sees it half-written (it appears whole, by rename), and
    no other user can open it while it is being written. OSError propagates to the caller, which
    knows what the file is for and says so in its own error.
    """
    part = path.with_name(f".{path.name}.part")
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
