"""Schemathesis against both OpenAPI specs (fakes of the ports behind the real apps): no server
error, no response that breaks its own schema or status list, no schema-violating request
accepted and no valid one refused. Bounded for CI by UUNET_FUZZ_EXAMPLES (per operation)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from services.private_reid.app import build_app as build_private_app
from services.private_reid.auth import AuthConfig, TokenVerifier
from services.private_reid.desk import Desk, DeskMetrics
from services.private_reid.refusals import RefusalAggregator
from services.private_reid.rest import RestOptions
from services.public_deid import bootstrap
from services.public_deid.auth import hash_key
from services.public_deid.settings import PublicSettings
from shared.audit.memory import InMemoryAuditLog
from tests.unit.services.private import fakes as private_fakes
from tests.unit.services.private.conftest import fake_verify_clip
from tests.unit.services.public.fakes import (
    FakeJobStore,
    FakeObjectStore,
    FakeQueue,
    MemoryRateLimiter,
)

EXAMPLES = int(os.environ.get("UUNET_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
API_KEY = "uuk_fuzzing-vendor-key"
WORK = Path(tempfile.mkdtemp(prefix="uunet-fuzz-"))


def public_app():  # type: ignore[no-untyped-def]
    keys = WORK / "keys.json"
    keys.write_text(json.dumps({"fuzzer": hash_key(API_KEY)}))
    config = PublicSettings(dev=True, api_keys_file=keys, max_upload_mb=1, work_dir=WORK)
    ports = bootstrap.Adapters(FakeObjectStore(), FakeJobStore(), FakeQueue(), MemoryRateLimiter(0))
    return bootstrap.build_app(config, ports, probe=None)


ISSUER = private_fakes.Issuer()


def private_app():  # type: ignore[no-untyped-def]
    registry = CollectorRegistry()
    verifier = TokenVerifier(
        AuthConfig(private_fakes.ISSUER, private_fakes.AUDIENCE, public_key_pem=ISSUER.public_pem)
    )
    audit = InMemoryAuditLog()
    desk = Desk(
        verifier,
        private_fakes.FakeQueue(),
        private_fakes.FakeJobStore(),
        private_fakes.FakeObjectStore(),
        audit,
        fake_verify_clip,
        DeskMetrics(registry),
        MemoryRateLimiter(0),
        RefusalAggregator(audit),
    )
    options = RestOptions(max_upload_bytes=64 * 1024, work_dir=WORK, docs=True)
    return build_private_app(desk, options, registry)


public_schema = schemathesis.openapi.from_asgi("/openapi.json", public_app())
private_schema = schemathesis.openapi.from_asgi("/openapi.json", private_app())


def _multipart(case) -> bool:  # type: ignore[no-untyped-def]
    return str(case.media_type or "").startswith("multipart/")


# Schemathesis turns a form field "invalid" by making it an empty list or null, which multipart
# encodes as no part at all: the server gets a valid form. So "invalid data refused" is checked on
# JSON bodies, paths and queries only; every other check runs on every operation.
def _excluded(case, *more):  # type: ignore[no-untyped-def]
    return [negative_data_rejection, *more] if _multipart(case) else []


@public_schema.parametrize()
@FUZZ
def test_public_api_keeps_its_spec(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers={"X-API-Key": API_KEY}, excluded_checks=_excluded(case))


@private_schema.parametrize()
@FUZZ
def test_private_api_keeps_its_spec(case) -> None:  # type: ignore[no-untyped-def]
    # A submission must be a clip this deployment signed, which no schema can say: a valid-looking
    # random file is refused (422), so "valid data accepted" cannot hold for it.
    excluded = _excluded(case, positive_data_acceptance)
    case.call_and_validate(headers=ISSUER.header(), excluded_checks=excluded)
