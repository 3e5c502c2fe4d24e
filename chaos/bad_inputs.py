"""Chaos: the bad-input corpus (chaos/corpus.py, >= 50 files) through every door.

Starts ``uunet up --dev`` (niced), makes a public clip over REST (and one with another key set),
builds the corpus, then sends each file through the CLI (``uunet deid``/``uunet reid`` as a fresh
process), REST and gRPC of the side it targets, following any accepted job to its end. An outcome
passes when it is a 4xx / a gRPC client error / CLI exit 2 with a one-line reason, a job that ends
``failed`` with a one-line reason, or ``done`` (a file that decodes cleanly); a crash (traceback,
CLI exit other than 0/2), a 5xx or INTERNAL/UNKNOWN, or a hang (no end within the timeout) fails.
At the end a good clip must still come back done (the workers keep serving). Prints the table
(input x door -> outcome) as Markdown and writes it as JSON with ``--out``.

    .venv/bin/python chaos/bad_inputs.py [--only NAME,...] [--out corpus.json] [--no-long]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.corpus import PRIVATE, BadInput, build
from chaos.stack import UUNET, PublicClient, Up, load_average, make_clip
from uunet_api.common.v1 import jobs_pb2
from uunet_api.deid.v1 import deid_pb2, deid_pb2_grpc
from uunet_api.reid.v1 import reid_pb2, reid_pb2_grpc

CASE = "CASE-CORPUS"
LIMIT_S = 600.0
CLIENT_ERRORS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}


def one_line(text: str) -> str:
    return " ".join(text.split())[:150]


def via_cli(item: BadInput, keys: str, work: Path) -> tuple[str, bool]:
    command = "reid" if item.side == PRIVATE else "deid"
    argv = [UUNET, command, str(item.path), "-o", str(work / "cli-out.mp4"), "--keys", keys, "-q"]
    try:
        done = subprocess.run(
            ["nice", "-n", "10", *argv], capture_output=True, text=True, timeout=LIMIT_S
        )
    except subprocess.TimeoutExpired:
        return "HANG", False
    err = done.stderr.strip().splitlines()
    clean = len(err) <= 1 and "Traceback" not in done.stderr
    if done.returncode == 0:
        return "exit 0 (done)", clean
    return (
        f"exit {done.returncode}: {one_line(err[-1] if err else '')}",
        done.returncode == 2 and clean,
    )


def via_rest(item: BadInput, up: Up, token: str) -> tuple[str, bool]:
    if item.side == PRIVATE:
        base, headers = (
            f"{up.info['private_url']}/v1/reconstructions",
            {"Authorization": f"Bearer {token}"},
        )
        post, data = base, {"case_id": CASE}
    else:
        base, headers = f"{up.info['public_url']}/v1/jobs", {"X-API-Key": up.info["api_key"]}
        post, data = f"{up.info['public_url']}/v1/clips", {}
    with httpx.Client(timeout=LIMIT_S) as http, item.path.open("rb") as fh:
        resp = http.post(post, headers=headers, data=data, files={"file": (item.path.name, fh)})
        if resp.status_code != 202:
            reason = one_line(str(resp.json().get("detail", ""))) if resp.content else ""
            return f"{resp.status_code}: {reason}", 400 <= resp.status_code < 500 and bool(reason)
        job = resp.json()["job_id"]
        return follow(lambda: http.get(f"{base}/{job}", headers=headers).json())


def follow(poll) -> tuple[str, bool]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + LIMIT_S
    while time.monotonic() < deadline:
        status = poll()
        if status["state"] in ("done", "failed"):
            if status["state"] == "done":
                return "job done", True
            reason = str(status.get("error") or "")
            return f"job failed: {one_line(reason)}", bool(reason) and "\n" not in reason
        time.sleep(0.3)
    return "HANG (job not finished)", False


def _chunks(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), 256 * 1024):
        yield data[i : i + 256 * 1024]


def via_grpc(item: BadInput, up: Up, token: str) -> tuple[str, bool]:
    private = item.side == PRIVATE
    with grpc.insecure_channel(up.info["private_grpc" if private else "public_grpc"]) as channel:
        try:
            if private:
                poll = _submit_private(channel, item.path.read_bytes(), token)
            else:
                poll = _submit_public(channel, item.path.read_bytes(), up.info["api_key"])
        except grpc.RpcError as err:
            code = err.code()  # type: ignore[attr-defined]
            detail = one_line(err.details() or "")  # type: ignore[attr-defined]
            return f"{code.name}: {detail}", code in CLIENT_ERRORS
        return follow(poll)


def _submit_private(channel: grpc.Channel, data: bytes, token: str):  # type: ignore[no-untyped-def]
    stub = reid_pb2_grpc.ReidServiceStub(channel)
    meta = (("authorization", f"Bearer {token}"),)
    head = reid_pb2.ReconstructionMetadata(case_id=CASE)
    parts = [reid_pb2.SubmitReconstructionRequest(metadata=head)]
    parts += [reid_pb2.SubmitReconstructionRequest(chunk=c) for c in _chunks(data)]
    job = stub.SubmitReconstruction(iter(parts), metadata=meta, timeout=LIMIT_S).job_id
    request = reid_pb2.GetReconstructionRequest(job_id=job)
    return lambda: _state(stub.GetReconstruction(request, metadata=meta))


def _submit_public(channel: grpc.Channel, data: bytes, api_key: str):  # type: ignore[no-untyped-def]
    stub = deid_pb2_grpc.DeidServiceStub(channel)
    meta = (("x-api-key", api_key),)
    parts = [deid_pb2.UploadClipRequest(metadata=deid_pb2.ClipMetadata(filename="clip"))]
    parts += [deid_pb2.UploadClipRequest(chunk=c) for c in _chunks(data)]
    job = stub.UploadClip(iter(parts), metadata=meta, timeout=LIMIT_S).job_id
    request = deid_pb2.GetJobRequest(job_id=job)
    return lambda: _state(stub.GetJob(request, metadata=meta))


def _state(job: jobs_pb2.Job) -> dict[str, str]:
    names = {jobs_pb2.JOB_STATE_DONE: "done", jobs_pb2.JOB_STATE_FAILED: "failed"}
    return {"state": names.get(job.state, "running"), "error": job.error}


def prepare(up: Up, work: Path) -> tuple[Path, Path]:
    """A public clip made by this stack, and one made with another key set (CLI)."""
    clip = make_clip(work / "good.mp4", frames=12, size=(160, 120), faces=1)
    client = PublicClient(up.info)
    job = client.submit(clip).json()["job_id"]
    assert client.wait(job)["state"] == "done"
    public = work / "public.mp4"
    client.result(job, public)
    other_keys = work / "other-keys"
    subprocess.run([UUNET, "keys", "init", str(other_keys)], check=True, capture_output=True)
    other = work / "other-key.mp4"
    subprocess.run(
        [UUNET, "deid", str(clip), "-o", str(other), "--keys", str(other_keys), "-q"], check=True
    )
    return public, other


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated input names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as JSON")
    parser.add_argument("--no-long", action="store_true", help="skip the 10,000-frame clip")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="uunet-corpus-") as tmp:
        work = Path(tmp)
        up = Up(work / "stack").start()
        try:
            public, other = prepare(up, work)
            items = build(work / "corpus", public, other, long_clip=not args.no_long)
            wanted = set(filter(None, args.only.split(",")))
            items = [i for i in items if not wanted or i.name in wanted]
            print(f"{len(items)} inputs; load average {load_average()}", flush=True)
            for item in items:
                rows.append(run_doors(item, up, work))
            serving = still_serving(up, work)
            crashes = up.log().count("exited (")
        finally:
            up.stop()
    report(rows, serving, crashes, args.out)
    return 0 if all(r["ok"] for r in rows) and serving else 1


def run_doors(item: BadInput, up: Up, work: Path) -> dict[str, object]:
    token = subprocess.run(
        [UUNET, "dev-token", "--state-dir", str(up.state_dir), "--case", CASE],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    row: dict[str, object] = {"input": item.name, "side": item.side}
    ok = True
    for door, run in (
        ("cli", lambda: via_cli(item, up.info["keys_dir"], work)),
        ("rest", lambda: via_rest(item, up, token)),
        ("grpc", lambda: via_grpc(item, up, token)),
    ):
        started = time.monotonic()
        outcome, passed = run()
        row[door] = outcome
        row[f"{door}_s"] = round(time.monotonic() - started, 1)
        ok = ok and passed
    row["ok"] = ok
    print(json.dumps(row), flush=True)
    return row


def still_serving(up: Up, work: Path) -> bool:
    client = PublicClient(up.info)
    clip = make_clip(work / "after.mp4", frames=12, size=(160, 120), faces=1)
    return client.wait(client.submit(clip).json()["job_id"])["state"] == "done"


def report(rows: list[dict[str, object]], serving: bool, crashes: int, out: Path | None) -> None:
    print("\n| input | side | CLI | REST | gRPC | ok |\n| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['input']} | {r['side']} | {r['cli']} | {r['rest']} | {r['grpc']} | {r['ok']} |"
        )
    ok = sum(bool(r["ok"]) for r in rows)
    outcomes = [str(r[d]) for r in rows for d in ("cli", "rest", "grpc")]
    done = sum("done" in o for o in outcomes)
    print(f"\n{ok}/{len(rows)} inputs handled cleanly at all three doors ({len(outcomes)} sends)")
    print(
        f"sends ending done (the file decodes cleanly): {done}; refused or failed: {len(outcomes) - done}"
    )
    print(f"5xx/INTERNAL/crash/hang: {sum(not r['ok'] for r in rows)} inputs")
    print(f"processes that exited during the run: {crashes}; good clip done afterwards: {serving}")
    print(f"load average at the end: {load_average()}")
    if out:
        out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.exit(main())
