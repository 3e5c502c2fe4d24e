"""The private gRPC front end maps each refusal to its status code."""

from __future__ import annotations

import grpc
import pytest

from services.private_reid.auth import Forbidden, TokenRejected
from services.private_reid.desk import NotReady
from services.private_reid.grpc_api import peer_address, status_code
from shared.domain.errors import (
    BadInputError,
    LimitExceededError,
    NotFoundError,
    TamperedError,
    UUNetError,
)


@pytest.mark.parametrize(
    ("err", "code"),
    [
        (TokenRejected("expired", "token expired"), grpc.StatusCode.UNAUTHENTICATED),
        (Forbidden("missing-scope", "no scope", "sub"), grpc.StatusCode.PERMISSION_DENIED),
        (Forbidden("case-mismatch", "other case", "sub"), grpc.StatusCode.PERMISSION_DENIED),
        (TamperedError("signature"), grpc.StatusCode.INVALID_ARGUMENT),
        (BadInputError("case_id is required"), grpc.StatusCode.INVALID_ARGUMENT),
        (LimitExceededError("too big"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (NotFoundError("no job"), grpc.StatusCode.NOT_FOUND),
        (NotReady("running"), grpc.StatusCode.FAILED_PRECONDITION),
    ],
)
def test_refusals_map_to_grpc_codes(err: UUNetError, code: grpc.StatusCode) -> None:
    assert status_code(err) == code


@pytest.mark.parametrize(
    ("peer", "address"),
    [("ipv4:203.0.113.7:5123", "203.0.113.7"), ("ipv6:[::1]:5123", "::1"), ("unix:/s", "unix:/s")],
)
def test_grpc_peers_are_rate_limited_by_address_not_port(peer: str, address: str) -> None:
    assert peer_address(peer) == address
