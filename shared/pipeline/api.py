"""Pipeline entry points the CLI and the services call (the pipeline/services contract).

All functions are synchronous and CPU/GPU bound: services call them in a worker thread or process.
They raise only ``UUNetError`` subclasses for bad input, never a raw av/numpy error; ``progress``
gets a fraction in 0..1. The contract types live in ``shared.pipeline.types`` (which the stage
modules import, so nothing imports this module back); the stages themselves are imported inside
each entry point so that API processes, which need only the types, never load torch or FFmpeg.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.crypto.keys import PrivateSideKeys, PublicSideKeys
from shared.pipeline.manifest import Manifest
from shared.pipeline.types import (
    MODES,
    ClipInfo,
    DeidOptions,
    DeidReport,
    FaceModel,
    FacePainter,
    Limits,
    Progress,
    ReidKeys,
    ReidOptions,
    ReidPlan,
    ReidReport,
)

__all__ = [
    "MODES",
    "ClipInfo",
    "DeidOptions",
    "DeidReport",
    "FaceModel",
    "FacePainter",
    "Limits",
    "Progress",
    "ReidKeys",
    "ReidOptions",
    "ReidPlan",
    "ReidReport",
    "check_reidentify",
    "deidentify_clip",
    "probe_clip",
    "reidentify_clip",
    "verify_clip",
]


def probe_clip(src: Path, limits: Limits) -> ClipInfo:
    """Fast validation: BadInputError if not a readable video, LimitExceededError if too big."""
    from shared.pipeline.errors import guarded
    from shared.pipeline.probe import probe_clip as _probe

    return guarded("probe")(_probe)(Path(src), limits)


def deidentify_clip(
    src: Path,
    dst: Path,
    keys: PublicSideKeys,
    engine: FaceModel,
    options: DeidOptions,
    progress: Progress | None = None,
) -> DeidReport:
    """Replace every face of ``src``, sign (and optionally seal), write the MP4 to ``dst``."""
    from shared.pipeline.deid import run_deid

    return run_deid(Path(src), Path(dst), keys, engine, options, progress)


def verify_clip(src: Path, verify_key: Ed25519PublicKey, key_id: str | None = None) -> Manifest:
    """Check the embedded signature; TamperedError on mismatch, BadInputError if no manifest.

    With ``key_id`` (the loaded key set's id) a clip made with another key set is a WrongKeyError.
    """
    from shared.pipeline.container import read_verified
    from shared.pipeline.errors import guarded

    return guarded("verification")(read_verified)(Path(src), verify_key, key_id).manifest


def check_reidentify(src: Path, keys: ReidKeys, options: ReidOptions) -> ReidPlan:
    """Everything ``reidentify_clip`` would refuse, refused now and cheaply (nothing is written).

    Verifies the signature and key set, then the mode, tracks, seal kind and authority key against
    the manifest: TamperedError, WrongKeyError, BadInputError or ConfigError with one line. A clip
    with no manifest at all (re-encoded) plans an unverified restoration from its identity payload.
    """
    from shared.pipeline.container import find_box, verify_box
    from shared.pipeline.errors import guarded
    from shared.pipeline.plan import plan_for, plan_unverified
    from shared.video.decode import probe

    def check() -> ReidPlan:
        emb = find_box(Path(src))
        if emb is None:  # re-encoded: the identity payload in the pixels, unverified
            plan = plan_unverified(options)
            probe(Path(src), options.limits)  # refuse what is not a video before any work
            return plan
        manifest = verify_box(emb, keys.verify_key, keys.key_id).manifest
        return plan_for(manifest, keys, options)

    return guarded("verification")(check)()


def reidentify_clip(
    src: Path,
    dst: Path,
    keys: PrivateSideKeys,
    engine: FaceModel | None,
    options: ReidOptions,
    progress: Progress | None = None,
) -> ReidReport:
    """Verify ``src`` first (TamperedError), then restore faces per ``options`` into ``dst``.

    ``engine`` may be None unless the clip needs the crop model (sealed restoration and the
    identity payload need no model). A clip with no manifest is restored from its identity payload
    and reported ``integrity="unverified"``.
    """
    from shared.pipeline.reid import run_reid

    return run_reid(Path(src), Path(dst), keys, engine, options, progress)
