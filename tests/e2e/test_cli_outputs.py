"""What ``uunet deid``/``reid`` leave and print, on an AVI with AC3 audio and one face: the public
clip gets the user's umask and the restored one 0600; the summary gives the clip's size and the
sealed part's; requested audio is kept or its loss is said in the summary and the manifest; ``-q``
prints nothing at all, not even the dev-key note."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.pipeline.container import read_box
from shared.video.decode import probe
from shared.video.synthetic import SceneSpec
from tests.media import write_avi_ac3
from uunet_cli.pipeline_common import human_bytes

pytestmark = pytest.mark.e2e
UUNET = str(Path(sys.executable).parent / "uunet")
SPEC = SceneSpec(256, 192, frames=24, fps=12, n_faces=1, face_px=(60, 80))


def uunet(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The console script with HOME (and so the dev key set) under ``home`` and umask 022."""
    env = {k: v for k, v in os.environ.items() if k not in ("UUNET_HOME", "XDG_CONFIG_HOME")}
    return subprocess.run(
        [UUNET, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env | {"HOME": str(home)},
        umask=0o022,
    )


def test_summary_gives_sizes_and_says_the_audio_was_dropped(tmp_path: Path) -> None:
    src, out, sidecar = tmp_path / "cam.avi", tmp_path / "public.mp4", tmp_path / "m.json"
    write_avi_ac3(src, SPEC, damage_every=1)  # no audio packet decodes
    res = uunet(tmp_path, "deid", src, "-o", out, "--keep-audio", "--manifest-json", sidecar)
    assert res.returncode == 0, res.stderr
    sealed = read_box(out).sealed_length
    assert sealed > 0
    assert (
        f"{human_bytes(out.stat().st_size)} (input {human_bytes(src.stat().st_size)})" in res.stdout
    )
    assert f"of which {human_bytes(sealed)} are sealed originals" in res.stdout
    assert "audio dropped: " in res.stdout, res.stdout
    assert json.loads(sidecar.read_text())["manifest"]["video"]["audio"] is False
    assert not probe(out).has_audio
    assert out.stat().st_mode & 0o777 == 0o644  # the user's umask: the clip is for publishing


def test_quiet_prints_nothing_and_restored_clips_stay_private(tmp_path: Path) -> None:
    src, out, back = tmp_path / "cam.avi", tmp_path / "public.mp4", tmp_path / "back.mp4"
    write_avi_ac3(src, SPEC, damage_every=10)
    res = uunet(tmp_path, "deid", src, "-o", out, "--keep-audio", "-q")  # creates the dev keys
    assert res.returncode == 0 and (res.stdout, res.stderr) == ("", "")
    assert probe(out).has_audio and read_box(out).manifest.audio
    keys = tmp_path / ".config" / "uunet" / "dev-keys"
    res = uunet(tmp_path, "reid", out, "-o", back, "--keys", keys, "-q")
    assert res.returncode == 0 and (res.stdout, res.stderr) == ("", "")
    assert back.stat().st_mode & 0o777 == 0o600 and probe(back).frames == SPEC.frames
