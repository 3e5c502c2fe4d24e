"""Shared helpers of the deployment checks: find the real tools, render the chart, walk manifests."""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "k8s" / "uunet"
K8S_VERSION = "1.32.0"
PARTS = ("public", "private")
PROFILES = ("default", "production", "ingress")
NAMESPACE = {"public": "uunet-public", "private": "uunet-private"}
CRD_GROUPS = ("keda.sh/", "gateway.networking.k8s.io/", "monitoring.coreos.com/")
SCHEMAS = Path(__file__).parent / "schemas"
TARGETS = (
    "public-api",
    "public-worker-gpu",
    "public-worker-cpu",
    "private-api",
    "private-worker",
    "private-worker-gpu",
)
# Stand-in digests for the product's images (a real install passes those of the pushed images).
TEST_DIGESTS = tuple(
    arg
    for target in TARGETS
    for arg in (
        "--set-string",
        f"image.digests.{target}=sha256:{hashlib.sha256(target.encode()).hexdigest()}",
    )
)
NAME_LABEL = "kubernetes.io/metadata.name"


def find_tool(name: str) -> str | None:
    """Path of a tool: .tools/bin (scripts/install_helm.sh), the venv's bin, then PATH."""
    for candidate in (REPO / ".tools" / "bin" / name, Path(sys.executable).parent / name):
        if candidate.is_file():
            return str(candidate)
    return shutil.which(name)


def require_tool(name: str) -> str:
    """The tool's path, or skip the test with the reason (set-up installs all of them)."""
    path = find_tool(name)
    if path is None:
        hint = "scripts/install_helm.sh" if name in ("helm", "kubectl") else "make setup"
        pytest.skip(f"{name} is not installed (run {hint})")
    return path


def run(cmd: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout; return its result whatever the exit status."""
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)


def helm_args(part: str, profile: str, digests: bool = True) -> list[str]:
    """The values arguments of one part and profile (with stand-in image digests)."""
    extra = list(TEST_DIGESTS) if digests else []
    if profile == "production":
        return ["-f", str(CHART / f"values-{part}-production.yaml"), *extra]
    if profile == "ingress":  # defaults plus everything the Ingress path can render
        extra += ["--set", f"{part}.expose.grpc.enabled=true"]
        extra += ["--set", "monitoring.podMonitor.enabled=true"]
        extra += ["--set", "monitoring.prometheusRule.enabled=true"]
        extra += ["--set", "monitoring.grafanaDashboard.enabled=true"]
        if part == "public":
            extra += ["--set", "minio.expose.enabled=true", "--set", "minio.replicas=4"]
            extra += ["--set", "public.s3PublicEndpoint=s3.deid.example.org"]
    return ["--set", f"component={part}", *extra]


@functools.cache
def render_text(part: str, profile: str, extra: tuple[str, ...] = ()) -> str:
    """`helm template` output for one release (asserts that it renders)."""
    helm = require_tool("helm")
    cmd = [helm, "template", f"uunet-{part}", str(CHART), "-n", NAMESPACE[part]]
    result = run([*cmd, *helm_args(part, profile), *extra])
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(part: str, profile: str, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rendered objects of one release, with their namespace set as `helm install -n` would."""
    docs = [d for d in yaml.safe_load_all(render_text(part, profile, extra)) if d]
    for doc in docs:
        doc.setdefault("metadata", {}).setdefault("namespace", NAMESPACE[part])
    return docs


def is_crd_object(doc: dict[str, Any]) -> bool:
    """True for objects of custom resources (no schema in kubernetes-validate)."""
    return str(doc["apiVersion"]).startswith(CRD_GROUPS)


def crd_schema(kind: str) -> Path:
    """The vendored JSON Schema of a custom resource kind (scripts/vendor_crd_schemas.py)."""
    return SCHEMAS / f"{kind.lower()}.json"


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The objects of one kind."""
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str) -> dict[str, Any]:
    """The single object of a kind whose name ends with the suffix."""
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} *{name_suffix}, got {len(found)}"
    return found[0]


def pod_templates(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(object name, pod template) of every workload."""
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
            yield doc["metadata"]["name"], doc["spec"]["template"]


def all_combinations() -> list[tuple[str, str]]:
    """Every (part, profile) the chart ships values for."""
    return [(part, profile) for part in PARTS for profile in PROFILES]


_VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with the defaults (the variables unset, as on a fresh host)."""
    return _VAR.sub(lambda m: m.group(2) or "", value)


def compose_env(service: str) -> dict[str, str]:
    """The environment docker-compose.yml gives one service, interpolated."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    env = compose["services"][service].get("environment") or {}
    return {k: interpolate(str(v)) for k, v in env.items()}
