"""Settings of the private service (env prefix ``UUNET_PRIVATE_``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings
from services.private_reid.auth import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_MAX_LIFETIME_S,
    DEV_AUDIENCE,
    DEV_ISSUER,
)


class PrivateSettings(ServiceSettings):
    """Common service settings plus token verification, audit and the encrypted weights."""

    model_config = SettingsConfigDict(env_prefix="UUNET_PRIVATE_", extra="ignore", frozen=True)

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = (*ServiceSettings.SECRET_FIELDS, "audit_key")
    DEV_DEFAULTS: ClassVar[dict[str, str]] = {
        **ServiceSettings.DEV_DEFAULTS,
        "jwt_issuer": DEV_ISSUER,
        "jwt_audience": DEV_AUDIENCE,
        "audit_key": "uunet-dev-audit-key-not-for-production",
    }

    http_port: int = 8081
    grpc_port: int = 50052
    metrics_port: int = 9101
    stream: str = "uunet:reid:jobs"
    group: str = "reid-workers"
    # Token verification: one of the key file or the JWKS URL (http/https).
    jwt_public_key_file: Path | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: tuple[str, ...] = ASYMMETRIC_ALGORITHMS
    jwt_leeway_s: int = 30
    jwt_max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S  # longest exp - iat a token may carry
    # The private module: encrypted at rest, opened with the key only this service holds.
    weights_key_file: Path | None = None
    encrypted_weights: Path | None = None
    audit_prefix: str = "uunet:audit"
    # MACs every audit entry; held by the private processes, never stored in Redis (>= 32 bytes).
    audit_key: SecretStr | None = None
    # The log's head is copied here (an object-locked bucket) every interval; "" only in dev.
    audit_anchor_bucket: str = "uunet-audit-anchors"
    audit_anchor_interval_s: float = 60.0
    audit_anchor_retention_days: int = 365
    rate_limit_per_minute: int = 120  # requests per client address (every route); 0 disables
    refusal_window_s: float = 60.0  # anonymous refusals: one audit entry per reason, then a summary
    job_prefix: str = "uunet:reid:"
    result_redirect: bool = False  # True: /result redirects to a presigned URL instead of streaming
    result_ttl_s: float = 3600.0  # reconstructions are deleted this long after the job is done
    delete_after_download: bool = True  # ... or as soon as one has been downloaded in full
    presign_expiry_s: int = 300
    work_dir: Path | None = None  # temp files of uploads and jobs; None: the system temp dir

    @model_validator(mode="after")
    def _require_token_settings(self) -> PrivateSettings:
        """Issuer and audience are required outside dev; a key source is required always (API)."""
        for name in ("jwt_issuer", "jwt_audience"):
            if getattr(self, name):
                continue
            if not self.dev:
                raise ValueError(f"UUNET_PRIVATE_{name.upper()} is required")
            object.__setattr__(self, name, self.DEV_DEFAULTS[name])
        if not self.audit_anchor_bucket and not self.dev:
            raise ValueError("UUNET_PRIVATE_AUDIT_ANCHOR_BUCKET is required outside dev")
        return self
