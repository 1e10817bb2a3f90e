#!/usr/bin/env bash
# bench/ingest.sh — fender's webhook inbox against its peers, measured in one
# run on this machine with the same load generator (bench/cmd/hookgen:
# Stripe-signed POSTs, unique event ids, ~1 KiB bodies, keep-alive):
#
#   noop            reads the body, answers 200 (bench/cmd/noop): the ceiling
#   naive           verify + one SQLite transaction per webhook, WAL,
#                   synchronous=FULL (bench/cmd/naiveinbox): the baseline
#   fender-sqlite   `fender serve`, storage.driver sqlite (group commit)
#   fender-pg       `fender serve`, storage.driver postgres, fresh schema
#
# Each at rising concurrency (closed loop, CONNS connections, DURATION each
# after a warm-up). Then end to end: fender on SQLite delivers to bench/cmd/app
# while hookgen sends E2E_RATE webhooks/s for DURATION; the app times each
# event from the generator's send to its delivery.
#
# Prints a table per target, ratios and targets with PASS/MISS; targets never
# fail the script (absolute numbers drift on shared machines, ratios less so).
#
# Environment:
#   DURATION=10s   measured length of each run (warm-up WARMUP=2s first)
#   QUICK=1        smoke run: DURATION=2s, WARMUP=1s, CONNS=64
#   CONNS="16 64 128"  concurrency levels
#   E2E_RATE=1000  webhooks/s of the end-to-end run
#   PIN=1          taskset: server under test on the upper half of the CPUs
#                  (GOMAXPROCS = that many), hookgen and app on the lower half
#   SRV_GOMAXPROCS  GOMAXPROCS of the servers under test (default: the CPUs
#                  they are pinned to, which is also what Go picks by itself)
#   PG_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#                  a fresh schema bench_<random> is created there and dropped
#                  on exit; PG_DSN=off skips fender-pg
#   FENDER_SRC=.   the checkout fender is built from (e.g. a `git archive
#                  HEAD` export when this working tree is mid-edit)
#
# Needs go, taskset, curl, and psql for fender-pg. Everything listens on
# 127.0.0.1 on free ports, writes under bench/out/ (ingest-*), and is stopped
# on exit; a watchdog ends a run that overruns its time bound.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
BIN=$OUT/bin
mkdir -p "$OUT" "$BIN"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-16 64 128}
if [[ ${QUICK:-0} == 1 ]]; then DURATION=2s; WARMUP=1s; CONNS=64; fi
E2E_RATE=${E2E_RATE:-1000}
PIN=${PIN:-1}
PG_DSN=${PG_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
SECRET=whsec_bench_secret
HOOK_PATH=/webhooks/stripe
BODY_SIZE=1024

die() { echo "ingest.sh: $*" >&2; exit 1; }
secs() { local d=$1; case $d in *m) echo $(( ${d%m} * 60 )) ;; *s) echo "${d%s}" ;; *) echo "$d" ;; esac; }
D=$(secs "$DURATION"); W=$(secs "$WARMUP")
[[ $D =~ ^[0-9]+$ && $D -ge 1 ]] || die "DURATION=$DURATION: want whole seconds like 10s"
[[ $W =~ ^[0-9]+$ ]] || die "WARMUP=$WARMUP: want whole seconds like 2s"
read -ra LEVELS <<<"$CONNS"
((${#LEVELS[@]})) || die "CONNS is empty"
for t in go taskset curl; do command -v $t >/dev/null || die "missing $t"; done

# --- build ----------------------------------------------------------------
echo "# building fender and the bench programs into $BIN"
FENDER_SRC=${FENDER_SRC:-$ROOT}
(cd "$FENDER_SRC" && timeout 600 go build -o "$BIN/fender" ./cmd/fender) || die "cannot build fender in $FENDER_SRC"
for c in hookgen noop naiveinbox app freeport; do timeout 300 go build -o "$BIN/$c" ./bench/cmd/$c; done

# --- processes, cleanup, time bound ---------------------------------------
PIDS=()
PG_SCHEMA=
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ -n $PG_SCHEMA ]]; then
		timeout 30 psql -q "$PG_DSN" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT
trap 'echo "ingest.sh: interrupted" >&2; exit 130' INT TERM
# Each run costs warm-up + duration + ~15s of slack, each server start ~20s.
LIMIT=$(( 4 * ${#LEVELS[@]} * (W + D + 15) + 4 * 20 + (D + 60) + 60 ))
# (The watchdog kills its own sleep when stopped, so no stray process keeps
# the script's output open.)
( trap 'kill $s 2>/dev/null; exit 0' TERM; sleep "$LIMIT" & s=$!; wait $s
  echo "ingest.sh: time limit ${LIMIT}s reached, stopping" >&2; kill -TERM $$ ) &
PIDS+=($!)

NCPU=$(nproc)
if [[ $PIN == 1 && $NCPU -ge 2 ]]; then
	half=$(( NCPU / 2 ))
	LOAD_CPUS="0-$(( half - 1 ))"; SRV_CPUS="$half-$(( NCPU - 1 ))"
	[[ $half == 1 ]] && LOAD_CPUS=0
	[[ $(( NCPU - 1 )) == "$half" ]] && SRV_CPUS=$half
	LOAD_PROCS=$half
	LOAD=(taskset -c "$LOAD_CPUS" env GOMAXPROCS=$LOAD_PROCS)
	# Servers run with Go's own GOMAXPROCS (their CPU count) unless
	# SRV_GOMAXPROCS is set: fender raises its own floor (cmd/fender/serve.go).
	if [[ -n ${SRV_GOMAXPROCS:-} ]]; then
		SRV=(taskset -c "$SRV_CPUS" env GOMAXPROCS=$SRV_GOMAXPROCS)
	else
		SRV=(taskset -c "$SRV_CPUS")
	fi
	PIN_NOTE="pinned: server under test (noop, naive, fender) on CPU $SRV_CPUS with ${SRV_GOMAXPROCS:+GOMAXPROCS=$SRV_GOMAXPROCS}${SRV_GOMAXPROCS:-the Go default GOMAXPROCS (fender raises it to 4)}; hookgen and app on CPU $LOAD_CPUS with GOMAXPROCS=$LOAD_PROCS; PostgreSQL is not pinned (it is the machine's service)"
else
	LOAD=(); SRV=()
	[[ -n ${SRV_GOMAXPROCS:-} ]] && SRV=(env GOMAXPROCS=$SRV_GOMAXPROCS)
	PIN_NOTE="not pinned: all processes share $NCPU CPUs${SRV_GOMAXPROCS:+, servers with GOMAXPROCS=$SRV_GOMAXPROCS}"
fi

mapfile -t PORTS < <("$BIN/freeport" -n 5)
NOOP_PORT=${PORTS[0]} NAIVE_PORT=${PORTS[1]} HOOK_PORT=${PORTS[2]} ADMIN_PORT=${PORTS[3]} APP_PORT=${PORTS[4]}

start() { # NAME CMD...: in the background, output in bench/out/ingest-NAME.log
	local name=$1; shift
	"$@" >"$OUT/ingest-$name.log" 2>&1 &
	PIDS+=($!)
	CUR_PID=$!
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_up() { # URL PID LOG [METHOD]: until URL answers (any HTTP status), at most 20s
	local i
	for i in $(seq 200); do
		if curl -sS -o /dev/null --max-time 1 -X "${4:-GET}" "$1" 2>/dev/null; then return 0; fi
		kill -0 "$2" 2>/dev/null || die "the server for $1 exited: $(tail -5 "$3" 2>/dev/null)"
		sleep 0.1
	done
	die "$1 did not answer within 20s"
}

fender_config() { # FILE DRIVER DSN
	cat >"$1" <<EOF
# generated by bench/ingest.sh
listen: { proxy: "", webhooks: 127.0.0.1:$HOOK_PORT, admin: 127.0.0.1:$ADMIN_PORT }
storage: { driver: $2, dsn: "$3" }
log: { level: warn, format: json }
sources:
  stripe:
    path: $HOOK_PATH
    verify: { scheme: stripe, secret: $SECRET }
    event_id: body.id
    deliver: { url: "http://127.0.0.1:$APP_PORT/hooks", concurrency: 16, schedule: [0s, 1s, 5s] }
EOF
	"$BIN/fender" check -c "$1" >/dev/null 2>"$1.check" || die "fender check rejected $1: $(cat "$1.check")"
}
start_fender() { # NAME CONFIG
	start "$1" "${SRV[@]}" "$BIN/fender" serve -c "$2"
	FENDER_PID=$CUR_PID
	wait_up "http://127.0.0.1:$ADMIN_PORT/healthz" $FENDER_PID "$OUT/ingest-$1.log"
}

RESULTS=$OUT/ingest-results.tsv
: >"$RESULTS"
# measure TARGET URL: one closed-loop hookgen run per concurrency level.
measure() {
	local target=$1 url=$2 c line f
	for c in "${LEVELS[@]}"; do
		f=$OUT/ingest-$target-c$c.txt
		line=$(timeout $(( W + D + 30 )) "${LOAD[@]}" "$BIN/hookgen" -c "$c" -d "${D}s" -warmup "${W}s" \
			-size $BODY_SIZE -secret $SECRET -prefix "$target-c$c-$RANDOM" "$url" 2>"$f.err") || true
		echo "$line" >"$f"
		if [[ $line != conns=* ]]; then
			echo "#   $target c=$c: hookgen failed: $(tail -3 "$f.err")"
			printf '%s\t%s\t0\t0\t0\t0\t1\t0\n' "$target" "$c" >>"$RESULTS"
			continue
		fi
		kv() { sed -n "s/.*[ ^]$1=\([0-9.]*\).*/\1/p" <<<" $line"; }
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$c" "$(kv acks_per_s)" "$(kv p50_ms)" "$(kv p99_ms)" \
			"$(kv non200)" "$(kv errors)" "$(kv dups)" >>"$RESULTS"
		printf '#   %-14s c=%-4s %8s acks/s   p50 %7s ms   p99 %7s ms   non-200 %s  errors %s\n' \
			"$target" "$c" "$(kv acks_per_s)" "$(kv p50_ms)" "$(kv p99_ms)" "$(kv non200)" "$(kv errors)"
	done
}

echo "# $(date -u +%FT%TZ) $(uname -srm), $NCPU CPUs, $(go version | awk '{print $3}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $PIN_NOTE"
echo "# closed loop: hookgen, CONNS=\"${LEVELS[*]}\", warm-up ${W}s + DURATION=${D}s per level, ~${BODY_SIZE}-byte Stripe-signed bodies, unique event ids"

# 1. noop
start noop "${SRV[@]}" "$BIN/noop" -addr 127.0.0.1:$NOOP_PORT
pid=$CUR_PID; wait_up "http://127.0.0.1:$NOOP_PORT/" $pid "$OUT/ingest-noop.log"
measure noop "http://127.0.0.1:$NOOP_PORT$HOOK_PATH"
stop_pid $pid

# 2. naive
rm -f "$OUT"/ingest-naive.db*
start naive "${SRV[@]}" "$BIN/naiveinbox" -addr 127.0.0.1:$NAIVE_PORT -db "$OUT/ingest-naive.db" -secret $SECRET -path $HOOK_PATH
pid=$CUR_PID; wait_up "http://127.0.0.1:$NAIVE_PORT/healthz" $pid "$OUT/ingest-naive.log"
measure naive "http://127.0.0.1:$NAIVE_PORT$HOOK_PATH"
stop_pid $pid

# 3. fender on SQLite. Nothing listens on the app port during the closed-
# loop runs: deliveries (if any) fail and wait on their schedule.
rm -f "$OUT"/ingest-fender.db*
fender_config "$OUT/ingest-fender-sqlite.yaml" sqlite "$OUT/ingest-fender.db"
start_fender fender-sqlite "$OUT/ingest-fender-sqlite.yaml"
measure fender-sqlite "http://127.0.0.1:$HOOK_PORT$HOOK_PATH"
stop_pid $FENDER_PID

# 4. fender on PostgreSQL, in a fresh schema.
PG_NOTE=
if [[ $PG_DSN == off ]]; then
	PG_NOTE="fender-pg skipped (PG_DSN=off)"
elif ! command -v psql >/dev/null; then
	PG_NOTE="fender-pg skipped: psql is missing"
else
	schema=bench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
	if timeout 30 psql -q "$PG_DSN" -c "CREATE SCHEMA $schema" >"$OUT/ingest-psql.log" 2>&1; then
		PG_SCHEMA=$schema
		sep='?'; [[ $PG_DSN == *\?* ]] && sep='&'
		fender_config "$OUT/ingest-fender-pg.yaml" postgres "$PG_DSN${sep}search_path=$PG_SCHEMA"
		start_fender fender-pg "$OUT/ingest-fender-pg.yaml"
		measure fender-pg "http://127.0.0.1:$HOOK_PORT$HOOK_PATH"
		stop_pid $FENDER_PID
		PG_NOTE="fender-pg: $(psql -At "$PG_DSN" -c 'show server_version' 2>/dev/null || echo '?') at ${PG_DSN%%\?*}, schema $PG_SCHEMA (dropped on exit)"
	else
		PG_NOTE="fender-pg skipped: cannot create a schema at $PG_DSN: $(tail -1 "$OUT/ingest-psql.log")"
	fi
fi
[[ -n $PG_NOTE ]] && echo "# $PG_NOTE"

# 5. end to end: fender on SQLite delivering to the app, open loop.
echo "# end to end: $E2E_RATE webhooks/s for ${D}s into fender-sqlite, delivered to bench/cmd/app"
start app "${LOAD[@]}" "$BIN/app" -addr 127.0.0.1:$APP_PORT
APP=$CUR_PID; wait_up "http://127.0.0.1:$APP_PORT/healthz" $APP "$OUT/ingest-app.log"
rm -f "$OUT"/ingest-fender-e2e.db*
fender_config "$OUT/ingest-fender-e2e.yaml" sqlite "$OUT/ingest-fender-e2e.db"
start_fender fender-e2e "$OUT/ingest-fender-e2e.yaml"
E2E_GEN=$(timeout $(( D + 30 )) "${LOAD[@]}" "$BIN/hookgen" -rate "$E2E_RATE" -c 16 -d "${D}s" -size $BODY_SIZE \
	-secret $SECRET -prefix "e2e-$RANDOM" "http://127.0.0.1:$HOOK_PORT$HOOK_PATH" 2>"$OUT/ingest-e2e-hookgen.err") || true
echo "$E2E_GEN" >"$OUT/ingest-e2e-hookgen.txt"
E2E_ACKS=$(sed -n 's/.* acks=\([0-9]*\).*/\1/p' <<<"$E2E_GEN"); E2E_ACKS=${E2E_ACKS:-0}
# Give deliveries up to 15s to catch up with the acknowledgements.
for _ in $(seq 150); do
	E2E_APP=$(curl -fsS --max-time 2 "http://127.0.0.1:$APP_PORT/stats" 2>/dev/null || true)
	n=$(sed -n 's/^delivered=\([0-9]*\).*/\1/p' <<<"$E2E_APP")
	[[ -n $n && $n -ge $E2E_ACKS ]] && break
	sleep 0.1
done
echo "$E2E_APP" >"$OUT/ingest-e2e-app.txt"
stop_pid $FENDER_PID
stop_pid $APP

# --- report ---------------------------------------------------------------
echo
awk -F'\t' -v pin="$PIN_NOTE" -v pgnote="$PG_NOTE" -v gen="$E2E_GEN" -v app="$E2E_APP" -v rate="$E2E_RATE" '
function kv(s, k,   m) { if (match(" " s, " " k "=[0-9.]+")) { m = substr(" " s, RSTART, RLENGTH); sub(/.*=/, "", m); return m + 0 } return -1 }
function ratio(a, b) { return (a > 0 && b > 0) ? a / b : -1 }
function fr(r) { return (r < 0) ? "   n/a" : sprintf("%6.2f", r) }
function pf(ok, known) { return !known ? "n/a" : (ok ? "PASS" : "MISS") }
{
	t = $1; c = $2; n = ++rows[t]; C[t, n] = c; R[t, c] = $3; P50[t, c] = $4; P99[t, c] = $5; BAD[t, c] = $6 + $7
	if (!(c in lv)) { lv[c] = 1; levels[++nl] = c }
	if ($3 > peak[t]) { peak[t] = $3; peakc[t] = c }
}
END {
	split("noop naive fender-sqlite fender-pg", T, " ")
	for (i = 1; i <= 4; i++) {
		t = T[i]
		if (!rows[t]) continue
		printf "%s\n%6s %10s %9s %9s\n", t, "conns", "acks/s", "p50", "p99"
		for (n = 1; n <= rows[t]; n++) {
			c = C[t, n]
			printf "%6s %10.0f %7.2fms %7.2fms%s\n", c, R[t, c], P50[t, c], P99[t, c], BAD[t, c] ? sprintf("   (%d non-200/errors)", BAD[t, c]) : ""
		}
		print ""
	}
	printf "%-28s", "ratio (acks/s)"
	for (j = 1; j <= nl; j++) printf " %6s", "c=" levels[j]
	printf " %6s\n", "peak"
	split("fender-sqlite/naive fender-sqlite/noop fender-pg/naive", Q, " ")
	for (i = 1; i <= 3; i++) {
		split(Q[i], ab, "/")
		printf "%-28s", Q[i]
		for (j = 1; j <= nl; j++) printf " %s", fr(ratio(R[ab[1], levels[j]], R[ab[2], levels[j]]))
		printf " %s\n", fr(ratio(peak[ab[1]], peak[ab[2]]))
	}
	print ""

	# SQLite: the best rate among levels whose p99 is within 25 ms.
	best = 0; bestc = "-"
	for (j = 1; j <= nl; j++) { c = levels[j]; if ((("fender-sqlite", c) in R) && P99["fender-sqlite", c] <= 25 && R["fender-sqlite", c] > best) { best = R["fender-sqlite", c]; bestc = c } }
	rn = ratio(peak["fender-sqlite"], peak["noop"])
	pgk = rows["fender-pg"] > 0
	e2ep50 = kv(app, "p50_ms"); e2ep99 = kv(app, "p99_ms"); deliv = kv(app, "delivered"); acks = kv(gen, "acks")
	printf "%-62s %-16s %s\n", "target", "measured", "verdict"
	printf "%-62s %-16s %s\n", "fender-sqlite >= 15000 durable acks/s with p99 <= 25 ms", sprintf("%.0f/s (c=%s)", best, bestc), pf(best >= 15000, rows["fender-sqlite"] > 0)
	printf "%-62s %-16s %s\n", "fender-sqlite peak >= 0.50 x noop peak", fr(rn) "x", pf(rn >= 0.5, rn >= 0)
	printf "%-62s %-16s %s\n", "fender-pg peak >= 5000 durable acks/s", pgk ? sprintf("%.0f/s (c=%s)", peak["fender-pg"], peakc["fender-pg"]) : "skipped", pf(peak["fender-pg"] >= 5000, pgk)
	printf "%-62s %-16s %s\n", "end to end (sqlite, " rate "/s): sent->delivered p50 <= 10 ms", (deliv > 0) ? sprintf("%.2f ms", e2ep50) : "none delivered", pf(deliv > 0 && e2ep50 <= 10, acks > 0)
	print ""
	printf "end to end: %d acknowledged (%s), %d delivered, sent->delivered p50 %s ms, p99 %s ms%s\n",
		acks, (kv(gen, "acks_per_s") >= 0 ? sprintf("%.0f/s, ack p50 %.2f ms, p99 %.2f ms", kv(gen, "acks_per_s"), kv(gen, "p50_ms"), kv(gen, "p99_ms")) : "hookgen failed"),
		(deliv < 0 ? 0 : deliv), (deliv > 0 ? sprintf("%.2f", e2ep50) : "-"), (deliv > 0 ? sprintf("%.2f", e2ep99) : "-"),
		(deliv <= 0 && acks > 0) ? "  (no delivery arrived: is delivery wired into fender serve?)" : ""
	print ""
	print "# " pin
	if (pgnote != "") print "# " pgnote
	print "# peak = highest acks/s over the levels; acks are durable 200s (not duplicates)"
}' "$RESULTS" | tee "$OUT/ingest-summary.txt"
echo "# raw: $RESULTS, hookgen lines bench/out/ingest-*-c*.txt, configs and logs bench/out/ingest-*"
