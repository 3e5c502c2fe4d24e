"""The payload set of ``uunet eval`` (issue 11's figures): run it, or say in one line why not, and
print its table."""

from __future__ import annotations

import argparse
from typing import Any

ROWS = (
    ("tracks", "tracks carrying a payload"),
    ("restored_own", "restored: product's own public clip (share of tracks)"),
    ("match_own", "  judge match restored vs original"),
    ("restored_re23", "restored: third-party re-encode CRF 23"),
    ("match_re23", "  judge match"),
    ("restored_re28", "restored: re-encode CRF 28"),
    ("match_re28", "  judge match (aim)"),
    ("restored_half", "restored: half size and back"),
    ("match_half", "  judge match (aim)"),
    ("restored_cut", "restored: cut (starts a third in, mid-track)"),
    ("match_cut", "  judge match (no target)"),
    ("wrong_key_refused", "wrong key: tracks refused by authentication"),
    ("size_ratio", "public clip size, with / without the payload"),
    ("raw_ber", "bit error rate after CRF 23, raw (before correction)"),
    ("post_ecc_ber", "  message bit error rate after correction"),
    ("embed_ms_per_face", "embedding ms per face per frame (CPU)"),
    ("attacker_match", "attacker without key: judge match of best output"),
)


def run_payload(engine: Any, args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Add the payload figures to ``report``; one line and nothing else when no clip is cached."""
    from shared.evaluation.evaluate import EVAL_KEY
    from shared.evaluation.payload import PayloadEvalOptions, evaluate_payload

    options = PayloadEvalOptions(frames=args.payload_frames, every=args.payload_every)
    figures = evaluate_payload(engine, EVAL_KEY, options)
    if figures is None:
        print(f"payload: skipped: none of {', '.join(options.clips)} is cached (make eval-data)")
        return
    report["payload"] = figures


def payload_table(figures: dict[str, Any]) -> str:
    """One column per clip and one for all clips pooled, then the target and met / missed."""
    from uunet_cli.commands.eval import figure_table

    cols = {**figures["clips"], "ALL": figures["all"]}
    lines = figure_table("identity payload (issue 11)", cols, ROWS, figures["targets"], (54, 13),
                         figures["all"]["meets_target"])  # fmt: skip
    notes = [f"{name}: {v['attacker_output']}" for name, v in figures["clips"].items()]
    notes += [f"{name} {case}: {err}" for name, v in figures["clips"].items()
              for case, err in v.get("errors", {}).items()]  # fmt: skip
    if figures.get("missing"):
        notes.append(f"not cached (make eval-data): {', '.join(figures['missing'])}")
    return "\n".join(lines + notes)
