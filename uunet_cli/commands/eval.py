"""``uunet eval``: judge a checkpoint on held-out synthetic identities and real faces; table + JSON."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

ROWS = (
    ("faces", "faces evaluated"),
    ("deid_rate", "de-identified (judge dist >= 0.6 to original)"),
    ("deid_mean_distance", "  mean judge distance original-surrogate"),
    ("faces_stay_faces", "faces stay faces (YuNet finds the surrogate)"),
    ("faces_ceiling_originals", "  ceiling: YuNet finds the original"),
    ("hog_stays", "faces stay faces (dlib HOG finds the surrogate)"),
    ("restore_match", "restoration matches (no codec)"),
    ("restore_psnr", "  restoration PSNR dB (no codec)"),
    ("restore_ssim", "  restoration SSIM (no codec)"),
    ("h264_restore_match", "restoration matches after H.264 CRF 23"),
    ("h264_restore_psnr", "  restoration PSNR dB after H.264"),
    ("h264_restore_ssim", "  restoration SSIM after H.264"),
    ("h264_ceiling_match", "  ceiling: original after H.264 matches"),
    ("h264_ceiling_psnr", "  ceiling: original after H.264, PSNR dB"),
    ("wrong_key_nonmatch", "wrong key: restoration does not match"),
    ("wrong_key_psnr", "  wrong-key restoration PSNR dB"),
    ("track_mean_distance", "stability: judge dist between a track's surrogates"),
    ("track_share_below_threshold", "  share of a track's surrogate pairs the judge matches"),
    ("original_track_mean_distance", "  same for the originals"),
    ("judge_impostor_nonmatch", "judge: two different people's originals do not match"),
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="evaluate a checkpoint with the independent judge",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    p.add_argument("--checkpoint", type=Path, help="checkpoint file (default: the shipped weights)")
    p.add_argument(
        "--out", type=Path, default=Path("eval-report.json"), help="JSON report to write"
    )
    p.add_argument("--sets", default="synthetic,real,clips",
                   help="comma list of: synthetic, real (64 px crops), clips (the real pipeline "
                   "on real clips, judged in the frame: make eval-data fetches them), clips_grey "
                   "(the same clips in grey, as night and IR cameras film), payload "
                   "(the identity payload: deid, re-encodes, reid --mode learned, wrong keys, "
                   "on real clips)")  # fmt: skip
    p.add_argument("--payload-frames", type=int, default=150,
                   help="payload set: trim each clip to this many frames")  # fmt: skip
    p.add_argument("--payload-every", type=int, default=5,
                   help="payload set: judge the faces of every n-th frame that has any")  # fmt: skip
    p.add_argument("--merge", action="store_true",
                   help="keep the figures of the sets not run from an existing --out report")  # fmt: skip
    p.add_argument("--clip-repeats", type=int, default=3,
                   help="de-identify each clip this many times, with another clip id (another "
                   "donor) each time")  # fmt: skip
    p.add_argument("--clip-samples", type=int, default=12, help="frames judged per clip and run")
    p.add_argument(
        "--identities", type=int, default=40, help="held-out synthetic identities (tracks)"
    )
    p.add_argument("--frames", type=int, default=4, help="frames per synthetic track")
    p.add_argument("--real-limit", type=int, default=0, help="cap on real faces (0 = all found)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.set_defaults(handler=run)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    if value != 0 and abs(value) < 1e-3:  # bit error rates
        return f"{value:.1e}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


def table(report: dict[str, Any]) -> str:
    """The report as a fixed-width text table (one column per set, plus the target)."""
    return "\n".join(figure_table("figure", report["sets"], ROWS, report["targets"], (52, 20)))


def run(args: argparse.Namespace) -> int:
    import torch

    from shared.domain.errors import BadInputError
    from shared.evaluation import datasets
    from shared.evaluation.clips import evaluate_clips
    from shared.evaluation.evaluate import EVAL_KEY, evaluate
    from shared.surrogate.model import load_face_model

    logging.getLogger("shared.evaluation").setLevel(logging.INFO)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = set(wanted) - {"synthetic", "real", "clips", "clips_grey", "payload"}
    if unknown or not wanted:
        raise BadInputError(
            f"--sets takes synthetic, real, clips, clips_grey and/or payload, got {args.sets!r}"
        )
    if min(args.clip_repeats, args.clip_samples, args.payload_frames, args.payload_every) < 1:
        raise BadInputError(
            "--clip-repeats, --clip-samples, --payload-frames and --payload-every must be at "
            "least 1"
        )
    engine = load_face_model(args.checkpoint, device=args.device, part="both")
    sets = []
    if "synthetic" in wanted:
        sets.append(datasets.synthetic_held_out(args.identities, args.frames))
    if "real" in wanted:
        sets.append(datasets.real_faces(args.real_limit))
    report = evaluate(engine, sets)
    if "clips" in wanted:
        report["clips"] = evaluate_clips(engine, EVAL_KEY, args.clip_repeats, args.clip_samples)
    if "clips_grey" in wanted:
        report["clips_grey"] = evaluate_clips(
            engine, EVAL_KEY, args.clip_repeats, args.clip_samples, grey=True
        )
    if "payload" in wanted:
        from uunet_cli.eval_payload import run_payload

        run_payload(engine, args, report)
    report["checkpoint"] = str(args.checkpoint or "default")
    report["checkpoint_meta"] = {k: v for k, v in engine.meta.items() if k != "train_config"}
    written = merged(args.out, report) if args.merge else report
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(written, indent=2, sort_keys=True, default=str))
    print(f"{report['model_id']} {report['model_version']}")
    if report["sets"]:
        print(table(report))
    if "clips" in report:
        print(clip_table(report["clips"]))
    if "clips_grey" in report:
        print(clip_table(report["clips_grey"], "grey clips (night, IR), frame level"))
    if "payload" in report:
        from uunet_cli.eval_payload import payload_table

        print(payload_table(report["payload"]))
    print(f"wrote {args.out}" + (" (merged)" if args.merge else ""))
    return 0


def merged(path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """``report`` over the report already at ``path``: what was run now replaces its figures,
    the sets not run keep theirs."""
    from shared.domain.errors import BadInputError

    if not path.is_file():
        return report
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BadInputError(f"--merge: cannot read {path}: {err}") from err
    if not isinstance(old, dict):
        raise BadInputError(f"--merge: {path} is not an eval report")
    return {**old, **report, "sets": {**old.get("sets", {}), **report["sets"]}}


CLIP_ROWS = (
    ("faces", "faces judged (sampled frames x runs)"),
    ("yunet_kept", "faces stay faces: YuNet finds the surrogate"),
    ("hog_kept", "faces stay faces: dlib HOG finds the surrogate"),
    ("deid_rate", "de-identified (judge dist >= 0.6)"),
    ("deid_mean_distance", "  mean judge distance original-public"),
    ("track_consistency", "one identity per track (judge matches pairs)"),
    ("seam_ratio_median", "seam: gradient energy public/original (median)"),
    ("seam_within_1_5", "  share of faces with seam ratio <= 1.5"),
    ("blurred_share", "covered by blur (not confirmed as a face)"),
    ("missed_share", "not painted at all (missed by detection)"),
    ("false_surrogates_per_min", "donor faces painted where no face is, per minute"),
)


def clip_table(clips: dict[str, Any], title: str = "clips (real pipeline, frame level)") -> str:
    """The clip figures: one column per clip, then all faces and faces wider than 100 px."""
    cols = {**clips["clips"], "ALL": clips["all"], "> 100 px": clips["wide"]}
    return "\n".join(figure_table(title, cols, CLIP_ROWS, clips["targets"], (48, 15)))


def figure_table(title: str, cols: dict[str, dict[str, Any]], rows: tuple[tuple[str, str], ...],
                 targets: dict[str, Any], widths: tuple[int, int],
                 met: dict[str, bool | None] | None = None) -> list[str]:  # fmt: skip
    """Lines of a fixed-width table: a row per figure, a column per entry of ``cols``, then the
    target and, given ``met``, whether it is met (``widths``: label and cell)."""
    label_w, cell_w = widths
    head = f"{title:<{label_w}}" + "".join(f"{c[: cell_w - 1]:>{cell_w}}" for c in cols)
    head += f"{'target':>10}" + (f"{'':>8}" if met is not None else "")
    lines = [head, "-" * len(head)]
    for key, label in rows:
        t = targets.get(key)
        target = f"{t['op']} {t['value']:g}" if t else ""
        cells = "".join(f"{_fmt(v.get(key)):>{cell_w}}" for v in cols.values())
        verdict = None if met is None else met.get(key)
        tail = (
            ""
            if met is None
            else f"{'' if verdict is None else ('met' if verdict else 'MISSED'):>8}"
        )
        lines.append(f"{label:<{label_w}}{cells}{target:>10}{tail}")
    return lines
