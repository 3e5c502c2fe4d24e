"""API keys (hashed, reloaded on change), the apikey CLI, and the settings' secret rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.public_deid.auth import ApiKeys, hash_key
from services.public_deid.settings import PublicSettings
from shared.domain.errors import AuthError, ConfigError
from uunet_cli.main import main as uunet


def test_apikey_create_prints_the_key_once_and_stores_only_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_file = tmp_path / "keys.json"
    assert uunet(["apikey", "create", "--file", str(keys_file), "--name", "vendor1"]) == 0
    key = capsys.readouterr().out.strip()
    stored = json.loads(keys_file.read_text())
    assert stored == {"vendor1": hash_key(key)} and key not in keys_file.read_text()
    assert keys_file.stat().st_mode & 0o777 == 0o600
    assert ApiKeys(keys_file).authenticate(key).key_id == "vendor1"
    assert uunet(["apikey", "create", "--file", str(keys_file), "--name", "vendor1"]) == 2
    assert "exists" in capsys.readouterr().err


def test_new_keys_work_without_restart_and_revoked_keys_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_file = tmp_path / "keys.json"
    keys_file.write_text("{}")
    keys = ApiKeys(keys_file)
    uunet(["apikey", "create", "--file", str(keys_file), "--name", "v2"])
    key = capsys.readouterr().out.strip()
    assert keys.authenticate(key).key_id == "v2"
    assert uunet(["apikey", "revoke", "--file", str(keys_file), "--name", "v2"]) == 0
    with pytest.raises(AuthError, match="invalid API key"):
        keys.authenticate(key)


def test_missing_key_and_broken_keys_file_give_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="missing API key"):
        ApiKeys(None).authenticate(None)
    broken = tmp_path / "bad.json"
    broken.write_text('{"v": "not-a-hash"}')
    with pytest.raises(ConfigError, match="sha256 hex"):
        ApiKeys(broken)


def test_settings_refuse_missing_secrets_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UUNET_PUBLIC_DEV", raising=False)
    with pytest.raises(ValidationError, match="UUNET_PUBLIC_REDIS_URL"):
        PublicSettings()
    dev = PublicSettings(dev=True)
    assert dev.secret("s3_secret_key") == "uunet-dev-secret"
    assert dev.stream == "uunet:deid:jobs" and dev.group == "deid-workers"
    assert (dev.http_port, dev.grpc_port, dev.metrics_port) == (8080, 50051, 9100)


def test_settings_read_secrets_from_env_and_files_and_never_print_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "s3_secret"
    secret_file.write_text("file-secret\n")
    monkeypatch.setenv("UUNET_PUBLIC_REDIS_URL", "redis://h:1/0")
    monkeypatch.setenv("UUNET_PUBLIC_S3_ACCESS_KEY", "ak")
    monkeypatch.setenv("UUNET_PUBLIC_S3_SECRET_KEY_FILE", str(secret_file))
    monkeypatch.setenv("UUNET_PUBLIC_MAX_UPLOAD_MB", "5")
    settings = PublicSettings()
    assert settings.secret("s3_secret_key") == "file-secret"
    assert settings.max_upload_bytes == 5 * 1024 * 1024
    assert "file-secret" not in repr(settings) and str(settings.s3_access_key) != "ak"
