"""What the chart promises operators: workers scale on waiting and in-flight jobs, every pod's grace
period covers its shutdown, only the versioned API is routed publicly (one TLS secret per host,
client certificates on the private side), storage survives node loss and memory pressure, and
Prometheus gets scrape targets, alerts and a dashboard."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.integration.deploy.tools import (
    CHART,
    NAMESPACE,
    all_combinations,
    helm_args,
    of_kind,
    one,
    render,
    require_tool,
    run,
)

COMBOS = all_combinations()
IDS = [f"{part}-{profile}" for part, profile in COMBOS]
CONTRACT = {
    "public": {"stream": "uunet:deid:jobs", "group": "deid-workers", "http": 8080, "grpc": 50051},
    "private": {"stream": "uunet:reid:jobs", "group": "reid-workers", "http": 8081, "grpc": 50052},
}
GRPC_SERVICE = {"public": "uunet.deid.v1.DeidService", "private": "uunet.reid.v1.ReidService"}
HANDBACK_MARGIN_S = 30  # SIGTERM -> job released and process gone (measured: ~2 s)


def _values(part: str, profile: str) -> dict[str, Any]:
    base = yaml.safe_load((CHART / "values.yaml").read_text())[part]
    if profile == "production":
        prod = yaml.safe_load((CHART / f"values-{part}-production.yaml").read_text())[part]
        for key in ("worker", "api"):
            base[key] = {**base[key], **prod.get(key, {})}
    return dict(base)


def _env(deployment: dict[str, Any]) -> dict[str, str]:
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e.get("value", "") for e in env}


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_keda_scales_on_waiting_and_on_pending_entries(part: str, profile: str) -> None:
    """lagCount alone ignores jobs being processed: a second trigger on pending entries keeps a
    worker per job in flight (and keeps KEDA from scaling to zero under them)."""
    docs = render(part, profile)
    worker = one(docs, "Deployment", "-worker")
    scaled = one(docs, "ScaledObject", "-worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    assert "replicas" not in worker["spec"], "KEDA owns the replica count"
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"redis-streams"}
    lag = [t["metadata"] for t in triggers if "lagCount" in t["metadata"]]
    pending = [t["metadata"] for t in triggers if "pendingEntriesCount" in t["metadata"]]
    assert len(lag) == 1 and len(pending) == 1
    # KEDA ignores pendingEntriesCount in a trigger that also sets lagCount.
    assert "pendingEntriesCount" not in lag[0] and "lagCount" not in pending[0]
    assert int(pending[0]["pendingEntriesCount"]) == 1, "one worker per job in flight"
    redis_service = one(docs, "Service", "-redis")["metadata"]["name"]
    auth = one(docs, "TriggerAuthentication", "-redis")
    for t in triggers:
        meta = t["metadata"]
        assert (meta["stream"], meta["consumerGroup"]) == (
            CONTRACT[part]["stream"],
            CONTRACT[part]["group"],
        )
        assert meta["address"] == f"{redis_service}.{NAMESPACE[part]}.svc:6379"
        assert (
            meta["username"] == "keda"
            and t["authenticationRef"]["name"] == auth["metadata"]["name"]
        )
    (secret,) = auth["spec"]["secretTargetRef"]
    assert secret["key"] == "redis-keda-password"


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_worker_grace_covers_the_drain_and_the_hand_back(part: str, profile: str) -> None:
    """Grace >= drain + hand-back margin; the job limit is covered by the hand-back (tested on the
    real worker in test_worker_shutdown.py), or by a drain set at or above it."""
    worker = one(render(part, profile), "Deployment", "-worker")
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    env = _env(worker)
    prefix = f"UUNET_{part.upper()}_"
    drain = float(env[f"{prefix}SHUTDOWN_DRAIN_S"])
    assert drain == _values(part, profile)["worker"]["drainSeconds"]
    assert grace >= drain + HANDBACK_MARGIN_S
    assert float(env[f"{prefix}JOB_TIMEOUT_S"]) == _values(part, profile)["jobTimeoutSeconds"]
    pdb = one(render(part, profile), "PodDisruptionBudget", "-worker")
    assert pdb["spec"]["maxUnavailable"] >= 1


def test_a_drain_at_the_job_limit_gets_a_grace_above_the_job_limit() -> None:
    """The other way to make shutdown safe: let every job finish."""
    docs = render("public", "default", ("--set", "public.worker.drainSeconds=3600"))
    spec = one(docs, "Deployment", "-worker")["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] >= 3600 + HANDBACK_MARGIN_S


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_api_leaves_the_endpoints_then_lets_uploads_finish(part: str, profile: str) -> None:
    api = one(render(part, profile), "Deployment", "-api")
    spec = api["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    values = _values(part, profile)["api"]
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep == ["sleep", str(values["preStopSleepSeconds"])]
    env = _env(api)
    grace_s = float(env[f"UUNET_{part.upper()}_SHUTDOWN_GRACE_S"])
    assert grace_s == values["shutdownGraceSeconds"] >= 120, "a 2 GB upload needs minutes"
    assert spec["terminationGracePeriodSeconds"] > values["preStopSleepSeconds"] + grace_s
    assert (
        int(env[f"UUNET_{part.upper()}_MAX_CONCURRENT_UPLOADS"]) == values["maxConcurrentUploads"]
    )


def _mib(quantity: str) -> float:
    units = {"Mi": 1, "Gi": 1024}
    return float(quantity[:-2]) * units[quantity[-2:]]


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_scratch_space_holds_the_uploads_it_admits_and_is_reserved(part: str, profile: str) -> None:
    """/tmp holds maxConcurrentUploads maximum-size uploads, and ephemeral storage covers it."""
    values = _values(part, profile)
    for role in ("api", "worker"):
        spec = one(render(part, profile), "Deployment", f"-{role}")["spec"]["template"]["spec"]
        tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")["emptyDir"]["sizeLimit"]
        resources = spec["containers"][0]["resources"]
        assert _mib(resources["requests"]["ephemeral-storage"]) >= _mib(tmp)
        assert _mib(resources["limits"]["ephemeral-storage"]) > _mib(tmp)
        if role == "api":
            slots = values["api"]["maxConcurrentUploads"]
            assert _mib(tmp) >= slots * values["maxUploadMb"] + 256


def _routed_paths(docs: list[dict[str, Any]]) -> set[str]:
    paths = {
        p["path"]
        for ing in of_kind(docs, "Ingress")
        if ing["metadata"]["name"].endswith(("-api", "-api-grpc"))
        for rule in ing["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    for route in of_kind(docs, "HTTPRoute") + of_kind(docs, "GRPCRoute"):
        if not route["metadata"]["name"].endswith(("-api", "-api-grpc")):
            continue
        for rule in route["spec"]["rules"]:
            for match in rule.get("matches") or [{}]:
                if "path" in match:
                    paths.add(match["path"]["value"])
                elif "method" in match:
                    paths.add(f"/{match['method']['service']}/")
                else:
                    paths.add("/")
    return paths


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_only_the_versioned_api_and_the_product_grpc_service_are_routed(
    part: str, profile: str
) -> None:
    """Never /metrics, /docs, /openapi.json, /readyz or /healthz; no gRPC reflection or health."""
    paths = _routed_paths(render(part, profile))
    assert "/v1/" in paths
    assert paths <= {"/v1/", f"/{GRPC_SERVICE[part]}/"}


@pytest.mark.parametrize(("part", "profile"), COMBOS, ids=IDS)
def test_one_tls_secret_per_host(part: str, profile: str) -> None:
    docs = render(part, profile)
    hosts: dict[str, str] = {}
    for ing in of_kind(docs, "Ingress"):
        for tls in ing["spec"]["tls"]:
            for host in tls["hosts"]:
                hosts[host] = tls["secretName"]
    for gateway in of_kind(docs, "Gateway"):
        for listener in gateway["spec"]["listeners"]:
            (cert,) = listener["tls"]["certificateRefs"]
            hosts[listener["hostname"]] = cert["name"]
    assert hosts or (profile == "production" and part == "public")  # platform-owned Gateway
    assert len(set(hosts.values())) == len(hosts), f"a TLS secret serves two hosts: {hosts}"


def test_private_gateway_requires_client_certificates_and_cannot_be_left_out() -> None:
    docs = render("private", "production")
    (gateway,) = of_kind(docs, "Gateway")
    validation = gateway["spec"]["tls"]["frontend"]["default"]["validation"]
    assert validation["mode"] == "AllowValidOnly"
    assert validation["caCertificateRefs"] == [
        {"group": "", "kind": "ConfigMap", "name": "authority-client-ca"}
    ]
    for route in of_kind(docs, "HTTPRoute") + of_kind(docs, "GRPCRoute"):
        assert [p["name"] for p in route["spec"]["parentRefs"]] == [gateway["metadata"]["name"]]
    helm = require_tool("helm")
    cmd = [helm, "template", "x", str(CHART), "-n", NAMESPACE["private"]]
    shared = run(
        [*cmd, *helm_args("private", "production"), "--set", "private.gateway.create=false"]
    )
    assert shared.returncode != 0 and "private.gateway.create must be true" in shared.stderr


@pytest.mark.parametrize("profile", ["default", "ingress"])
def test_private_ingress_requires_client_certificates(profile: str) -> None:
    ingresses = of_kind(render("private", profile), "Ingress")
    assert ingresses
    for ing in ingresses:
        notes = ing["metadata"]["annotations"]
        assert notes["nginx.ingress.kubernetes.io/auth-tls-verify-client"] == "on"
        namespace, secret = notes["nginx.ingress.kubernetes.io/auth-tls-secret"].split("/")
        assert namespace == NAMESPACE["private"] and secret


def test_private_ingress_refuses_to_render_without_a_client_ca() -> None:
    helm = require_tool("helm")
    cmd = [helm, "template", "x", str(CHART), "-n", NAMESPACE["private"]]
    result = run(
        [*cmd, *helm_args("private", "default"), "--set", "private.ingress.clientCASecret="]
    )
    assert result.returncode != 0
    assert "clientCASecret is required" in result.stderr


def test_private_object_store_is_never_exposed() -> None:
    helm = require_tool("helm")
    cmd = [helm, "template", "x", str(CHART), "-n", NAMESPACE["private"]]
    result = run([*cmd, *helm_args("private", "default"), "--set", "minio.expose.enabled=true"])
    assert result.returncode != 0
    assert "private object store is never exposed" in result.stderr


@pytest.mark.parametrize("profile", ["production", "ingress"])
def test_public_presigned_downloads_go_through_the_exposed_s3_host(profile: str) -> None:
    docs = render("public", profile)
    routes = [d for d in of_kind(docs, "HTTPRoute") + of_kind(docs, "Ingress")]
    s3 = [r for r in routes if r["metadata"]["name"].endswith("-minio")]
    assert len(s3) == 1
    spec = s3[0]["spec"]
    host = spec["hostnames"][0] if "hostnames" in spec else spec["rules"][0]["host"]
    env = _env(one(docs, "Deployment", "-api"))
    assert env["UUNET_PUBLIC_S3_PUBLIC_ENDPOINT"] == host
    assert env["UUNET_PUBLIC_S3_PUBLIC_SECURE"] == "true"


@pytest.mark.parametrize("part", ["public", "private"])
def test_distributed_minio_spreads_over_nodes_and_keeps_quorum_in_drains(part: str) -> None:
    docs = render(part, "production")
    minio = one(docs, "StatefulSet", "-minio")
    replicas = minio["spec"]["replicas"]
    assert replicas >= 4 and minio["spec"]["podManagementPolicy"] == "Parallel"
    spec = minio["spec"]["template"]["spec"]
    (arg,) = [a for a in spec["containers"][0]["args"] if "{0..." in a]
    assert f"{{0...{replicas - 1}}}" in arg
    (term,) = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "minio"
    pdb = one(docs, "PodDisruptionBudget", "-minio")
    assert pdb["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("part", ["public", "private"])
def test_redis_persists_refuses_writes_before_oom_and_uses_acl_users(part: str) -> None:
    docs = render(part, "production")
    redis = one(docs, "StatefulSet", "-redis")
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    # Fsync before each reply: a job accepted (202) keeps its queue entry through a crash.
    assert args[args.index("--appendfsync") + 1] == "always"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    maxmemory = args[args.index("--maxmemory") + 1]
    number, unit = int(maxmemory[:-2]), maxmemory[-2:]
    limit = _mib(container["resources"]["limits"]["memory"])
    assert number * {"mb": 1, "gb": 1024}[unit] < 0.8 * limit, "headroom for the AOF rewrite"
    assert container["command"] == ["sh", "/scripts/redis-start.sh"]
    env = {e["name"] for e in container["env"]}
    assert {"REDIS_PASSWORD_API", "REDIS_PASSWORD_WORKER", "REDIS_PASSWORD_KEDA"} <= env
    assert redis["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]


@pytest.mark.parametrize("part", ["public", "private"])
def test_prometheus_gets_targets_alerts_and_a_dashboard(part: str) -> None:
    docs = render(part, "production")
    monitor = one(docs, "PodMonitor", "")
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]
    rule = one(docs, "PrometheusRule", "")
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "UUNetQueueLagHigh",
        "UUNetDeadLetters",
        "UUNetJobFailureRateHigh",
        "UUNetNoWorker",
    }
    prefix = f"uunet_{part}"
    assert f"{prefix}_queue_lag" in alerts["UUNetQueueLagHigh"]
    assert f"{prefix}_queue_dead_letters" in alerts["UUNetDeadLetters"]
    dashboard = one(docs, "ConfigMap", "-dashboard")
    (text,) = dashboard["data"].values()
    assert f"{prefix}_queue_lag" in text and "uunet_PART" not in text
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"


@pytest.mark.parametrize("part", ["public", "private"])
def test_helm_test_checks_the_api_through_its_service(part: str) -> None:
    docs = render(part, "default")
    (pod,) = of_kind(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    service = one(docs, "Service", "-api")["metadata"]["name"]
    assert f"http://{service}:{CONTRACT[part]['http']}" in script and "/readyz" in script


def test_private_worker_fetches_the_encrypted_weights_with_its_own_s3_user() -> None:
    spec = one(render("private", "production"), "Deployment", "-worker")["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    target = env["UUNET_PRIVATE_ENCRYPTED_WEIGHTS"]
    script = init["args"][0]
    assert target in script and "mc cp uunet/uunet-private/models/private-weights.enc" in script
    assert env["UUNET_PRIVATE_WEIGHTS_KEY_FILE"].endswith("/weights.key")
    credentials = next(v for v in spec["volumes"] if v["name"] == "credentials")["secret"]
    assert {i["key"] for i in credentials["items"]} == {
        "s3-worker-access-key",
        "s3-worker-secret-key",
    }
    assert "@sha256:" in init["image"]


@pytest.mark.parametrize("part", ["public", "private"])
def test_bucket_job_makes_the_users_and_on_the_private_side_the_locked_audit_bucket(
    part: str,
) -> None:
    job = one(render(part, "production"), "Job", "-minio-bucket")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["bash", "/scripts/minio-init.sh"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["PART"] == part and env["BUCKET"] == f"uunet-{part}"
    assert ("AUDIT_BUCKET" in env) == (part == "private")
    mounted = job["spec"]["template"]["spec"]["volumes"]
    keys = {i["key"] for v in mounted if "secret" in v for i in v["secret"]["items"]}
    assert keys == {
        f"s3-{who}-{k}-key" for who in ("root", "api", "worker") for k in ("access", "secret")
    }
