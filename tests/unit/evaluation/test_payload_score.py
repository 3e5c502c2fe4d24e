"""Scoring of ``uunet eval --sets payload``: bit error rates against a real Reed-Solomon codeword,
the mapping of judged faces into cut and rescaled clips, pooling, targets, the table, the skip line
and ``--merge``. No media, model or codec: the measurements themselves run on real clips only."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from shared.evaluation import payload as payload_eval
from shared.evaluation.evaluate import meets
from shared.evaluation.payload_media import ClipSpec, case_transcode
from shared.evaluation.payload_score import (
    PAYLOAD_TARGETS,
    CaseResult,
    ClipPayload,
    Judged,
    crop,
    map_box,
    message_errors,
    raw_ber,
    summarise_payload,
)
from shared.payload import ecc
from shared.payload.evidence import Evidence, gather
from shared.payload.extract import SoftBits
from uunet_cli.commands.eval import merged
from uunet_cli.eval_payload import payload_table, run_payload

LAYOUT = ecc.plan(40, 1.0)


def _codeword(seed: int = 0) -> np.ndarray:
    message = np.random.default_rng(seed).integers(0, 256, LAYOUT.message_bytes, np.uint8)
    return ecc.encode(message.tobytes(), LAYOUT)


def _soft(bits: np.ndarray, evidence: Evidence | None = None) -> SoftBits:
    llr = np.where(bits > 0, 1.0, -1.0)
    return SoftBits(llr, np.ones(bits.size, np.int64), 8, 0, 0.4, evidence)


def test_message_errors_are_zero_when_reed_solomon_corrects_the_flips() -> None:
    truth = _codeword()
    received = truth.copy()
    received[[3, 200, 401]] ^= 1
    post, combined = message_errors(_soft(received), truth, LAYOUT)
    assert post == 0.0
    assert combined == pytest.approx(3 / truth.size)


def test_message_errors_count_the_hard_bits_when_correction_fails() -> None:
    truth = _codeword(1)
    received = np.random.default_rng(2).integers(0, 2, truth.size).astype(np.uint8)
    post, combined = message_errors(_soft(received), truth, LAYOUT)
    assert 0.3 < post < 0.7 and 0.3 < combined < 0.7  # coin flips, not corrected


def test_raw_ber_weights_each_observation_by_its_reliability() -> None:
    truth = np.array([1, 0], np.uint8)
    # bit 0 seen right twice in a clean cell; bit 1 seen wrong once in a noisy one
    soft = np.array([0.5, 0.4, 0.3])
    ev = gather(soft, np.array([0.6, 0.6, 0.05]), np.array([0, 0, 1]), np.array([0, 0, 1]),
                np.array([0, 1, 2]), np.zeros(3))  # fmt: skip
    ber = raw_ber(_soft(truth, ev), truth)
    assert 0.0 < ber < 1 / 3  # one wrong of three, but the wrong one weighs less
    with pytest.raises(ValueError):
        raw_ber(_soft(truth), truth)


def test_a_face_maps_into_a_cut_and_half_size_clip() -> None:
    assert map_box((10, 20, 50, 60), 0, 1.0, 7) == (7, (10, 20, 50, 60))
    assert map_box((10, 20, 50, 60), 5, 0.5, 7) == (2, (5.0, 10.0, 25.0, 30.0))
    assert map_box((10, 20, 50, 60), 8, 1.0, 7) is None  # cut away
    cut = case_transcode("cut", 90)
    assert cut is not None and cut.start == 30 and case_transcode("own", 90) is None


def test_crop_clips_to_the_frame_and_refuses_slivers() -> None:
    frame = np.zeros((40, 60, 3), np.uint8)
    got = crop(frame, (-5, 30, 20, 50))
    assert got is not None and got.shape == (10, 20, 3)
    assert crop(frame, (55, 0, 70, 20)) is None  # 5 px wide inside the frame


def _clip(name: str, matched: int, refused: int, ber: float) -> ClipPayload:
    clip = ClipPayload(name, 100, 2, bytes_with=110, bytes_without=100, embed_ms_per_face=2.0,
                       faces_marked=100, opened=2, refused=refused, raw_ber=[0.1, 0.2],
                       post_ecc_ber=[0.0, ber], attacker=Judged(10, 0))  # fmt: skip
    for case in ("own", "re23", "re28", "half", "cut"):
        clip.cases[case] = CaseResult(restored=2, judged=Judged(10, matched))
    clip.cases["cut"] = CaseResult(error="no face could be restored", judged=Judged(5, 0))
    return clip


def test_pooled_figures_and_their_targets() -> None:
    out = summarise_payload([_clip("a", 9, 2, 0.0), _clip("b", 7, 2, 0.0)])
    assert out["match_own"] == pytest.approx(0.8) and out["restored_own"] == 1.0
    assert out["restored_cut"] == 0.0 and out["match_cut"] == 0.0 and out["judged_cut"] == 10
    assert out["wrong_key_refused"] == 1.0 and out["size_ratio"] == pytest.approx(1.1)
    assert out["raw_ber"] == pytest.approx(0.15) and out["post_ecc_ber"] == 0.0
    assert out["embed_ms_per_face"] == pytest.approx(2.0) and out["attacker_match"] == 0.0
    assert set(out["meets_target"]) == set(PAYLOAD_TARGETS)
    assert all(out["meets_target"].values())  # 0.8 >= 0.8: met at the boundary
    worse = summarise_payload([_clip("a", 5, 1, 0.01)])
    met = worse["meets_target"]
    assert not met["match_own"] and not met["wrong_key_refused"] and not met["post_ecc_ber"]


def test_nothing_opened_leaves_the_key_and_bit_figures_unmeasured() -> None:
    clip = _clip("a", 0, 0, 0.0)
    clip.opened, clip.post_ecc_ber, clip.raw_ber = 0, [], []
    out = summarise_payload([clip])
    assert out["wrong_key_refused"] is None and out["post_ecc_ber"] is None
    assert out["meets_target"]["wrong_key_refused"] is None


def test_meets_reads_every_operator() -> None:
    targets = {"a": (">=", 1.0), "b": ("<=", 1.2), "c": ("<", 0.6)}
    assert meets("a", 1.0, targets) and meets("b", 1.2, targets) and not meets("c", 0.6, targets)
    assert meets("x", 1.0, targets) is None and meets("a", None, targets) is None


def test_the_table_says_met_and_missed_and_why_a_case_failed() -> None:
    clip = _clip("wolfgang", 9, 2, 0.0)
    clip.attacker_output = "refused, nothing written; judged: the public clip"
    figures = {"clips": {"wolfgang": {**summarise_payload([clip]), "errors": {"cut": "no face"},
                                      "attacker_output": clip.attacker_output}},
               "all": summarise_payload([clip]), "missing": ["carphone"],
               "targets": {k: {"op": op, "value": v} for k, (op, v) in PAYLOAD_TARGETS.items()}}  # fmt: skip
    text = payload_table(figures)
    assert "MISSED" not in text.split("judge match (no target)")[0]
    assert "wolfgang cut: no face" in text and "not cached (make eval-data): carphone" in text
    assert "wolfgang: refused, nothing written" in text


def test_the_set_skips_in_one_line_without_the_eval_media(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    absent = {n: ClipSpec(n, lambda: None) for n in payload_eval.PAYLOAD_CLIPS}
    monkeypatch.setattr(payload_eval, "CLIPS", absent)
    report: dict[str, object] = {}
    run_payload(None, argparse.Namespace(payload_frames=10, payload_every=1), report)
    out = capsys.readouterr().out.strip().splitlines()
    assert report == {} and len(out) == 1 and out[0].startswith("payload: skipped: ")


def test_merge_keeps_the_sets_not_run(tmp_path: Path) -> None:
    path = tmp_path / "eval-report.json"
    assert merged(path, {"sets": {}, "payload": 1}) == {"sets": {}, "payload": 1}
    path.write_text(json.dumps({"sets": {"real": 1}, "clips": 2, "payload": 0, "model_id": "m"}))
    got = merged(path, {"sets": {}, "payload": 3, "model_id": "m"})
    assert got == {"sets": {"real": 1}, "clips": 2, "payload": 3, "model_id": "m"}
