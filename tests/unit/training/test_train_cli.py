"""``uunet train`` / ``uunet eval`` argument handling that needs no training."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.domain.errors import BadInputError
from uunet_cli.commands.eval import table
from uunet_cli.commands.train import _overrides
from uunet_cli.main import main


def test_set_overrides_are_typed_by_the_train_config_field() -> None:
    out = _overrides(["w_rec=50", "critic_steps=3", "codec=false", "con_div_mode=resolved"])
    assert out == {"w_rec": 50.0, "critic_steps": 3, "codec": False, "con_div_mode": "resolved"}


@pytest.mark.parametrize("item", ["nonsense", "no_such_field=1", "critic_steps=many"])
def test_bad_set_overrides_are_rejected_with_a_reason(item: str) -> None:
    with pytest.raises(BadInputError):
        _overrides([item])


def test_phase2_without_recognisers_or_resume_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "phase2", "--out-dir", str(tmp_path / "run")])
    assert code == 2
    assert "uunet train: error: --recognisers is required" in capsys.readouterr().err


def test_eval_table_prints_every_set_and_na_for_missing_figures() -> None:
    report = {
        "targets": {"deid_rate": {"op": ">=", "value": 0.95}},
        "sets": {"real": {"faces": 3, "deid_rate": 1.0}, "synthetic_held_out": {"faces": 2}},
    }
    text = table(report)
    assert "real" in text and "synthetic_held_out" in text and ">= 0.95" in text
    assert "n/a" in text and "1.000" in text
