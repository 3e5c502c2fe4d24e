"""Fill a ``TensorPool`` once from a face source (synthetic faces, or a labelled folder)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from shared.data.batches import FaceSource
from shared.training.sources import TensorPool, to_uint8

log = logging.getLogger(__name__)

CHUNK = 64  # subjects rendered per call


@dataclass(frozen=True)
class PoolRequest:
    """What to draw: ``identities`` x 2 sessions x ``per_session`` crops (synthetic) or a folder."""

    folder: Path | None = None
    identities: int = 400
    per_session: int = 6
    seed: int = 0
    device: str = "cpu"


def pool_from_source(
    source: FaceSource, identities: int, per_session: int, seed: int
) -> TensorPool:
    """Draw ``identities`` subjects with two sessions each from any FaceSource."""
    images, ids, sessions = [], [], []
    done = 0
    while done < identities:
        n = min(CHUNK, identities - done)
        batch = source.session_batch(subjects=n, per_session=per_session)
        label = (batch.ids.cpu() - batch.ids.min().cpu()) + done  # dense ids 0..identities-1
        for session, x in enumerate((batch.x1, batch.x2)):
            images.append(to_uint8(x.cpu()))
            ids.append(label)
            sessions.append(torch.full_like(label, session))
        done += n
    pool = TensorPool(torch.cat(images), torch.cat(ids), torch.cat(sessions), seed=seed)
    log.info("pool: %d crops of %d identities", pool.images.shape[0], identities)
    return pool


def build_pool(req: PoolRequest) -> TensorPool:
    """Synthetic faces by default; a folder of labelled crops when ``req.folder`` is set."""
    if req.folder is not None:
        from shared.data.folder import FolderFaces

        source: FaceSource = FolderFaces(req.folder, seed=req.seed)
    else:
        from shared.data.synthetic import SyntheticFaces

        source = SyntheticFaces(device=req.device, seed=req.seed)
    return pool_from_source(source, req.identities, req.per_session, req.seed)
