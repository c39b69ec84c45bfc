#!/usr/bin/env bash
# make bench-fleet: the fleet's cost and a rollout's speed, N node daemons
# (default 25) on distinct loopback addresses in one fleet (LAN timing):
#   - gossip bytes per node per second, idle and during a rollout
#     (undistro fleet traffic: memberlist's UDP+TCP bytes, encrypted);
#   - the node daemons' RSS with the fleet and BitTorrent (each on its own
#     address, seeding its image's layers) on (node binary, -tags undistro_node,noboltdb, as images ship it);
#   - time from `fleet rollout` to the last node ready, against a loop
#     calling `node switch` on each node in turn, same nodes, same run.
set -euo pipefail
bin=$1
work=${BENCH_DIR:-$PWD/out/bench-fleet}
n=${BENCH_FLEET_NODES:-25}
idle=${BENCH_FLEET_IDLE_SECONDS:-30}
mkdir -p "$work"
export UNDISTRO_CACHE=${UNDISTRO_CACHE:-$PWD/out/bench/cache}
export COSIGN_PASSWORD=bench
ms() { echo $(( $(date +%s%N) / 1000000 )); }
. "$(dirname "$0")/spawn.sh"

if [ "$(id -u)" != 0 ]; then
	echo "(skipped: the node runtime chroots services, run as root)"
	exit 0
fi

nodebin=$work/undistro-node
CGO_ENABLED=0 go build -tags undistro_node,noboltdb -trimpath -ldflags "-s -w" -o "$nodebin" ./cmd/undistro

# Two signed builds of one role: busybox crond, ready at once; they differ
# in crond's log level only, so a switch restarts one service.
repo=$work/repo
rm -rf "$repo" && mkdir -p "$repo"
tar --exclude=./out --exclude=./bin -cf - . | tar -C "$repo" -xf -
rm -f "$work/k.key" "$work/k.pub" "$work/fleet.key"
"$bin" key generate --out "$work/k" >/dev/null
for v in 1 2; do
	printf 'description = "fleet bench node"\ninherit = ["base"]\n[service.crond]\nexec = ["/bin/busybox", "crond", "-f", "-c", "/tmp", "-L", "/dev/null", "-l", "%d"]\nready = { command = ["/bin/true"], timeout = "5s" }\n' \
		$(( 5 + v )) >"$repo/images/fleetbench.toml"
	rm -rf "$work/v$v"
	"$bin" build fleetbench --repo "$repo" --out "$work/v$v" --sign-key "$work/k.key" --quiet >/dev/null
done
"$nodebin" fleet keygen -o "$work/fleet.key" >/dev/null

# Baseline: one daemon of the same image without the fleet.
root=$work/node0
rm -rf "$root"
"$nodebin" node --root "$root" trust add "$work/k.pub" >/dev/null
"$nodebin" node --root "$root" switch "oci:$work/v1:fleetbench" >/dev/null
spawn "$nodebin" node --root "$root" run --p2p 127.0.78.100:6881 >"$work/node0.log" 2>&1
base_pid=$!
sleep 8
base_rss=$(awk '/^VmRSS/{print $2}' /proc/$base_pid/status)
base_anon=$(awk '/^RssAnon/{print $2}' /proc/$base_pid/status)
reap "$base_pid"

pids=()
for i in $(seq "$n"); do
	root=$work/node$i
	rm -rf "$root"
	"$nodebin" node --root "$root" trust add "$work/k.pub" >/dev/null
	"$nodebin" node --root "$root" switch "oci:$work/v1:fleetbench" >/dev/null
	spawn "$nodebin" -v node --root "$root" run --health-timeout 30s --p2p "127.0.78.$i:6881" --fleet "127.0.78.$i:7946" --join 127.0.78.1:7946 \
		--fleet-key "$work/fleet.key" --fleet-name "node$i" >"$work/node$i.log" 2>&1
	pids+=("$!")
done
members() { "$nodebin" fleet --root "$work/node$1" members --json 2>/dev/null || echo '[]'; }
# count of members node $1 sees on digest $2, settled and healthy
ontarget() { members "$1" | python3 -c 'import json,sys; d=sys.argv[1]; print(sum(1 for m in json.load(sys.stdin) if m.get("image")==d and m["switch"]=="steady" and m["health"]=="ok"))' "$2"; }
count() { members "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
for _ in $(seq 600); do [ "$(count "$n")" = "$n" ] && [ "$(count 1)" = "$n" ] && break; sleep 0.2; done
[ "$(count 1)" = "$n" ] || { echo "the fleet never formed: node1 sees $(count 1) of $n" >&2; exit 1; }
digest() { "$nodebin" node --root "$work/node1" pull "oci:$work/v$1:fleetbench" | awk '{print $1}'; }
d1=$(digest 1); d2=$(digest 2)

# traffic: sum of sent bytes over all nodes
sent() { local t=0 i; for i in $(seq "$n"); do t=$(( t + $("$nodebin" fleet --root "$work/node$i" traffic --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sentBytes"])') )); done; echo $t; }
# rss FIELD PID...: mean and max of a /proc/PID/status field (KiB)
rss() { local f=$1 t=0 m=0 p r; shift; for p in "$@"; do r=$(awk -v f="^$f:" '$0 ~ f {print $2}' /proc/$p/status); t=$(( t + r )); (( r > m )) && m=$r; done; echo "$(( t / $# )) $m"; }

echo "## fleet of $n node daemons (127.0.78.1-$n, LAN timing), gossip cost and daemon RSS"
echo "command: $nodebin node run --fleet 127.0.78.I:7946 --join 127.0.78.1:7946 --fleet-key K   (x$n); undistro fleet traffic --json on each"
sleep 5
s0=$(sent); t0=$(ms); sleep "$idle"; s1=$(sent); t1=$(ms)
echo "idle: $(awk "BEGIN{printf \"%.0f\", ($s1-$s0)/$n/(($t1-$t0)/1000)}") bytes sent per node per second (over ${idle}s)"
read -r avg max < <(rss VmRSS "${pids[@]}")
read -r anon anonmax < <(rss RssAnon "${pids[@]}")
read -r file _ < <(rss RssFile "${pids[@]}")
echo "daemon RSS with the fleet on (/proc/PID/status, one crond service each): VmRSS mean ${avg} KiB, max ${max} KiB (target <= 20 MB); of it private memory (RssAnon) mean ${anon} KiB, max ${anonmax} KiB, and the binary's file-backed pages (RssFile, shared by every daemon, reclaimable) mean ${file} KiB; the same daemon without --fleet: VmRSS ${base_rss} KiB, RssAnon ${base_anon} KiB"
echo

rollout() { # from to maxunavail; prints ms from publish to the last node ready
	local from=$1 to=$2 max=$3 d t0 t1
	d=$(eval echo "\$d$to")
	t0=$(ms)
	"$nodebin" fleet --root "$work/node1" rollout fleetbench "oci:$work/v$to:fleetbench" --max-unavailable "$max" --canary 1 >/dev/null
	for _ in $(seq 3000); do [ "$(ontarget "$n" "$d")" = "$n" ] && break; sleep 0.1; done
	t1=$(ms)
	[ "$(ontarget "$n" "$d")" = "$n" ] || { echo "rollout to v$to did not finish: $(ontarget "$n" "$d") of $n" >&2; exit 1; }
	echo $(( t1 - t0 ))
}

echo "## rollout across $n nodes: a sequential node switch loop (v1 -> v2), then fleet rollout (v2 -> v1, max-unavailable 1, canary 1), same nodes, same run"
# The loop runs first: once a rollout is published, the nodes converge on
# its target and would undo a switch by hand.
t0=$(ms)
for i in $(seq "$n"); do "$nodebin" node --root "$work/node$i" switch "oci:$work/v2:fleetbench" >/dev/null; done
t1=$(ms); loop=$(( t1 - t0 ))
echo "command: for i in 1..$n: $nodebin node --root node\$i switch oci:v2:fleetbench   (each waits for its health gate)"
echo "sequential node switch loop: ${loop} ms"
for _ in $(seq 300); do [ "$(ontarget "$n" "$d2")" = "$n" ] && break; sleep 0.1; done
s0=$(sent); r0=$(ms)
fleet1=$(rollout 2 1 1)
s1=$(sent); r1=$(ms)
echo "command: $nodebin fleet rollout fleetbench oci:v1:fleetbench --max-unavailable 1 --canary 1   (until fleet members shows all $n on it, ready)"
echo "fleet rollout, max-unavailable 1: ${fleet1} ms to the last node ready; ratio fleet/loop $(awk "BEGIN{printf \"%.2f\", $fleet1/$loop}")x"
echo "during the rollout: $(awk "BEGIN{printf \"%.0f\", ($s1-$s0)/$n/(($r1-$r0)/1000)}") bytes sent per node per second"
s0=$(sent); r0=$(ms)
fleet5=$(rollout 1 2 5)
s1=$(sent); r1=$(ms)
echo "fleet rollout back to v2, max-unavailable 5: ${fleet5} ms to the last node ready; ratio fleet/loop $(awk "BEGIN{printf \"%.2f\", $fleet5/$loop}")x; $(awk "BEGIN{printf \"%.0f\", ($s1-$s0)/$n/(($r1-$r0)/1000)}") bytes sent per node per second during it"
reap "${pids[@]}"
