"""Map typed domain errors to HTTP statuses and gRPC status codes (one table, both transports)."""

from __future__ import annotations

import logging

import grpc
import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from shared.domain.errors import (
    AuthError,
    BadInputError,
    ConfigError,
    LimitExceededError,
    NotFoundError,
    TamperedError,
    UnavailableError,
    UUNetError,
    WrongKeyError,
)

log = logging.getLogger(__name__)


class RateLimitedError(UUNetError):
    """Too many requests for one credential; ``retry_after_s`` says when to try again."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class UploadTooSlowError(UUNetError):
    """The client sends its upload too slowly (a slow-drip client holding a connection)."""


class ResultGoneError(NotFoundError):
    """The job's result existed but was deleted (retention)."""


class ServerBusyError(RateLimitedError):
    """This process is at capacity (e.g. its upload slots are taken): 503, retry shortly."""


# Most specific first: LimitExceededError is a BadInputError.
class NotReadyError(UUNetError):
    """The resource exists but is not in the needed state yet (e.g. a job without a result)."""


_TABLE: tuple[tuple[type[UUNetError], int, grpc.StatusCode], ...] = (
    (ServerBusyError, 503, grpc.StatusCode.UNAVAILABLE),
    (RateLimitedError, 429, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (NotReadyError, 409, grpc.StatusCode.FAILED_PRECONDITION),
    (UploadTooSlowError, 408, grpc.StatusCode.DEADLINE_EXCEEDED),
    (LimitExceededError, 413, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (BadInputError, 422, grpc.StatusCode.INVALID_ARGUMENT),
    (TamperedError, 422, grpc.StatusCode.INVALID_ARGUMENT),
    (WrongKeyError, 422, grpc.StatusCode.FAILED_PRECONDITION),
    (ResultGoneError, 410, grpc.StatusCode.NOT_FOUND),
    (NotFoundError, 404, grpc.StatusCode.NOT_FOUND),
    (AuthError, 401, grpc.StatusCode.UNAUTHENTICATED),
    (UnavailableError, 503, grpc.StatusCode.UNAVAILABLE),
    (ConfigError, 503, grpc.StatusCode.UNAVAILABLE),
)
# Seconds a client is told to wait when a dependency (S3, Redis) is down.
UNAVAILABLE_RETRY_AFTER_S = 5
# Redis failures that mean "down for now" (the client already retried for ~15 s).
REDIS_OUTAGES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def store_unavailable() -> UnavailableError:
    """What a caller sees when Redis stays unreachable past the client's own retries."""
    return UnavailableError("the job store is unavailable; try again shortly")


def without_paths(err: UUNetError, paths: dict[str, str]) -> UUNetError:
    """The same error with server-side temp paths in its message replaced (they mean nothing to a
    caller and reveal the server's layout); ``paths`` maps a path to its stand-in."""
    message = str(err)
    for path, name in paths.items():
        message = message.replace(path, name)
    if message == str(err):
        return err
    try:
        clean = type(err)(message)
    except TypeError:  # a subclass with a richer constructor: keep it as is
        return err
    clean.__cause__ = err.__cause__
    return clean


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
        headers = {}
        if isinstance(err, RateLimitedError):
            headers["Retry-After"] = str(err.retry_after_s)
        if isinstance(err, UnavailableError):
            headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_S)
        if isinstance(err, AuthError):
            headers["WWW-Authenticate"] = "ApiKey"
        return JSONResponse(status_code=status, content={"detail": str(err)}, headers=headers)

    async def _redis_down(request: Request, err: Exception) -> JSONResponse:
        log.warning(
            "%s %s -> 503 (Redis: %s)", request.method, request.url.path, type(err).__name__
        )
        return await _handle(request, store_unavailable())

    async def _invalid(request: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RequestValidationError)
        return await _handle(request, BadInputError(_first_validation_error(err)))

    app.add_exception_handler(UUNetError, _handle)
    app.add_exception_handler(RequestValidationError, _invalid)
    for cls in REDIS_OUTAGES:
        app.add_exception_handler(cls, _redis_down)


def _first_validation_error(err: RequestValidationError) -> str:
    """FastAPI's list of validation errors as one line: where and what, for the first one."""
    errors = err.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return f"invalid {where}: {first.get('msg', 'invalid value')}"[:200]
