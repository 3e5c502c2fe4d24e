"""``uunet model-info`` prints one JSON line with parameter counts and the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uunet_cli.main import main


def test_model_info_prints_counts_for_a_product_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model-info", "--config", "product", "--width", "0.0625"]) == 0
    info = json.loads(capsys.readouterr().out.strip())
    assert info["generator_trainable_params"] == info["public_params"] + info["private_params"]
    assert info["config"]["keyed"] is True and info["model_id"] == "uunet-product-w0.0625"
    assert info["recogniser_params"] == 363_793


def test_model_info_on_a_missing_checkpoint_exits_with_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["model-info", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("uunet model-info: error:") and "not found" in err and "\n" not in err
