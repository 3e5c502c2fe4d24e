"""``uunet train phase1|phase2``: train the pairwise recognisers, then the UU-Net (CPU, CUDA, torchrun)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import Any

from shared.domain.errors import BadInputError

FMT = argparse.ArgumentDefaultsHelpFormatter


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train",
        help="train the recognisers (phase1), the UU-Net (phase2) or the donor refiner",
        formatter_class=FMT,
    )
    phases = p.add_subparsers(dest="phase", metavar="PHASE", required=True)
    p1 = phases.add_parser("phase1", help="pairwise recognisers per trait", formatter_class=FMT)
    _data_args(p1)
    p1.add_argument("--out", type=Path, required=True, help="recogniser file to write (.pt)")
    p1.add_argument("--steps", type=int, default=2000, help="steps per trait")
    p1.add_argument(
        "--lr", type=float, default=1.25e-5, help="RMSprop learning rate (reference 1.25e-5)"
    )
    p1.add_argument("--eval-every", type=int, default=100, help="steps between held-out AUC checks")
    p1.add_argument("--classes", type=int, default=4, help="classes per batch")
    p1.add_argument("--per-class", type=int, default=8, help="images per class in a batch")
    p1.set_defaults(handler=run_phase1)
    p2 = phases.add_parser(
        "phase2", help="the UU-Net against critic + frozen recognisers", formatter_class=FMT
    )
    _data_args(p2)
    p2.add_argument("--recognisers", type=Path, help="phase-1 file (not needed with --resume)")
    p2.add_argument(
        "--out-dir",
        type=Path,
        required=True,
        help="run folder: state.pt, latest.pt, best.pt, samples/",
    )
    p2.add_argument(
        "--config", choices=("product", "faithful"), default="product", help="model + loss recipe"
    )
    p2.add_argument("--width", type=float, default=0.25, help="U-Net width multiplier")
    p2.add_argument("--critic-width", type=float, default=0.5, help="PatchGAN width multiplier")
    p2.add_argument(
        "--steps", type=int, default=10000, help="total generator steps (resume counts on)"
    )
    p2.add_argument(
        "--max-minutes", type=float, default=0.0, help="stop after this wall time (0 = no limit)"
    )
    p2.add_argument("--resume", action="store_true", help="continue from OUT_DIR/state.pt")
    p2.add_argument("--log-every", type=int, default=10, help="steps between loss log lines")
    p2.add_argument("--sample-every", type=int, default=100, help="steps between PNG sample grids")
    p2.add_argument(
        "--checkpoint-every", type=float, default=300.0, help="seconds between checkpoints"
    )
    p2.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a TrainConfig field, e.g. --set w_rec=50 (repeatable)")  # fmt: skip
    p2.set_defaults(handler=run_phase2)
    from uunet_cli import train_refiner

    train_refiner.add_parser(phases, FMT)
    ex = phases.add_parser("export", help="write a run's checkpoint as shippable weights (fp16)",
                           formatter_class=FMT)  # fmt: skip
    ex.add_argument(
        "--checkpoint", type=Path, required=True, help="run checkpoint (latest.pt/best.pt)"
    )
    ex.add_argument(
        "--out",
        type=Path,
        required=True,
        help="file to write, e.g. models/default/uunet-default.pt",
    )
    ex.add_argument(
        "--fp32", action="store_true", help="keep float32 (default: float16, half the size)"
    )
    ex.add_argument(
        "--note", action="append", default=[], metavar="KEY=VALUE", help="extra meta entries"
    )
    ex.set_defaults(handler=run_export)


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--folder", type=Path, help="P-DESTRE-style labelled crops (default: synthetic faces)"
    )
    p.add_argument(
        "--identities", type=int, default=400, help="synthetic pseudo-identities to draw"
    )
    p.add_argument(
        "--per-session", type=int, default=6, help="synthetic crops per identity and session"
    )
    p.add_argument("--held-out", type=float, default=0.1, help="fraction of identities held out")
    p.add_argument("--seed", type=int, default=0, help="data and initialisation seed")
    p.add_argument("--device", default="cpu", help="cpu or cuda (torchrun: one process per GPU)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")


def _setup(args: argparse.Namespace) -> Any:
    import torch

    from shared.model.inference import resolve_device
    from shared.training import ddp

    logging.getLogger("shared").setLevel(logging.INFO)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    resolve_device(args.device)  # ConfigError when CUDA is asked for and absent
    return ddp.init_distributed(args.device)


def _pools(args: argparse.Namespace, rank: int = 0) -> Any:
    from shared.training.pool_builder import PoolRequest, build_pool

    req = PoolRequest(folder=args.folder, identities=args.identities, per_session=args.per_session,
                      seed=args.seed + 1000 * rank, device=args.device)  # fmt: skip
    return build_pool(req).split(args.held_out)


def run_phase1(args: argparse.Namespace) -> int:
    """Train and save one recogniser per labelled trait."""
    from shared.training.config import Phase1Config
    from shared.training.phase1 import run_phase1 as train

    _setup(args)
    cfg = Phase1Config(classes_per_batch=args.classes, images_per_class=args.per_class, lr=args.lr,
                       steps=args.steps, eval_every=args.eval_every, seed=args.seed)  # fmt: skip
    train_pool, held_out = _pools(args)
    aucs = train(train_pool, held_out, cfg, args.out)
    for trait, auc in aucs.items():
        print(f"{trait}: held-out pair AUC {auc:.4f}")
    print(f"saved {args.out}")
    return 0


def _overrides(items: list[str]) -> dict[str, Any]:
    from shared.training.config import TrainConfig

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or name not in fields:
            raise BadInputError(f"--set expects FIELD=VALUE with a TrainConfig field, got {item!r}")
        kind = type(getattr(TrainConfig(), name))
        try:
            out[name] = raw.lower() in ("1", "true", "yes") if kind is bool else kind(raw)
        except ValueError as err:
            raise BadInputError(f"--set {name}: {raw!r} is not a {kind.__name__}") from err
    return out


def run_phase2(args: argparse.Namespace) -> int:
    """Train (or resume) the UU-Net; rank 0 writes the run folder."""
    from shared.model.config import ModelConfig
    from shared.training import ddp
    from shared.training.config import TrainConfig
    from shared.training.phase1 import load_recognisers
    from shared.training.phase2 import Phase2Options, Phase2Trainer

    ctx = _setup(args)
    opts = Phase2Options(steps=args.steps, max_seconds=args.max_minutes * 60 or float("inf"),
                         log_every=args.log_every, sample_every=args.sample_every,
                         checkpoint_every_s=args.checkpoint_every, critic_width=args.critic_width)  # fmt: skip
    if args.resume:
        trainer = Phase2Trainer.resume(args.out_dir, opts, ctx)
    else:
        if args.recognisers is None:
            raise BadInputError("--recognisers is required unless --resume")
        recs, _ = load_recognisers(args.recognisers)
        if args.config == "product":
            mc, tc = ModelConfig.product(args.width), TrainConfig.product()
        else:
            mc = dataclasses.replace(ModelConfig.faithful_preset(), width=args.width)
            tc = TrainConfig.reference()
        tc = dataclasses.replace(tc, seed=args.seed, **_overrides(args.set))
        trainer = Phase2Trainer(mc, tc, recs, args.out_dir, opts, ctx)
    train_pool, held_out = _pools(args, ctx.rank)
    last = trainer.train(train_pool, held_out)
    if ctx.main:
        print(
            f"phase2 stopped at step {trainer.step} after {trainer.elapsed_s:.0f} s; run folder {args.out_dir}"
        )
        print(" ".join(f"{k}={v:.4f}" for k, v in sorted(last.items())))
    ddp.shutdown(ctx)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Copy a checkpoint's generator (with config and meta) to a shippable file, fp16 by default."""
    from shared.model.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    meta = dict(ckpt.meta)
    for item in args.note:
        key, sep, value = item.partition("=")
        if not sep:
            raise BadInputError(f"--note expects KEY=VALUE, got {item!r}")
        meta[key] = value
    path = save_checkpoint(args.out, ckpt.generator, ckpt.config, meta, half=not args.fp32)
    size_mb = path.stat().st_size / 1e6
    print(f"wrote {path} ({size_mb:.1f} MB, {ckpt.model_id} {ckpt.version})")
    return 0
