"""Fast validation of an input clip (the ``probe_clip`` entry point)."""

from __future__ import annotations

from pathlib import Path

from shared.domain.errors import BadInputError, TamperedError
from shared.pipeline.container import read_box
from shared.pipeline.types import ClipInfo, Limits
from shared.video.decode import probe

ALREADY_DEIDENTIFIED = (
    "already de-identified (it carries a UU-Net manifest): send the original clip"
)


def refuse_deidentified(src: Path) -> None:
    """BadInputError for a clip that carries a UU-Net manifest box: de-identifying a public clip
    again would hide nothing more and sign a manifest of surrogates, which cannot be reversed."""
    try:
        read_box(Path(src))
    except BadInputError:  # no manifest (or an empty file, which the probe reports)
        return
    except TamperedError:  # a damaged manifest box is still a manifest box
        pass
    raise BadInputError(ALREADY_DEIDENTIFIED)


def probe_clip(src: Path, limits: Limits) -> ClipInfo:
    """BadInputError if ``src`` is not a readable video or is already de-identified,
    LimitExceededError if over ``limits``."""
    info = probe(Path(src), limits)
    refuse_deidentified(Path(src))
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
