"""The rendered NetworkPolicies isolate the two parts as the product promises.

Both releases are rendered into their own namespaces and evaluated together with a small model of
NetworkPolicy semantics (netpol.py): default deny in each namespace, no path from the public
namespace to the private one, the private API reachable only from its ingress controller's
namespace, workers reaching only Redis, MinIO and DNS.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.integration.deploy.netpol import Rule, rules_for, selector_matches
from tests.integration.deploy.tools import (
    CHART,
    NAME_LABEL,
    NAMESPACE,
    PROFILES,
    helm_args,
    of_kind,
    pod_templates,
    render,
    require_tool,
    run,
)

DNS_PORTS = {53}
REDIS_PORT, S3_PORT = 6379, 9000


def _both(profile: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(all rendered objects of both releases, their NetworkPolicies)."""
    docs = render("public", profile) + render("private", profile)
    return docs, of_kind(docs, "NetworkPolicy")


def _pods(docs: list[dict[str, Any]], namespace: str) -> list[tuple[str, dict[str, str]]]:
    """(workload name, pod labels) of every workload rendered into a namespace."""
    return [
        (name, template["metadata"]["labels"])
        for name, template in pod_templates(
            [d for d in docs if d["metadata"]["namespace"] == namespace]
        )
    ]


def _controller_namespace(part: str, profile: str) -> str:
    """The namespace of the proxies that front the API: the ingress controller's or the gateway's."""
    base = yaml.safe_load((CHART / "values.yaml").read_text())[part]
    if profile == "production":
        prod = yaml.safe_load((CHART / f"values-{part}-production.yaml").read_text())[part]
        for key in ("ingress", "gateway"):
            base[key].update(prod.get(key, {}))
    if base["gateway"]["enabled"]:
        return str(base["gateway"]["controllerNamespace"])
    return str(base["ingress"]["controllerNamespace"])


def _is_helm_test_rule(rule: Rule, http_port: int) -> bool:
    """The `helm test` pod's rule: same-namespace pods labelled helm-test, HTTP port only."""
    return (
        len(rule.peers) == 1
        and set(rule.peers[0]) == {"podSelector"}
        and rule.peers[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        == "helm-test"
        and rule.port_numbers() == {http_port}
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_each_namespace_has_a_default_deny_for_ingress_and_egress(profile: str) -> None:
    _, policies = _both(profile)
    for namespace in NAMESPACE.values():
        deny = [
            p
            for p in policies
            if p["metadata"]["namespace"] == namespace
            and p["spec"]["podSelector"] == {}
            and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
        ]
        assert deny, f"no default-deny policy in {namespace}"


@pytest.mark.parametrize("profile", PROFILES)
def test_every_pod_is_isolated_in_both_directions(profile: str) -> None:
    docs, policies = _both(profile)
    for namespace in NAMESPACE.values():
        for name, labels in _pods(docs, namespace):
            for direction in ("Ingress", "Egress"):
                isolated, _ = rules_for(policies, namespace, labels, direction)
                assert isolated, f"{name} in {namespace} is not isolated for {direction}"


@pytest.mark.parametrize("profile", PROFILES)
def test_no_public_pod_can_open_a_connection_to_the_private_namespace(profile: str) -> None:
    docs, policies = _both(profile)
    public, private = NAMESPACE["public"], NAMESPACE["private"]
    pods = _pods(docs, public)
    assert len(pods) >= 4
    for name, labels in pods:
        _, egress = rules_for(policies, public, labels, "Egress")
        leaking = [r for r in egress if r.peer_namespaces_match(private)]
        assert not leaking, f"{name} may reach {private}: {leaking}"
    # And the private side admits nothing from the public namespace.
    for name, labels in _pods(docs, private):
        _, ingress = rules_for(policies, private, labels, "Ingress")
        assert not [r for r in ingress if r.peer_namespaces_match(public)], name


@pytest.mark.parametrize("profile", PROFILES)
def test_private_api_admits_only_its_ingress_controller_namespace(profile: str) -> None:
    docs, policies = _both(profile)
    private = NAMESPACE["private"]
    controller = _controller_namespace("private", profile)
    (api_labels,) = [labels for name, labels in _pods(docs, private) if name.endswith("-api")]
    isolated, ingress = rules_for(policies, private, api_labels, "Ingress")
    assert isolated and ingress
    ingress = [r for r in ingress if not _is_helm_test_rule(r, 8081)]
    assert ingress
    others = [private, NAMESPACE["public"], "monitoring", "default", "kube-system", "keda"]
    for rule in ingress:
        assert rule.peers, "a rule without peers admits everyone"
        assert rule.peer_namespaces_match(controller)
        for other in others:
            assert not rule.peer_namespaces_match(other), f"private API open to {other}"
        assert rule.port_numbers() <= {8081, 50052}


def _assert_peer_is_component(rule: Rule, component: str) -> None:
    for peer in rule.peers:
        assert set(peer) == {"podSelector"}, f"{component} must be a same-namespace pod: {peer}"
        assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component


def _assert_dns(rule: Rule) -> None:
    for peer in rule.peers:
        assert selector_matches(
            peer["namespaceSelector"], {"kubernetes.io/metadata.name": "kube-system"}
        )
        assert not selector_matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": "x"})
        assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("part", ["public", "private"])
def test_workers_egress_only_to_redis_minio_and_dns(part: str, profile: str) -> None:
    docs, policies = _both(profile)
    namespace = NAMESPACE[part]
    (labels,) = [lab for name, lab in _pods(docs, namespace) if name.endswith("-worker")]
    isolated, egress = rules_for(policies, namespace, labels, "Egress")
    assert isolated
    reached: set[int] = set()
    for rule in egress:
        ports = rule.port_numbers()
        assert rule.peers and None not in ports, f"open-ended egress rule {rule}"
        assert ports <= DNS_PORTS | {REDIS_PORT, S3_PORT}, ports
        if ports <= DNS_PORTS:
            _assert_dns(rule)
        elif ports == {REDIS_PORT}:
            _assert_peer_is_component(rule, "redis")
        else:
            assert ports == {S3_PORT}
            _assert_peer_is_component(rule, "minio")
        reached |= {int(p) for p in ports if p is not None}
    assert reached == {53, REDIS_PORT, S3_PORT}, "workers must still reach what they need"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("part", ["public", "private"])
def test_redis_and_minio_admit_the_part_s_own_workers(part: str, profile: str) -> None:
    """The allow-lists are not so tight that the product cannot run."""
    docs, policies = _both(profile)
    namespace = NAMESPACE[part]
    pods = dict(_pods(docs, namespace))
    worker = next(lab for name, lab in pods.items() if name.endswith("-worker"))
    for suffix, port in (("-redis", REDIS_PORT), ("-minio", S3_PORT)):
        target = next(lab for name, lab in pods.items() if name.endswith(suffix))
        _, ingress = rules_for(policies, namespace, target, "Ingress")
        admitted = [
            r
            for r in ingress
            if port in r.port_numbers()
            and any(
                set(p) == {"podSelector"} and selector_matches(p["podSelector"], worker)
                for p in r.peers
            )
        ]
        assert admitted, f"{suffix} does not admit the workers on {port}"


def test_the_evaluator_flags_an_allow_all_egress_rule() -> None:
    """Guards the checks above: a policy opening all egress is seen as reaching the private side."""
    bad = {
        "metadata": {"namespace": NAMESPACE["public"]},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
    }
    _, egress = rules_for([bad], NAMESPACE["public"], {"a": "b"}, "Egress")
    assert egress[0].peer_namespaces_match(NAMESPACE["private"])
    wide = {"namespaceSelector": {}}
    assert Rule(NAMESPACE["public"], (wide,), ()).peer_namespaces_match(NAMESPACE["private"])


METRICS_PORTS = {("public", "api"): 9102, ("public", "worker"): 9100}
METRICS_PORTS |= {("private", "api"): 9103, ("private", "worker"): 9101}
PROMETHEUS = {"app.kubernetes.io/name": "prometheus"}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("part", ["public", "private"])
@pytest.mark.parametrize("role", ["api", "worker"])
def test_metrics_ports_admit_prometheus_pods_only(part: str, role: str, profile: str) -> None:
    """Not every pod of the monitoring namespace: the Prometheus pods, on the metrics port only."""
    docs, policies = _both(profile)
    namespace = NAMESPACE[part]
    (labels,) = [lab for name, lab in _pods(docs, namespace) if name.endswith(f"-{role}")]
    _, ingress = rules_for(policies, namespace, labels, "Ingress")
    port = METRICS_PORTS[(part, role)]
    to_metrics = [r for r in ingress if port in r.port_numbers() or None in r.port_numbers()]
    scraped = role == "worker" or part == "public"  # the private API is not scraped by default
    assert bool(to_metrics) == scraped
    for rule in to_metrics:
        assert rule.port_numbers() == {port}, "Prometheus reaches the metrics port only"
        for peer in rule.peers:
            assert selector_matches(peer["namespaceSelector"], {NAME_LABEL: "monitoring"})
            assert peer["podSelector"]["matchLabels"] == PROMETHEUS
    # and nothing else reaches the metrics port
    for rule in ingress:
        if rule not in to_metrics:
            assert port not in rule.port_numbers()


def test_private_api_reaches_the_jwks_url_only_when_one_is_configured() -> None:
    """Without the rule the API cannot fetch token keys; with it, only the IdP's range on 443."""
    idp = {"ipBlock": {"cidr": "203.0.113.10/32"}}
    extra = ("--set", "private.jwt.jwksUrl=https://idp.example.org/jwks.json")
    extra += ("--set-json", f"private.jwt.jwksTo=[{json.dumps(idp)}]")
    policies = of_kind(render("private", "default", extra), "NetworkPolicy")
    docs = render("private", "default", extra)
    (labels,) = [lab for name, lab in _pods(docs, NAMESPACE["private"]) if name.endswith("-api")]
    _, egress = rules_for(policies, NAMESPACE["private"], labels, "Egress")
    jwks = [r for r in egress if r.port_numbers() == {443}]
    assert len(jwks) == 1 and jwks[0].peers == (idp,)
    _, without = rules_for(
        of_kind(render("private", "default"), "NetworkPolicy"),
        NAMESPACE["private"],
        labels,
        "Egress",
    )
    assert not [r for r in without if 443 in r.port_numbers()]
    helm = require_tool("helm")
    cmd = [helm, "template", "x", str(CHART), "-n", NAMESPACE["private"], "--set", extra[1]]
    refused = run([*cmd, *helm_args("private", "default")])
    assert refused.returncode != 0 and "private.jwt.jwksTo is required" in refused.stderr
