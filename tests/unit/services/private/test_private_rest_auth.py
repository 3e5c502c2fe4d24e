"""Every bad token is refused with the right status, nothing is queued or stored, and it is audited."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.audit.chain import verify
from tests.unit.services.private.conftest import SIGNED_CLIP, World
from tests.unit.services.private.fakes import Issuer


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def _hs256_with_public_key(issuer: Issuer) -> str:
    """The key-confusion forgery: HMAC-SHA256 keyed with the issuer's *public* PEM."""
    signing_input = (
        f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}."
        f"{_b64(json.dumps(issuer.claims(case_id='CASE-1')).encode())}"
    )
    sig = hmac.new(issuer.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}"


def _tampered(issuer: Issuer) -> str:
    """A genuine token whose payload was edited afterwards (subject swapped)."""
    head, _payload, sig = issuer.token().split(".")
    forged = _b64(json.dumps(issuer.claims(sub="someone-else")).encode())
    return f"{head}.{forged}.{sig}"


def _bad_tokens(issuer: Issuer) -> dict[str, tuple[str | None, int, str]]:
    """case -> (Authorization header value, status, audited reason)."""
    other = Ed25519PrivateKey.generate()
    past = int(time.time()) - 7200
    return {
        "missing": (None, 401, "missing-token"),
        "not-bearer": ("Basic dXNlcjpwdw==", 401, "malformed-token"),
        "garbage": ("Bearer not.a.jwt", 401, "malformed-token"),
        "expired": (f"Bearer {issuer.token(iat=past, exp=past + 60)}", 401, "expired"),
        "wrong-issuer": (f"Bearer {issuer.token(iss='https://evil.test')}", 401, "wrong-issuer"),
        "wrong-audience": (f"Bearer {issuer.token(aud='uunet-public')}", 401, "wrong-audience"),
        "no-sub": (f"Bearer {issuer.token(sub=None)}", 401, "missing-claim"),
        "no-exp": (f"Bearer {issuer.token(exp=None)}", 401, "missing-claim"),
        "alg-none": (f"Bearer {_unsigned(issuer.claims())}", 401, "algorithm-not-allowed"),
        "hs256-public-key": (
            f"Bearer {_hs256_with_public_key(issuer)}",
            401,
            "algorithm-not-allowed",
        ),
        "tampered-payload": (f"Bearer {_tampered(issuer)}", 401, "bad-signature"),
        "foreign-key": (
            f"Bearer {jwt.encode(issuer.claims(), other, algorithm='EdDSA')}",
            401,
            "bad-signature",
        ),
        "wrong-scope": (f"Bearer {issuer.token(scope='read')}", 403, "missing-scope"),
        "no-scope": (f"Bearer {issuer.token(scope=None)}", 403, "missing-scope"),
        "other-case": (f"Bearer {issuer.token(case_id='CASE-OTHER')}", 403, "case-mismatch"),
        "ten-year-token": (
            f"Bearer {issuer.token(case_id='CASE-1', exp=int(time.time()) + 10 * 365 * 86400)}",
            401,
            "lifetime-too-long",
        ),
    }


CASES = sorted(_bad_tokens(Issuer()))


async def _submit(world: World, authorization: str | None) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    return await world.client.post(
        "/v1/reconstructions",
        headers=headers,
        files={"file": ("clip.mp4", SIGNED_CLIP, "video/mp4")},
        data={"case_id": "CASE-1", "tracks": "1,4"},
    )


@pytest.mark.parametrize("case", CASES)
async def test_bad_token_is_refused_nothing_queued_and_audited(world: World, case: str) -> None:
    authorization, status, reason = _bad_tokens(world.issuer)[case]
    response = await _submit(world, authorization)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert world.queue.messages == [] and world.objects.objects == {} and world.jobs.jobs == {}
    entries = world.audit.snapshot
    assert entries[-1].outcome == f"refused:{reason}"
    assert verify(entries).ok
    if status == 401:
        assert entries[-1].actor == "anonymous"
        assert response.headers["www-authenticate"].startswith("Bearer")
    else:
        assert entries[-1].actor == "officer-7"
    token = (authorization or "").partition(" ")[2]
    assert all(not token or token not in e.detail for e in entries)  # never the token itself


async def test_scope_may_come_as_scp_list(world: World) -> None:
    token = world.issuer.token(scope=None, scp=["read", "reconstruct"], case_id="CASE-1")
    response = await _submit(world, f"Bearer {token}")
    assert response.status_code == 202, response.text


async def test_refusals_are_counted_by_reason(world: World) -> None:
    await _submit(world, None)
    await _submit(world, None)
    count = world.registry.get_sample_value(
        "uunet_private_refused_total", {"reason": "missing-token"}
    )
    assert count == 2.0


async def test_status_lookup_needs_a_token_too(world: World) -> None:
    response = await world.client.get("/v1/reconstructions/" + "0" * 32)
    assert response.status_code == 401
    assert world.audit.snapshot[-1].outcome == "refused:missing-token"


async def _case_one_job(world: World) -> str:
    response = await _submit(world, f"Bearer {world.issuer.token(case_id='CASE-1')}")
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


# A token must name at least one case: a missing, empty or mistyped case claim once meant "all".
UNBOUND_CASE_CLAIMS: dict[str, tuple[dict[str, Any], int, str]] = {
    "missing": ({}, 403, "no-case"),
    "empty-string": ({"case_id": ""}, 403, "no-case"),
    "blank-string": ({"case_id": "   "}, 403, "no-case"),
    "empty-list": ({"cases": []}, 403, "no-case"),
    "list-of-empty": ({"cases": [""]}, 403, "no-case"),
    "integer": ({"case_id": 42}, 401, "bad-claim"),
    "list-of-integers": ({"cases": [42]}, 401, "bad-claim"),
    "object": ({"case_id": {"any": True}}, 401, "bad-claim"),
}


@pytest.mark.parametrize("claim", sorted(UNBOUND_CASE_CLAIMS))
async def test_token_without_a_case_sees_no_other_case(world: World, claim: str) -> None:
    job_id = await _case_one_job(world)
    overrides, status, reason = UNBOUND_CASE_CLAIMS[claim]
    headers = {"Authorization": f"Bearer {world.issuer.token(**overrides)}"}
    for path in (f"/v1/reconstructions/{job_id}", f"/v1/reconstructions/{job_id}/result"):
        response = await world.client.get(path, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert world.audit.snapshot[-1].outcome == f"refused:{reason}"
    submitted = await _submit(world, headers["Authorization"])
    assert submitted.status_code == status
    assert len(world.queue.messages) == 1  # only the CASE-1 job


async def test_all_cases_needs_the_explicit_any_scope(world: World) -> None:
    job_id = await _case_one_job(world)
    headers = world.issuer.header(scope="reconstruct:any")
    response = await world.client.get(f"/v1/reconstructions/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    assert world.audit.snapshot[-1].outcome == "status"
