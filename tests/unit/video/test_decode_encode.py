"""Decode + encode keep frame count, rate and size; the output is browser-playable H.264."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from shared.video.decode import iter_frames, probe
from shared.video.encode import VideoWriter, even_size, moov_before_mdat
from shared.video.synthetic import SceneSpec, write_clip
from shared.video.types import EncodeOptions, FaceBox


def _transcode(src: Path, dst: Path, options: EncodeOptions | None = None) -> int:
    info = probe(src)
    with VideoWriter(dst, info, options, audio_source=src) as writer:
        for batch in iter_frames(src, batch=5, info=info):
            writer.write(batch.frames)
    return writer.frames_written


def test_transcode_keeps_frame_count_rate_and_size(
    face_clip: tuple[Path, list[list[FaceBox]]], tmp_path: Path
) -> None:
    src, _ = face_clip
    dst = tmp_path / "out.mp4"
    assert _transcode(src, dst) == 24
    a, b = probe(src), probe(dst)
    assert (b.width, b.height, b.frames, b.fps) == (a.width, a.height, a.frames, a.fps)
    assert b.fps == Fraction(30000, 1001)
    assert sum(len(x) for x in iter_frames(dst)) == 24


def test_output_is_h264_high_yuv420p_with_moov_first(
    face_clip: tuple[Path, list[list[FaceBox]]], tmp_path: Path
) -> None:
    dst = tmp_path / "out.mp4"
    _transcode(face_clip[0], dst)
    with av.open(str(dst)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.profile == "High"
        assert stream.codec_context.pix_fmt == "yuv420p"
    assert moov_before_mdat(dst)


def test_odd_size_is_coded_one_pixel_larger_with_the_edge_replicated(tmp_path: Path) -> None:
    src, dst = tmp_path / "odd.mp4", tmp_path / "out.mp4"
    write_clip(src, SceneSpec(65, 49, frames=6, pix_fmt="yuv444p", face_px=(20, 22)))
    info = probe(src)
    assert (info.width, info.height) == (65, 49)
    assert _transcode(src, dst) == 6
    out = probe(dst)
    assert (out.width, out.height) == even_size(65, 49) == (66, 50)
    first_in = next(iter_frames(src)).frames[0].astype(int)
    first_out = next(iter_frames(dst)).frames[0].astype(int)
    assert np.abs(first_out[:49, :65] - first_in).mean() < 6.0  # same picture, codec loss only
    assert np.abs(first_out[:49, 65] - first_out[:49, 64]).mean() < 6.0  # replicated column


def test_audio_is_dropped_by_default_and_kept_on_request(tmp_path: Path) -> None:
    src = tmp_path / "audio.mp4"
    write_clip(src, SceneSpec(64, 48, frames=10, audio=True))
    assert probe(src).has_audio
    _transcode(src, tmp_path / "mute.mp4")
    assert not probe(tmp_path / "mute.mp4").has_audio
    _transcode(src, tmp_path / "loud.mp4", EncodeOptions(keep_audio=True))
    loud = probe(tmp_path / "loud.mp4")
    assert loud.has_audio and loud.frames == 10
    with av.open(str(tmp_path / "loud.mp4")) as c:
        assert c.streams.audio[0].codec_context.name == "aac"


def test_decoded_batches_are_rgb_uint8_with_consecutive_indices(
    face_clip: tuple[Path, list[list[FaceBox]]],
) -> None:
    batches = list(iter_frames(face_clip[0], batch=7))
    assert [len(b) for b in batches] == [7, 7, 7, 3]
    assert all(b.frames.dtype == np.uint8 and b.frames.shape[1:] == (120, 160, 3) for b in batches)
    assert np.concatenate([b.indices for b in batches]).tolist() == list(range(24))


def test_display_rotation_is_kept(tmp_path: Path) -> None:
    src, dst = tmp_path / "rot.mp4", tmp_path / "out.mp4"
    with av.open(str(src), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(90)
        for i in range(5):
            f = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    assert probe(src).rotation == 90
    assert _transcode(src, dst) == 5
    assert probe(dst).rotation == 90
