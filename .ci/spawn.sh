# Sourced by the .ci scripts that start servers (bench.sh, bench_publish.sh,
# demo.sh, distro.sh).
#
# Servers a script starts run through spawn: they keep only stdin, stdout
# and stderr (no inherited lock such as `flock /tmp/undistro-heavy.lock make
# bench`'s, which a leftover server once held after a failure), and whatever
# way the script ends (error under set -e, Ctrl-C, TERM) they are killed.
spawned=()
spawn() { # command...; runs it in the background, its pid in $!
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			(( fd > 2 )) && eval "exec $fd>&-"
		done
		exec "$@"
	) &
	spawned+=("$!")
}
reap() { # pids...; stops them (TERM, then KILL after 5 s) and waits
	local p
	for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
	for _ in $(seq 50); do
		local alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		(( alive )) || break
		sleep 0.1
	done
	for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	local keep=() s
	for s in "${spawned[@]}"; do [[ " $* " == *" $s "* ]] || keep+=("$s"); done
	spawned=("${keep[@]}")
}
serve_registry() { # bin data log; runs `bin serve` on a free loopback port: $addr, pid in $srv
	local port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	addr=127.0.0.1:$port
	spawn "$1" serve --addr "$addr" --data "$2" >"$3" 2>&1
	srv=$!
	for _ in $(seq 100); do
		curl -fsS "http://$addr/v2/" >/dev/null 2>&1 && return 0
		kill -0 "$srv" 2>/dev/null || break
		sleep 0.1
	done
	echo "undistro serve on $addr did not answer; its log ($3):" >&2
	cat "$3" >&2
	return 1
}
cleanup() { if (( ${#spawned[@]} )); then reap "${spawned[@]}"; fi; spawned=(); return 0; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
