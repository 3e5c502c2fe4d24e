"""Fill a ``TensorPool`` once from a face source (synthetic faces, or a labelled folder)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from shared.data.batches import FaceSource
from shared.domain.errors import BadInputError
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


def pool_from_folder(folder: Path, seed: int) -> TensorPool:
    """Every crop of a labelled folder with a known identity, with its session and six attributes."""
    from shared.data.folder import FolderFaces
    from shared.data.images import read_rgb, to_crop_tensor
    from shared.model.config import ATTRIBUTES

    faces = FolderFaces(folder, seed=seed)
    keep = [i for i, (_, label) in enumerate(faces.items) if label.identity >= 0]
    if not keep:
        raise BadInputError(f"{folder}: no crop with a known identity")
    labels = [faces.items[i][1] for i in keep]
    sessions = {name: k for k, name in enumerate(sorted({lab.session for lab in labels}))}
    attrs = torch.tensor([list(lab.attributes) for lab in labels], dtype=torch.int64)  # [N, 6]
    pool = TensorPool(
        images=to_uint8(torch.stack([to_crop_tensor(read_rgb(faces.items[i][0])) for i in keep])),
        identity=torch.tensor([lab.identity for lab in labels]),
        session=torch.tensor([sessions[lab.session] for lab in labels]),
        attributes={
            name: attrs[:, j] for j, name in enumerate(ATTRIBUTES) if (attrs[:, j] >= 0).any()
        },
        seed=seed,
    )
    log.info(
        "pool: %d crops of %d identities from %s",
        len(keep),
        len(set(pool.identity.tolist())),
        folder,
    )
    return pool


def build_pool(req: PoolRequest) -> TensorPool:
    """Synthetic faces by default; a folder of labelled crops when ``req.folder`` is set."""
    if req.folder is not None:
        return pool_from_folder(req.folder, req.seed)
    from shared.data.synthetic import SyntheticFaces

    source: FaceSource = SyntheticFaces(device=req.device, seed=req.seed)
    return pool_from_source(source, req.identities, req.per_session, req.seed)
