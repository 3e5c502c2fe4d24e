"""``-q`` means quiet: ``uunet deid -q`` (even when it creates the dev key set) and ``uunet reid -q``
print nothing at all and still write their clips (sizes, modes and audio: tests/unit/pipeline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.video.decode import probe
from shared.video.synthetic import SceneSpec, write_clip

pytestmark = pytest.mark.e2e
UUNET = str(Path(sys.executable).parent / "uunet")


def uunet(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The console script with HOME (and so the dev key set) under ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in ("UUNET_HOME", "XDG_CONFIG_HOME")}
    return subprocess.run(
        [UUNET, *map(str, args)], capture_output=True, text=True, timeout=120,
        env=env | {"HOME": str(home)},
    )  # fmt: skip


def test_quiet_prints_nothing_not_even_the_dev_key_note(tmp_path: Path) -> None:
    src, out, back = tmp_path / "in.mp4", tmp_path / "public.mp4", tmp_path / "back.mp4"
    write_clip(src, SceneSpec(160, 120, frames=12, n_faces=1, face_px=(44, 48)))
    res = uunet(tmp_path, "deid", src, "-o", out, "-q")  # creates the dev key set
    assert res.returncode == 0 and (res.stdout, res.stderr) == ("", ""), res.stderr
    keys = tmp_path / ".config" / "uunet" / "dev-keys"
    assert (keys / "keyset.json").exists()
    res = uunet(tmp_path, "reid", out, "-o", back, "--keys", keys, "-q")
    assert res.returncode == 0 and (res.stdout, res.stderr) == ("", ""), res.stderr
    assert probe(back).frames == 12
