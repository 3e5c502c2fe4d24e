"""Map typed domain errors to HTTP statuses and gRPC status codes (one table, both transports)."""

from __future__ import annotations

import logging

import grpc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.domain.errors import (
    AuthError,
    BadInputError,
    ConfigError,
    LimitExceededError,
    NotFoundError,
    TamperedError,
    UUNetError,
    WrongKeyError,
)

log = logging.getLogger(__name__)

# Most specific first: LimitExceededError is a BadInputError.
_TABLE: tuple[tuple[type[UUNetError], int, grpc.StatusCode], ...] = (
    (LimitExceededError, 413, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (BadInputError, 422, grpc.StatusCode.INVALID_ARGUMENT),
    (TamperedError, 422, grpc.StatusCode.INVALID_ARGUMENT),
    (WrongKeyError, 422, grpc.StatusCode.FAILED_PRECONDITION),
    (NotFoundError, 404, grpc.StatusCode.NOT_FOUND),
    (AuthError, 401, grpc.StatusCode.UNAUTHENTICATED),
    (ConfigError, 503, grpc.StatusCode.UNAVAILABLE),
)


def http_status_for(err: UUNetError) -> int:
    """HTTP status for a domain error (500 for an unlisted subclass)."""
    for cls, status, _ in _TABLE:
        if isinstance(err, cls):
            return status
    return 500


def grpc_status_for(err: UUNetError) -> grpc.StatusCode:
    """gRPC status code for a domain error (INTERNAL for an unlisted subclass)."""
    for cls, _, code in _TABLE:
        if isinstance(err, cls):
            return code
    return grpc.StatusCode.INTERNAL


def install_error_handlers(app: FastAPI) -> None:
    """Turn every UUNetError escaping a route into ``{"detail": reason}`` with the mapped status."""

    async def _handle(request: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, UUNetError)
        status = http_status_for(err)
        log.info("%s %s -> %d %s", request.method, request.url.path, status, type(err).__name__)
        return JSONResponse(status_code=status, content={"detail": str(err)})

    app.add_exception_handler(UUNetError, _handle)
