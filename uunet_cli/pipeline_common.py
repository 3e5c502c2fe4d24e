"""Pieces shared by ``uunet deid`` and ``uunet reid``: limits options, progress bar, engine load."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.domain.errors import BadInputError
from shared.video.types import Limits

_DEFAULT = Limits()


def add_common_options(p: argparse.ArgumentParser) -> None:
    """Device, checkpoint, limits and --quiet, with their defaults shown by --help."""
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="torch device")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="model checkpoint (default: the shipped models/default weights)")  # fmt: skip
    p.add_argument("--batch-frames", type=int, default=8, help="frames per model call")
    p.add_argument("--max-width", type=int, default=_DEFAULT.max_width, help="refuse wider clips")
    p.add_argument("--max-height", type=int, default=_DEFAULT.max_height,
                   help="refuse taller clips")  # fmt: skip
    p.add_argument("--max-duration", type=float, default=_DEFAULT.max_duration_s,
                   help="refuse clips longer than this many seconds")  # fmt: skip
    p.add_argument("--max-bytes", type=int, default=_DEFAULT.max_bytes,
                   help="refuse larger input files")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar, notes or summary (errors still print)")  # fmt: skip


def limits_from(args: argparse.Namespace) -> Limits:
    """The Limits the options ask for."""
    if min(args.max_width, args.max_height, args.max_bytes) <= 0 or args.max_duration <= 0:
        raise BadInputError("limits must be positive")
    if args.batch_frames <= 0:
        raise BadInputError("--batch-frames must be positive")
    return Limits(
        max_bytes=args.max_bytes,
        max_width=args.max_width,
        max_height=args.max_height,
        max_duration_s=args.max_duration,
    )


def check_input(path: Path) -> None:
    """A one-line error for an input that is not a readable file (before loading a model)."""
    if not path.exists():
        raise BadInputError(f"{path}: no such file")
    if not path.is_file():
        raise BadInputError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path.name}: empty file (0 bytes)")


def load_engine(checkpoint: Path | None, device: str, donors: Path | None = None) -> Any:
    """The face model of a checkpoint (torch imported here so ``uunet --help`` stays fast)."""
    from shared.surrogate.model import load_face_model
    from shared.video.runtime import configure_cpu_threads

    configure_cpu_threads(device)  # torch's spinning threads starve the codec otherwise
    return load_face_model(checkpoint, device=device, part="both", donors=donors)


@contextmanager
def progress_bar(desc: str, quiet: bool, frames: int) -> Iterator[Callable[[float], None]]:
    """A bar on stderr in frames (rate in frames/s, ETA) fed with fractions 0..1 of ``frames``.

    Silent when quiet or not a terminal; a terminal that reports under 20 columns (some report 0)
    gets an 80-column line rather than a bar squeezed to nothing.
    """
    from tqdm import tqdm

    total = max(frames, 1)
    bar = tqdm(
        total=total,
        desc=desc,
        unit=" frames",
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
        leave=False,
        ncols=None if _columns() >= 20 else 80,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} frames, "
        "{rate_fmt}, ETA {remaining}",
    )
    done = [0]

    def update(frac: float) -> None:
        now = round(total * max(0.0, min(frac, 1.0)))
        if now > done[0]:
            bar.update(now - done[0])
            done[0] = now

    try:
        yield update
    finally:
        bar.close()


def _columns() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        return 0


def note(args: argparse.Namespace, text: str, force: bool = False) -> None:
    """A line on stderr for the user (kept off stdout so output can be piped); none with -q
    unless ``force`` (warnings a user must never miss)."""
    if force or not getattr(args, "quiet", False):
        print(f"uunet {args.command}: {text}", file=sys.stderr)


def human_bytes(n: int) -> str:
    """1234567 -> "1.2 MB" (decimal units, as file managers show sizes)."""
    if n < 1000:
        return f"{n} B"
    units = ("kB", "MB", "GB")
    value, i = n / 1000, 0
    while value >= 1000 and i < len(units) - 1:
        value, i = value / 1000, i + 1
    return f"{value:.1f} {units[i]}"
