"""The private service's FastAPI app from a :class:`Desk` (the composition root hands in the desk)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

import shared
from services.common.http import AppSpec, ReadinessCheck, create_app
from services.private_reid.desk import Desk
from services.private_reid.rest import RestOptions, install_private_errors, router

METRICS_PREFIX = "uunet_private"


def build_app(
    desk: Desk,
    options: RestOptions,
    registry: CollectorRegistry,
    readiness: Mapping[str, ReadinessCheck] | None = None,
) -> FastAPI:
    """REST routes, probes, metrics and the error mapping of the private service."""
    spec = AppSpec(
        title="UU-Net private re-identification",
        version=shared.__version__,
        description="Key-gated reconstruction of de-identified clips; every request is audited.",
        routers=[router],
        registry=registry,
        metrics_prefix=METRICS_PREFIX,
        readiness=readiness or {},
        docs=options.docs,
    )
    app = create_app(spec)
    install_private_errors(app)
    app.state.desk = desk
    app.state.rest_options = options
    return app
