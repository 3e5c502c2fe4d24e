"""``uunet audit verify --file``: OK with the count, or the first bad entry named and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.audit.chain import AuditRecord, next_entry, to_json
from shared.ports import AuditEntry
from uunet_cli.main import main as uunet


def _export(path: Path, n: int = 4) -> list[str]:
    entries: list[AuditEntry] = []
    for i in range(n):
        record = AuditRecord("officer", "CASE-1", "", "", "accepted", f"job {i}")
        entries.append(next_entry(entries[-1] if entries else None, record, 10.0 + i))
    lines = [to_json(e) for e in entries]
    path.write_text("\n".join(lines) + "\n")
    return lines


def test_verify_file_prints_ok_with_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _export(tmp_path / "a.jsonl")
    assert uunet(["audit", "verify", "--file", str(tmp_path / "a.jsonl")]) == 0
    assert capsys.readouterr().out.strip() == "OK: 4 entries, chain intact"


def test_verify_file_names_the_edited_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _export(tmp_path / "a.jsonl")
    lines[2] = json.dumps(json.loads(lines[2]) | {"outcome": "refused:forbidden"})
    (tmp_path / "a.jsonl").write_text("\n".join(lines))
    assert uunet(["audit", "verify", "--file", str(tmp_path / "a.jsonl")]) == 1
    out = capsys.readouterr().out
    assert "first bad entry at index 2 (seq 2)" in out and "edited" in out


def test_verify_file_names_an_unreadable_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _export(tmp_path / "a.jsonl")
    lines[1] = "{not json"
    (tmp_path / "a.jsonl").write_text("\n".join(lines))
    assert uunet(["audit", "verify", "--file", str(tmp_path / "a.jsonl")]) == 1
    assert "index 1: unreadable" in capsys.readouterr().out


def test_missing_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert uunet(["audit", "verify", "--file", str(tmp_path / "nope.jsonl")]) == 2
    assert capsys.readouterr().err.startswith("uunet audit: error: cannot read")


def test_expect_head_catches_a_log_rewritten_from_scratch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _export(tmp_path / "a.jsonl")
    last = json.loads(lines[-1])
    head = f"4:{last['entry_hash']}"
    path = str(tmp_path / "a.jsonl")
    assert uunet(["audit", "verify", "--file", path, "--expect-head", head]) == 0
    _export(tmp_path / "a.jsonl", n=3)  # a consistent chain, one entry shorter
    capsys.readouterr()
    assert uunet(["audit", "verify", "--file", path, "--expect-head", head]) == 1
    assert "removed from the end" in capsys.readouterr().out
    assert uunet(["audit", "verify", "--file", path, "--expect-head", "nonsense"]) == 2
