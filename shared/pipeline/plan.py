"""What a restoration request will do, checked against the clip's manifest before any work.

Light on purpose (no torch, no FFmpeg): the private API checks every submission with these rules
(``shared.pipeline.api.check_reidentify``) and refuses with one line what the worker could not
serve; the worker applies them again (``shared.pipeline.reid``).
"""

from __future__ import annotations

from shared.domain.errors import BadInputError, ConfigError, WrongKeyError
from shared.pipeline.manifest import Manifest
from shared.pipeline.types import MODES, ReidKeys, ReidOptions, ReidPlan


def _check_authority(manifest: Manifest, keys: ReidKeys) -> None:
    """The seal must be for this side's authority key (ConfigError without one)."""
    if keys.authority_key_id is None:
        raise ConfigError("sealed restoration needs authority_x25519.pem in the key set")
    if manifest.authority_key_id != keys.authority_key_id:
        raise WrongKeyError(
            f"the seal was made for authority key {manifest.authority_key_id}, "
            f"not this key set's {keys.authority_key_id}"
        )


def resolve_mode(mode: str, manifest: Manifest, keys: ReidKeys) -> str:
    """The mode actually used ("learned" or "sealed"), or a one-line reason why not."""
    if mode not in MODES:
        raise BadInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "auto":
        mine = keys.authority_key_id is not None
        ours = mine and manifest.authority_key_id == keys.authority_key_id
        return "sealed" if manifest.seals_regions and ours else "learned"
    if mode == "sealed":
        if manifest.seal == "original":
            raise BadInputError(
                "this clip seals the original file, not the face regions; use --original"
            )
        if not manifest.seals_regions:
            raise BadInputError("this clip carries no sealed originals; use --mode learned")
        _check_authority(manifest, keys)
    return mode


def _check_original(manifest: Manifest, keys: ReidKeys, options: ReidOptions) -> None:
    if not manifest.seals_original:
        raise BadInputError(
            f"this clip carries no sealed original file (seal: {manifest.seal}); "
            "it must be de-identified with --seal original or both"
        )
    if options.mode == "learned":
        raise BadInputError("--original returns the sealed file; it cannot use --mode learned")
    if options.tracks is not None:
        raise BadInputError("--tracks selects faces to restore; --original returns the whole file")
    if options.lossless:
        raise BadInputError("--lossless applies to a restored video; --original is the file as is")
    _check_authority(manifest, keys)


def plan_restore(
    manifest: Manifest, keys: ReidKeys, options: ReidOptions
) -> tuple[str, frozenset[int]]:
    """(mode, tracks) for ``options``: "learned", "sealed" or "original"; one-line refusals."""
    if options.original:
        _check_original(manifest, keys, options)
        return "original", select_tracks(manifest, None)
    return resolve_mode(options.mode, manifest, keys), select_tracks(manifest, options.tracks)


def plan_for(manifest: Manifest, keys: ReidKeys, options: ReidOptions) -> ReidPlan:
    """The checked plan for a verified clip: mode, tracks, and whether learned restoration reads
    the identity payload in the pixels (clips whose tracks carry one) or runs the crop model."""
    mode, tracks = plan_restore(manifest, keys, options)
    return ReidPlan(
        manifest, mode, tracks, payload=mode == "learned" and bool(manifest.payload_tracks)
    )


def plan_unverified(options: ReidOptions) -> ReidPlan:
    """The plan for a clip without a manifest (a re-encoded copy): only the identity payload in
    its pixels can restore it; sealed originals went with the manifest box."""
    if options.mode not in MODES:
        raise BadInputError(f"mode must be one of {', '.join(MODES)}, got {options.mode!r}")
    if options.original or options.mode == "sealed":
        raise BadInputError(
            "this clip has no manifest (re-encoded or stripped), so it carries no sealed "
            "originals; --mode learned restores from the identity payload in its pixels"
        )
    return ReidPlan(None, "learned", frozenset(), payload=True)


def select_tracks(manifest: Manifest, wanted: frozenset[int] | None) -> frozenset[int]:
    """The track ids to restore; BadInputError for an id the clip does not have."""
    present = frozenset(t.track_id for t in manifest.tracks)
    if wanted is None:
        return present
    unknown = sorted(wanted - present)
    if unknown:
        have = ", ".join(str(t) for t in sorted(present)) or "none"
        raise BadInputError(f"no track {unknown[0]} in this clip (tracks: {have})")
    return frozenset(wanted)
