"""A small NetworkPolicy evaluator: which peers and ports the rendered policies let a pod reach.

Semantics as in Kubernetes: policies are additive allow-lists; a pod is isolated for a direction
once any policy selecting it lists that direction in policyTypes; a rule without `to`/`from`
allows every peer, a rule without `ports` every port; a peer with only a podSelector means pods
of the policy's own namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NAME_LABEL = "kubernetes.io/metadata.name"


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Label selector semantics (matchLabels and matchExpressions); {} matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


@dataclass(frozen=True)
class Rule:
    """One ingress or egress rule of a policy living in `namespace`."""

    namespace: str
    peers: tuple[dict[str, Any], ...]  # empty: every peer
    ports: tuple[dict[str, Any], ...]  # empty: every port

    def peer_namespaces_match(self, namespace: str) -> bool:
        """Whether some peer of this rule can be a pod in `namespace`."""
        if not self.peers:
            return True
        for peer in self.peers:
            if "ipBlock" in peer:
                return True  # an IP range can hold any pod
            if "namespaceSelector" in peer:
                if selector_matches(peer["namespaceSelector"], {NAME_LABEL: namespace}):
                    return True
            elif namespace == self.namespace:
                return True
        return False

    def port_numbers(self) -> set[int | str | None]:
        """Ports this rule opens (None: all ports)."""
        return {p.get("port") for p in self.ports} if self.ports else {None}


def rules_for(
    policies: list[dict[str, Any]], namespace: str, pod_labels: dict[str, str], direction: str
) -> tuple[bool, list[Rule]]:
    """(isolated, allow rules) for a pod in `namespace` and a direction (Ingress or Egress)."""
    key, peer_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    isolated, rules = False, []
    for pol in policies:
        if pol["metadata"]["namespace"] != namespace:
            continue
        spec = pol["spec"]
        if not selector_matches(spec.get("podSelector"), pod_labels):
            continue
        types = spec.get("policyTypes") or (
            ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]
        )
        if direction not in types:
            continue
        isolated = True
        for raw in spec.get(key) or []:
            peers = tuple(raw.get(peer_key) or ())
            rules.append(Rule(namespace, peers, tuple(raw.get("ports") or ())))
    return isolated, rules
