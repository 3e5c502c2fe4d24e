"""``uunet train refiner``: the learned step of the donor public module (see shared/training/refiner)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from shared.domain.errors import BadInputError


def add_parser(phases: argparse._SubParsersAction[argparse.ArgumentParser],
               fmt: type[argparse.HelpFormatter]) -> None:  # fmt: skip
    """Register ``refiner`` under ``uunet train``."""
    p = phases.add_parser("refiner", help="the donor refiner (public module since 0.2)",
                          formatter_class=fmt)  # fmt: skip
    p.add_argument("--recognisers", type=Path, default=None,
                   help="a recogniser file holding an 'identity' recogniser (default: train the "
                   "inner-face recogniser on the pool first, saved as OUT_DIR/recogniser.pt)")  # fmt: skip
    p.add_argument("--recogniser-steps", type=int, default=1500,
                   help="steps of the inner-face recogniser when it is trained here")  # fmt: skip
    p.add_argument("--out-dir", type=Path, required=True,
                   help="run folder: state.pt, log.jsonl, latest.pt")  # fmt: skip
    p.add_argument("--donors", type=Path, default=None,
                   help="donor bank (default: the shipped DCGAN bank)")  # fmt: skip
    p.add_argument("--pool", type=int, default=4096, help="training samples drawn once")
    p.add_argument("--held-out", type=float, default=0.1, help="fraction of samples held out")
    p.add_argument("--steps", type=int, default=3000, help="total steps (resume counts on)")
    p.add_argument("--width", type=float, default=0.125, help="U-Net width multiplier")
    p.add_argument("--seed", type=int, default=0, help="data and initialisation seed")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--resume", action="store_true", help="continue from OUT_DIR/state.pt")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Draw the pool (cached in the run folder), train, write latest.pt."""
    import torch

    from shared.surrogate.model import resolve_bank
    from shared.training.phase1 import load_recognisers, save_recognisers
    from shared.training.refiner import RefinerConfig, train_refiner
    from shared.training.refiner_data import RefinerPool, build_pool
    from shared.training.refiner_recogniser import train_inner_recogniser

    logging.getLogger("shared").setLevel(logging.INFO)
    if args.pool < 16 or not 0.0 < args.held_out < 0.5:
        raise BadInputError("--pool must be >= 16 and --held-out within (0, 0.5)")
    torch.set_num_threads(max(1, args.threads))
    pool_path = args.out_dir / "pool.pt"
    if pool_path.exists():
        data = torch.load(pool_path, weights_only=True)
        pool = RefinerPool(data["x"], data["comp"], data["mask"], data["x2"])
    else:
        pool = build_pool(resolve_bank(args.donors), args.pool, seed=args.seed + 1)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        torch.save(vars(pool), pool_path)
    train, val = pool.split(args.held_out)
    rec_path = args.recognisers or args.out_dir / "recogniser.pt"
    if args.recognisers is None and not rec_path.exists():
        rec, aucs = train_inner_recogniser(train, val, steps=args.recogniser_steps, seed=args.seed)
        save_recognisers(rec_path, {"identity": rec.state_dict()}, {"inner_face": aucs})
        print(f"inner-face recogniser: {aucs}")
    recs, _ = load_recognisers(rec_path)
    if "identity" not in recs:
        raise BadInputError(f"{rec_path} holds no identity recogniser")
    cfg = RefinerConfig(width=args.width, steps=args.steps, seed=args.seed)
    path = train_refiner(train, val, recs["identity"], args.out_dir, cfg, resume=args.resume)
    print(f"wrote {path}; export with: uunet train export --checkpoint {path} --out FILE")
    return 0
