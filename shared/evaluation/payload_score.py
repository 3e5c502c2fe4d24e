"""Scoring of the identity payload figures (issue 11): bit error rates against the true codeword,
judge-matched face samples, and per-clip counts pooled into the report ``uunet eval`` prints.

Everything here is arithmetic on what ``shared.evaluation.payload`` measured, so it is tested
without media, models or a codec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared.payload import ecc
from shared.payload.evidence import analytic_weight
from shared.payload.extract import SoftBits

Box = tuple[float, float, float, float]

# The restoration cases, in the order: the product's own public clip, a third party's
# re-encode at CRF 23 and 28, half size and back, and a cut (the clip starts mid-track).
CASE_NAMES = ("own", "re23", "re28", "half", "cut")

# Issue 11's targets ("aim" rows are "report; aim >= 0.5" in the issue; the cut has none).
PAYLOAD_TARGETS: dict[str, tuple[str, float]] = {
    "match_own": (">=", 0.8),
    "match_re23": (">=", 0.7),
    "match_re28": (">=", 0.5),
    "match_half": (">=", 0.5),
    "wrong_key_refused": (">=", 1.0),
    "size_ratio": ("<=", 1.2),
    "post_ecc_ber": ("<=", 1e-4),
    "attacker_match": ("<=", 0.05),
    "embed_ms_per_face": ("<=", 3.0),
}


@dataclass
class Judged:
    """Faces the judge compared with the original, and how many it matched."""

    faces: int = 0
    matched: int = 0

    def add(self, same: bool) -> None:
        """One more judged face."""
        self.faces += 1
        self.matched += int(same)

    @property
    def rate(self) -> float | None:
        """Match rate, None when nothing was judged."""
        return self.matched / self.faces if self.faces else None


@dataclass
class CaseResult:
    """One restoration case: payload tracks restored, the judged faces, or why it failed."""

    restored: int = 0
    judged: Judged = field(default_factory=Judged)
    error: str | None = None


@dataclass
class ClipPayload:
    """Everything measured on one clip."""

    name: str
    frames: int
    tracks: int  # tracks carrying a payload (the signed manifest's)
    bytes_with: int  # public clip with the payload
    bytes_without: int  # the same clip, same key and clip id, without it
    embed_ms_per_face: float
    faces_marked: int
    cases: dict[str, CaseResult] = field(default_factory=dict)
    opened: int = 0  # tracks the right key opens on the product's own public clip
    refused: int = 0  # of those, refused by authentication under a random wrong secret
    raw_ber: list[float] = field(default_factory=list)  # per track, after a CRF 23 re-encode
    post_ecc_ber: list[float] = field(default_factory=list)
    attacker: Judged = field(default_factory=Judged)
    attacker_output: str = ""


def raw_ber(soft: SoftBits, truth: np.ndarray) -> float:
    """Bit error rate of the single observations (cell x frame), weighted as the analytic reader
    weights them; needs a reader that kept its evidence."""
    if soft.evidence is None:
        raise ValueError("raw_ber needs a reader that keeps its evidence")
    ev = soft.evidence
    wrong = (ev.soft > 0) != truth[ev.bit]
    return float(np.average(wrong, weights=analytic_weight(ev.features)))


def message_errors(soft: SoftBits, truth: np.ndarray, layout: ecc.EccLayout) -> tuple[float, float]:
    """(message bit error rate after Reed-Solomon, codeword bit error rate before it) against the
    true codeword bits; a block that cannot be corrected counts with its hard decisions."""
    combined = float(np.mean((soft.llr > 0) != truth))
    got = ecc.decode(soft.llr, soft.hits, layout)
    n = layout.data_bytes + layout.parity_bytes
    hard = np.packbits((soft.llr > 0).astype(np.uint8)).reshape(n, layout.blocks).T
    want = np.packbits(truth.astype(np.uint8)).reshape(n, layout.blocks).T
    msg = got if got is not None else hard[:, : layout.chunk].tobytes()
    ref = want[:, : layout.chunk].tobytes()
    bad = np.unpackbits(np.frombuffer(msg, np.uint8) ^ np.frombuffer(ref[: len(msg)], np.uint8))
    return float(bad[: 8 * layout.message_bytes].mean()), combined


def map_box(box: Box, start: int, scale: float, index: int) -> tuple[int, Box] | None:
    """Where a face of public frame ``index`` lies in a received clip cut at ``start`` and scaled
    by ``scale``: (received frame, box), or None when the cut dropped that frame."""
    if index < start:
        return None
    return index - start, (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)


def crop(frame: np.ndarray, box: Box) -> np.ndarray | None:
    """The box's pixels (clipped to the frame), None when too small to judge."""
    h, w = frame.shape[:2]
    x0, y0 = max(0, round(box[0])), max(0, round(box[1]))
    x1, y1 = min(w, round(box[2])), min(h, round(box[3]))
    return frame[y0:y1, x0:x1] if x1 - x0 >= 8 and y1 - y0 >= 8 else None


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarise_payload(clips: list[ClipPayload]) -> dict[str, Any]:
    """The issue-11 figures over ``clips`` pooled (faces, tracks and bits counted together)."""
    out: dict[str, Any] = {"clips": len(clips), "tracks": sum(c.tracks for c in clips)}
    for case in CASE_NAMES:
        results = [c.cases[case] for c in clips if case in c.cases]
        judged = sum(r.judged.faces for r in results)
        out[f"restored_{case}"] = _rate(sum(r.restored for r in results),
                                        sum(c.tracks for c in clips if case in c.cases))  # fmt: skip
        out[f"match_{case}"] = _rate(sum(r.judged.matched for r in results), judged)
        out[f"judged_{case}"] = judged
    out["wrong_key_refused"] = _rate(sum(c.refused for c in clips), sum(c.opened for c in clips))
    out["size_ratio"] = _rate(sum(c.bytes_with for c in clips), sum(c.bytes_without for c in clips))
    out["raw_ber"] = _mean([b for c in clips for b in c.raw_ber])
    out["post_ecc_ber"] = _mean([b for c in clips for b in c.post_ecc_ber])
    out["ber_tracks"] = sum(len(c.post_ecc_ber) for c in clips)
    marked = sum(c.faces_marked for c in clips)
    out["embed_ms_per_face"] = (
        sum(c.embed_ms_per_face * c.faces_marked for c in clips) / marked if marked else None
    )
    out["attacker_match"] = _rate(sum(c.attacker.matched for c in clips),
                                  sum(c.attacker.faces for c in clips))  # fmt: skip
    out["meets_target"] = {k: meets_payload(k, out.get(k)) for k in PAYLOAD_TARGETS}
    return out


def meets_payload(name: str, value: float | None) -> bool | None:
    """Whether a payload figure meets its issue-11 target (None: no target or no value)."""
    from shared.evaluation.evaluate import meets

    return meets(name, value, PAYLOAD_TARGETS)


def clip_summary(clip: ClipPayload) -> dict[str, Any]:
    """One clip's figures (the pooled summary of that clip alone, plus what only it has)."""
    out = summarise_payload([clip])
    out |= {"frames": clip.frames, "attacker_output": clip.attacker_output}
    out["errors"] = {k: r.error for k, r in clip.cases.items() if r.error}
    return out
