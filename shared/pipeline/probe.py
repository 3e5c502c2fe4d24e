"""Fast validation of an input clip (the ``probe_clip`` entry point)."""

from __future__ import annotations

from pathlib import Path

from shared.pipeline.types import ClipInfo, Limits
from shared.video.decode import probe


def probe_clip(src: Path, limits: Limits) -> ClipInfo:
    """BadInputError if ``src`` is not a readable video, LimitExceededError if over ``limits``."""
    info = probe(Path(src), limits)
    return ClipInfo(
        width=info.width,
        height=info.height,
        fps=float(info.fps),
        frames=info.frames,
        duration_s=info.duration_s,
        has_audio=info.has_audio,
        codec=info.codec,
        size_bytes=Path(src).stat().st_size,
    )
