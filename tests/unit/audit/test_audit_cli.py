"""``uunet audit verify --file``: OK with the count, or the first bad entry named and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.audit.chain import AuditRecord, next_entry, to_json
from shared.ports import AuditEntry
from uunet_cli.main import main as uunet

KEY = "0123456789abcdef" * 4


def _export(path: Path, n: int = 4) -> list[str]:
    entries: list[AuditEntry] = []
    for i in range(n):
        record = AuditRecord("officer", "CASE-1", "", "", "accepted", f"job {i}")
        entries.append(next_entry(entries[-1] if entries else None, record, 10.0 + i, KEY.encode()))
    lines = [to_json(e) for e in entries]
    path.write_text("\n".join(lines) + "\n")
    (path.parent / "audit.key").write_text(KEY + "\n")
    return lines


def _verify(path: Path, *extra: str) -> int:
    return uunet(
        [
            "audit",
            "verify",
            "--file",
            str(path),
            "--key-file",
            str(path.parent / "audit.key"),
            *extra,
        ]
    )


def test_verify_file_prints_ok_with_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _export(tmp_path / "a.jsonl")
    assert _verify(tmp_path / "a.jsonl") == 0
    assert (
        capsys.readouterr().out.strip() == "OK: 4 entries, chain and MACs intact, 0 anchors match"
    )


def test_verify_file_names_the_edited_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _export(tmp_path / "a.jsonl")
    lines[2] = json.dumps(json.loads(lines[2]) | {"outcome": "refused:forbidden"})
    (tmp_path / "a.jsonl").write_text("\n".join(lines))
    assert _verify(tmp_path / "a.jsonl") == 1
    out = capsys.readouterr().out
    assert "first bad entry at index 2 (seq 2)" in out and "edited" in out


def test_verify_file_names_an_unreadable_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _export(tmp_path / "a.jsonl")
    lines[1] = "{not json"
    (tmp_path / "a.jsonl").write_text("\n".join(lines))
    assert _verify(tmp_path / "a.jsonl") == 1
    assert "index 1: unreadable" in capsys.readouterr().out


def test_missing_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _export(tmp_path / "a.jsonl")
    assert _verify(tmp_path / "nope.jsonl") == 2
    assert capsys.readouterr().err.startswith("uunet audit: error: cannot read")


def test_expect_head_catches_a_log_rewritten_from_scratch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _export(tmp_path / "a.jsonl")
    last = json.loads(lines[-1])
    head = f"4:{last['entry_hash']}"
    path = tmp_path / "a.jsonl"
    assert _verify(path, "--expect-head", head) == 0
    _export(tmp_path / "a.jsonl", n=3)  # a consistent chain, one entry shorter
    capsys.readouterr()
    assert _verify(path, "--expect-head", head) == 1
    assert "removed from the end" in capsys.readouterr().out
    assert _verify(path, "--expect-head", "nonsense") == 2


def test_verify_needs_the_audit_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _export(tmp_path / "a.jsonl")
    assert uunet(["audit", "verify", "--file", str(tmp_path / "a.jsonl")]) == 2
    assert "--key-file is required" in capsys.readouterr().err
    (tmp_path / "audit.key").write_text("short")
    assert _verify(tmp_path / "a.jsonl") == 2
    assert "at least 32 bytes" in capsys.readouterr().err
