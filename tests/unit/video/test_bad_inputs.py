"""Every bad input gets a one-line BadInputError / LimitExceededError, never a raw av error."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from skimage import data

from shared.domain.errors import BadInputError, LimitExceededError
from shared.video.decode import iter_frames, probe
from shared.video.synthetic import SceneSpec, write_clip
from shared.video.types import FaceBox, Limits


def _reason(path: Path, limits: Limits | None = None) -> str:
    with pytest.raises(BadInputError) as info:
        probe(path, limits)
        for _ in iter_frames(path, limits=limits):
            pass
    reason = str(info.value)
    assert "\n" not in reason and reason
    return reason


def test_zero_byte_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "empty" in _reason(tmp_path / "empty.mp4")


def test_text_file_is_not_a_video(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("hello, this is not a video\n" * 50)
    assert "not a readable video" in _reason(tmp_path / "notes.mp4")


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_still_image_is_refused(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"photo.{ext}"
    with av.open(str(path), "w", format="image2") as c:
        s = c.add_stream("png" if ext == "png" else "mjpeg", rate=1)
        s.width, s.height = 128, 128
        s.pix_fmt = "rgb24" if ext == "png" else "yuvj420p"
        frame = av.VideoFrame.from_ndarray(data.astronaut()[:128, :128].copy(), format="rgb24")
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    assert "image" in _reason(path)


def test_audio_only_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=48000)
        tone = np.zeros((1, 1024), dtype=np.float32)
        for _ in range(20):
            f = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
            f.sample_rate = 48000
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    assert "audio only" in _reason(path)


def test_truncated_clip_is_refused(
    face_clip: tuple[Path, list[list[FaceBox]]], tmp_path: Path
) -> None:
    raw = face_clip[0].read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(raw[: len(raw) // 2])
    assert "truncated" in _reason(path) or "not a readable video" in _reason(path)


def test_truncated_faststart_clip_fails_while_decoding(tmp_path: Path) -> None:
    from shared.video.encode import VideoWriter

    src, whole = tmp_path / "src.mp4", tmp_path / "fs.mp4"
    write_clip(src, SceneSpec(64, 48, frames=60, face_px=(20, 22)))
    info = probe(src)
    with VideoWriter(whole, info) as w:
        for b in iter_frames(src):
            w.write(b.frames)
    raw = whole.read_bytes()
    cut = tmp_path / "fs_cut.mp4"
    cut.write_bytes(raw[: len(raw) * 3 // 4])  # moov (first) intact, media data cut
    assert probe(cut).frames == 60  # the header still promises every frame
    reason = _reason(cut)
    assert "truncated" in reason or "decoding failed" in reason


def test_dimensions_over_the_limit_are_refused(
    face_clip: tuple[Path, list[list[FaceBox]]],
) -> None:
    with pytest.raises(LimitExceededError, match="over the limit"):
        probe(face_clip[0], Limits(max_width=100))


def test_duration_and_frames_over_the_limit_are_refused(
    face_clip: tuple[Path, list[list[FaceBox]]],
) -> None:
    with pytest.raises(LimitExceededError, match="duration"):
        probe(face_clip[0], Limits(max_duration_s=0.5))
    with pytest.raises(LimitExceededError, match="frames"):
        probe(face_clip[0], Limits(max_frames=10))


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert "not found" in _reason(tmp_path / "nope.mp4")
