#!/usr/bin/env bash
# Real face photos for `uunet eval` (evaluation only, never training): Debian's opencv-doc sample
# images, extracted into ~/.cache/uunet/opencv-doc (or $UUNET_DATA_CACHE) without a system install.
set -euo pipefail
cache=${UUNET_DATA_CACHE:-$HOME/.cache/uunet}
target="$cache/opencv-doc/usr/share/doc/opencv-doc/examples/data"
if [ -d "$target" ]; then
  echo "[eval-data] opencv-doc images present in $target"
  exit 0
fi
mkdir -p "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download opencv-doc >/dev/null)
dpkg -x "$tmp"/opencv-doc_*.deb "$tmp/x"
mkdir -p "$target"
# Keep only the sample data (22 MB), not the HTML docs.
cp -r "$tmp/x/usr/share/doc/opencv-doc/examples/data/." "$target/"
echo "[eval-data] extracted opencv-doc sample images to $target"
