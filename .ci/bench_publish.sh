#!/usr/bin/env bash
# make bench section: `undistro ci publish` after a one-recipe change
# against a full rebuild from clean caches, in the same run, on a clone of
# HEAD pushing to `undistro serve` on a free loopback port.
# Usage: bench_publish.sh BIN WORKDIR
set -euo pipefail
bin=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
export COSIGN_PASSWORD=undistro-bench
ms() { echo $(( $(date +%s%N) / 1000000 )); }
built() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(len({p for r in s["roles"] for p in r["built"]}))' "$1"; }
roles() { python3 -c 'import json,sys; print(" ".join(r["role"] for r in json.load(open(sys.argv[1]))["roles"]))' "$1"; }

git clone -q --no-hardlinks "$PWD" "$work/repo"
git -C "$work/repo" checkout -q --detach "$(git rev-parse HEAD)"
. "$(dirname "$0")/spawn.sh"   # spawn/reap: the server keeps no inherited fd and dies with the script
serve_registry "$bin" "$work/registry" "$work/registry.log"   # sets addr
"$bin" key generate --out "$work/bench" >/dev/null
cd "$work/repo"
publish() { # base out.json cache-dir
	"$bin" ci publish --base "$1" --registry "$addr/undistro" --sign-key "$work/bench.key" \
		--cache "$3" --out "$work/oci" --summary /dev/null --json --quiet >"$2"
}
pulled() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(len({p for r in s["roles"] for p in r["pulled"]}))' "$1"; }

first=$(git rev-list --max-parents=0 HEAD | tail -n 1)
t0=$(ms); publish "$first" "$work/full.json" "$work/cache-a"; t1=$(ms); full=$(( t1 - t0 ))
echo "command: $bin ci publish --base $first (the first commit: every role) --cache EMPTY --registry $addr/undistro (EMPTY) --sign-key KEY"
echo "full rebuild from clean caches: ${full} ms, roles $(roles "$work/full.json"), packages built $(built "$work/full.json")"

sed -i 's/^revision = 0$/revision = 1/' recipes/hello.toml
git -c user.name=bench -c user.email=bench@localhost commit -q -am "bench: hello revision 1"
t0=$(ms); publish HEAD~1 "$work/one.json" "$work/cache-b"; t1=$(ms); one=$(( t1 - t0 ))
echo "command: $bin ci publish --base HEAD~1 (recipes/hello.toml revision bumped) --cache EMPTY (another machine: the rest comes from the registry cache)"
echo "one-recipe change, fresh machine: ${one} ms, roles $(roles "$work/one.json"), packages built $(built "$work/one.json"), pulled $(pulled "$work/one.json")"
echo "ratio full/one-recipe: wall time $(awk "BEGIN{printf \"%.1f\", $full/$one}")x, packages built $(built "$work/full.json")/$(built "$work/one.json")"
sed -i 's/^revision = 1$/revision = 2/' recipes/hello.toml
git -c user.name=bench -c user.email=bench@localhost commit -q -am "bench: hello revision 2"
t0=$(ms); publish HEAD~1 "$work/two.json" "$work/cache-a"; t1=$(ms); two=$(( t1 - t0 ))
echo "command: same, --cache of the full run (warm local cache)"
echo "one-recipe change, warm machine: ${two} ms, packages built $(built "$work/two.json"); ratio full/one-recipe: wall time $(awk "BEGIN{printf \"%.1f\", $full/$two}")x"
