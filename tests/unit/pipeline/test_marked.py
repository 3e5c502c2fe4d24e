"""``deid`` refuses to mark a clip twice: the keyless clock probe tells a marked face track,
re-encoded by a third party (manifest gone), from an unmarked one through real libx264; a clip the
probe finds marked is refused in one line unless ``allow_marked``; an unmarked one passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.crypto.keys import PublicSideKeys, init_keyset
from shared.domain.errors import BadInputError
from shared.evaluation.transcode import Transcode, decode_luma, encode_rgb, transcode
from shared.payload.carrier import PayloadFormat
from shared.payload.embed import PayloadEmbedder
from shared.pipeline.api import DeidOptions, deidentify_clip
from shared.pipeline.marked import MARK_CONTRAST, PROBE_FRAMES, MarkProbe
from shared.video.synthetic import SceneSpec, write_clip
from tests.unit.payload.conftest import box_at, textured_clip
from tests.unit.pipeline.test_pipeline_fake_engine import InvertingEngine


def _third_party_copy(marked: bool) -> float:
    """The probe's score of a clip (marked or not) after the product's encode and a CRF 23 copy."""
    clip = textured_clip(PROBE_FRAMES, seed=7)
    if marked:
        fmt = PayloadFormat()
        embedder = PayloadEmbedder(fmt.channel)
        embedder.set_codeword(1, np.random.default_rng(3).integers(0, 2, fmt.bits).astype(np.uint8))
        for k, frame in enumerate(clip):
            embedder.mark(frame, k, [(1, box_at(k))])
    copy = transcode(encode_rgb(list(clip), crf=20), Transcode(crf=23))
    probe = MarkProbe()
    for k, y in enumerate(decode_luma(copy)):
        probe.observe_luma(y, k, [(1, box_at(k))])
    return probe.contrast()


def test_the_probe_sees_the_clock_of_a_marked_track_after_a_re_encode() -> None:
    marked, plain = _third_party_copy(True), _third_party_copy(False)
    assert marked >= MARK_CONTRAST > plain, (marked, plain)


def test_no_face_no_score() -> None:
    probe = MarkProbe()
    probe.observe_luma(np.zeros((64, 64), np.float32), 0, [])
    assert probe.contrast() == 0.0


def test_deid_refuses_a_clip_the_probe_finds_marked_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = tmp_path / "cam.mp4", tmp_path / "public.mp4"
    write_clip(src, SceneSpec(160, 120, frames=12, fps=12, n_faces=1, face_px=(44, 48), seed=2))
    keys = PublicSideKeys.load(init_keyset(tmp_path / "keys").path)
    assert deidentify_clip(src, out, keys, InvertingEngine(), DeidOptions(seal="none")).frames == 12
    monkeypatch.setattr(MarkProbe, "contrast", lambda _: 16.1)  # as a re-encoded public clip
    out.unlink()
    with pytest.raises(BadInputError) as err:
        deidentify_clip(src, out, keys, InvertingEngine(), DeidOptions(seal="none"))
    line = str(err.value)
    assert (
        "\n" not in line
        and "identity payload (its clock stands 16 standard deviations out)" in line
    )
    assert "--allow-marked" in line and not out.exists()
    options = DeidOptions(seal="none", allow_marked=True)
    assert deidentify_clip(src, out, keys, InvertingEngine(), options).frames == 12
