"""Side-by-side PNG of real frames, original | public, for the model card (eval media only).

De-identifies each real clip of the eval corpus (``make eval-data``) with a checkpoint through the
real pipeline (``deidentify_clip``, H.264 and all), then lays out ``--frames`` frames per clip as
rows of original | public, each pair scaled to ``--width`` pixels. With ``--restore`` it also seals
and adds the restored frame (original | public | restored), from the sealed originals or, with
``--mode learned``, from the identity payload in the pixels.

    .venv/bin/python scripts/sample_grid.py -o models/default/samples.png [--checkpoint FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _pick(path: Path, wanted: set[int]) -> dict[int, object]:
    from shared.video.decode import iter_frames

    return {int(i): f for b in iter_frames(path, 16) for f, i in zip(b.frames, b.indices, strict=True)
            if int(i) in wanted}  # fmt: skip


def _frames_with_faces(clip: object, n: int) -> list[int]:
    """Frames of the clip with a face in them (its ground truth when known): the grid shows faces."""
    truth = getattr(clip, "truth", None)
    if truth is None:
        return list(range(n))
    return [i for i, boxes in enumerate(truth) if boxes] or list(range(n))


def main() -> None:
    ap = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped weights")
    ap.add_argument("--frames", type=int, default=2, help="frames per clip")
    ap.add_argument("--width", type=int, default=960, help="width of one row, pixels")
    ap.add_argument("--clips", default="crowd,WolfgangLanger_Pexels,carphone,single_face",
                    help="comma list of eval clip names")  # fmt: skip
    ap.add_argument("--restore", action="store_true", help="seal, restore, add a third column")
    ap.add_argument("--mode", choices=("sealed", "learned"), default="sealed",
                    help="how --restore restores: the sealed originals, or the identity payload "
                    "in the pixels (a clip it cannot restore is left out, with its reason)")  # fmt: skip
    args = ap.parse_args()

    from dataclasses import replace

    import cv2
    import numpy as np

    from shared.crypto.keys import PrivateSideKeys, PublicSideKeys, init_keyset
    from shared.domain.errors import UUNetError
    from shared.evaluation.corpus import build_corpus
    from shared.evaluation.evaluate import EVAL_KEY
    from shared.pipeline.api import ReidOptions, deidentify_clip, reidentify_clip
    from shared.pipeline.types import DeidOptions
    from shared.surrogate.model import load_face_model
    from shared.video.decode import probe

    model = load_face_model(args.checkpoint)
    rows = []
    with tempfile.TemporaryDirectory(prefix="uunet-samples-") as tmp:
        root = Path(tmp)
        init_keyset(root / "keys")
        # The eval's fixed secret: the grid shows the donors the model card's figures were taken on.
        keys = replace(PublicSideKeys.load(root / "keys"), secret=EVAL_KEY)
        wanted_clips = args.clips.split(",")
        for clip in build_corpus(root):
            if clip.name not in wanted_clips:
                continue
            public = root / f"public-{clip.name}.mp4"
            deidentify_clip(clip.path, public, keys, model,
                            DeidOptions(seal=args.restore, clip_id=f"samples-{clip.name}"))  # fmt: skip
            with_faces = _frames_with_faces(clip, probe(clip.path).frames)
            n = len(with_faces)
            idx = {with_faces[int((k + 0.5) * n / args.frames)] for k in range(args.frames)}
            cols = [_pick(clip.path, idx), _pick(public, idx)]
            if args.restore:
                back = root / f"{clip.name}-back.mp4"
                try:
                    # The same secret as the public side (the identity payload is sealed under it).
                    private = replace(PrivateSideKeys.load(root / "keys"), secret=EVAL_KEY)
                    reidentify_clip(public, back, private, None, ReidOptions(mode=args.mode))
                except UUNetError as err:
                    print(f"{clip.name}: left out, {args.mode} restoration failed: {err}")
                    continue
                cols.append(_pick(back, idx))
            for i in sorted(idx):
                pair = np.concatenate([c[i] for c in cols], axis=1)  # type: ignore[misc]
                s = args.width / pair.shape[1]
                rows.append(cv2.resize(pair, (args.width, round(pair.shape[0] * s)),
                                       interpolation=cv2.INTER_AREA))  # fmt: skip
    if not rows:
        raise SystemExit("no eval clip found: run make eval-data")
    grid = np.concatenate(rows, axis=0)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), np.ascontiguousarray(grid[:, :, ::-1]))
    print(f"wrote {args.output} ({grid.shape[1]}x{grid.shape[0]}, {len(rows)} rows)")


if __name__ == "__main__":
    main()
