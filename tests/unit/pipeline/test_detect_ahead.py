"""Detection in a child process and the face stage a thread ahead (``shared.video.ahead``): the same
boxes and the same public clip, and a deid job that fails midway leaves neither behind."""

from __future__ import annotations

import json
import os
import threading
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.crypto.keys import PublicSideKeys, init_keyset
from shared.domain.errors import UUNetError
from shared.pipeline.api import DeidOptions, deidentify_clip
from shared.video.ahead import AHEAD_MIN_FRAMES, detect_ahead, face_stream
from shared.video.decode import iter_frames
from shared.video.faces import FaceStageOptions
from shared.video.runtime import usable_cpus
from shared.video.synthetic import SceneSpec, write_clip
from shared.video.types import VideoInfo
from tests.unit.pipeline.test_pipeline_fake_engine import InvertingEngine


class FailingEngine(InvertingEngine):
    """Fails on its third batch of faces."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def deidentify(self, crops: torch.Tensor, noise: torch.Tensor, attributes: object = None
                   ) -> torch.Tensor:  # fmt: skip
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("engine gave up")
        return super().deidentify(crops, noise, attributes)


def _children() -> set[int]:
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            text = Path(f"/proc/self/task/{task}/children").read_text()
        except OSError:
            continue
        pids |= {int(p) for p in text.split()}
    return pids


@pytest.fixture(scope="module")
def clip_and_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ahead")
    clip = root / "in.mp4"
    write_clip(clip, SceneSpec(192, 144, frames=40, n_faces=2, face_px=(40, 48), seed=5))
    return clip, init_keyset(root / "keys").path


def test_detecting_ahead_in_a_child_gives_the_same_clip(
    clip_and_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    clip, keys = clip_and_keys
    reports, faces, frames = [], [], []
    for ahead in (False, True):
        out, sidecar = tmp_path / f"pub-{ahead}.mp4", tmp_path / f"pub-{ahead}.json"
        options = DeidOptions(seal="none", clip_id="c" * 32, detect_ahead=ahead,
                              manifest_json=sidecar)  # fmt: skip
        reports.append(deidentify_clip(clip, out, PublicSideKeys.load(keys), InvertingEngine(),
                                       options))  # fmt: skip
        faces.append(json.loads(sidecar.read_text())["manifest"]["runs"])
        frames.append(np.concatenate([b.frames for b in iter_frames(out)]))
    assert reports[0].faces == reports[1].faces > 40 and reports[0].tracks == reports[1].tracks
    assert faces[0] == faces[1]  # the same boxes, frame by frame
    # The frames: identical in every run since; two early full-suite runs (boxes not compared then,
    # not reproduced in 30 tries) saw the last frame one level apart, so allow that much.
    diff = np.abs(frames[0].astype(np.int16) - frames[1]).astype(np.float64)
    psnr = 10 * np.log10(255.0**2 / max(float(np.mean(diff**2)), 1e-10))
    assert psnr > 45.0, f"the clips differ (PSNR {psnr:.1f} dB, up to {diff.max():.0f} levels)"


def test_a_job_failing_midway_leaves_no_thread_and_no_child(
    clip_and_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    clip, keys = clip_and_keys
    before = _children()
    with pytest.raises(UUNetError, match="engine gave up"):
        deidentify_clip(clip, tmp_path / "pub.mp4", PublicSideKeys.load(keys), FailingEngine(),
                        DeidOptions(seal="none", detect_ahead=True))  # fmt: skip
    assert not any(t.name == "face-stage" for t in threading.enumerate())
    assert _children() <= before
    assert not (tmp_path / "pub.mp4").exists()


def test_auto_detects_ahead_on_long_clips_only() -> None:
    def info(frames: int) -> VideoInfo:
        return VideoInfo(1280, 720, Fraction(25), Fraction(1, 25), frames, frames / 25, "h264",
                         "yuv420p", False)  # fmt: skip

    assert detect_ahead(True, info(1)) and not detect_ahead(False, info(10_000))
    assert not detect_ahead(None, info(AHEAD_MIN_FRAMES - 1))
    two_cpus = usable_cpus() >= 2
    assert detect_ahead(None, info(AHEAD_MIN_FRAMES)) == two_cpus


def test_face_stream_finds_the_same_boxes_ahead(clip_and_keys: tuple[Path, Path]) -> None:
    clip, _ = clip_and_keys
    found = []
    for ahead in (False, True):
        with ExitStack() as stack:
            stream = face_stream(stack, "yunet", FaceStageOptions(), iter_frames(clip, 8), ahead)
            found.append([(b.indices.tolist(), boxes) for b, boxes in stream])
        tracks = {f.track_id for _, boxes in found[-1] for frame in boxes for f in frame}
        assert len(tracks) >= 2
    assert found[0] == found[1] and sum(len(f) for _, boxes in found[0] for f in boxes) > 40
