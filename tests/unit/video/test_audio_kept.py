"""Requested audio is kept where PyAV can read it (damaged packets cost only themselves), and what
became of it is always recorded: kept, left out in part, dropped with a reason, or absent."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from shared.video.decode import iter_frames, probe
from shared.video.encode import VideoWriter
from shared.video.synthetic import SceneSpec, write_clip
from shared.video.types import EncodeOptions
from tests.media import write_avi_ac3

SPEC = SceneSpec(96, 64, frames=24, fps=12, n_faces=0)


def _transcode(src: Path, dst: Path) -> VideoWriter:
    info = probe(src)
    with VideoWriter(dst, info, EncodeOptions(keep_audio=True), audio_source=src) as writer:
        for batch in iter_frames(src, batch=8, info=info):
            writer.write(batch.frames)
    return writer


def _audio_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return 0
        return sum(1 for _ in container.decode(audio=0))


@pytest.mark.parametrize("damage_every", [0, 10])
def test_ac3_in_avi_is_kept_even_with_damaged_packets(tmp_path: Path, damage_every: int) -> None:
    src, dst = tmp_path / "cam.avi", tmp_path / "out.mp4"
    write_avi_ac3(src, SPEC, damage_every)
    audio = _transcode(src, dst).audio
    assert audio.kept and audio.error is None
    assert (audio.skipped > 0) == (damage_every > 0), audio
    # Most of the 2 s of AAC (1024 samples a frame); the old copier stopped at the first bad packet.
    assert _audio_frames(dst) >= 0.7 * 2.0 * 48_000 / 1024
    summary = audio.summary()
    assert summary.startswith("audio kept")
    assert ("damaged packet" in summary) == (damage_every > 0)


def test_undecodable_audio_is_dropped_with_a_reason_and_the_video_kept(tmp_path: Path) -> None:
    src, dst = tmp_path / "cam.avi", tmp_path / "out.mp4"
    write_avi_ac3(src, SPEC, damage_every=1)
    audio = _transcode(src, dst).audio
    assert not audio.kept and audio.error
    assert audio.summary().startswith("audio dropped: ")
    assert probe(dst).frames == 24 and not probe(dst).has_audio


def test_asking_for_audio_of_a_silent_clip_says_there_is_none(tmp_path: Path) -> None:
    src, dst = tmp_path / "silent.mp4", tmp_path / "out.mp4"
    write_clip(src, SPEC)
    audio = _transcode(src, dst).audio
    assert audio.requested and not audio.present and not audio.kept
    assert audio.summary() == "no audio: the input has no audio track"
