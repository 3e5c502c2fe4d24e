"""README.md's command blocks work as written: each ```sh block is taken from the README itself and
run with bash in a temporary directory (HOME there too, so the dev key set lands there), with a small
one-face clip as ``in.mp4``, the venv's ``uunet`` on PATH, and the stack on 127.0.0.1.

A block the test cannot run says why in a ``<!-- readme-test: skip (reason) -->`` line right above
it; the ``uunet`` command lines of those blocks are still parsed by the real argument parser.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.video.decode import probe
from shared.video.synthetic import SceneSpec, write_clip
from uunet_cli.main import build_parser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
README = Path(__file__).resolve().parents[2] / "README.md"
SKIP = re.compile(r"<!-- readme-test: skip \((?P<why>[^)]+)\) -->")


@dataclass(frozen=True)
class Block:
    """One ```sh block of the README: where it starts, its text, and why it is not run (if so)."""

    line: int
    text: str
    skip: str | None


def readme_blocks(text: str) -> list[Block]:
    """Every ```sh block, with the skip reason given on the line right above its fence."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            marker = SKIP.fullmatch(lines[i - 1].strip()) if i else None
            body = "\n".join(lines[i + 1 : end]) + "\n"
            blocks.append(Block(i + 1, body, marker.group("why") if marker else None))
            i = end
        i += 1
    return blocks


def uunet_lines(block: str) -> list[list[str]]:
    """The argument lists of the block's ``uunet ...`` commands (continuations joined, comments cut)."""
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["uunet"] and "..." not in words:
            commands.append(words[1:])
    return commands


def test_every_readme_block_is_run_or_says_why() -> None:
    blocks = readme_blocks(README.read_text())
    run = [b for b in blocks if b.skip is None]
    assert len(run) >= 2, "the README's usage blocks must stay runnable"
    assert any("uunet up --dev" in b.text for b in run)
    assert all(b.skip.strip() for b in blocks if b.skip is not None)


def test_uunet_lines_of_skipped_blocks_parse() -> None:
    parser = build_parser()
    checked = 0
    for block in readme_blocks(README.read_text()):
        for argv in uunet_lines(block.text) if block.skip else []:
            try:
                parser.parse_args(argv)
            except SystemExit:
                pytest.fail(f"README.md:{block.line}: `uunet {shlex.join(argv)}` does not parse")
            checked += 1
    assert checked >= 3


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("UUNET_HOME", "XDG_CONFIG_HOME")}
    return env | {"HOME": str(home), "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}


def _run_block(block: Block, cwd: Path) -> str:
    """Run one block with ``bash -e`` (a failing line fails it); stop whatever it left running."""
    proc = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", block.text],
        cwd=cwd,
        env=_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        out = "(timed out)"
    finally:
        _stop_group(proc.pid)
    assert proc.returncode == 0, (
        f"README.md:{block.line} failed ({proc.returncode}):\n{out[-3000:]}"
    )
    return out


def _stop_group(pgid: int, grace_s: float = 20.0) -> None:
    """SIGTERM what the block left in its process group (a backgrounded `uunet up` stops cleanly)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            os.killpg(pgid, 0)  # ProcessLookupError once the group is empty
            time.sleep(0.2)
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``in.mp4``: 24 frames, one real face (what a user's first clip may be)."""
    root = tmp_path_factory.mktemp("readme")
    write_clip(root / "in.mp4", SceneSpec(256, 192, frames=24, n_faces=1, face_px=(60, 80)))
    return root


@pytest.mark.skipif(
    not (shutil.which("jq") and shutil.which("curl")),
    reason="jq and curl are needed (make setup installs them)",
)
def test_readme_blocks_run_as_written(workdir: Path) -> None:
    outputs = [_run_block(b, workdir) for b in readme_blocks(README.read_text()) if not b.skip]
    text = "".join(outputs)
    frames = probe(workdir / "in.mp4").frames
    written = set(re.findall(r"-o (\S+\.mp4)", README.read_text()))
    assert {"public.mp4", "back.mp4", "one.mp4", "restored.mp4"} <= written
    for name in written:
        assert probe(workdir / name).frames == frames, name
    assert "OK:" in text, text[-2000:]  # uunet audit verify
    assert (workdir / "keys" / "keyset.json").exists()
    assert not (workdir / ".uunet-dev" / "dev.json").exists(), "the stack did not stop"
    left = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True).stdout
    assert left.split() == []
