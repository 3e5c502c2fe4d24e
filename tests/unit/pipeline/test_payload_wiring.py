"""The payload stage of ``deid`` and the reading side of ``reid --mode learned``, without a codec.

A fake painter reports which cover each face got (donor or blur), as the public module's painter
does; the stage must code and mark only donor-painted tracks, and the reader must open the mark
with the right key only, and only for the clip and track the manifest names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from shared.domain.errors import BadInputError
from shared.payload.extract import TrackReader
from shared.payload.lattice import luma
from shared.pipeline.payload_read import ReadTrack, decode_track
from shared.pipeline.payload_stage import PayloadStage
from shared.pipeline.plan import plan_unverified
from shared.pipeline.types import DeidReport, ReidOptions, ReidReport
from shared.video.types import FaceBox
from tests.unit.payload.conftest import box_at, textured_clip
from uunet_cli.commands.deid import summary as deid_summary
from uunet_cli.commands.reid import summary as reid_summary

SECRET, KEY_ID, CLIP = bytes(range(32)), "ab" * 8, "c0ffee" * 5 + "00"
FRAMES, BATCH, READ_EVERY = 128, 8, 4  # the mark is static within an 8-frame segment


@dataclass
class FakePainter:
    """Paints nothing; reports donor for track 1 and blur for track 2, as ``stats.events``."""

    stats: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(events=None))

    def paint(self, frames: np.ndarray, indices: np.ndarray, boxes: list[list[FaceBox]]) -> None:
        for pos, frame_boxes in enumerate(boxes):
            for b in frame_boxes:
                kind = "donor" if b.track_id == 1 else "blur"
                self.stats.events.append(SimpleNamespace(frame=int(indices[pos]),
                                                         track_id=b.track_id, kind=kind))  # fmt: skip


def _boxes(k: int) -> list[FaceBox]:
    x0, y0, x1, y1 = (float(round(v)) for v in box_at(k))
    return [FaceBox(x0, y0, x1, y1, 0.9, 1), FaceBox(4.0, 4.0, 40.0, 44.0, 0.5, 2)]


@pytest.fixture(scope="module")
def marked() -> tuple[np.ndarray, np.ndarray, PayloadStage]:
    """The textured clip run through the stage around the fake painter, in batches."""
    clip = textured_clip(FRAMES, seed=5)
    frames = clip.copy()
    painter = FakePainter()
    stage = PayloadStage(SECRET, KEY_ID, CLIP, painter)
    for s in range(0, FRAMES, BATCH):
        batch, idx = frames[s : s + BATCH], np.arange(s, min(s + BATCH, FRAMES))
        boxes = [_boxes(int(k)) for k in idx]
        stage.before(batch, boxes)
        painter.paint(batch, idx, boxes)
        stage.after(batch, idx, boxes)
    return clip, frames, stage


def _read(frames: np.ndarray, track: int) -> ReadTrack:
    """Track ``track`` as ``reid`` reads it at the manifest's boxes (every few frames: faster)."""
    fmt = PayloadStage(SECRET, KEY_ID, CLIP, FakePainter()).fmt
    got = ReadTrack(TrackReader(fmt.bits, fmt.channel))
    for k in range(0, len(frames), READ_EVERY):
        box = next(b for b in _boxes(k) if b.track_id == track)
        got.observe(luma(frames[k]), k, box, keep=False)
    return got


@pytest.fixture(scope="module")
def read_back(marked) -> ReadTrack:
    return _read(marked[1], 1)


def test_only_donor_painted_tracks_carry_a_code(marked) -> None:
    clip, frames, stage = marked
    assert stage.stats.tracks == [1] and stage.stats.faces == FRAMES
    assert stage.info().tracks == (1,) and stage.info().bits == stage.fmt.bits
    x0, y0, x1, y1 = (4, 4, 40, 44)  # track 2 was blurred: left alone
    assert np.array_equal(frames[:, y0:y1, x0:x1], clip[:, y0:y1, x0:x1])
    diff = np.abs(frames[::8].astype(np.int16) - clip[::8].astype(np.int16))
    assert 0 < diff.mean() < 2.0 and diff.max() <= 16  # a mark, small and bounded


def test_the_right_key_opens_the_code_of_the_track_the_manifest_names(marked, read_back) -> None:
    stage, track = marked[2], read_back
    got = decode_track(track, SECRET, KEY_ID, stage.fmt, expect=(CLIP, 1))
    assert got.code is not None, got.reason
    assert got.code.header.track_id == 1 and got.code.face.ndim == 3
    moved = decode_track(track, SECRET, KEY_ID, stage.fmt, expect=(CLIP, 7))
    assert moved.code is None and "another clip or track" in moved.reason
    assert not moved.refused


def test_a_wrong_secret_is_refused_by_authentication_not_decoded(marked, read_back) -> None:
    got = decode_track(read_back, bytes(32), KEY_ID, marked[2].fmt)
    assert got.code is None and got.refused


def test_a_track_without_a_mark_is_unreadable_not_refused(marked) -> None:
    clip, _, stage = marked
    got = decode_track(_read(clip, 1), SECRET, KEY_ID, stage.fmt)
    assert got.code is None and not got.refused and got.reason


def test_a_clip_without_manifest_plans_learned_restoration_from_its_payload_only() -> None:
    plan = plan_unverified(ReidOptions(mode="auto"))
    assert plan.mode == "learned" and plan.payload and not plan.verified
    for options in (ReidOptions(mode="sealed"), ReidOptions(original=True)):
        with pytest.raises(BadInputError, match=r"no manifest.*--mode learned"):
            plan_unverified(options)
    with pytest.raises(BadInputError, match="mode must be one of"):
        plan_unverified(ReidOptions(mode="exact"))


def test_summaries_say_whether_a_payload_was_marked_and_that_integrity_is_unverified(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"x" * 10)
    base = DeidReport(frames=10, faces=10, tracks=2, fps=25.0, seconds=1.0, sealed=False,
                      manifest_sha256="0" * 64)  # fmt: skip
    marked = replace(base, payload=True, payload_tracks=2, payload_ms_per_face=1.5)
    assert "identity payload in the pixels of 2 track(s) (1.5 ms per face)" in deid_summary(
        out, 10, marked, "k1"
    )
    assert "no identity payload (--no-payload)" in deid_summary(out, 10, base, "k1")
    back = ReidReport(frames=10, faces_restored=10, tracks=(1,), mode_used="learned",
                      clip_sha256="0" * 64, seconds=1.0, payload=True, integrity="unverified")  # fmt: skip
    line = reid_summary(out, back)
    assert "(learned, from the identity payload, integrity NOT verified)" in line
    assert "NOT verified" not in reid_summary(out, replace(back, integrity="verified"))


def test_an_unverified_restoration_is_signed_into_the_custody_record() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from shared.audit.custody import CustodyRecord, CustodySigner, SignedCustody, verify_custody
    from shared.domain.errors import TamperedError

    key = Ed25519PrivateKey.generate()
    signer = CustodySigner(key)
    record = CustodyRecord(job_id="j", case_id="c", subject="s", at=1.0,
                           public_clip_sha256="0" * 64, manifest_sha256="", output_sha256="1" * 64,
                           mode="learned", tracks="", lossless=False, custody_key_id=signer.key_id,
                           integrity="unverified")  # fmt: skip
    signed = SignedCustody.from_json(signer.sign(record).to_json())
    assert signed.record.integrity == "unverified"
    verify_custody(key.public_key(), signed)
    forged = SignedCustody(replace(signed.record, integrity="verified"), signed.signature)
    with pytest.raises(TamperedError):
        verify_custody(key.public_key(), forged)


def test_a_clip_shrunk_to_half_size_is_read_at_twice_its_size(marked) -> None:
    """What ``reid`` does when nothing opens on a clip without manifest: boxes found at the
    received size, luma read back at the public clip's size (``scale=2``)."""
    import cv2

    frames, stage = marked[1], marked[2]
    h, w = frames.shape[1:3]
    got = ReadTrack(TrackReader(stage.fmt.bits, stage.fmt.channel))
    for k in range(0, len(frames), READ_EVERY):
        small = cv2.resize(luma(frames[k]), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        y = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        b = _boxes(k)[0]
        half = FaceBox(b.x0 / 2, b.y0 / 2, b.x1 / 2, b.y1 / 2, b.score, b.track_id)
        got.observe(y, k, half, keep=True, scale=2.0)
    opened = decode_track(got, SECRET, KEY_ID, stage.fmt)
    assert opened.code is not None, opened.reason
    assert got.boxes[0].x1 == _boxes(0)[0].x1 / 2  # kept at the received size, for painting
