"""Synthetic faces: batch shapes and ranges, pseudo-identity structure, phase-1 pairs."""

from __future__ import annotations

import pytest
import torch

from shared.data.batches import pair_indices
from shared.data.synthetic import SyntheticFaces, SyntheticOptions
from shared.domain.errors import BadInputError


@pytest.fixture(scope="module")
def clean() -> SyntheticFaces:
    return SyntheticFaces(seed=7, options=SyntheticOptions(augment=False))


def test_session_batch_has_aligned_subjects_and_unit_range() -> None:
    batch = SyntheticFaces(seed=1).session_batch(subjects=3, per_session=4)
    assert batch.x1.shape == batch.x2.shape == (12, 3, 64, 64)
    assert batch.ids.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert batch.x1.dtype == torch.float32
    assert float(batch.x1.min()) >= 0.0 and float(batch.x2.max()) <= 1.0
    assert batch.attributes is None


def test_same_subjects_two_sessions_are_closer_than_different_subjects(
    clean: SyntheticFaces,
) -> None:
    batch = clean.session_batch(subjects=6, per_session=2)
    x1 = batch.x1.view(6, 2, -1).mean(1)  # per-subject mean of session 1, [6, D]
    x2 = batch.x2.view(6, 2, -1).mean(1)
    dist = torch.cdist(x1, x2)  # [6, 6]: diagonal = same subject across sessions
    same = dist.diag()
    others = dist[~torch.eye(6, dtype=torch.bool)].view(6, 5)
    assert int((same < others.min(1).values).sum()) >= 5  # nearest other-session set is the subject
    assert float(same.mean()) < 0.7 * float(others.mean())


def test_same_seed_gives_the_same_faces() -> None:
    a = SyntheticFaces(seed=3).session_batch(2, 2)
    b = SyntheticFaces(seed=3).session_batch(2, 2)
    assert torch.equal(a.x1, b.x1) and torch.equal(a.x2, b.x2)


def test_labels_stay_unique_across_batches(clean: SyntheticFaces) -> None:
    first, second = clean.trait_batch(2, 3), clean.trait_batch(2, 3)
    assert set(first.labels.tolist()).isdisjoint(second.labels.tolist())
    assert first.images.shape == (6, 3, 64, 64)


def test_synthetic_faces_refuse_attribute_traits(clean: SyntheticFaces) -> None:
    with pytest.raises(BadInputError, match="no 'beard' labels"):
        clean.trait_batch(2, 2, trait="beard")


def test_pair_indices_cover_ordered_pairs_balanced() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    ia, ib, same = pair_indices(labels, balance=False)
    assert len(ia) == 9 * 8 and bool((ia != ib).all())
    assert torch.equal(same, (labels[ia] == labels[ib]).float())
    ia, ib, same = pair_indices(labels, generator=torch.Generator().manual_seed(0))
    assert float(same.sum()) == len(same) / 2 == 18  # all 18 positive pairs, as many negatives
    assert torch.equal(same, (labels[ia] == labels[ib]).float())
