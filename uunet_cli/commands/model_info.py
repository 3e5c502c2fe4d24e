"""``uunet model-info``: print one JSON line describing a model config or a checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from shared.domain.errors import BadInputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "model-info",
        help="print parameter counts and the config of a model (one JSON line)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", choices=("faithful", "product", "donor"), default=None,
                     help="a preset: faithful (the paper), product (the first release: noise + "
                     "keyed private module), donor (keyed donor faces + a refiner; the default "
                     "weights since 0.2); faithful when neither this nor --checkpoint is given")  # fmt: skip
    src.add_argument("--checkpoint", type=Path, default=None, help="a checkpoint file to describe")
    p.add_argument("--width", type=float, default=None,
                   help="channel multiplier for --config product (0.25 when omitted) or donor "
                   "(0.125 when omitted)")  # fmt: skip
    p.set_defaults(handler=run)


def describe(config: Any, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON-able description of a config (parameters counted on a freshly built model)."""
    from shared.model.critic import PatchCritic
    from shared.model.recogniser import PairRecogniser
    from shared.model.unet import UUNetGenerator, count_params

    gen = UUNetGenerator(config)
    assert gen.public_net is not None
    out: dict[str, Any] = {
        "model_id": config.model_id,
        "version": config.version,
        "surrogate": config.surrogate,
        "generator_trainable_params": count_params(gen),
        "public_params": count_params(gen.public_net),
        "private_params": count_params(gen.private_net) if gen.private_net is not None else 0,
        "critic_params": count_params(PatchCritic(width=config.width)),
        "recogniser_params": count_params(PairRecogniser(config.crop_size)),
        "config": config.to_dict(),
    }
    if meta is not None:
        out["meta"] = meta
    return out


def run(args: argparse.Namespace) -> int:
    from shared.model.checkpoint import load_checkpoint
    from shared.model.config import ModelConfig

    if args.checkpoint is not None:
        if args.width is not None:
            raise BadInputError("--width applies to --config, not to --checkpoint")
        ckpt = load_checkpoint(args.checkpoint)
        print(json.dumps(describe(ckpt.config, ckpt.meta), default=str))
        return 0
    name = args.config or "faithful"
    if name == "faithful":
        if args.width is not None:
            raise BadInputError(
                "--width applies to --config product or donor (faithful is width 1)"
            )
        config = ModelConfig.faithful_preset()
    else:
        width = (0.25 if name == "product" else 0.125) if args.width is None else args.width
        if not 0.0 < width <= 4.0:
            raise BadInputError(f"--width must be in (0, 4], got {width}")
        config = ModelConfig.product(width) if name == "product" else ModelConfig.donor(width)
    print(json.dumps(describe(config)))
    return 0
