"""Settings base shared by both services (pydantic-settings; env prefix set by each subclass).

Secrets are also accepted as ``<NAME>_FILE`` paths (compose/k8s secrets mount as files) and have no
defaults outside the dev profile (``DEV=true``): a production process without them refuses to start.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.uploads import UploadPace
from shared.domain.errors import ConfigError


class ServiceSettings(BaseSettings):
    """Settings every service process reads; subclasses set ``model_config['env_prefix']``."""

    model_config = SettingsConfigDict(env_prefix="UUNET_", extra="ignore", frozen=True)

    # Secrets a subclass may extend; each also reads ``<prefix><NAME>_FILE``.
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("redis_url", "s3_access_key", "s3_secret_key")
    # The only defaults a secret may get, and only when ``dev`` is true.
    DEV_DEFAULTS: ClassVar[dict[str, str]] = {
        "redis_url": "redis://127.0.0.1:6379/0",
        "s3_access_key": "uunet-dev",
        "s3_secret_key": "uunet-dev-secret",
    }

    dev: bool = False
    redis_url: SecretStr | None = None
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_bucket: str = "uunet"
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_public_endpoint: str | None = None  # host:port clients use for presigned URLs
    s3_public_secure: bool | None = None
    raw_expiry_days: int = 1  # lifecycle backstop for raw uploads a job never deleted
    result_ttl_s: float = 7 * 24 * 3600  # results are deleted this long after their job is done
    # True: create the bucket and its raw/ expiry rule at start. False (deployments): a
    # least-privilege S3 user cannot, so the deployment's init job does; the process only waits
    # for the bucket to answer.
    s3_manage_bucket: bool = True
    http_host: str = "0.0.0.0"  # every listener binds here: REST, gRPC, a worker's metrics
    http_port: int = 8080
    grpc_port: int = 50051
    metrics_port: int = 9100
    keys_dir: Path | None = None
    checkpoint: Path | None = None
    device: str = "cpu"
    max_upload_mb: int = 2000
    max_concurrent_uploads: int = 2  # per API process: the scratch volume holds this many uploads
    shutdown_grace_s: float = (
        30.0  # API: in-flight calls (uploads) may finish this long after SIGTERM
    )
    stream: str = "uunet:jobs"
    group: str = "workers"
    job_timeout_s: float = 3600.0
    max_retries: int = 3
    visibility_timeout_s: float = 300.0
    # Worker shutdown: the job in flight may run this long after SIGTERM, then it is handed back.
    shutdown_drain_s: float = 20.0
    log_level: str = "INFO"
    # Slow clients: a request head must arrive within http_head_timeout_s; an upload body is
    # cut off (408) after upload_idle_timeout_s without a byte, or when it averages under
    # upload_min_kib_per_s once upload_grace_s have passed.
    http_head_timeout_s: float = 10.0
    upload_idle_timeout_s: float = 30.0
    upload_min_kib_per_s: int = 16
    upload_grace_s: float = 10.0
    api_docs: bool | None = None  # OpenAPI docs on the HTTP port; None: only in the dev profile
    # Proxies (comma-separated addresses, or "*") whose X-Forwarded-For names the client: rate
    # limits then count real clients, not the ingress controller.
    trusted_proxies: str = "127.0.0.1"

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """Fill each secret from ``<prefix><NAME>_FILE`` when the value itself is not given."""
        if not isinstance(data, dict):
            return data
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name in cls.SECRET_FIELDS:
            if data.get(name) is not None:
                continue
            path = data.get(f"{name}_file") or os.environ.get(f"{prefix}{name.upper()}_FILE")
            if path:
                data[name] = _read_secret(Path(str(path)), name)
        return data

    @model_validator(mode="after")
    def _require_secrets(self) -> ServiceSettings:
        """Refuse to run without secrets, unless in the dev profile (which gets dev defaults)."""
        for name in self.SECRET_FIELDS:
            if getattr(self, name) is not None:
                continue
            if self.dev and name in self.DEV_DEFAULTS:
                object.__setattr__(self, name, SecretStr(self.DEV_DEFAULTS[name]))
            else:
                prefix = self.model_config.get("env_prefix", "")
                raise ValueError(
                    f"{prefix}{name.upper()} (or {prefix}{name.upper()}_FILE) is required"
                )
        return self

    @property
    def upload_pace(self) -> UploadPace:
        """How slow an upload may be before it is cut off."""
        return UploadPace(
            self.upload_idle_timeout_s, self.upload_min_kib_per_s * 1024, self.upload_grace_s
        )

    @property
    def expiry_rules(self) -> dict[str, int]:
        """S3 lifecycle backstop (days) for raw uploads and for results the sweeper missed."""
        return {"raw/": self.raw_expiry_days, "results/": math.ceil(self.result_ttl_s / 86400) + 1}

    @property
    def docs_enabled(self) -> bool:
        """Serve /docs, /redoc and /openapi.json: off in production unless API_DOCS=true."""
        return self.dev if self.api_docs is None else self.api_docs

    @property
    def max_upload_bytes(self) -> int:
        """Upload size limit in bytes."""
        return self.max_upload_mb * 1024 * 1024

    def secret(self, name: str) -> str:
        """The plain value of a secret field (raises ConfigError if unset)."""
        value = getattr(self, name)
        if value is None:
            raise ConfigError(f"setting {name} is not set")
        return str(value.get_secret_value())


def _read_secret(path: Path, name: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as err:
        raise ValueError(f"cannot read {name} file {path}: {err.strerror}") from None
