#!/usr/bin/env bash
# make demo: build the shipped base and web roles, serve the origin
# registry, push, sign with a demo key, verify, and print digests and sizes.
# The registry has a user, so pushing needs credentials: they are read from
# a docker config (DOCKER_CONFIG) as docker, skopeo and crane read them.
set -euo pipefail
bin=$1 dir=$2 addr=$3
mkdir -p "$dir"
export UNDISTRO_CACHE=${UNDISTRO_CACHE:-$dir/cache}
export COSIGN_PASSWORD=${COSIGN_PASSWORD:-undistro-demo}
log=$dir/registry.log

# A demo user with a fresh password, logged in through a docker config.
pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$pass" | "$bin" serve user add demo --data "$dir/registry" --password-stdin >/dev/null
export DOCKER_CONFIG=$dir/docker
mkdir -p "$DOCKER_CONFIG"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$addr" "$(printf 'demo:%s' "$pass" | base64 -w0)" >"$DOCKER_CONFIG/config.json"
chmod 600 "$DOCKER_CONFIG/config.json"

. "$(dirname "$0")/spawn.sh"   # spawn/reap: the server keeps no inherited fd and dies with the script
spawn "$bin" serve --addr "$addr" --data "$dir/registry" >"$log" 2>&1
srv=$!
for _ in $(seq 50); do
	case $(curl -s -o /dev/null -w '%{http_code}' "http://$addr/v2/" 2>/dev/null) in 200 | 401) break ;; esac
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
echo "==> anonymous pushes are refused (401), pulls are not"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$addr/v2/undistro/web/blobs/uploads/")
[ "$code" = 401 ] || { echo "anonymous push answered $code, want 401" >&2; exit 1; }
curl -fsS -o /dev/null "http://$addr/v2/undistro/web/tags/list"
echo "OCI layout: $dir/oci   registry data: $dir/registry   credentials: $DOCKER_CONFIG/config.json"
