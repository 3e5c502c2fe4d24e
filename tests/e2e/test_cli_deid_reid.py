"""``uunet keys/deid/reid`` end to end through the installed console script, on small real-face clips.

One session fixture de-identifies a 256x192, 20-frame clip with two real faces (scikit-image's
astronaut and an LFW face, see ``shared.video.synthetic``); the tests check that output and restore
it in each mode. The model is ``$UUNET_E2E_CHECKPOINT`` if set, else the shipped checkpoint when
present, else a tiny randomly initialised one (then learned restoration is checked to run, not to
be faithful).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from shared.model.checkpoint import DEFAULT_CHECKPOINT
from shared.pipeline.container import read_box
from shared.video.decode import iter_frames, probe
from shared.video.encode import moov_before_mdat
from shared.video.synthetic import SceneSpec, write_clip
from shared.video.track import iou_matrix
from shared.video.types import FaceBox

pytestmark = pytest.mark.e2e
UUNET = str(Path(sys.executable).parent / "uunet")


@dataclass(frozen=True)
class Made:
    """The session's artefacts."""

    root: Path
    keys: Path
    clip: Path
    public: Path
    manifest: dict
    truth: list[list[FaceBox]]
    model_args: tuple[str, ...]
    trained: bool


def uunet(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the console script; never hangs (timeout) and returns its output."""
    return subprocess.run(
        [UUNET, *map(str, args)], capture_output=True, text=True, timeout=120, env=env
    )


def frames_of(path: Path) -> np.ndarray:
    """All frames uint8 [T,H,W,3] (clips here are tiny)."""
    return np.concatenate([b.frames for b in iter_frames(path)])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * np.log10(255.0**2 / max(mse, 1e-10))


def face_pixels(
    frames: np.ndarray, truth: list[list[FaceBox]], track: int | None = None
) -> np.ndarray:
    """Concatenated pixels of the ground-truth face boxes (optionally of one actor)."""
    parts = []
    for frame, boxes in zip(frames, truth, strict=True):
        for b in boxes:
            if track is None or b.track_id == track:
                x0, y0, x1, y1 = (round(v) for v in (b.x0, b.y0, b.x1, b.y1))
                parts.append(frame[y0:y1, x0:x1].reshape(-1, 3))
    return np.concatenate(parts)


FIXED_SECRET = bytes(range(32))  # chosen before any run; never changed to make a test pass


def _fix_secret(keys: Path, secret: bytes) -> None:
    """Replace a fresh key set's random de-identification secret with ``secret`` (and its id)."""
    import base64

    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from shared.crypto.keys import INFO_FILE, SECRET_FILE, VERIFY_FILE, key_id

    (keys / SECRET_FILE).write_bytes(base64.b64encode(secret) + b"\n")
    verify = load_pem_public_key((keys / VERIFY_FILE).read_bytes())
    info = json.loads((keys / INFO_FILE).read_text())
    info["key_id"] = key_id(verify, secret)  # type: ignore[arg-type]
    (keys / INFO_FILE).write_text(json.dumps(info))


def _tiny_checkpoint(path: Path) -> Path:
    from shared.model.checkpoint import save_checkpoint
    from shared.model.config import ModelConfig
    from shared.model.inference import UUNetEngine

    config = ModelConfig.product(width=0.0625)
    save_checkpoint(path, UUNetEngine.from_config(config, seed=3).generator, config)
    return path


def model_choice(root: Path) -> tuple[tuple[str, ...], bool]:
    """The ``--checkpoint`` arguments for the CLI and whether that model is trained."""
    override = os.environ.get("UUNET_E2E_CHECKPOINT")  # e.g. a run's latest.pt, as if shipped
    if override:
        return ("--checkpoint", override), True
    if DEFAULT_CHECKPOINT.exists():
        return (), True
    return ("--checkpoint", str(_tiny_checkpoint(root / "tiny.pt"))), False


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    root = tmp_path_factory.mktemp("cli")
    model_args, trained = model_choice(root)
    keys = root / "keys"
    assert uunet("keys", "init", keys).returncode == 0
    _fix_secret(keys, FIXED_SECRET)  # donors are chosen by the key: make the session reproducible
    clip = root / "two.mp4"
    spec = SceneSpec(256, 192, frames=20, n_faces=2, face_px=(44, 52), speed_px=2.0, seed=1)
    truth = write_clip(clip, spec)
    public = root / "public.mp4"
    res = uunet("deid", clip, "-o", public, "--keys", keys, "--manifest-json",
                root / "m.json", "--clip-id", "e2e-0", *model_args)  # fmt: skip
    assert res.returncode == 0, res.stderr
    manifest = json.loads((root / "m.json").read_text())["manifest"]
    return Made(root, keys, clip, public, manifest, truth, model_args, trained)


def _transcoded(made: Made, crf: int) -> np.ndarray:
    """The original clip through one plain encode at ``crf``: the codec's ceiling for a restore."""
    from shared.video.encode import VideoWriter
    from shared.video.types import EncodeOptions

    path = made.root / f"plain-{crf}.mp4"
    with VideoWriter(path, probe(made.clip), EncodeOptions(crf=crf)) as writer:
        writer.write(frames_of(made.clip))
    return frames_of(path)


def _shrunk(b: FaceBox, f: float) -> FaceBox:
    """The box shrunk by ``f`` of its size on every side (f=0.2: its central 60%)."""
    dx, dy = b.width * f, b.height * f
    return FaceBox(b.x0 + dx, b.y0 + dy, b.x1 - dx, b.y1 - dy, b.score, b.track_id)


def _track_of_actor(made: Made, actor: int) -> int:
    """The pipeline's track id for ground-truth actor ``actor`` (by IoU on frame 0)."""
    gt = next(b for b in made.truth[0] if b.track_id == actor)
    best, best_iou = -1, 0.0
    for run in made.manifest["runs"]:
        if run["start"] == 0:
            x, y, w, h = run["boxes"][0]
            iou = iou_matrix(
                np.array([[gt.x0, gt.y0, gt.x1, gt.y1]]), np.array([[x, y, x + w, y + h]])
            )
            if iou[0, 0] > best_iou:
                best, best_iou = run["track"], float(iou[0, 0])
    assert best_iou > 0.4, "the pipeline did not find this face"
    return best


def test_output_keeps_frame_count_rate_and_size_and_is_browser_playable(made: Made) -> None:
    src, out = probe(made.clip), probe(made.public)
    assert (
        (out.frames, out.width, out.height) == (src.frames, src.width, src.height) == (20, 256, 192)
    )
    assert out.fps == src.fps == Fraction(25)
    assert out.codec == "h264" and out.pix_fmt == "yuv420p" and not out.has_audio
    assert moov_before_mdat(made.public)
    emb = read_box(made.public)
    assert emb.box_offset + emb.box_size == made.public.stat().st_size  # the box is last


def test_every_face_is_found_and_replaced_background_kept(made: Made) -> None:
    assert len(made.manifest["tracks"]) == 2
    assert all(t["faces"] == 20 for t in made.manifest["tracks"])
    orig, pub = frames_of(made.clip), frames_of(made.public)
    inner = [[_shrunk(b, 0.2) for b in boxes] for boxes in made.truth]
    face_diff = np.abs(face_pixels(orig, inner).astype(int) - face_pixels(pub, inner))
    # The inner face (eyes, nose, mouth) changed substantially: a donor face keeps the skin tone
    # and light of the face it replaces, so the change is in the features; the judge test below
    # checks that it is another person.
    assert face_diff.mean() > 12.0
    mask = np.ones(orig.shape[:3], dtype=bool)  # outside the pasted squares (box + margin)
    for t, boxes in enumerate(made.truth):
        for b in boxes:
            side = max(b.width, b.height) * 1.6
            cx, cy = b.center
            y0, x0 = max(0, round(cy - side / 2)), max(0, round(cx - side / 2))
            mask[t, y0 : round(cy + side / 2), x0 : round(cx + side / 2)] = False
    outside = np.abs(orig.astype(int) - pub)[mask]
    assert outside.mean() < 3.0  # only the codec's re-encode touches the background


def test_judge_says_public_faces_are_other_people(made: Made) -> None:
    """The astronaut (a real face at ~48 px) through six de-identifications (six clip ids: six
    donors) with a fixed secret: the judge calls most of them another person. Measured over 30
    keys the rate is 0.83 at this size (small faces keep their hair and head outline, which the
    judge weighs); the bar is set below it, as a regression guard, on a reproducible set."""
    judge_mod = pytest.importorskip("shared.evaluation.judge")
    try:
        judge = judge_mod.DlibJudge()
    except Exception as err:  # the eval extra missing
        pytest.skip(f"judge unavailable: {err}")
    orig = frames_of(made.clip)
    actor, medians = 1, []
    for run in range(6):
        public = made.public
        if run:
            public = made.root / f"judge-{run}.mp4"
            res = uunet("deid", made.clip, "-o", public, "--keys", made.keys, "--clip-id",
                        f"e2e-{run}", "--no-seal", *made.model_args)  # fmt: skip
            assert res.returncode == 0, res.stderr
        pub = frames_of(public)
        dists = []
        for t in (0, 10, 19):
            b = next(b for b in made.truth[t] if b.track_id == actor)
            x0, y0, x1, y1 = (round(v) for v in (b.x0, b.y0, b.x1, b.y1))
            dists.append(judge.distance(orig[t, y0:y1, x0:x1], pub[t, y0:y1, x0:x1]))
        medians.append(float(np.median(dists)))
    print(
        f"judge distance original vs public (astronaut, 6 donors): {np.round(medians, 3).tolist()}"
    )
    assert sum(m >= 0.6 for m in medians) >= 4


def test_sealed_restoration_gives_back_the_original_faces(made: Made) -> None:
    back = made.root / "sealed.mp4"
    res = uunet("reid", made.public, "-o", back, "--keys", made.keys, "--mode", "sealed")
    assert res.returncode == 0, res.stderr
    assert "(sealed)" in res.stdout
    orig, pub, rest = frames_of(made.clip), frames_of(made.public), frames_of(back)
    p_pub = psnr(face_pixels(orig, made.truth), face_pixels(pub, made.truth))
    p_back = psnr(face_pixels(orig, made.truth), face_pixels(rest, made.truth))
    ceiling = psnr(face_pixels(orig, made.truth), face_pixels(_transcoded(made, 16), made.truth))
    print(f"face PSNR vs original: public {p_pub:.2f} dB, sealed restore {p_back:.2f} dB, "
          f"plain crf-16 transcode {ceiling:.2f} dB")  # fmt: skip
    assert p_back > ceiling - 1.5  # exact up to the codec of the restored file
    assert p_back > p_pub + 15.0  # the public face is another person (colour-matched: ~19 dB)


def test_learned_restoration_without_a_payload_is_refused_in_one_line(made: Made) -> None:
    """A donor clip made with --no-payload carries nothing of the faces: refused, pointing at sealed."""
    if made.model_args:
        pytest.skip("the session's model is not the shipped donor model")
    public, back = made.root / "no-payload.mp4", made.root / "learned-np.mp4"
    res = uunet("deid", made.clip, "-o", public, "--keys", made.keys, "--no-payload")
    assert res.returncode == 0, res.stderr
    assert "no identity payload (--no-payload)" in res.stderr + res.stdout
    res = uunet("reid", public, "-o", back, "--keys", made.keys, "--mode", "learned")
    assert res.returncode == 2
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and "donor surrogates" in err and "--mode sealed" in err
    assert not back.exists()


def test_payload_too_short_to_read_is_refused_in_one_line(made: Made) -> None:
    """20 frames carry a few percent of a track's code: one line says which track and why."""
    if made.model_args:
        pytest.skip("the session's model is not the shipped donor model")
    back = made.root / "learned.mp4"
    res = uunet("reid", made.public, "-o", back, "--keys", made.keys, "--mode", "learned")
    assert res.returncode == 2
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("uunet reid: error: no face could be restored from the identity payload")
    assert "too damaged or too short" in err and not back.exists()


def test_clip_without_manifest_cannot_be_restored_from_seals(made: Made) -> None:
    """A re-encoded clip lost its manifest box, so its sealed originals: --mode sealed says so."""
    res = uunet("reid", made.clip, "-o", made.root / "s.mp4", "--keys", made.keys, "--mode",
                "sealed")  # fmt: skip
    err = res.stderr.strip()
    assert res.returncode == 2 and len(err.splitlines()) == 1, err
    assert "no manifest" in err and "--mode learned" in err


def test_learned_restoration_runs_with_a_keyed_noise_model(made: Made) -> None:
    """The paper's module (crop + keyed noise -> surrogate, private module back) still works."""
    tiny = ("--checkpoint", str(_tiny_checkpoint(made.root / "tiny.pt")))
    public, back = made.root / "noise-public.mp4", made.root / "noise-learned.mp4"
    res = uunet("deid", made.clip, "-o", public, "--keys", made.keys, *tiny)
    assert res.returncode == 0, res.stderr
    res = uunet("reid", public, "-o", back, "--keys", made.keys, "--mode", "learned", *tiny)
    assert res.returncode == 0, res.stderr
    assert "40 faces restored (learned)" in res.stdout
    orig, pub, rest = frames_of(made.clip), frames_of(public), frames_of(back)
    assert rest.shape == orig.shape
    assert not np.array_equal(rest, pub)  # the private module rewrote the faces


def test_tracks_option_restores_only_the_chosen_subject(made: Made) -> None:
    keep = _track_of_actor(made, 1)
    back = made.root / "one.mp4"
    res = uunet("reid", made.public, "-o", back, "--keys", made.keys, "--mode", "sealed",
                "--tracks", str(keep))  # fmt: skip
    assert res.returncode == 0, res.stderr
    orig, pub, rest = frames_of(made.clip), frames_of(made.public), frames_of(back)
    chosen = psnr(face_pixels(orig, made.truth, 1), face_pixels(rest, made.truth, 1))
    other_vs_orig = psnr(face_pixels(orig, made.truth, 2), face_pixels(rest, made.truth, 2))
    other_vs_pub = psnr(face_pixels(pub, made.truth, 2), face_pixels(rest, made.truth, 2))
    assert chosen > 36.0
    assert other_vs_pub > 36.0 and other_vs_orig < other_vs_pub - 10.0


def test_wrong_key_set_is_refused(made: Made) -> None:
    other = made.root / "other-keys"
    assert uunet("keys", "init", other).returncode == 0
    res = uunet("reid", made.public, "-o", made.root / "x.mp4", "--keys", other, *made.model_args)
    assert res.returncode != 0
    assert res.stderr.strip().startswith("uunet reid: error:") and "key set" in res.stderr
    assert not (made.root / "x.mp4").exists()


def test_wrong_deid_secret_is_refused(made: Made) -> None:
    """Same signing key, another HMAC secret: the keyed noise would be wrong, so it is refused."""
    forged = made.root / "forged-keys"
    forged.mkdir()
    for name in ("signing_ed25519.pub.pem", "authority_x25519.pem"):
        (forged / name).write_bytes((made.keys / name).read_bytes())
    (forged / "deid_secret.key").write_text("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n")
    res = uunet("reid", made.public, "-o", made.root / "y.mp4", "--keys", forged, *made.model_args)
    assert res.returncode != 0 and "key set" in res.stderr


@pytest.mark.parametrize("where", ["mdat", "manifest"])
def test_tampered_clip_is_refused(made: Made, where: str) -> None:
    data = bytearray(made.public.read_bytes())
    emb = read_box(made.public)
    if where == "mdat":
        index = data.index(b"mdat") + 2000
    else:
        index = emb.box_offset + bytes(data[emb.box_offset :]).index(b'"frames":') + 9
    data[index] ^= 0x01
    bad = made.root / f"tampered-{where}.mp4"
    bad.write_bytes(bytes(data))
    res = uunet("reid", bad, "-o", made.root / "t.mp4", "--keys", made.keys, *made.model_args)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("uunet reid: error:") and "modified" in lines[0]


def _bad_inputs(root: Path, clip: Path, public: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    import av
    import cv2

    empty = root / "empty.mp4"
    empty.write_bytes(b"")
    truncated = root / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    cut = root / "cut-faststart.mp4"  # moov intact (faststart), mdat cut in the middle
    data = public.read_bytes()
    mdat = data.index(b"mdat") - 4
    cut.write_bytes(data[: mdat + int.from_bytes(data[mdat : mdat + 4], "big") // 2])
    text = root / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    image = root / "photo.png"
    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    audio = root / "voice.m4a"
    with av.open(str(audio), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        tone = np.zeros((1, 1024), np.float32)
        for _ in range(20):
            frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
            frame.sample_rate = 48000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return {
        "zero-byte": (empty, ()),
        "truncated": (truncated, ()),
        "truncated faststart": (cut, ()),
        "not a video": (text, ()),
        "an image": (image, ()),
        "audio only": (audio, ()),
        "too wide": (clip, ("--max-width", "100")),
        "too long": (clip, ("--max-duration", "0.2")),
        "missing": (root / "nope.mp4", ()),
    }


@pytest.mark.parametrize(
    "case",
    ["zero-byte", "truncated", "truncated faststart", "not a video", "an image", "audio only", "too wide", "too long",
     "missing"],
)  # fmt: skip
def test_bad_input_gets_one_line_error(made: Made, case: str) -> None:
    path, extra = _bad_inputs(made.root, made.clip, made.public)[case]
    out = made.root / f"bad-{case.replace(' ', '_')}.mp4"
    res = uunet("deid", path, "-o", out, "--keys", made.keys, *extra, *made.model_args)
    lines = res.stderr.strip().splitlines()
    print(f"{case}: {lines}")
    assert res.returncode != 0
    assert len(lines) == 1 and lines[0].startswith("uunet deid: error:"), res.stderr
    assert "Traceback" not in res.stderr and not out.exists()


def test_plain_clip_is_not_a_deidentified_clip(made: Made) -> None:
    res = uunet("reid", made.clip, "-o", made.root / "p.mp4", "--keys", made.keys)
    assert res.returncode != 0
    err = res.stderr.strip()  # no manifest: the pixels are searched for a payload, none found
    assert len(err.splitlines()) == 1, err
    assert err.startswith("uunet reid: error: not a de-identified clip (no manifest")
    assert "no face in it carries a readable identity payload" in err


def test_clip_without_faces_is_reencoded_with_empty_manifest(made: Made) -> None:
    clip, out = made.root / "empty-scene.mp4", made.root / "empty-out.mp4"
    write_clip(clip, SceneSpec(160, 120, frames=10, n_faces=0))
    res = uunet("deid", clip, "-o", out, "--keys", made.keys, "--manifest-json",
                made.root / "e.json", *made.model_args)  # fmt: skip
    assert res.returncode == 0, res.stderr
    manifest = json.loads((made.root / "e.json").read_text())["manifest"]
    assert manifest["runs"] == [] and manifest["tracks"] == []
    assert probe(out).frames == 10
    assert psnr(frames_of(clip), frames_of(out)) > 35.0


def test_dev_key_set_is_created_on_first_use_and_announced(made: Made) -> None:
    env = dict(os.environ, UUNET_HOME=str(made.root / "home"))
    clip = made.root / "tiny-scene.mp4"
    write_clip(clip, SceneSpec(96, 64, frames=4, n_faces=0))
    first = uunet("deid", clip, "-o", made.root / "d1.mp4", *made.model_args, env=env)
    assert first.returncode == 0, first.stderr
    assert "created a dev key set" in first.stderr and str(made.root / "home") in first.stderr
    second = uunet("deid", clip, "-o", made.root / "d2.mp4", *made.model_args, env=env)
    assert second.returncode == 0 and "using the dev key set" in second.stderr


def test_help_states_defaults() -> None:
    deid, reid = uunet("deid", "--help"), uunet("reid", "--help")
    assert deid.returncode == reid.returncode == 0
    assert "(default: cpu)" in deid.stdout and "(default: 10)" in deid.stdout
    assert "(default: auto)" in reid.stdout


def test_audio_is_dropped_unless_asked_for(made: Made) -> None:
    clip = made.root / "talking.mp4"
    write_clip(clip, SceneSpec(96, 64, frames=10, n_faces=0, audio=True))
    assert probe(clip).has_audio
    dropped, kept = made.root / "no-audio.mp4", made.root / "audio.mp4"
    for out, extra in ((dropped, ()), (kept, ("--keep-audio",))):
        res = uunet("deid", clip, "-o", out, "--keys", made.keys, *extra, *made.model_args)
        assert res.returncode == 0, res.stderr
    assert not probe(dropped).has_audio
    assert probe(kept).has_audio and probe(kept).frames == 10
