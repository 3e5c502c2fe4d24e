"""Every ``--help`` of ``uunet``: a description line, each default stated once, and ``deid --help``
says which attributes the model it would load controls, read from that checkpoint."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from shared.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, save_checkpoint
from shared.model.config import ModelConfig
from shared.model.inference import UUNetEngine
from uunet_cli.main import build_parser, main


def every_parser(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parser and all its sub-command parsers, depth first."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += every_parser(child)
    return found


PARSERS = every_parser(build_parser())


@pytest.mark.parametrize("parser", PARSERS, ids=[p.prog for p in PARSERS])
def test_each_command_has_a_description_and_states_each_default_once(
    parser: argparse.ArgumentParser,
) -> None:
    assert parser.description and parser.description.strip(), f"{parser.prog}: no description"
    text = parser.format_help()
    assert "(default: None)" not in text and "(default: )" not in text
    assert "(default: False)" not in text and "(default: [])" not in text
    # One entry per option: from its first line ("  --name ...") up to the next option's.
    entries = re.split(r"\n  (?=-)", text)
    doubled = [e.split()[0] for e in entries if len(re.findall(r"\(default\b", e)) > 1]
    assert doubled == [], f"{parser.prog}: options stating two defaults: {doubled}"


def test_help_still_states_real_defaults() -> None:
    text = next(p for p in PARSERS if p.prog == "uunet deid").format_help()
    assert "(default: 10)" in text and "(default: yunet)" in text


def _deid_help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        main(["deid", *argv, "--help"])
    assert stop.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # unwrapped


def test_deid_help_says_what_the_shipped_model_controls(capsys: pytest.CaptureFixture[str]) -> None:
    config = load_checkpoint(DEFAULT_CHECKPOINT).config
    text = _deid_help(capsys)
    assert config.model_id in text
    if config.policy():
        pairs = ",".join(f"{n}={v}" for n, v in sorted(config.policy().items()))
        assert f"accepts {pairs}" in text
    else:
        assert "controls none" in text
    assert "gender=keep,beard=change" not in text  # the old example the shipped weights refuse


def test_deid_help_reads_the_checkpoint_given_before_help(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ModelConfig(width=0.0625, model_id="tiny-beard", attribute_policy=(("beard", "keep"),))
    path = save_checkpoint(tmp_path / "tiny.pt", UUNetEngine.from_config(config).generator, config)
    text = _deid_help(capsys, "--checkpoint", str(path))
    assert "the model tiny-beard (tiny.pt) accepts beard=keep" in text
    UUNetEngine.load(path).check_attributes({"beard": "keep"})  # what the help offers works


def test_deid_help_names_an_unreadable_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _deid_help(capsys, "--checkpoint", str(tmp_path / "none.pt"))
    assert "cannot read" in text and "none.pt to say which" in text
