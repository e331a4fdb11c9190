#!/usr/bin/env bash
# The PgBouncer that the driver's pooler tests go through: pool_mode=transaction, default_pool_size=2,
# auth_type=trust, listening on 127.0.0.1 and forwarding every database to the test server.
#
#   .ci/pgbouncer.sh start    install Debian's pgbouncer when it is missing (root and apt-get only),
#                             start it unless it already runs, and print its DSN on stdout:
#                             export PGSCHEMAS_TEST_PGBOUNCER_DSN="$(.ci/pgbouncer.sh start)"
#   .ci/pgbouncer.sh status   exit 0 when it runs (and print its DSN), 1 otherwise
#   .ci/pgbouncer.sh stop     stop it and remove its directory; nothing to do when it is not running
#
# Its configuration, log and pid file live in $PGBOUNCER_DIR (default ${TMPDIR:-/tmp}/pgschemas-pgbouncer-<port>).
#
#   PGBOUNCER_PORT           its port (default 6432)
#   PGBOUNCER_UPSTREAM_HOST  the PostgreSQL server it forwards to (default 127.0.0.1)
#   PGBOUNCER_UPSTREAM_PORT  (default 5432)
#
# Messages go to stderr; start exits 1 when PgBouncer cannot be installed or started.
set -euo pipefail

port=${PGBOUNCER_PORT:-6432}
upstream_host=${PGBOUNCER_UPSTREAM_HOST:-127.0.0.1}
upstream_port=${PGBOUNCER_UPSTREAM_PORT:-5432}
dir=${PGBOUNCER_DIR:-${TMPDIR:-/tmp}/pgschemas-pgbouncer-$port}
dsn="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"

say() { echo "pgbouncer.sh: $*" >&2; }

running() {
	[ -f "$dir/pgbouncer.pid" ] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null
}

ready() { pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; }

install() {
	command -v pgbouncer >/dev/null && return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		say "pgbouncer is not installed, and this is not root on Debian: install it (apt-get install pgbouncer)"
		return 1
	fi
	say "installing Debian's pgbouncer"
	# The package's service does not start in a container (policy-rc.d), and is not used here.
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >&2; then
		apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >&2
	fi
}

start() {
	if running; then
		ready || { say "PgBouncer (pid $(cat "$dir/pgbouncer.pid")) runs but does not answer on port $port"; return 1; }
		say "already running on port $port ($dir)"
		echo "$dsn"
		return 0
	fi
	install || return 1
	if pg_isready -q -h 127.0.0.1 -p "$port"; then
		say "port $port is taken by another server; set PGBOUNCER_PORT"
		return 1
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=$upstream_host port=$upstream_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 500
server_reset_query =
log_connections = 0
log_disconnections = 0
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
	echo '"postgres" ""' >"$dir/userlist.txt"
	local as=()
	if [ "$(id -u)" = 0 ]; then # PgBouncer refuses to run as root
		chown -R postgres "$dir"
		as=(-u postgres)
	fi
	pgbouncer -d "${as[@]}" "$dir/pgbouncer.ini" >&2
	for _ in $(seq 1 50); do
		ready && break
		sleep 0.1
	done
	if ! ready; then
		say "PgBouncer did not start; its log:"
		cat "$dir/pgbouncer.log" >&2 || true
		return 1
	fi
	say "started on port $port, pool_mode=transaction, default_pool_size=2 ($dir)"
	echo "$dsn"
}

stop() {
	if ! running; then
		rm -rf "$dir"
		return 0
	fi
	local pid
	pid=$(cat "$dir/pgbouncer.pid")
	kill -TERM "$pid"
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "PgBouncer (pid $pid) did not stop"
		return 1
	fi
	rm -rf "$dir"
	say "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) running && ready && echo "$dsn" ;;
*)
	say "usage: $0 start|status|stop"
	exit 2
	;;
esac
