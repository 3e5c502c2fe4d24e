"""Settings of the public service (env prefix ``UUNET_PUBLIC_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class PublicSettings(ServiceSettings):
    """Common service settings plus the vendor API keys and limits."""

    model_config = SettingsConfigDict(env_prefix="UUNET_PUBLIC_", extra="ignore", frozen=True)

    http_port: int = 8080
    grpc_port: int = 50051
    metrics_port: int = 9100
    stream: str = "uunet:deid:jobs"
    group: str = "deid-workers"
    api_keys_file: Path | None = None  # JSON {key_id: sha256-hex of the key}; required outside dev
    rate_limit_per_minute: int = 60  # clip submissions per API key per minute; 0 disables
    jobs_per_day: int = 0  # clip submissions per API key per UTC day; 0: no quota
    # A key may have its own max_upload_mb / rate_per_minute / jobs_per_day (uunet apikey create).
    presign_expiry_s: int = 900
    probe_uploads: bool = True  # reject non-video uploads at the API, before queueing
    work_dir: Path | None = None  # temp files of uploads and jobs; None: the system temp dir
    # Donor faces for the surrogates: a bank file (uunet donors build) or a folder of face images
    # the deployment has rights to (built once, cached); None: the shipped DCGAN bank, which is
    # for non-commercial research use only (its generator was trained on DigiFace-1M).
    donors: Path | None = None
    # Mark each face track's encrypted identity code into its pixels (docs/PAYLOAD.md), so a
    # re-encoded copy of the public clip can still be restored by the private side.
    payload: bool = True
