"""Owner-only files: written whole, mode 0600, nothing left behind on failure."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shared.crypto.files import write_private


def test_a_private_file_is_owner_only_and_replaces_the_old_one_whole(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the old file's mode is not kept
    write_private(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]  # no part file left


def test_a_failed_write_leaves_the_old_file_and_no_part(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{}")
    with pytest.raises(TypeError):
        write_private(path, 42)  # type: ignore[arg-type]
    assert path.read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]
    with pytest.raises(OSError):
        write_private(tmp_path / "missing" / "file", "x")
