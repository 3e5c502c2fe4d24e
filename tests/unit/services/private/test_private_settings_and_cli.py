"""Settings refuse to run without token settings outside dev; dev-token and weights CLIs work."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from pydantic import ValidationError

from services.private_reid.auth import DEV_AUDIENCE, DEV_ISSUER, AuthConfig, TokenVerifier
from services.private_reid.settings import PrivateSettings
from shared.domain.errors import BadInputError, ConfigError
from uunet_cli.main import main as uunet

PRODUCTION = {"redis_url": "redis://x", "s3_access_key": "a", "s3_secret_key": "b"}
TOKENS = {"jwt_issuer": "https://idp", "jwt_audience": "uunet-private"}


def test_production_settings_need_issuer_and_audience() -> None:
    with pytest.raises(ValidationError, match="JWT_ISSUER"):
        PrivateSettings(**PRODUCTION, audit_key="k" * 32)


def test_production_settings_need_the_audit_key_and_an_anchor_bucket() -> None:
    with pytest.raises(ValidationError, match="UUNET_PRIVATE_AUDIT_KEY"):
        PrivateSettings(**PRODUCTION, **TOKENS)
    with pytest.raises(ValidationError, match="AUDIT_ANCHOR_BUCKET is required"):
        PrivateSettings(**PRODUCTION, **TOKENS, audit_key="k" * 32, audit_anchor_bucket="")
    settings = PrivateSettings(**PRODUCTION, **TOKENS, audit_key="k" * 32)
    assert settings.audit_anchor_bucket  # anchoring is on unless dev turns it off


def test_dev_settings_default_the_dev_issuer_and_stream_names() -> None:
    settings = PrivateSettings(dev=True)
    assert settings.jwt_issuer == DEV_ISSUER and settings.jwt_audience == DEV_AUDIENCE
    assert (settings.stream, settings.group) == ("uunet:reid:jobs", "reid-workers")
    assert (settings.http_port, settings.grpc_port, settings.metrics_port) == (8081, 50052, 9101)


def _write_issuer(state: Path, key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    state.mkdir(exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (state / "dev-issuer.pem").write_bytes(pem)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_dev_token_verifies_against_the_dev_issuer_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    public_pem = _write_issuer(tmp_path, key)
    assert (
        uunet(["dev-token", "--state-dir", str(tmp_path), "--case", "CASE-7", "--ttl", "60"]) == 0
    )
    token = capsys.readouterr().out.strip()
    verifier = TokenVerifier(AuthConfig(DEV_ISSUER, DEV_AUDIENCE, public_key_pem=public_pem))
    principal = verifier.authenticate(f"Bearer {token}")
    assert principal.subject == "dev-officer" and principal.cases == {"CASE-7"}
    assert "reconstruct" in principal.scopes


def test_dev_token_without_issuer_key_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert uunet(["dev-token", "--state-dir", str(tmp_path), "--case", "C"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("uunet dev-token: error: cannot read dev issuer key")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--case", " "], "--case must name a case"),
        (["--case", "C", "--scope", "reconstruct:any"], "never grants"),
        (["--case", "C", "--ttl", "999999"], "--ttl must be"),
    ],
)
def test_dev_token_never_grants_every_case_or_a_long_life(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], reason: str
) -> None:
    _write_issuer(tmp_path, ed25519.Ed25519PrivateKey.generate())
    assert uunet(["dev-token", "--state-dir", str(tmp_path), *extra]) == 2
    assert reason in capsys.readouterr().err


def test_weights_encrypt_cli_writes_a_private_module_only_that_key_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.crypto.weights import decrypt_file, load_key_file
    from shared.model.checkpoint import part_from_bytes, save_checkpoint
    from shared.model.config import ModelConfig
    from shared.model.inference import UUNetEngine

    config = ModelConfig.product(width=0.0625)
    ckpt = save_checkpoint(tmp_path / "c.pt", UUNetEngine.from_config(config).generator, config)
    key, out = tmp_path / "w.key", tmp_path / "private.enc"
    argv = ["weights", "encrypt", "--checkpoint", str(ckpt), "--key-file", str(key)]
    assert uunet([*argv, "--new-key", "-o", str(out)]) == 0
    assert "key id" in capsys.readouterr().out
    assert out.stat().st_mode & 0o777 == 0o600
    _config, part, state, _meta = part_from_bytes(decrypt_file(out, load_key_file(key)))
    assert part == "private" and state
    assert uunet(["weights", "keygen", "-o", str(key)]) == 2  # refuses to overwrite


def test_private_api_checks_clips_without_the_noise_secret(tmp_path: Path) -> None:
    """The API checks clips with the verify key and keyset.json's ids; the noise secret and the
    authority key stay with the worker."""
    import shutil

    from services.private_reid import bootstrap
    from shared.crypto.keys import INFO_FILE, VERIFY_FILE, init_keyset
    from shared.pipeline.api import ReidOptions

    init_keyset(tmp_path / "full")
    api_keys = tmp_path / "api"
    api_keys.mkdir()
    for name in (VERIFY_FILE, INFO_FILE):
        shutil.copy(tmp_path / "full" / name, api_keys / name)
    settings = PrivateSettings(dev=True, keys_dir=api_keys)
    verify = bootstrap.clip_verifier(settings)
    with pytest.raises(BadInputError):
        verify(tmp_path / "full" / VERIFY_FILE, ReidOptions())  # not a clip: the real check says so
    (api_keys / INFO_FILE).unlink()
    with pytest.raises(ConfigError, match=r"keyset\.json"):
        bootstrap.clip_verifier(settings)
