"""The Helm chart lints, renders and validates offline, for both parts and both values files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.deploy.tools import (
    CHART,
    K8S_VERSION,
    NAMESPACE,
    PARTS,
    all_combinations,
    helm_args,
    is_crd_object,
    of_kind,
    one,
    pod_templates,
    render,
    require_tool,
    run,
)

SCHEMAS = Path(__file__).parent / "schemas"
CRD_SCHEMAS = {
    "ScaledObject": SCHEMAS / "keda-scaledobject.json",
    "TriggerAuthentication": SCHEMAS / "keda-triggerauthentication.json",
}
COMBOS = all_combinations()
IDS = [f"{part}-{profile}" for part, profile in COMBOS]
# Contract (team/CONTRACTS.md): streams, groups, ports.
CONTRACT = {
    "public": {"stream": "uunet:deid:jobs", "group": "deid-workers", "http": 8080, "grpc": 50051},
    "private": {"stream": "uunet:reid:jobs", "group": "reid-workers", "http": 8081, "grpc": 50052},
}


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_helm_lint_strict_passes(part: str, profile: str) -> None:
    helm = require_tool("helm")
    result = run([helm, "lint", "--strict", str(CHART), *helm_args(part, profile)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_rendered_core_objects_validate_strictly_against_kubernetes_schemas(
    part: str, profile: str, tmp_path: Path
) -> None:
    validator = require_tool("kubernetes-validate")
    core = [d for d in render(part, profile) if not is_crd_object(d)]
    assert {"Deployment", "Service", "NetworkPolicy", "Ingress"} <= {d["kind"] for d in core}
    manifest = tmp_path / "core.yaml"
    manifest.write_text(yaml.safe_dump_all(core))
    result = run([validator, "--strict", "--quiet", "-k", K8S_VERSION, str(manifest)])
    assert result.returncode == 0, result.stdout + result.stderr
    # Every object was checked against a bundled schema (none skipped as unknown).
    assert "Couldn't find schema" not in result.stdout + result.stderr


@pytest.mark.parametrize("version", ["1.27.0", "1.37.0"])
def test_rendered_objects_validate_on_the_oldest_and_newest_kubernetes(
    version: str, tmp_path: Path
) -> None:
    """The chart's kubeVersion floor (>=1.27) and the newest schemas bundled, all renders at once."""
    validator = require_tool("kubernetes-validate")
    core = [d for p, f in COMBOS for d in render(p, f) if not is_crd_object(d)]
    manifest = tmp_path / "all.yaml"
    manifest.write_text(yaml.safe_dump_all(core))
    result = run([validator, "--strict", "--quiet", "-k", version, str(manifest)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Couldn't find schema" not in result.stdout + result.stderr


def test_kubernetes_validate_strict_rejects_an_unknown_field(tmp_path: Path) -> None:
    """Guards the check above: strict mode does catch a misspelt field."""
    validator = require_tool("kubernetes-validate")
    deployment = one(render("public", "default"), "Deployment", "-api")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFs"] = 1
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(yaml.safe_dump(deployment))
    result = run([validator, "--strict", "--quiet", "-k", K8S_VERSION, str(manifest)])
    assert result.returncode != 0


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_keda_objects_validate_against_their_json_schemas(
    part: str, profile: str, tmp_path: Path
) -> None:
    """kubernetes-validate has no schema for CRDs: KEDA objects go through our own schemas."""
    checker = require_tool("check-jsonschema")
    crds = [d for d in render(part, profile) if is_crd_object(d)]
    assert {d["kind"] for d in crds} == set(CRD_SCHEMAS)
    for i, doc in enumerate(crds):
        instance = tmp_path / f"{doc['kind']}-{i}.json"
        instance.write_text(json.dumps(doc))
        result = run([checker, "--schemafile", str(CRD_SCHEMAS[doc["kind"]]), str(instance)])
        assert result.returncode == 0, result.stdout + result.stderr


def test_keda_schema_rejects_a_trigger_without_lag_count(tmp_path: Path) -> None:
    checker = require_tool("check-jsonschema")
    scaled = one(render("public", "default"), "ScaledObject", "-worker")
    del scaled["spec"]["triggers"][0]["metadata"]["lagCount"]
    instance = tmp_path / "bad.json"
    instance.write_text(json.dumps(scaled))
    result = run([checker, "--schemafile", str(CRD_SCHEMAS["ScaledObject"]), str(instance)])
    assert result.returncode != 0


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_workers_scale_with_keda_on_the_contract_stream_lag(part: str, profile: str) -> None:
    docs = render(part, profile)
    worker = one(docs, "Deployment", "-worker")
    scaled = one(docs, "ScaledObject", "-worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    assert "replicas" not in worker["spec"], "KEDA owns the replica count"
    (trigger,) = scaled["spec"]["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "redis-streams"
    assert (meta["stream"], meta["consumerGroup"]) == (
        CONTRACT[part]["stream"],
        CONTRACT[part]["group"],
    )
    assert int(meta["lagCount"]) >= 1
    redis_service = one(docs, "Service", "-redis")["metadata"]["name"]
    assert meta["address"] == f"{redis_service}.{NAMESPACE[part]}.svc:6379"
    auth = one(docs, "TriggerAuthentication", "-redis")
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_apis_have_probes_hpa_and_contract_ports(part: str, profile: str) -> None:
    docs = render(part, profile)
    api = one(docs, "Deployment", "-api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": CONTRACT[part]["http"], "grpc": CONTRACT[part]["grpc"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    module = "services.public_deid" if part == "public" else "services.private_reid"
    assert container["command"] == ["python", "-m", module, "api"]
    hpa = one(docs, "HorizontalPodAutoscaler", "-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == api["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 1


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_every_pod_runs_restricted(part: str, profile: str) -> None:
    """Non-root, read-only root with an emptyDir /tmp, no escalation, no capabilities, seccomp."""
    for name, template in pod_templates(render(part, profile)):
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec.get("automountServiceAccountToken") is False, name
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in empty_dirs, f"{name}: /tmp must be an emptyDir"
            assert c["resources"]["requests"] and c["resources"]["limits"], name


def _gpu_limit(docs: list[dict[str, Any]]) -> tuple[int, str]:
    worker = one(docs, "Deployment", "-worker")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    return int(container["resources"]["limits"].get("nvidia.com/gpu", 0)), container["image"]


@pytest.mark.parametrize("profile", ["default", "production"])
def test_public_worker_requests_a_gpu_and_runs_the_cuda_image(profile: str) -> None:
    docs = render("public", profile)
    gpus, image = _gpu_limit(docs)
    assert gpus >= 1
    assert "/public-worker-gpu:" in image
    env = {e["name"]: e.get("value") for e in _container(docs, "-worker")["env"]}
    assert env["UUNET_PUBLIC_DEVICE"] == "cuda"
    tolerations = one(docs, "Deployment", "-worker")["spec"]["template"]["spec"]["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations


def test_public_worker_without_gpu_uses_the_cpu_image() -> None:
    docs = render("public", "default", ("--set", "public.worker.gpu=0"))
    gpus, image = _gpu_limit(docs)
    assert gpus == 0
    assert "/public-worker-cpu:" in image


def _container(docs: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    deployment = one(docs, "Deployment", suffix)
    return deployment["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("profile", ["default", "production"])
def test_private_ingress_requires_client_certificates(profile: str) -> None:
    docs = render("private", profile)
    ingresses = of_kind(docs, "Ingress")
    assert ingresses
    for ing in ingresses:
        notes = ing["metadata"]["annotations"]
        assert notes["nginx.ingress.kubernetes.io/auth-tls-verify-client"] == "on"
        namespace, secret = notes["nginx.ingress.kubernetes.io/auth-tls-secret"].split("/")
        assert namespace == NAMESPACE["private"] and secret
        assert ing["spec"]["tls"]


def test_private_ingress_refuses_to_render_without_a_client_ca() -> None:
    helm = require_tool("helm")
    cmd = [helm, "template", "x", str(CHART), "-n", NAMESPACE["private"]]
    result = run(
        [*cmd, *helm_args("private", "default"), "--set", "private.ingress.clientCASecret="]
    )
    assert result.returncode != 0
    assert "clientCASecret is required" in result.stderr


@pytest.mark.parametrize("part", PARTS)
def test_chart_made_secrets_hold_only_the_side_s_keys(part: str, tmp_path: Path) -> None:
    """secrets.create=true: the public part never receives the authority's private key."""
    validator = require_tool("kubernetes-validate")
    names = ["s3AccessKey", "s3SecretKey", "redisPassword", "deidSecret", "keyset", "signingKey"]
    names += ["signingPublicKey", "authorityKey", "authorityPublicKey", "apiKeys", "jwtPublicKey"]
    names += ["weightsKey", "auditKey"]
    extra: list[str] = ["--set", "secrets.create=true"]
    for name in names:
        extra += ["--set", f"secrets.values.{name}=dummy-{name}"]
    docs = render(part, "default", tuple(extra))
    keyset = one(docs, "Secret", "-keyset")
    files = set(keyset["data"])
    if part == "public":
        assert files == {
            "deid_secret.key",
            "keyset.json",
            "signing_ed25519.pem",
            "authority_x25519.pub.pem",
        }
    else:
        assert files == {
            "deid_secret.key",
            "keyset.json",
            "signing_ed25519.pub.pem",
            "authority_x25519.pem",
        }
    manifest = tmp_path / "secrets.yaml"
    manifest.write_text(yaml.safe_dump_all(of_kind(docs, "Secret")))
    result = run([validator, "--strict", "--quiet", "-k", K8S_VERSION, str(manifest)])
    assert result.returncode == 0, result.stdout + result.stderr


KEY_FILES = {
    ("public", "api"): set(),
    ("public", "worker"): {
        "deid_secret.key",
        "signing_ed25519.pem",
        "authority_x25519.pub.pem",
        "keyset.json",
    },
    ("private", "api"): {"signing_ed25519.pub.pem"},
    ("private", "worker"): {
        "deid_secret.key",
        "signing_ed25519.pub.pem",
        "authority_x25519.pem",
        "keyset.json",
    },
}
SECRET_VOLUMES = {
    ("public", "api"): {"credentials", "api-keys"},
    ("public", "worker"): {"credentials", "keys"},
    ("private", "api"): {"credentials", "keys", "jwt"},
    ("private", "worker"): {"credentials", "keys", "weights-key"},
}


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
@pytest.mark.parametrize("role", ["api", "worker"])
def test_each_process_mounts_only_the_secrets_it_needs(part: str, profile: str, role: str) -> None:
    """Least privilege: the public API holds no key, only the private worker the authority key."""
    spec = one(render(part, profile), "Deployment", f"-{role}")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert {n for n, v in volumes.items() if "secret" in v} == SECRET_VOLUMES[(part, role)]
    keys = volumes.get("keys", {"secret": {"items": []}})["secret"]["items"]
    assert {item["path"] for item in keys} == KEY_FILES[(part, role)]


def test_private_worker_fetches_the_encrypted_weights_before_it_starts() -> None:
    spec = one(render("private", "production"), "Deployment", "-worker")["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    target = env["UUNET_PRIVATE_ENCRYPTED_WEIGHTS"]
    assert target in init["args"][0] and "mc cp uunet/uunet-private/" in init["args"][0]
    assert env["UUNET_PRIVATE_WEIGHTS_KEY_FILE"].endswith("/weights.key")


@pytest.mark.parametrize("role", ["api", "worker"])
def test_private_processes_get_the_audit_key_and_the_anchor_bucket(role: str) -> None:
    """Both private processes MAC audit entries; the key comes from the credentials secret."""
    spec = one(render("private", "production"), "Deployment", f"-{role}")["spec"]["template"][
        "spec"
    ]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["UUNET_PRIVATE_AUDIT_KEY_FILE"].endswith("/credentials/audit-key")
    assert env["UUNET_PRIVATE_AUDIT_ANCHOR_BUCKET"] == "uunet-private-audit"
    volumes = {v["name"]: v for v in spec["volumes"]}
    items = {i["key"] for i in volumes["credentials"]["secret"]["items"]}
    assert "audit-key" in items
    public = one(render("public", "production"), "Deployment", "-api")["spec"]["template"]["spec"]
    assert not [e for e in public["containers"][0]["env"] if "AUDIT" in e["name"]]


def test_distributed_minio_in_production_uses_every_peer() -> None:
    docs = render("public", "production")
    minio = one(docs, "StatefulSet", "-minio")
    replicas = minio["spec"]["replicas"]
    assert replicas >= 4
    (arg,) = [a for a in minio["spec"]["template"]["spec"]["containers"][0]["args"] if "{0..." in a]
    assert f"{{0...{replicas - 1}}}" in arg
    assert minio["spec"]["podManagementPolicy"] == "Parallel"


@pytest.mark.parametrize("part", PARTS)
def test_redis_persists_with_append_only_file(part: str) -> None:
    redis = one(render(part, "production"), "StatefulSet", "-redis")
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    assert "--appendonly yes" in " ".join(container["args"])
    assert redis["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]


def test_private_object_store_is_never_exposed_by_an_ingress() -> None:
    helm = require_tool("helm")
    cmd = [helm, "template", "x", str(CHART), "-n", NAMESPACE["private"]]
    result = run([*cmd, *helm_args("private", "default"), "--set", "minio.ingress.enabled=true"])
    assert result.returncode != 0
    assert "private object store is never exposed" in result.stderr


def test_public_presigned_downloads_go_through_the_s3_ingress() -> None:
    docs = render("public", "production")
    ingress = one(docs, "Ingress", "-minio")
    host = ingress["spec"]["rules"][0]["host"]
    env = {e["name"]: e.get("value") for e in _container(docs, "-api")["env"]}
    assert env["UUNET_PUBLIC_S3_PUBLIC_ENDPOINT"] == host
    assert env["UUNET_PUBLIC_S3_PUBLIC_SECURE"] == "true"


def _bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity.removesuffix(suffix)) * factor)
    return int(quantity)


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_scratch_space_is_reserved_on_the_node(part: str, profile: str) -> None:
    """A clip spooled to /tmp cannot evict the pod: ephemeral storage covers the emptyDir."""
    for role in ("api", "worker"):
        spec = one(render(part, profile), "Deployment", f"-{role}")["spec"]["template"]["spec"]
        tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")["emptyDir"]["sizeLimit"]
        resources = spec["containers"][0]["resources"]
        assert _bytes(resources["requests"]["ephemeral-storage"]) >= _bytes(tmp)
        assert _bytes(resources["limits"]["ephemeral-storage"]) > _bytes(tmp)
