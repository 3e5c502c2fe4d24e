"""The env that compose and the chart give each process is what the services' settings read.

Every UUNET_PUBLIC_* / UUNET_PRIVATE_* variable must name a settings field (or a secret's *_FILE
variant), and the settings must load from exactly that env, secrets read from the mounted files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.common.settings import ServiceSettings
from services.private_reid.settings import PrivateSettings
from services.public_deid.settings import PublicSettings
from tests.integration.deploy.tools import all_combinations, compose_env, one, render

SETTINGS: dict[str, type[ServiceSettings]] = {"public": PublicSettings, "private": PrivateSettings}
PREFIX = {"public": "UUNET_PUBLIC_", "private": "UUNET_PRIVATE_"}
COMPOSE_SERVICES = {
    "public-api": "public",
    "public-worker-gpu": "public",
    "public-worker-cpu": "public",
    "private-api": "private",
    "private-worker": "private",
}


def _accepted(cls: type[ServiceSettings]) -> set[str]:
    prefix = str(cls.model_config["env_prefix"])
    names = {prefix + name.upper() for name in cls.model_fields}
    return names | {prefix + name.upper() + "_FILE" for name in cls.SECRET_FIELDS}


def _load(
    part: str, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    """Instantiate the part's settings from `env`, each *_FILE pointing at a dummy file."""
    for key in list(__import__("os").environ):
        if key.startswith(PREFIX[part]):
            monkeypatch.delenv(key)
    for key, value in env.items():
        if key.endswith("_FILE") and key.startswith(PREFIX[part]):
            secret = tmp_path / key
            secret.write_text(f"value-of-{key}\n")
            value = str(secret)
        monkeypatch.setenv(key, value)
    return SETTINGS[part]()


def _chart_env(container: dict[str, Any]) -> dict[str, str]:
    env = {}
    for item in container["env"]:
        env[item["name"]] = item.get("value", "from-a-secret")
    return env


@pytest.mark.parametrize(("part", "profile"), all_combinations())
@pytest.mark.parametrize("role", ["api", "worker"])
def test_chart_env_names_settings_fields_and_loads(
    part: str, profile: str, role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = one(render(part, profile), "Deployment", f"-{role}")["spec"]["template"]["spec"][
        "containers"
    ][0]
    env = _chart_env(container)
    ours = {k for k in env if k.startswith("UUNET_")}
    unknown = ours - _accepted(SETTINGS[part])
    assert not unknown, f"settings do not read {sorted(unknown)}"
    settings = _load(part, env, tmp_path, monkeypatch)
    assert settings.dev is False
    assert settings.secret("s3_secret_key") == "value-of-" + PREFIX[part] + "S3_SECRET_KEY_FILE"
    assert settings.stream == ("uunet:deid:jobs" if part == "public" else "uunet:reid:jobs")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    for key, value in env.items():
        if key.endswith("_FILE") or key.endswith("KEYS_DIR") or key.endswith("ENCRYPTED_WEIGHTS"):
            assert any(value.startswith(m) for m in mounts), f"{key}={value} is not mounted"


@pytest.mark.parametrize("service", sorted(COMPOSE_SERVICES))
def test_compose_env_names_settings_fields_and_loads(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    part = COMPOSE_SERVICES[service]
    env = compose_env(service)
    unknown = set(env) - _accepted(SETTINGS[part])
    assert not unknown, f"settings do not read {sorted(unknown)}"
    settings = _load(part, env, tmp_path, monkeypatch)
    assert settings.dev is False
    # Each process's own Redis user: the URL comes from its secret file, never the env.
    assert settings.secret("redis_url") == "value-of-" + PREFIX[part] + "REDIS_URL_FILE"
