"""Evaluation sets: held-out synthetic identities (tracks) and the real faces shipped in packages."""

from __future__ import annotations

import torch

from shared.evaluation.evaluate import EvalSet

HELD_OUT_SEED = 987_654_321  # training draws from seeds 0.. + 1000 * rank: never this stream


def synthetic_held_out(identities: int = 40, frames: int = 4, seed: int = HELD_OUT_SEED) -> EvalSet:
    """``identities`` new pseudo-identities, one track of ``frames`` crops each (one session)."""
    from shared.data.synthetic import SyntheticFaces

    batch = SyntheticFaces(seed=seed).session_batch(subjects=identities, per_session=frames)
    tracks = torch.arange(identities).repeat_interleave(frames)
    return EvalSet("synthetic_held_out", batch.x1.cpu(), tracks)


def real_faces(limit: int = 0) -> EvalSet:
    """Every real face found (never trained on); frames of one known person form one track."""
    from shared.data.real_faces import load_real_faces

    crops, tracks = [], []
    people: dict[str, int] = {}
    for i, face in enumerate(load_real_faces()):
        if face.person is not None:
            track = people.setdefault(face.person, 100_000 + len(people))
        else:
            track = i
        crops.append(face.crops)
        tracks += [track] * face.crops.shape[0]
    x = torch.cat(crops)
    t = torch.tensor(tracks)
    if limit > 0:
        x, t = x[:limit], t[:limit]
    return EvalSet("real", x, t)
