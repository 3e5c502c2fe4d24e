"""No secret reaches a log: after requests that carry the API key and tokens (good, wrong-scope and
forged, over REST and gRPC) and a job on each side, every log the stack wrote (``uunet up``, both
APIs and workers, redis-server, SeaweedFS) is searched for the API key, the tokens, the S3 secret
and every piece of key material; none may appear."""

from __future__ import annotations

import base64
import binascii
import contextlib
import subprocess
import sys
from pathlib import Path

import grpc
import httpx
import pytest

from chaos.stack import PublicClient, make_clip
from uunet_api.deid.v1 import deid_pb2, deid_pb2_grpc

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
UUNET = str(Path(sys.executable).parent / "uunet")
SECRET_FILES = ("dev-issuer.pem", "weights.key", "dev-api-key")
KEY_FILES = ("deid_secret.key", "signing_ed25519.pem", "authority_x25519.pem")


def needles_of(text: str) -> list[str]:
    """The secret as written, the body lines of a PEM, and the hex of base64-encoded bytes."""
    out = [line.strip() for line in text.splitlines() if line.strip() and "-----" not in line]
    for line in list(out):
        with contextlib.suppress(binascii.Error, ValueError):
            out.append(base64.b64decode(line, validate=True).hex())
    return [n for n in out if len(n) >= 16]


def logs_of(state: Path) -> list[Path]:
    """Every log file under the state directory (not the secrets, data or dev.json)."""
    names = (".log", ".INFO", ".WARNING", ".ERROR")
    return [p for p in state.rglob("*") if p.is_file() and any(n in p.name for n in names)]


def token(stack: dict[str, str], *extra: str) -> str:
    argv = [UUNET, "dev-token", "--state-dir", stack["state_dir"], "--case", "CASE-LOGS", *extra]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def exercise(stack: dict[str, str], tmp: Path) -> list[str]:
    """Requests that carry every kind of credential, good and bad; returns the tokens used."""
    clip = make_clip(tmp / "clip.mp4", frames=8, size=(160, 120), faces=1)
    client = PublicClient(stack)
    job = client.submit(clip).json()["job_id"]
    assert client.wait(job)["state"] == "done"
    public = tmp / "public.mp4"
    client.result(job, public)
    assert (
        httpx.get(
            f"{stack['public_url']}/v1/jobs/{job}", headers={"X-API-Key": "uuk_wrong"}
        ).status_code
        == 401
    )
    good, no_scope = token(stack), token(stack, "--scope", "read")
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    url = f"{stack['private_url']}/v1/reconstructions"
    for bearer in (good, no_scope, forged):
        with public.open("rb") as fh:
            httpx.post(url, headers={"Authorization": f"Bearer {bearer}"},
                       files={"file": fh}, data={"case_id": "CASE-LOGS"}, timeout=60)  # fmt: skip
    with grpc.insecure_channel(stack["public_grpc"]) as channel:
        stub = deid_pb2_grpc.DeidServiceStub(channel)
        with pytest.raises(grpc.RpcError):
            stub.GetJob(deid_pb2.GetJobRequest(job_id=job), metadata=(("x-api-key", "uuk_bad"),))
        stub.GetJob(deid_pb2.GetJobRequest(job_id=job), metadata=(("x-api-key", stack["api_key"]),))
    return [good, no_scope, forged]


def test_no_log_holds_a_key_a_token_or_key_material(stack: dict[str, str], tmp_path: Path) -> None:
    tokens = exercise(stack, tmp_path)
    state = Path(stack["state_dir"])
    secrets = {"api key": [stack["api_key"]], "S3 secret": [stack["s3_secret_key"]]}
    secrets |= {f"token {i}": [t, t.split(".")[2]] for i, t in enumerate(tokens)}
    for name in SECRET_FILES:
        secrets[name] = needles_of((state / name).read_text())
    for name in KEY_FILES:
        secrets[f"keys/{name}"] = needles_of((Path(stack["keys_dir"]) / name).read_text())
    logs = logs_of(state)
    assert any("public_deid-worker" in p.name for p in logs) and any(
        "redis" in p.name for p in logs
    )
    found = [
        (what, log.name)
        for log in logs
        for what, needles in secrets.items()
        if any(n in log.read_text(errors="replace") for n in needles)
    ]
    assert found == [], found
