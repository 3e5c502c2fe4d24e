"""What ``deidentify_clip`` reports and writes beside the faces: requested audio kept or its loss
said (report and signed manifest), the sealed part's size, the public clip's mode from the umask
and the restored clip's 0600; the CLI summary built from that report."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.crypto.keys import PrivateSideKeys, PublicSideKeys, init_keyset
from shared.pipeline.api import DeidOptions, ReidOptions, deidentify_clip, reidentify_clip
from shared.pipeline.container import read_box
from shared.video.decode import probe
from shared.video.synthetic import SceneSpec
from tests.media import write_avi_ac3
from tests.unit.pipeline.test_pipeline_fake_engine import InvertingEngine
from uunet_cli.commands.deid import summary
from uunet_cli.pipeline_common import human_bytes

SPEC = SceneSpec(160, 120, frames=12, fps=12, n_faces=1, face_px=(44, 48), seed=2)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_keyset(tmp_path_factory.mktemp("keys") / "set").path


@pytest.mark.usefixtures("umask_022")
def test_sealed_size_modes_and_dropped_audio(keys: Path, tmp_path: Path) -> None:
    src, out, back = tmp_path / "cam.avi", tmp_path / "public.mp4", tmp_path / "back.mp4"
    write_avi_ac3(src, SPEC, damage_every=1)  # no audio packet decodes
    options = DeidOptions(keep_audio=True, seal=True)
    report = deidentify_clip(src, out, PublicSideKeys.load(keys), InvertingEngine(), options)
    box = read_box(out)
    assert report.sealed_bytes == box.sealed_length > 0
    assert report.audio.startswith("audio dropped: ") and not box.manifest.audio
    assert not probe(out).has_audio and probe(out).frames == SPEC.frames
    assert out.stat().st_mode & 0o777 == 0o644  # the umask: the public clip is for publishing
    reidentify_clip(out, back, PrivateSideKeys.load(keys), None, ReidOptions(mode="sealed"))
    assert back.stat().st_mode & 0o777 == 0o600  # restored faces are evidence
    text = summary(out, src.stat().st_size, report, "k1")
    assert f"{human_bytes(out.stat().st_size)} (input {human_bytes(src.stat().st_size)})" in text
    assert f"of which {human_bytes(box.sealed_length)} are sealed originals" in text
    assert text.endswith(report.audio)


def test_kept_audio_is_in_the_manifest(keys: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "cam.avi", tmp_path / "public.mp4"
    write_avi_ac3(src, SPEC, damage_every=10)
    options = DeidOptions(keep_audio=True, seal=False)
    report = deidentify_clip(src, out, PublicSideKeys.load(keys), InvertingEngine(), options)
    assert report.audio.startswith("audio kept") and report.sealed_bytes == 0
    assert read_box(out).manifest.audio and probe(out).has_audio
    assert "no sealed originals" in summary(out, src.stat().st_size, report, "k1")
