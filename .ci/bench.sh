#!/usr/bin/env bash
# make bench: every number is printed with the command that produced it and,
# where there is one, a baseline measured in the same run.
set -euo pipefail
bin=$1
work=${BENCH_DIR:-$PWD/out/bench}
mkdir -p "$work"
export UNDISTRO_CACHE=${UNDISTRO_CACHE:-$work/cache}
ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "## no-op rebuild of all shipped roles (target < 1 s)"
roles=$(cd images && ls *.toml | sed 's/\.toml$//' | tr '\n' ' ')
"$bin" build $roles --out "$work/oci" --quiet >/dev/null   # warm the cache (cold the first time)
best=999999
for i in 1 2 3 4 5; do
	t0=$(ms); "$bin" build $roles --out "$work/oci" --quiet >/dev/null; t1=$(ms)
	(( t1 - t0 < best )) && best=$(( t1 - t0 ))
done
t0=$(ms); "$bin" --version >/dev/null; t1=$(ms); start=$(( t1 - t0 ))
echo "command: $bin build $roles --out $work/oci   (best of 5, cache warm)"
echo "no-op rebuild: ${best} ms   (process start baseline '$bin --version': ${start} ms; target 1000 ms: $(awk "BEGIN{printf \"%.2f\", $best/1000}")x of budget)"
echo

echo "## image assembly throughput: layer.Write (parallel gzip) vs tar | gzip -6, same tree, same run (target >= 1.5x)"
echo "command: go test -run '^\$' -bench WriteVsTarGzip -benchtime 3x ./builder/layer"
go test -run '^$' -bench WriteVsTarGzip -benchtime 3x ./builder/layer | grep -E 'Benchmark|speedup'
echo

echo "## web image size vs the sum of its package payloads"
echo "command: $bin build web --out $work/oci --json"
"$bin" build web --out "$work/oci" --json --quiet | awk '
	/"size":/ && !inlayer { gsub(/[^0-9]/, "", $2); if (!img) img = $2 }
	/"layers"/ { inlayer = 1 }
	/"tarSize":/ { gsub(/[^0-9]/, "", $2); payload += $2 }
	END { printf "image (compressed, all layers + config + manifest): %.1f MiB; package payloads (uncompressed tar): %.1f MiB; ratio %.2f\n", img/1048576, payload/1048576, img/payload }'
echo

echo "## switch between two images differing in one package"
echo "command: go test -run '^\$' -bench Switch -benchtime 20x ./runtime/store"
go test -run '^$' -bench Switch -benchtime 20x ./runtime/store | grep -E 'Benchmark' || echo "(no switch benchmark)"
echo
