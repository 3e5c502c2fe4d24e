"""A deployment's own donors: a folder of face images built into a bank file once, then cached.

The cache key is a digest of the folder's file names, sizes and times, so adding or replacing an
image rebuilds the bank; the file lives in ``$UUNET_DATA_CACHE/donors`` (default
``~/.cache/uunet/donors``) and can also be built ahead with ``uunet donors build --folder DIR``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from shared.surrogate.bank_build import build_folder_bank, folder_digest
from shared.surrogate.donors import DonorBank, load_bank, save_bank

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where built banks are kept."""
    base = Path(os.environ.get("UUNET_DATA_CACHE", Path.home() / ".cache" / "uunet"))
    return base / "donors"


def folder_bank(folder: Path) -> DonorBank:
    """The bank of ``folder``'s faces, from the cache when the folder has not changed."""
    path = cache_dir() / f"folder-{folder_digest(folder)}.pt"
    if not path.is_file():
        log.info("building the donor bank of %s (once; cached in %s)", folder, path)
        save_bank(path, build_folder_bank(folder))
    return load_bank(path)
