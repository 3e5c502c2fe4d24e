"""The Helm chart lints, renders and validates offline, for both parts and every values profile:
core objects against Kubernetes' schemas at several versions, custom resources (KEDA, Gateway API,
Prometheus Operator) against their upstream CRD schemas, values against values.schema.json, and
every image by digest."""

from __future__ import annotations

import json
import re
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
    crd_schema,
    helm_args,
    is_crd_object,
    of_kind,
    one,
    pod_templates,
    render,
    require_tool,
    run,
)

COMBOS = all_combinations()
IDS = [f"{part}-{profile}" for part, profile in COMBOS]
DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def _template(part: str, *extra: str, digests: bool = True) -> Any:
    helm = require_tool("helm")
    cmd = [helm, "template", "x", str(CHART), "-n", NAMESPACE[part]]
    return run([*cmd, *helm_args(part, "default", digests), *extra])


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
    assert {"Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget"} <= {
        d["kind"] for d in core
    }
    manifest = tmp_path / "core.yaml"
    manifest.write_text(yaml.safe_dump_all(core))
    result = run([validator, "--strict", "--quiet", "-k", K8S_VERSION, str(manifest)])
    assert result.returncode == 0, result.stdout + result.stderr
    # Every object was checked against a bundled schema (none skipped as unknown).
    assert "Couldn't find schema" not in result.stdout + result.stderr


@pytest.mark.parametrize("version", ["1.27.0", "1.30.0", "1.33.0", "1.37.0"])
def test_rendered_objects_validate_on_several_kubernetes_versions(
    version: str, tmp_path: Path
) -> None:
    """From the chart's kubeVersion floor (>=1.27) to the newest schemas bundled, all renders."""
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


def _check_crds(docs: list[dict[str, Any]], tmp_path: Path) -> list[Any]:
    """check-jsonschema each custom resource against its kind's schema (one call per kind)."""
    checker = require_tool("check-jsonschema")
    results = []
    for kind in sorted({d["kind"] for d in docs}):
        files = []
        for doc in (d for d in docs if d["kind"] == kind):
            files.append(tmp_path / f"{kind}-{doc['metadata']['name']}.json")
            files[-1].write_text(json.dumps(doc))
        schema = str(crd_schema(kind))
        results.append(run([checker, "--schemafile", schema, *map(str, files)]))
    return results


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_custom_resources_validate_against_their_upstream_crd_schemas(
    part: str, profile: str, tmp_path: Path
) -> None:
    """KEDA, Gateway API and Prometheus Operator objects: schemas/SOURCES.md says where from."""
    crds = [d for d in render(part, profile) if is_crd_object(d)]
    kinds = {d["kind"] for d in crds}
    assert {"ScaledObject", "TriggerAuthentication"} <= kinds
    if profile == "production":
        assert {"HTTPRoute", "GRPCRoute", "PodMonitor", "PrometheusRule"} <= kinds
        assert ("Gateway" in kinds) == (part == "private")
    for result in _check_crds(crds, tmp_path):
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("kind", "suffix", "path"),
    [
        ("ScaledObject", "-worker", ("spec", "minReplicaCnt")),
        ("HTTPRoute", "-api", ("spec", "rulez")),
        ("Gateway", "", ("spec", "tls", "frontend", "default", "validaton")),
    ],
)
def test_crd_schemas_reject_a_misspelt_field(
    kind: str, suffix: str, path: tuple[str, ...], tmp_path: Path
) -> None:
    """Guards the check above: the vendored schemas are strict."""
    doc = one(render("private", "production"), kind, suffix)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = 1
    (result,) = _check_crds([doc], tmp_path)
    assert result.returncode != 0


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_every_image_is_pinned_by_digest(part: str, profile: str) -> None:
    images = [
        c["image"]
        for _, template in pod_templates(render(part, profile))
        for c in template["spec"]["containers"] + template["spec"].get("initContainers", [])
    ]
    images += [p["spec"]["containers"][0]["image"] for p in of_kind(render(part, profile), "Pod")]
    assert images
    for image in images:
        assert DIGEST.match(image), f"{image} is not pinned by digest"


def test_a_missing_or_placeholder_digest_is_refused_with_the_way_to_get_it() -> None:
    missing = _template("public", digests=False)
    assert missing.returncode != 0
    assert "image.digests.public-api is required" in missing.stderr
    assert "scripts/build_images.sh" in missing.stderr
    placeholder = _template("public", "--set-string", "image.digests.public-api=sha256:REPLACE_ME")
    assert placeholder.returncode != 0 and "image.digests.public-api" in placeholder.stderr
    # values.schema.json refuses it first; the template's own check is the second guard.
    tag_only = _template("public", "--set", "redis.image=redis:7.4.11-alpine")
    assert tag_only.returncode != 0 and "redis.image" in tag_only.stderr


def test_values_schema_refuses_a_wrong_type_and_an_unknown_key() -> None:
    helm = require_tool("helm")
    base = [helm, "lint", "--strict", str(CHART), *helm_args("public", "default")]
    wrong = run([*base, "--set", "public.worker.drainSeconds=soon"])
    assert wrong.returncode != 0 and "drainSeconds" in wrong.stdout + wrong.stderr
    unknown = run([*base, "--set", "public.worker.drainSecs=10"])
    assert unknown.returncode != 0 and "drainSecs" in unknown.stdout + unknown.stderr


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


@pytest.mark.parametrize("part", PARTS)
def test_chart_made_secrets_hold_only_the_side_s_keys(part: str, tmp_path: Path) -> None:
    """secrets.create=true: the public part never receives the authority's private key."""
    validator = require_tool("kubernetes-validate")
    values = yaml.safe_load((CHART / "values.yaml").read_text())["secrets"]["values"]
    extra: list[str] = ["--set", "secrets.create=true"]
    for name in values:
        extra += ["--set", f"secrets.values.{name}=dummy-{name}"]
    docs = render(part, "default", tuple(extra))
    expected = {"deid_secret.key", "keyset.json"}
    expected |= (
        {"signing_ed25519.pem", "authority_x25519.pub.pem"}
        if part == "public"
        else {"signing_ed25519.pub.pem", "authority_x25519.pem"}
    )
    assert set(one(docs, "Secret", "-keyset")["data"]) == expected
    credentials = set(one(docs, "Secret", "-credentials")["data"])
    assert {"s3-root-access-key", "s3-api-secret-key", "redis-keda-password"} <= credentials
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
    ("private", "api"): {"signing_ed25519.pub.pem", "keyset.json"},
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
    ("private", "api"): {"credentials", "keys", "jwt", "audit-key"},
    ("private", "worker"): {"credentials", "keys", "weights-key", "audit-key"},
}


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
@pytest.mark.parametrize("role", ["api", "worker"])
def test_each_process_mounts_only_the_secrets_it_needs(part: str, profile: str, role: str) -> None:
    """Least privilege: its own S3 user and Redis user; the public API holds no key; only the
    private worker holds the authority key."""
    spec = one(render(part, profile), "Deployment", f"-{role}")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert {n for n, v in volumes.items() if "secret" in v} == SECRET_VOLUMES[(part, role)]
    keys = volumes.get("keys", {"secret": {"items": []}})["secret"]["items"]
    assert {item["path"] for item in keys} == KEY_FILES[(part, role)]
    s3 = {item["key"] for item in volumes["credentials"]["secret"]["items"]}
    assert s3 == {f"s3-{role}-access-key", f"s3-{role}-secret-key"}
    env = spec["containers"][0]["env"]
    (password,) = [e for e in env if e["name"] == "REDIS_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"]["key"] == f"redis-{role}-password"
    url = next(e["value"] for e in env if e["name"].endswith("_REDIS_URL"))
    assert url.startswith(f"redis://{role}:$(REDIS_PASSWORD)@")
    assert next(e["value"] for e in env if e["name"].endswith("_S3_MANAGE_BUCKET")) == "false"


@pytest.mark.parametrize("role", ["api", "worker"])
def test_private_processes_get_the_audit_key_and_the_anchor_bucket(role: str) -> None:
    """Both private processes MAC audit entries; the key comes from the credentials secret, on a
    volume of its own that the weights init container does not mount."""
    spec = one(render("private", "production"), "Deployment", f"-{role}")["spec"]["template"][
        "spec"
    ]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["UUNET_PRIVATE_AUDIT_KEY_FILE"] == "/var/run/secrets/uunet/audit/audit-key"
    assert env["UUNET_PRIVATE_AUDIT_ANCHOR_BUCKET"] == "uunet-private-audit"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert [i["key"] for i in volumes["audit-key"]["secret"]["items"]] == ["audit-key"]
    for init in spec.get("initContainers", []):
        assert "audit-key" not in {m["name"] for m in init.get("volumeMounts", [])}
    public = one(render("public", "production"), "Deployment", "-api")["spec"]["template"]["spec"]
    assert not [e for e in public["containers"][0]["env"] if "AUDIT" in e["name"]]
