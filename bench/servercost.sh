#!/usr/bin/env bash
# Counts the instructions that the PostgreSQL server executes per operation of the driver's
# benchmark cases (a SELECT by primary key; bench/servercost/main.go says what each case is). The
# wall-clock benchmarks of bench/run.sh move by up to 2x on a shared machine; an instruction count
# under valgrind's callgrind is the same from run to run, so it shows the server's share of a case's
# cost exactly (not the time: cache misses and the round trip's latency are not in it).
#
# It starts a throwaway PostgreSQL (the newest under /usr/lib/postgresql) under callgrind on PORT,
# seeds the benchmark's 100 schemas (and the strict cases' roles), runs each case with 0 and with N operations after the same
# warm-up, prints the difference per operation, and removes the server. About 15 seconds per case.
#
#   N      operations counted per case (default 1000)
#   PORT   the throwaway server's port (default 5499)
#   CASES  the cases, by name (default: all of them)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000}
PORT=${PORT:-5499}
CASES=${CASES:-stdlib stdlib_100_tables one_tenant 100_tenants stdlib_exec stdlib_exec_100_tables pooler_one_tenant pooler_100_tenants strict_one_tenant strict_100_tenants}
command -v valgrind >/dev/null || { echo "servercost: valgrind is not installed" >&2; exit 1; }
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cleanup() {
	as_pg "$bin/pg_ctl" -D "$dir/data" stop -m immediate >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

go build -o "$dir/servercost" ./bench/servercost
as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
as_pg sh -c "valgrind --tool=callgrind --callgrind-out-file=/dev/null '$bin/postgres' -D '$dir/data' -p $PORT \
	-c listen_addresses=127.0.0.1 -c unix_socket_directories='$dir' -c fsync=off -c autovacuum=off \
	>'$dir/valgrind.log' 2>&1 &"
for _ in $(seq 120); do
	pg_isready -q -h 127.0.0.1 -p "$PORT" && break
	sleep 1
done
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -c "CREATE DATABASE bench"
dsn="postgres://postgres@127.0.0.1:$PORT/bench?sslmode=disable"
"$dir/servercost" -dsn "$dsn" -seed

# count prints the instructions of the backend that ran a case with n operations: callgrind
# writes them to its log when the backend exits.
count() {
	local pid
	pid=$("$dir/servercost" -dsn "$dsn" -case "$1" -n "$2")
	for _ in $(seq 60); do
		if grep -q "^==$pid== Collected" "$dir/valgrind.log"; then
			grep "^==$pid== Collected" "$dir/valgrind.log" | awk '{print $4}'
			return
		fi
		sleep 1
	done
	echo "servercost: no count for backend $pid" >&2
	exit 1
}
printf "%-24s %s\n" case "server instructions/op"
for c in $CASES; do
	# A first run of the case pays what only the first backend after a change of the catalog does
	# (it writes the relation cache's init file) and what only the first one to touch the tables
	# does (hint bits): it is not counted.
	count "$c" 0 >/dev/null
	zero=$(count "$c" 0)
	full=$(count "$c" "$N")
	printf "%-24s %d\n" "$c" $(((full - zero) / N))
done
