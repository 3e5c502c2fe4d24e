#!/bin/sh
# Build every image target of docker/Dockerfile for linux/amd64, push it, and record its digest.
#   scripts/build_images.sh REGISTRY TAG [TARGET ...]
#   e.g. scripts/build_images.sh registry.example.org/uunet 0.1.0
# Needs docker with buildx and a `docker login REGISTRY` done. Writes build/image-digests.args, one
# `--set-string image.digests.<target>=sha256:...` per target, for `helm install ... $(cat ...)`:
# the chart runs images by digest only.
set -eu
registry=${1:?usage: scripts/build_images.sh REGISTRY TAG [TARGET ...]}
tag=${2:?usage: scripts/build_images.sh REGISTRY TAG [TARGET ...]}
shift 2
targets=${*:-public-api public-worker-gpu public-worker-cpu private-api private-worker private-worker-gpu}
mkdir -p build
out=build/image-digests.args
: > "$out"
for target in $targets; do
  echo "== $registry/$target:$tag"
  docker buildx build --file docker/Dockerfile --target "$target" --platform linux/amd64 \
    --tag "$registry/$target:$tag" --metadata-file "build/$target.json" --push .
  digest=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["containerimage.digest"])' \
    "build/$target.json")
  case "$digest" in
    sha256:????????????????????????????????????????????????????????????????) ;;
    *) echo "build_images: no digest for $target in build/$target.json" >&2; exit 1 ;;
  esac
  printf -- '--set-string image.digests.%s=%s\n' "$target" "$digest" >> "$out"
done
echo "digests in $out:"
cat "$out"
