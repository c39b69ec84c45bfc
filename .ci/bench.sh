#!/usr/bin/env bash
# make bench: every number is printed with the command that produced it and,
# where there is one, a baseline measured in the same run.
set -euo pipefail
bin=$1
work=${BENCH_DIR:-$PWD/out/bench}
mkdir -p "$work"
export UNDISTRO_CACHE=${UNDISTRO_CACHE:-$work/cache}
ms() { echo $(( $(date +%s%N) / 1000000 )); }

. "$(dirname "$0")/spawn.sh"   # spawn/reap: servers keep no inherited fd and die with the script

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

echo "## binary size: the full undistro vs the node binary every image carries (target node <= 10 MB)"
nodebin=$work/undistro-node
CGO_ENABLED=0 go build -tags undistro_node,noboltdb -trimpath -ldflags "-s -w" -o "$nodebin" ./cmd/undistro
echo "command: CGO_ENABLED=0 go build [-tags undistro_node,noboltdb] -trimpath -ldflags '-s -w' ./cmd/undistro"
echo "full: $(stat -c %s "$bin") bytes ($bin); node: $(stat -c %s "$nodebin") bytes (-tags undistro_node,noboltdb)"
echo

echo "## registry push and pull throughput of the web image: undistro serve vs Debian's docker-registry, same run"
# Each trial starts both registries on empty storage, pushes the web image
# with skopeo (blobs copied as they are) and pulls it back into an empty
# OCI layout; best of 3 per registry and direction.
regbench() {
	local layout=$work/oci-web reg=$work/registry trials=${BENCH_REGISTRY_TRIALS:-3}
	local uaddr=${BENCH_UNDISTRO_ADDR:-127.0.0.1:5071} daddr=${BENCH_DOCKER_ADDR:-127.0.0.1:5072}
	rm -rf "$layout" && "$bin" build web --out "$layout" --quiet >/dev/null
	local bytes; bytes=$(du -sb --apparent-size "$layout/blobs" | cut -f1)
	local best_up_u=999999 best_up_d=999999 best_down_u=999999 best_down_d=999999
	waitreg() { for _ in $(seq 100); do curl -fsS "http://$1/v2/" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "registry on $1 never answered" >&2; return 1; }
	for i in $(seq "$trials"); do
		rm -rf "$reg" && mkdir -p "$reg/docker"
		printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n' \
			"$reg/docker" "$daddr" >"$reg/docker.yml"
		spawn "$bin" serve --addr "$uaddr" --data "$reg/undistro" >"$reg/undistro.log" 2>&1; local upid=$!
		spawn docker-registry serve "$reg/docker.yml" >"$reg/docker.log" 2>&1; local dpid=$!
		waitreg "$uaddr" && waitreg "$daddr"
		for who in u d; do
			local addr=$uaddr; [ $who = d ] && addr=$daddr
			local t0 t1
			t0=$(ms); skopeo copy -q --dest-tls-verify=false "oci:$layout:web" "docker://$addr/bench/web:latest"; t1=$(ms)
			eval "if (( t1 - t0 < best_up_$who )); then best_up_$who=$(( t1 - t0 )); fi"
			t0=$(ms); skopeo copy -q --src-tls-verify=false "docker://$addr/bench/web:latest" "oci:$reg/pull-$who:web"; t1=$(ms)
			eval "if (( t1 - t0 < best_down_$who )); then best_down_$who=$(( t1 - t0 )); fi"
		done
		reap "$upid" "$dpid"
	done
	mbs() { awk "BEGIN{printf \"%.1f\", $bytes/1e6/($1/1000)}"; }
	echo "command: skopeo copy oci:$layout:web docker://ADDR/bench/web:latest, then back into an empty layout (best of $trials, fresh storage each trial)"
	echo "web image: $(awk "BEGIN{printf \"%.1f\", $bytes/1e6}") MB of blobs"
	echo "push: undistro serve $(mbs $best_up_u) MB/s (${best_up_u} ms), docker-registry $(mbs $best_up_d) MB/s (${best_up_d} ms); ratio undistro/docker-registry $(awk "BEGIN{printf \"%.2f\", $best_up_d/$best_up_u}")x"
	echo "pull: undistro serve $(mbs $best_down_u) MB/s (${best_down_u} ms), docker-registry $(mbs $best_down_d) MB/s (${best_down_d} ms); ratio undistro/docker-registry $(awk "BEGIN{printf \"%.2f\", $best_down_d/$best_down_u}")x"
}
regbench
echo

echo "## switch between two images differing in one package"
echo "command: go test -run '^\$' -bench '^BenchmarkSwitch\$' -benchtime 20x ./runtime/store"
go test -run '^$' -bench '^BenchmarkSwitch$' -benchtime 20x ./runtime/store | grep -E 'Benchmark' || echo "(no switch benchmark)"
echo
echo "## delta switch: two images differing in one config file, 1,000 and 10,000 package files: derived root vs full assembly vs rsync -a --checksum of the whole tree, same run (target >= 50x faster than rsync, 1 file written)"
if [ "$(id -u)" = 0 ]; then
	echo "command: go test -run '^\$' -bench DeltaSwitch -benchtime 10x ./runtime/store"
	go test -run '^$' -bench DeltaSwitch -benchtime 10x ./runtime/store | awk '
		/^Benchmark/ { print; split($1, n, "/"); sub(/-[0-9]+$/, "", n[3]); t[n[2] "/" n[3]] = $3; if (!(n[2] in seen)) { seen[n[2]] = 1; order[++k] = n[2] } }
		END { for (i = 1; i <= k; i++) { s = order[i]; if (t[s "/derive"] > 0) printf "%s: derive %.2f ms; full assembly %.1fx slower; rsync --checksum %.1fx slower\n", s, t[s "/derive"]/1e6, t[s "/full"]/t[s "/derive"], t[s "/rsync"]/t[s "/derive"] } }'
	echo "command: go test -run '^\$' -bench NodeDeltaSwitch -benchtime 10x ./runtime/node   (a running node, 10,000 package files, 3 services; one service's config file changes)"
	go test -run '^$' -bench NodeDeltaSwitch -benchtime 10x ./runtime/node | grep -E '^Benchmark'
else
	echo "(skipped: a root is derived in place as root only)"
fi
echo
echo "## service start latency: the full sandbox vs the sandbox before least-privilege services (same run)"
if [ "$(id -u)" = 0 ]; then
	echo "command: go test -run '^\$' -bench StartSandboxed -benchtime 50x ./runtime/supervise   (Start to ready; 'before' is Options.Unhardened)"
	go test -run '^$' -bench StartSandboxed -benchtime 50x ./runtime/supervise | awk '
		/^Benchmark/ { print; split($1, n, "/"); sub(/-[0-9]+$/, "", n[2]); t[n[2]] = $3 }
		END { if (t["before"] > 0) printf "hardened/before: %.2fx (%.2f ms vs %.2f ms)\n", t["hardened"]/t["before"], t["hardened"]/1e6, t["before"]/1e6 }'
else
	echo "(skipped: sandboxed services need root)"
fi
echo

echo "## idle supervision (daemon idle RSS target <= 20 MB): undistro node run vs s6, same 3 services (httpbin, busybox httpd, busybox crond)"
idle=${BENCH_IDLE_SECONDS:-60}
if [ "$(id -u)" != 0 ]; then
	echo "(skipped: the node runtime chroots services, run as root)"
	exit 0
fi
# RSS in KiB and context switches (all threads) of a set of pids.
rss() { local t=0; for p in "$@"; do t=$(( t + $(awk '/^VmRSS/{print $2}' /proc/$p/status) )); done; echo $t; }
pss() { local t=0; for p in "$@"; do t=$(( t + $(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup) )); done; echo $t; }
# undistro's own processes: the daemon and any of its descendants running the undistro binary (per-service launchers)
ours() { local exe; exe=$(readlink /proc/$1/exe); echo $1; for c in $(pgrep -P $1); do [ "$(readlink /proc/$c/exe)" = "$exe" ] && ours $c; done; }
ctxt() { local t=0; for p in "$@"; do for s in /proc/$p/task/*/status; do t=$(( t + $(awk '/ctxt_switches/{s+=$2} END{print s}' "$s") )); done; done; echo $t; }
waitport() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
measure() { # label pids...
	local label=$1; shift
	sleep 5
	local c0; c0=$(ctxt "$@")
	sleep "$idle"
	local c1 r p; c1=$(ctxt "$@"); r=$(rss "$@"); p=$(pss "$@")
	echo "$label: RSS ${r} KiB (PSS ${p} KiB) over $# process(es); $(( (c1 - c0) * 60 / idle )) context switches per minute"
	eval "${label//[^a-z0-9]/_}_rss=$r; ${label//[^a-z0-9]/_}_pss=$p; ${label//[^a-z0-9]/_}_wake=$(( (c1 - c0) * 60 / idle ))"
}
repo=$work/repo
rm -rf "$repo" && mkdir -p "$repo"
tar --exclude=./out --exclude=./bin -cf - . | tar -C "$repo" -xf -
printf 'description = "bench: web plus busybox httpd and crond"\ninherit = ["web"]\n[service.httpd]\n[service.crond]\n' >"$repo/images/bench3.toml"
"$bin" build bench3 --repo "$repo" --out "$work/oci3" --rootfs "$work/rootfs" --quiet >/dev/null
node=$work/node
rm -rf "$node"
"$bin" node --root "$node" switch "oci:$work/oci3:bench3" --insecure-allow-unsigned >/dev/null 2>&1
spawn "$bin" node --root "$node" run --p2p off >"$work/node-run.log" 2>&1
pid=$!
waitport 8080 && waitport 8081
echo "command: $bin node --root $node run --p2p off   (measured for ${idle}s after a 5 s settle; /proc/PID/status VmRSS, ctxt_switches of all threads)"
measure "undistro" $(ours $pid)
reap "$pid"
# The same daemon also seeding the image's layers over BitTorrent (issue 9).
spawn "$bin" node --root "$node" run --p2p 127.0.0.1:0 >"$work/node-run-p2p.log" 2>&1
pid=$!
waitport 8080 && waitport 8081
echo "command: $bin node --root $node run --p2p 127.0.0.1:0   (seeding every layer of bench3; same window)"
measure "undistro seeding" $(ours $pid)
reap "$pid"
echo "seeding adds $(( undistro_seeding_rss - undistro_rss )) KiB RSS to the daemon (target for the daemon with seeding: <= 20480 KiB)"

scan=$work/s6
rm -rf "$scan" && mkdir -p "$scan"/{httpbin,httpd,crond}
fs=$work/rootfs/bench3
printf '#!/bin/sh\nexec chroot --userspec=1000:1000 %s /bin/sh -c "set -a && . /etc/httpbin/httpbin.env && exec /usr/bin/httpbin"\n' "$fs" >"$scan/httpbin/run"
printf '#!/bin/sh\nexec chroot %s /bin/busybox httpd -f -p 127.0.0.1:8081 -h /usr/share/doc\n' "$fs" >"$scan/httpd/run"
printf '#!/bin/sh\nexec chroot %s /bin/busybox crond -f -c /etc/crontabs\n' "$fs" >"$scan/crond/run"
chmod +x "$scan"/*/run
spawn s6-svscan "$scan" >"$work/s6.log" 2>&1
spid=$!
waitport 8080 && waitport 8081
echo "command: s6-svscan $scan   (s6-svscan + its 3 s6-supervise, same window)"
measure "s6" $spid $(pgrep -P $spid -x s6-supervise)
s6-svscanctl -t "$scan" 2>/dev/null || kill -TERM $spid; wait $spid 2>/dev/null || true
echo "ratio undistro/s6: RSS $(awk "BEGIN{printf \"%.2f\", $undistro_rss/$s6_rss}")x, PSS $(awk "BEGIN{printf \"%.2f\", $undistro_pss/$s6_pss}")x, wake-ups $(awk "BEGIN{ if ($s6_wake>0) printf \"%.2f\", $undistro_wake/$s6_wake; else print \"n/a (s6: 0)\"}")"
echo

echo "## ci publish after a one-recipe change vs a full rebuild from clean caches, same run"
bash "$(dirname "$0")/bench_publish.sh" "$bin" "$work/publish"
