"""What the OpenAPI specs say about errors: every error body is ``{"detail": "<one-line reason>"}``
and each route lists the statuses it can answer (schemathesis checks both against the servers)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

_WHY = {
    400: "malformed request",
    401: "missing, unknown or invalid credentials",
    403: "the credentials may not do this (scope or case)",
    404: "no such job (or not yours)",
    408: "the upload was too slow (see the upload pace settings)",
    409: "not ready yet (or the job failed)",
    410: "the result was deleted (retention)",
    413: "over the size limit",
    422: "invalid input, with the reason",
    429: "over the rate limit or daily quota; see Retry-After",
    503: "a dependency (S3, Redis, local disk) is unavailable; see Retry-After",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


class ErrorOut(BaseModel):
    """The body of every error response."""

    detail: str = Field(description="one-line reason")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: the given error statuses with the ErrorOut body."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": ErrorOut, "description": _WHY[code]}
        if code in (429, 503):
            out[code]["headers"] = _RETRY_AFTER
    return out
