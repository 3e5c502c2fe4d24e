"""Key set files: permissions, refusal to overwrite, both sides agreeing on the key id."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shared.crypto import keys
from shared.crypto.keys import PrivateSideKeys, PublicSideKeys, init_keyset
from shared.domain.errors import ConfigError


def test_init_writes_owner_only_files_and_directory(tmp_path: Path) -> None:
    info = init_keyset(tmp_path / "ks")
    assert stat.S_IMODE(os.stat(info.path).st_mode) == 0o700
    names = sorted(p.name for p in info.path.iterdir())
    assert names == sorted(keys.ALL_FILES)
    for path in info.path.iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path.name


def test_init_refuses_to_overwrite_an_existing_set(tmp_path: Path) -> None:
    init_keyset(tmp_path / "ks")
    before = (tmp_path / "ks" / keys.SECRET_FILE).read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        init_keyset(tmp_path / "ks")
    assert (tmp_path / "ks" / keys.SECRET_FILE).read_bytes() == before


def test_both_sides_load_with_the_same_key_id(tmp_path: Path) -> None:
    info = init_keyset(tmp_path / "ks")
    public, private = PublicSideKeys.load(info.path), PrivateSideKeys.load(info.path)
    assert public.key_id == private.key_id == info.key_id
    assert public.secret == private.secret and len(public.secret) == 32
    assert public.authority_key_id == private.authority_key_id == info.authority_key_id


def test_repr_never_shows_the_secret(tmp_path: Path) -> None:
    info = init_keyset(tmp_path / "ks")
    public = PublicSideKeys.load(info.path)
    assert public.secret.hex() not in repr(public) and "secret" not in repr(public)


def test_public_side_without_authority_key_cannot_seal(tmp_path: Path) -> None:
    info = init_keyset(tmp_path / "ks")
    (info.path / keys.AUTHORITY_PUB_FILE).unlink()
    assert PublicSideKeys.load(info.path).authority_public is None


def test_missing_file_is_a_one_line_config_error(tmp_path: Path) -> None:
    info = init_keyset(tmp_path / "ks")
    (info.path / keys.SIGNING_FILE).unlink()
    with pytest.raises(ConfigError, match=r"missing signing_ed25519\.pem") as err:
        PublicSideKeys.load(info.path)
    assert "\n" not in str(err.value)


def test_garbage_key_files_are_config_errors(tmp_path: Path) -> None:
    info = init_keyset(tmp_path / "ks")
    (info.path / keys.VERIFY_FILE).write_bytes(b"not a pem")
    with pytest.raises(ConfigError, match="not a valid public key"):
        PrivateSideKeys.load(info.path)
    (info.path / keys.SECRET_FILE).write_bytes(b"c2hvcnQ=\n")
    with pytest.raises(ConfigError, match="32 bytes"):
        PrivateSideKeys.load(info.path)


def test_files_mixed_from_two_sets_are_refused(tmp_path: Path) -> None:
    a, b = init_keyset(tmp_path / "a"), init_keyset(tmp_path / "b")
    (a.path / keys.SECRET_FILE).write_bytes((b.path / keys.SECRET_FILE).read_bytes())
    with pytest.raises(ConfigError, match="do not belong"):
        PublicSideKeys.load(a.path)


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        PrivateSideKeys.load(tmp_path / "nope")
