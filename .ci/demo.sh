#!/usr/bin/env bash
# make demo: build the shipped base and web roles, serve the embedded
# registry, push, sign with a demo key, verify, and print digests and sizes.
set -euo pipefail
bin=$1 dir=$2 addr=$3
mkdir -p "$dir"
export UNDISTRO_CACHE=${UNDISTRO_CACHE:-$dir/cache}
export COSIGN_PASSWORD=${COSIGN_PASSWORD:-undistro-demo}
log=$dir/registry.log

"$bin" serve --addr "$addr" --data "$dir/registry" >"$log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	curl -fsS "http://$addr/v2/" >/dev/null 2>&1 && break
	kill -0 $srv 2>/dev/null || { cat "$log"; exit 1; }
	sleep 0.1
done

if [ ! -f "$dir/demo.key" ]; then
	"$bin" key generate --out "$dir/demo"
fi

echo "==> building base and web (first run builds everything; later runs hit the cache)"
"$bin" build base web --out "$dir/oci" --push "$addr/undistro" --sign-key "$dir/demo.key" | tee "$dir/result.txt"

echo "==> verifying signatures and attestations"
for role in base web; do
	"$bin" verify "$addr/undistro/$role:latest" --key "$dir/demo.pub"
done
echo "OCI layout: $dir/oci   registry data: $dir/registry"
