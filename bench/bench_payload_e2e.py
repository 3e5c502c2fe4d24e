"""End to end figures of the identity payload: ``deid`` (with and without it) then ``reid --mode
learned`` on real clips (``make eval-data``), through the product's own API (what the CLI calls).

Per clip (trimmed to ``--frames``): public clip size and PSNR with vs without the payload (same key,
same clip id: same donors), deid time per frame both ways and the payload's own ms per face; then
learned restoration from the product's own public clip (manifest verified) and from that clip
re-encoded by a third party at CRF 23 (manifest gone: re-detected faces, unverified): tracks
restored of tracks carrying a payload, restored-face PSNR vs the original (public-face PSNR for
reference) and the dlib judge's match rate (restored vs original, public vs original) on every
``--every``-th face. Optionally writes a PNG of sample frames, original | public | restored.

    nice -n 10 .venv/bin/python bench/bench_payload_e2e.py --clips single,wolfgang --frames 300
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from shared.crypto.keys import PrivateSideKeys, PublicSideKeys, init_keyset  # noqa: E402
from shared.domain.errors import UUNetError  # noqa: E402
from shared.evaluation.payload_media import (  # noqa: E402
    CASES,
    CLIPS,
    case_transcode,
    frames_of,
    trim,
)
from shared.evaluation.transcode import transcode  # noqa: E402
from shared.pipeline.api import ReidOptions, deidentify_clip, reidentify_clip  # noqa: E402
from shared.pipeline.container import read_box  # noqa: E402
from shared.pipeline.types import DeidOptions  # noqa: E402
from shared.surrogate.model import load_face_model  # noqa: E402


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * np.log10(255.0**2 / max(mse, 1e-10))


def face_boxes(public: Path) -> dict[int, list[tuple[int, int, int, int, int]]]:
    """{frame: [(track, x0, y0, x1, y1)]} of the payload-carrying faces in the signed manifest."""
    manifest = read_box(public).manifest
    carry = manifest.payload_tracks
    return {f: [(r.track_id, r.x, r.y, r.x + r.w, r.y + r.h) for r in recs if r.track_id in carry]
            for f, recs in manifest.faces_by_frame().items()}  # fmt: skip


def quality(orig: np.ndarray, pub: np.ndarray, back: np.ndarray, boxes, judge, every: int):
    """Face PSNR (restored, public vs original) and judge match rates on every ``every``-th face."""
    o, p, r, match_r, match_p = [], [], [], [], []
    for n, (f, recs) in enumerate(sorted(boxes.items())):
        if n % every or f >= len(orig) or f >= len(back):
            continue
        for _, x0, y0, x1, y1 in recs:
            crops = [a[f, y0:y1, x0:x1] for a in (orig, pub, back)]
            o.append(crops[0].reshape(-1, 3))
            p.append(crops[1].reshape(-1, 3))
            r.append(crops[2].reshape(-1, 3))
            if judge is not None:
                match_r.append(judge.distance(crops[0], crops[2]) < 0.6)
                match_p.append(judge.distance(crops[0], crops[1]) < 0.6)
    if not o:
        return {}
    oo, pp, rr = (np.concatenate(x) for x in (o, p, r))
    out = {"faces_judged": len(o), "psnr_restored": psnr(oo, rr), "psnr_public": psnr(oo, pp)}
    if judge is not None:
        out |= {"match_restored": float(np.mean(match_r)), "match_public": float(np.mean(match_p))}
    return out


def restore(public: Path, back: Path, keys: PrivateSideKeys) -> dict:
    """``reid --mode learned``: tracks restored, time per frame, notes (or the one-line refusal)."""
    t0 = time.perf_counter()
    try:
        rep = reidentify_clip(public, back, keys, None, ReidOptions(mode="learned"))
    except UUNetError as err:
        return {"error": str(err), "tracks": (), "seconds": time.perf_counter() - t0}
    return {"tracks": rep.tracks, "faces": rep.faces_restored, "integrity": rep.integrity,
            "ms_per_frame": 1000 * rep.seconds / max(rep.frames, 1), "notes": rep.notes}  # fmt: skip


def run_clip(name: str, src: Path, args: argparse.Namespace, root: Path, model, judge) -> dict:
    """Every figure of one clip (see the module docstring)."""
    pub_keys, priv_keys = PublicSideKeys.load(root / "keys"), PrivateSideKeys.load(root / "keys")
    clip = root / f"{name}.mp4"
    trim(src, clip, args.frames)
    out: dict = {"clip": name}
    publics = {}
    for payload in (False, True, False):  # the first run warms the detector and the donors up
        public = root / f"{name}-public-{int(payload)}.mp4"
        rep = deidentify_clip(clip, public, pub_keys, model,
                              DeidOptions(seal="none", payload=payload, clip_id=f"bench-{name}"))  # fmt: skip
        publics[payload] = public
        out[f"deid_ms_per_frame_{int(payload)}"] = 1000 * rep.seconds / max(rep.frames, 1)
        out["frames"], out["tracks"] = rep.frames, rep.tracks
        if payload:
            out["payload_tracks"] = rep.payload_tracks
            out["payload_ms_per_face"] = rep.payload_ms_per_face
    orig, p0, p1 = frames_of(clip), frames_of(publics[False]), frames_of(publics[True])
    out["size_ratio"] = publics[True].stat().st_size / publics[False].stat().st_size
    out["psnr_public_with_vs_without"] = psnr(p0, p1)
    boxes = face_boxes(publics[True])
    out["cases"] = {}
    for case in args.cases.split(","):
        public, how = publics[True], case_transcode(case, len(orig))
        if how is not None:  # a third party's re-encode: the manifest box is gone
            public = root / f"{name}-{case}.mp4"
            public.write_bytes(transcode(publics[True].read_bytes(), how))
        back = root / f"{name}-back-{case}.mp4"
        got = restore(public, back, priv_keys)
        if back.is_file() and case in ("own", "re23", "re28"):  # same size, same frame indices
            got |= quality(orig, p1, frames_of(back), boxes, judge, args.every)
        out["cases"][case] = got
        print(f"  {name} {case}: {got}", flush=True)
    if args.grid is not None and (root / f"{name}-back-own.mp4").is_file():
        out["grid_rows"] = grid_rows(orig, p1, frames_of(root / f"{name}-back-own.mp4"), boxes)
    return out


def grid_rows(orig: np.ndarray, pub: np.ndarray, back: np.ndarray, boxes) -> list[np.ndarray]:
    """Two sample frames (at 1/3 and 2/3 of the faces) as original | public | restored rows."""
    import cv2

    with_face = sorted(f for f, recs in boxes.items() if recs and f < len(back))
    rows = []
    for k in (1, 2):
        f = with_face[len(with_face) * k // 3] if with_face else len(orig) * k // 3
        row = np.concatenate([orig[f], pub[f], back[f]], axis=1)
        s = 1200 / row.shape[1]
        rows.append(cv2.resize(row, (1200, round(row.shape[0] * s)), interpolation=cv2.INTER_AREA))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--clips", default="single,wolfgang,carphone", help="of " + ",".join(CLIPS))
    ap.add_argument("--frames", type=int, default=300, help="trim each clip to this many frames")
    ap.add_argument("--cases", default="own,re23,re28,half,cut", help="of " + ",".join(CASES))
    ap.add_argument("--every", type=int, default=10, help="judge every n-th face frame")
    ap.add_argument("--no-judge", action="store_true")
    ap.add_argument("--grid", type=Path, default=None, help="write original|public|restored PNG")
    args = ap.parse_args()
    judge = None
    if not args.no_judge:
        from shared.evaluation.judge import DlibJudge

        judge = DlibJudge()
    model = load_face_model(None)
    rows: list[np.ndarray] = []
    with tempfile.TemporaryDirectory(prefix="uunet-payload-e2e-") as tmp:
        root = Path(tmp)
        init_keyset(root / "keys")
        for name in args.clips.split(","):
            src = CLIPS[name].path()
            if src is None:
                print(f"{name}: not cached (make eval-data), skipped")
                continue
            res = run_clip(name, src, args, root, model, judge)
            rows += res.pop("grid_rows", [])
            print(res, flush=True)
    if args.grid is not None and rows:
        import cv2

        cv2.imwrite(str(args.grid), np.ascontiguousarray(np.concatenate(rows)[:, :, ::-1]))
        print(f"wrote {args.grid}")


if __name__ == "__main__":
    main()
