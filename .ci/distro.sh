#!/usr/bin/env bash
# make distro: the distro pipeline of .github/workflows/distro.yml on this
# machine. A clone of HEAD (committed work only, as CI sees it) is planned
# against BASE, its changed roles are built, pushed as ROLE:<commit> and
# signed with a demo key to `undistro serve` on a free loopback port, and
# ROLE:main is moved; then every published role is verified by its main tag.
set -euo pipefail
bin=$1 dir=$2 base=$3
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export UNDISTRO_CACHE=${UNDISTRO_CACHE:-$dir/cache}
export COSIGN_PASSWORD=${COSIGN_PASSWORD:-undistro-demo}
src=$PWD

echo "==> cloning HEAD ($(git rev-parse --short HEAD)) into $dir/repo"
rm -rf "$dir/repo"
git clone -q --no-hardlinks "$src" "$dir/repo"
git -C "$dir/repo" checkout -q --detach "$(git rev-parse HEAD)"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "    (uncommitted changes in $src are not part of the pipeline: commit them to publish them)"
fi

. "$(dirname "$0")/spawn.sh"   # spawn/reap: the server keeps no inherited fd and dies with the script
log=$dir/registry.log
serve_registry "$bin" "$dir/registry" "$log"   # sets addr
echo "==> registry: undistro serve on $addr (data $dir/registry)"

if [ ! -f "$dir/demo.key" ]; then
	"$bin" key generate --out "$dir/demo"
fi

cd "$dir/repo"
echo "==> plan: $bin ci plan --base $base"
"$bin" ci plan --base "$base"
echo "==> publish: $bin ci publish --base $base --registry $addr/undistro --sign-key $dir/demo.key"
"$bin" ci publish --base "$base" --registry "$addr/undistro" --sign-key "$dir/demo.key" \
	--out "$dir/oci" --summary "$dir/summary.md" --json >"$dir/publish.json"
python3 - "$dir/publish.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("commit", s["commit"])
for r in s["roles"]:
    print(f'{r["role"]}: {r["ref"]}@{r["digest"]} main={r.get("main", "-")} built={r["built"]} cached={r["cached"]} pulled={r["pulled"]}')
if not s["roles"]:
    print("nothing to publish: the plan is empty")
PY
echo "==> verifying every role by its main tag"
for role in $(python3 -c 'import json,sys; print(" ".join(r["role"] for r in json.load(open(sys.argv[1]))["roles"]))' "$dir/publish.json"); do
	"$bin" verify "$addr/undistro/$role:main" --key "$dir/demo.pub"
done
echo "summary (Markdown): $dir/summary.md"
