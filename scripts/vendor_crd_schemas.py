"""Turn upstream CustomResourceDefinitions into strict JSON Schemas for the offline chart checks.

    .venv/bin/python scripts/vendor_crd_schemas.py SOURCE_LABEL CRD.yaml [CRD.yaml ...]

kubernetes-validate bundles no schema for custom resources (KEDA, Gateway API, Prometheus
Operator). This takes each CRD's ``openAPIV3Schema`` of its storage version and writes
tests/integration/deploy/schemas/<kind>.json, with ``additionalProperties: false`` on every
object that lists its properties and keeps no unknown fields (what the API server prunes or, with
strict field validation, refuses), so a misspelt field fails the check. SOURCE_LABEL (e.g.
``kedacore/keda@v2.17.2``) is recorded in schemas/SOURCES.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parents[1] / "tests" / "integration" / "deploy" / "schemas"


def ecma_pattern(pattern: str) -> str:
    """Go's ``(?i)`` flag has no ECMA-262 form (JSON Schema's regex dialect): spell letters
    outside classes and escapes as [xX] instead."""
    if "(?i)" not in pattern:
        return pattern
    out, escaped, in_class = [], False, False
    for ch in pattern.replace("(?i)", ""):
        if escaped or in_class or not ch.isalpha():
            out.append(ch)
            in_class = (in_class or ch == "[") and not (in_class and ch == "]" and not escaped)
        else:
            out.append(f"[{ch.lower()}{ch.upper()}]")
        escaped = ch == "\\" and not escaped
    return "".join(out)


def strict(node: Any) -> Any:
    """Close every object schema that declares properties and does not keep unknown fields."""
    if isinstance(node, dict) and isinstance(node.get("pattern"), str):
        node = {**node, "pattern": ecma_pattern(node["pattern"])}
    if isinstance(node, dict):
        # Descriptions are documentation only (most of a CRD's size); properties named
        # "description" (a PrometheusRule annotation, say) are schemas and stay.
        out = {
            k: strict(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))
        }
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


def schema_of(crd: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, strict schema of the storage version) of one CRD."""
    kind = crd["spec"]["names"]["kind"]
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    schema = strict(version["schema"]["openAPIV3Schema"])
    # The object's envelope: metadata is checked by kubernetes-validate's own types elsewhere.
    schema["properties"]["metadata"] = {"type": "object"}
    group = crd["spec"]["group"]
    schema["properties"]["apiVersion"] = {"const": f"{group}/{version['name']}"}
    schema["properties"]["kind"] = {"const": kind}
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return kind, schema


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    source, files = argv[0], argv[1:]
    OUT.mkdir(parents=True, exist_ok=True)
    lines = []
    for path in files:
        for crd in yaml.safe_load_all(Path(path).read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            kind, schema = schema_of(crd)
            target = OUT / f"{kind.lower()}.json"
            target.write_text(json.dumps(schema, separators=(",", ":"), sort_keys=True) + "\n")
            lines.append(f"- `{target.name}`: {kind} from {source} (`{Path(path).name}`)")
    sources = OUT / "SOURCES.md"
    known = sources.read_text().splitlines() if sources.exists() else ["# CRD schemas", ""]
    kept = [ln for ln in known if not any(ln.startswith(new.split(":")[0]) for new in lines)]
    sources.write_text("\n".join(kept + lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
