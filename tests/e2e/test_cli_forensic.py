"""Forensic fidelity through the CLI: ``--seal both``, ``uunet verify``, ``reid --lossless`` (face
boxes identical to the decoded original), ``reid --original`` (the input file bit for bit), and the
one-line refusals (foreign authority key, altered seal, no seal, ``--crf 0``).

The main flows run the installed console script; the refusals call the same entry point in-process
(``uunet_cli.main.main``), which is the same code without an interpreter start per case.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.pipeline.container import read_box
from shared.video.synthetic import SceneSpec, write_clip
from tests.e2e.test_cli_deid_reid import frames_of, model_choice, uunet
from uunet_cli.main import main

pytestmark = pytest.mark.e2e


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``uunet ARGS`` in this process: exit code and captured stdout/stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return subprocess.CompletedProcess(list(map(str, args)), code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class Sealed:
    root: Path
    keys: Path
    clip: Path
    public: Path
    model_args: tuple[str, ...]


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Sealed:
    root = tmp_path_factory.mktemp("forensic")
    model_args, _trained = model_choice(root)
    keys = root / "keys"
    assert uunet("keys", "init", keys).returncode == 0
    clip = root / "two.mp4"
    write_clip(clip, SceneSpec(256, 192, frames=12, n_faces=2, face_px=(44, 52), seed=4))
    public = root / "public.mp4"
    res = uunet("deid", clip, "-o", public, "--keys", keys, "--seal", "both", *model_args)
    assert res.returncode == 0, res.stderr
    assert "sealed originals (both;" in res.stdout
    return Sealed(root, keys, clip, public, model_args)


def one_line_error(res: subprocess.CompletedProcess[str], command: str) -> str:
    """The single stderr line of a refused command (exit 2)."""
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert lines[0].startswith(f"uunet {command}: error:")
    return lines[0]


def test_verify_prints_the_manifest_in_plain_words_with_the_public_key_only(sealed: Sealed) -> None:
    pub_only = sealed.root / "signing.pub.pem"
    shutil.copy(sealed.keys / "signing_ed25519.pub.pem", pub_only)
    res = uunet("verify", sealed.public, "--verify-key", pub_only)
    assert res.returncode == 0, res.stderr
    text = res.stdout
    assert text.startswith("VERIFIED") and "uunet/" in text and "12 frames" in text
    original = hashlib.sha256(sealed.clip.read_bytes()).hexdigest()
    assert f"SHA-256 {original}" in text and "tracks      2" in text
    facts = json.loads(cli("verify", sealed.public, "--verify-key", pub_only, "--json").stdout)
    assert facts["verified"] and facts["seal"] == "both" and facts["video"]["frames"] == 12
    assert facts["original"] == {"sha256": original, "bytes": sealed.clip.stat().st_size}
    assert len(facts["signer_key_id"]) == 16 and facts["detector"] == "yunet"


def test_verify_fails_with_exit_2_on_a_modified_clip_or_another_signer(sealed: Sealed) -> None:
    data = bytearray(sealed.public.read_bytes())
    data[data.index(b"mdat") + 500] ^= 0x04
    bad = sealed.root / "bad.mp4"
    bad.write_bytes(bytes(data))
    assert "modified" in one_line_error(uunet("verify", bad, "--keys", sealed.keys), "verify")
    failed = json.loads(cli("verify", bad, "--keys", sealed.keys, "--json").stdout)
    assert failed["verified"] is False and "modified" in failed["error"]
    other = sealed.root / "other-keys"
    assert cli("keys", "init", other).returncode == 0
    line = one_line_error(cli("verify", sealed.public, "--keys", other), "verify")
    assert "signed by key" in line


def test_lossless_sealed_restore_gives_face_boxes_identical_to_the_original(sealed: Sealed) -> None:
    back = sealed.root / "exact.mp4"
    res = uunet("reid", sealed.public, "-o", back, "--keys", sealed.keys, "--mode", "sealed",
                "--lossless")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "(sealed, exact)" in res.stdout
    manifest = read_box(sealed.public).manifest
    orig, rest = frames_of(sealed.clip), frames_of(back)
    assert len(manifest.faces) >= 12  # two faces, found in most frames
    for f in manifest.faces:
        box = (f.frame, slice(f.y, f.y + f.h), slice(f.x, f.x + f.w))
        assert np.array_equal(orig[box], rest[box])


def test_original_comes_back_bit_for_bit_with_the_manifests_hash(sealed: Sealed) -> None:
    out = sealed.root / "evidence.mp4"
    res = uunet("reid", sealed.public, "--original", "-o", out, "--keys", sealed.keys)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes() == sealed.clip.read_bytes()
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert digest == read_box(sealed.public).manifest.original_sha256 and digest in res.stdout


def test_a_seal_for_another_authority_is_refused_and_nothing_written(sealed: Sealed) -> None:
    foreign = sealed.root / "foreign-keys"
    shutil.copytree(sealed.keys, foreign)
    (foreign / "authority_x25519.pem").unlink()
    pem = X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (foreign / "authority_x25519.pem").write_bytes(pem)
    for extra in (("--mode", "sealed"), ("--original",)):
        out = sealed.root / "never.mp4"
        res = cli("reid", sealed.public, "-o", out, "--keys", foreign, *extra)
        assert "made for authority key" in one_line_error(res, "reid") and not out.exists()


def test_altered_seal_bytes_are_refused_and_nothing_written(sealed: Sealed) -> None:
    emb = read_box(sealed.public)
    data = bytearray(sealed.public.read_bytes())
    data[emb.sealed_offset + emb.sealed_length // 2] ^= 0x10
    bad, out = sealed.root / "seal-edited.mp4", sealed.root / "never2.mp4"
    bad.write_bytes(bytes(data))
    res = cli("reid", bad, "-o", out, "--keys", sealed.keys, "--mode", "sealed")
    assert "modified" in one_line_error(res, "reid") and not out.exists()


def test_sealed_mode_on_a_clip_without_seal_is_refused(sealed: Sealed) -> None:
    clip, public = sealed.root / "plain.mp4", sealed.root / "unsealed.mp4"
    write_clip(clip, SceneSpec(96, 64, frames=4, n_faces=0))
    res = cli("deid", clip, "-o", public, "--keys", sealed.keys, "--no-seal", *sealed.model_args)
    assert res.returncode == 0 and "no sealed originals" in res.stdout
    out = sealed.root / "never3.mp4"
    for extra, reason in ((("--mode", "sealed"), "no sealed originals"),
                          (("--original",), "no sealed original file")):  # fmt: skip
        res = cli("reid", public, "-o", out, "--keys", sealed.keys, *extra)
        assert reason in one_line_error(res, "reid") and not out.exists()


def test_crf_0_is_refused_up_front_with_one_line(sealed: Sealed) -> None:
    out = sealed.root / "never4.mp4"
    line = one_line_error(cli("reid", sealed.public, "-o", out, "--keys", sealed.keys,
                              "--crf", "0"), "reid")  # fmt: skip
    assert "--lossless" in line and not out.exists()
    line = one_line_error(cli("deid", sealed.clip, "-o", out, "--keys", sealed.keys,
                              "--crf", "0"), "deid")  # fmt: skip
    assert "lossless" in line and not out.exists()
