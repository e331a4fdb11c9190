#!/usr/bin/env bash
# Benchmarks the pgschemas driver, database/sql and pgxpool, against plain pgx stdlib or pgxpool
# (driver/bench_test.go, driver/pgxpool_test.go, driver/strict_bench_test.go), and prints
# benchstat's comparison: one row per benchmark, one column per case, each column compared with
# the first one (case=stdlib, case=pgxpool). The pooler benchmarks are also compared with plain pgx
# in exec mode (case=stdlib_exec), their ceiling, and have a column through PgBouncer when one runs
# (.ci/pgbouncer.sh start; this script does not start it).
#
# The benchmarks run interleaved: ROUNDS runs of `go test -count 1`, each running every case once,
# rather than one `go test -count ROUNDS`, which runs each sub-benchmark ROUNDS times in a row.
# Interleaving spreads slow drifts of the machine (other load, checkpoints, table growth) over every
# case instead of charging them to whichever case ran during them. Each round also starts the
# cases of a benchmark at another place of their order (PGSCHEMAS_BENCH_ROUND, benchRotate), so
# that no case always runs after the same others and inherits what they leave behind.
#
#   ROUNDS     number of rounds, the samples per case benchstat gets (default 10)
#   BENCHTIME  -benchtime of each run (default 1s)
#   BENCH      -bench pattern (default 'Select|Insert': all of them; 'Pooler' for the pooler ones)
#
# Output: bench/results.txt (raw go test output, benchstat's input) and bench/load.txt (the load
# average at each round). 10 rounds took 6.5 minutes on a 2-core machine (load average 4 to 8 from
# other work): 12 x BENCHTIME of timed loops per round, plus each round's database setup and
# proxy counts, which the load slowed most (the inserts wait for fsync).
#
# After benchstat's table, it prints each case's throughput relative to its benchmark's first case
# paired by round (first ns/op / case ns/op, from the same go test run, seconds apart), median and
# range over the rounds: pairing removes the drift between rounds (not the noise within one), which
# benchstat's unpaired comparison cannot. Then the same for the CPU time of the server process
# (server-ns/op), which other load on the machine moves less than the wall-clock time. Then, when
# BENCH includes BenchmarkPaired, the ratios that it measures within its loops, where each case
# and its baseline take turns every 50 operations: pairing by round leaves the drift between the
# runs of one round, seconds apart; taking turns leaves almost none.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-10}
BENCHTIME=${BENCHTIME:-1s}
BENCH=${BENCH:-Select|Insert}
results=bench/results.txt
log=bench/load.txt

go vet ./driver/ # and build the test binary once, before the first round
if dsn=$(.ci/pgbouncer.sh status 2>/dev/null); then
	export PGSCHEMAS_TEST_PGBOUNCER_DSN=$dsn
else
	echo "no PgBouncer: the pooler benchmarks run without their PgBouncer column (.ci/pgbouncer.sh start)" >&2
fi
: >"$results"
: >"$log"
for round in $(seq "$ROUNDS"); do
	echo "round $round/$ROUNDS: $(date -u +%FT%TZ) $(uptime)" | tee -a "$log" >&2
	PGSCHEMAS_BENCH_ROUND=$round go test -run '^$' -bench "$BENCH" -benchmem -benchtime "$BENCHTIME" -count 1 ./driver/ | tee -a "$results"
done
echo "done: $(date -u +%FT%TZ) $(uptime)" | tee -a "$log" >&2

go run golang.org/x/perf/cmd/benchstat@latest -col /case "$results"

# paired prints, for each case, the first case's metric over the case's (>1: the case is faster,
# or needs less), paired by round: median [min, max] (n rounds).
paired() {
awk -v metric="$1" '
/^goos:/ { round++ }
/^Benchmark[^ \t]*\/case=/ {
	name = $1; sub(/-[0-9]+$/, "", name)       # drop the -GOMAXPROCS suffix
	bench = name; sub(/\/case=.*/, "", bench); sub(/^Benchmark/, "", bench)
	c = name; sub(/.*\/case=/, "", c)
	for (i = 2; i <= NF; i++) if ($i == metric) ns[round, bench, c] = $(i - 1)
	if (!(bench in seenB)) { seenB[bench] = 1; B[++nB] = bench; first[bench] = c }
	if (!((bench, c) in seenC)) { seenC[bench, c] = 1; C[bench, ++nC[bench]] = c }
}
# ratio prints the paired ratio of case c against case base in benchmark b.
function ratio(b, base, c,    n, r, s, v, x, j, med) {
	n = 0
	for (r = 1; r <= round; r++) {
		s = ns[r, b, base]; v = ns[r, b, c]
		if (s == "" || v == "" || v == 0) continue
		x = s / v
		for (j = n; j > 0 && R[j] > x; j--) R[j + 1] = R[j]   # insertion sort
		R[j + 1] = x; n++
	}
	if (n == 0) return
	med = (n % 2) ? R[(n + 1) / 2] : (R[n / 2] + R[n / 2 + 1]) / 2
	printf "%-20s %-28s vs %-20s %.3f [%.3f, %.3f] (n=%d)\n", b, c, base, med, R[1], R[n], n
}
END {
	for (i = 1; i <= nB; i++) {
		b = B[i]
		for (k = 1; k <= nC[b]; k++) if (C[b, k] != first[b]) ratio(b, first[b], C[b, k])
		# The pooler mode against plain pgx in the exec mode it runs in: its ceiling.
		# The 100-tenant cases against plain pgx over the same 100 tables, named with their schemas.
		for (k = 1; k <= nC[b]; k++) if (C[b, k] ~ /_100_tables$/)
			for (j = 1; j <= nC[b]; j++) if (C[b, j] ~ /100_tenants/) ratio(b, C[b, k], C[b, j])
		if ((b, "stdlib_exec") in seenC)
			for (k = 1; k <= nC[b]; k++) if (C[b, k] ~ /pooler/) ratio(b, "stdlib_exec", C[b, k])
	}
}' "$results"
}

echo
echo "throughput vs the benchmark's first case, paired by round: median [min, max] (n rounds); >1 is faster"
paired ns/op
echo
echo "server CPU per operation, the first case's over each case's, paired by round (>1: the server works less)"
paired server-ns/op

# The BenchmarkPaired cases report their own ratio, measured within the loop (base/case): each
# case and its baseline take turns every 50 operations, so that drift within a round falls on
# both. Median [min, max] of that ratio over the rounds.
if grep -q '^BenchmarkPaired' "$results"; then
	echo
	echo "each case against its baseline, taking turns every 50 operations: base/case over the rounds, median [min, max]; >1 is faster"
	awk '
/^BenchmarkPaired/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	for (i = 2; i <= NF; i++) if ($i == "base/case") {
		if (!(name in n)) order[++names] = name
		x = $(i - 1); k = ++n[name]
		for (j = k - 1; j > 0 && R[name, j] > x; j--) R[name, j + 1] = R[name, j]   # insertion sort
		R[name, j + 1] = x
	}
}
END {
	for (o = 1; o <= names; o++) {
		name = order[o]; k = n[name]
		med = (k % 2) ? R[name, (k + 1) / 2] : (R[name, k / 2] + R[name, k / 2 + 1]) / 2
		printf "%-50s %.3f [%.3f, %.3f] (n=%d)\n", name, med, R[name, 1], R[name, k], k
	}
}' "$results"
fi
