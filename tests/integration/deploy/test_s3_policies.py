"""The per-process S3 policies (k8s/uunet/files/s3-policies/, installed by minio-init.sh in compose
and the chart) allow every object operation the process's code performs, on the keys the code
builds, and nothing the process has no business doing (evaluated here with IAM's Allow semantics:
no MinIO server runs offline)."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
import yaml

from services.private_reid import desk
from services.public_deid import service
from tests.integration.deploy.tools import CHART, REPO, require_tool, run

POLICIES = CHART / "files" / "s3-policies"
BUCKET, AUDIT = "uunet-test", "uunet-test-audit"
JOB = "0123456789abcdef0123456789abcdef"
WEIGHTS = yaml.safe_load((CHART / "values.yaml").read_text())["private"]["weights"]["objectKey"]
Op = tuple[str, str]  # (action, object key or "" for the bucket itself)

# What each process does, on the keys its code builds (services/*/service.py, desk.py, worker.py).
NEEDS: dict[str, list[Op]] = {
    "public-api": [
        ("s3:ListBucket", ""),  # readiness: the bucket answers
        ("s3:PutObject", service.raw_key(JOB)),
        ("s3:AbortMultipartUpload", service.raw_key(JOB)),
        ("s3:PutObject", service.pending_key(JOB)),
        ("s3:GetObject", service.pending_key(JOB)),
        ("s3:GetObject", service.raw_key(JOB)),  # stat on complete
        ("s3:DeleteObject", service.raw_key(JOB)),
        ("s3:DeleteObject", service.pending_key(JOB)),
        ("s3:GetObject", service.result_key_for(JOB)),  # stream or presign the result
    ],
    "public-worker": [
        ("s3:ListBucket", ""),
        ("s3:GetObject", service.raw_key(JOB)),
        ("s3:DeleteObject", service.raw_key(JOB)),
        ("s3:GetObject", service.result_key_for(JOB)),
        ("s3:PutObject", service.result_key_for(JOB)),
        ("s3:DeleteObject", service.result_key_for(JOB)),  # retention sweeper
    ],
    "private-api": [
        ("s3:ListBucket", ""),
        ("s3:PutObject", desk.raw_key(JOB)),
        ("s3:DeleteObject", desk.raw_key(JOB)),
        ("s3:GetObject", desk.result_key_for(JOB)),
        ("s3:DeleteObject", desk.result_key_for(JOB)),  # deleted once downloaded
    ],
    "private-worker": [
        ("s3:ListBucket", ""),
        ("s3:GetObject", desk.raw_key(JOB)),
        ("s3:DeleteObject", desk.raw_key(JOB)),
        ("s3:GetObject", desk.result_key_for(JOB)),
        ("s3:PutObject", desk.result_key_for(JOB)),
        ("s3:DeleteObject", desk.result_key_for(JOB)),  # retention sweeper
        ("s3:GetObject", WEIGHTS),  # the init container copies the encrypted weights
    ],
}
NEVER: dict[str, list[Op]] = {
    "public-api": [("s3:PutObject", service.result_key_for(JOB))],
    "public-worker": [("s3:PutObject", service.raw_key(JOB))],
    "private-api": [("s3:GetObject", WEIGHTS), ("s3:GetObject", desk.raw_key(JOB))],
    "private-worker": [("s3:PutObject", WEIGHTS), ("s3:PutObject", desk.raw_key(JOB))],
}
# Nobody but the init job (root user) touches the bucket's configuration.
ADMIN_OPS: list[Op] = [
    ("s3:PutLifecycleConfiguration", ""),
    ("s3:DeleteBucket", ""),
    ("s3:PutBucketPolicy", ""),
    ("s3:CreateBucket", ""),
    ("admin:CreateUser", ""),
]


def _policy(process: str) -> dict[str, Any]:
    text = (POLICIES / f"{process}.json").read_text()
    text = text.replace("AUDIT_BUCKET", AUDIT).replace("BUCKET", BUCKET)  # as minio-init.sh does
    return dict(json.loads(text))


def allowed(policy: dict[str, Any], action: str, key: str, bucket: str = BUCKET) -> bool:
    """IAM evaluation for Allow-only policies: any statement whose action and resource match."""
    resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow", "these policies only allow"
        actions, resources = statement["Action"], statement["Resource"]
        if any(fnmatch.fnmatchcase(action, a) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in resources
        ):
            return True
    return False


# The private API anchors the audit log's head in its own object-locked bucket (issue 14 item 3):
# it checks the lock, writes anchors and reads every version back; nobody may delete one.
AUDIT_NEEDS: list[Op] = [
    ("s3:ListBucket", ""),
    ("s3:GetBucketObjectLockConfiguration", ""),
    ("s3:ListBucketVersions", ""),
    ("s3:PutObject", "anchors/00000005-abc.json"),
    ("s3:GetObjectVersion", "anchors/00000005-abc.json"),
]
AUDIT_NEVER: list[Op] = [
    ("s3:DeleteObject", "anchors/x.json"),
    ("s3:DeleteObjectVersion", "anchors/x.json"),
    ("s3:BypassGovernanceRetention", "anchors/x.json"),
    ("s3:PutObjectRetention", "anchors/x.json"),
    ("s3:PutBucketObjectLockConfiguration", ""),
]


def test_only_the_private_api_writes_audit_anchors_and_nobody_deletes_them() -> None:
    api = _policy("private-api")
    assert all(allowed(api, *op, bucket=AUDIT) for op in AUDIT_NEEDS)
    for process in NEEDS:
        policy = _policy(process)
        assert not any(allowed(policy, *op, bucket=AUDIT) for op in AUDIT_NEVER), process
        if process != "private-api":
            assert not any(allowed(policy, *op, bucket=AUDIT) for op in AUDIT_NEEDS), process


@pytest.mark.parametrize("process", sorted(NEEDS))
def test_each_process_may_do_what_its_code_does(process: str) -> None:
    policy = _policy(process)
    missing = [op for op in NEEDS[process] if not allowed(policy, *op)]
    assert not missing, f"{process} policy lacks {missing}"


@pytest.mark.parametrize("process", sorted(NEEDS))
def test_each_process_may_do_nothing_else(process: str) -> None:
    policy = _policy(process)
    extra = [op for op in NEVER[process] + ADMIN_OPS if allowed(policy, *op)]
    assert not extra, f"{process} policy allows {extra}"
    for statement in policy["Statement"]:
        assert "*" not in statement["Action"] and "s3:*" not in statement["Action"]
        # Only this part's buckets (substituted by minio-init.sh), never another one.
        for resource in statement["Resource"]:
            assert resource.split(":::", 1)[1].split("/")[0] in (BUCKET, AUDIT)


def test_the_init_script_installs_one_policy_per_process_and_the_scripts_pass_shellcheck() -> None:
    script = (CHART / "files" / "minio-init.sh").read_text()
    assert "for role in api worker" in script and '"$POLICY_DIR/$PART-$role.json"' in script
    assert {p.stem for p in POLICIES.glob("*.json")} == set(NEEDS)
    shellcheck = require_tool("shellcheck")
    files = [str(p) for p in (CHART / "files").glob("*.sh")]
    files += [str(REPO / "scripts" / name) for name in ("compose_secrets.sh", "build_images.sh")]
    result = run([shellcheck, *files])
    assert result.returncode == 0, result.stdout + result.stderr
