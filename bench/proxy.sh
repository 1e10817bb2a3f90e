#!/usr/bin/env bash
# bench/proxy.sh — fender's egress proxy against its peers, measured in one
# run on this machine against the same small-JSON origin:
#
#   direct     wrk/lat straight to the origin (the floor)
#   httputil   net/http/httputil.ReverseProxy, tuned transport (bench/cmd/revproxy)
#   haproxy    HAProxy (Debian 2.6) with L7 retries and server keep-alive
#   fender     `fender serve` with the full default policy chain and JSON logging
#
# Throughput: wrk -t2 -c32 (after a warm-up run). Latency: bench/cmd/lat, one
# keep-alive connection, sequential requests, exact p50/p99. Prints a table
# and ratios against the peers; targets are printed PASS/MISS and never fail
# the script (absolute numbers drift on shared machines, ratios less so).
#
# Environment:
#   DURATION=10s   length of each measured run (throughput and latency)
#   QUICK=1        2s smoke run (DURATION=2s, short warm-ups)
#   ROUNDS=1       repeat every peer's measurements, report the median
#   PIN=1          taskset: proxy under test on one half of the CPUs, wrk,
#                  lat and the origin on the other (PIN=0: no pinning)
#   FENDER_LOG=bench/out/fender.log   where fender's JSON log goes
#                  (its stderr); /dev/null to measure without the disk
#
# Needs go, wrk, haproxy, taskset, curl. As root, wrk and haproxy are
# installed with apt-get when missing. Everything listens on 127.0.0.1 on
# free ports, writes under bench/out/, and is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
BIN=$OUT/bin
mkdir -p "$OUT" "$BIN"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
LAT_WARMUP=1s
if [[ ${QUICK:-0} == 1 ]]; then DURATION=2s; WARMUP=1s; fi
ROUNDS=${ROUNDS:-1}
PIN=${PIN:-1}
FENDER_LOG=${FENDER_LOG:-$OUT/fender.log}
CONNS=32
THREADS=2
PATH_REQ=/v1/charges/ch_123   # what the origin is asked for
UPSTREAM=origin               # the upstream name in every proxied URL

die() { echo "proxy.sh: $*" >&2; exit 1; }
secs() { # "10s" | "10" | "1m" -> integer seconds (rounded up)
	local d=$1
	case $d in
	*ms) echo 1 ;;
	*m) echo $(( ${d%m} * 60 )) ;;
	*s) echo "${d%s}" ;;
	*) echo "$d" ;;
	esac
}
D=$(secs "$DURATION"); W=$(secs "$WARMUP")
[[ $D =~ ^[0-9]+$ && $D -ge 1 ]] || die "DURATION=$DURATION: want whole seconds like 10s"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS=$ROUNDS: want a positive integer"

# --- tools ----------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || need_apt+=(haproxy)
if ((${#need_apt[@]})); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "# installing ${need_apt[*]} with apt-get"
		timeout 300 apt-get install -y "${need_apt[@]}" >"$OUT/apt.log" 2>&1 ||
			{ timeout 120 apt-get update >>"$OUT/apt.log" 2>&1 && timeout 300 apt-get install -y "${need_apt[@]}" >>"$OUT/apt.log" 2>&1; } ||
			die "apt-get install ${need_apt[*]} failed, see $OUT/apt.log"
	else
		die "missing ${need_apt[*]}: install them (Debian: sudo apt-get install -y haproxy wrk) or run as root"
	fi
fi
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
for t in go taskset curl; do command -v $t >/dev/null || die "missing $t"; done
HAPROXY_VERSION=$("$HAPROXY" -v 2>&1 | awk 'NR == 1 {print $3}' || true)
WRK_VERSION=$(wrk -v 2>&1 | awk 'NR == 1 {print $2}' || true)

# --- build ----------------------------------------------------------------
echo "# building fender and the bench programs into $BIN"
timeout 600 go build -o "$BIN/fender" ./cmd/fender
for c in origin revproxy lat freeport; do timeout 300 go build -o "$BIN/$c" ./bench/cmd/$c; done

# --- processes, cleanup, time bound ---------------------------------------
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'echo "proxy.sh: interrupted" >&2; exit 130' INT TERM
# Every peer costs at most two warm-ups, two measured runs and ~15s of
# start-up slack; past that something hangs and the watchdog ends the run.
LIMIT=$(( ROUNDS * 4 * (2 * D + W + 1 + 20) + 30 ))
( sleep "$LIMIT"; echo "proxy.sh: time limit ${LIMIT}s reached, stopping" >&2; kill -TERM $$ ) &
PIDS+=($!)

NCPU=$(nproc)
if [[ $PIN == 1 && $NCPU -ge 2 ]]; then
	half=$(( NCPU / 2 ))
	LOAD_CPUS="0-$(( half - 1 ))"
	PROXY_CPUS="$half-$(( NCPU - 1 ))"
	PROXY_THREADS=$(( NCPU - half ))
	LOAD=(taskset -c "$LOAD_CPUS")
	PROXY=(taskset -c "$PROXY_CPUS")
	PIN_NOTE="pinned: proxy under test on CPU $PROXY_CPUS; wrk, lat and origin on CPU $LOAD_CPUS"
else
	PROXY_THREADS=$NCPU
	LOAD=(); PROXY=()
	PIN_NOTE="not pinned: all processes share $NCPU CPUs"
fi

mapfile -t PORTS < <("$BIN/freeport" -n 4)
ORIGIN_PORT=${PORTS[0]} REV_PORT=${PORTS[1]} HAP_PORT=${PORTS[2]} FENDER_PORT=${PORTS[3]}
ORIGIN_URL=http://127.0.0.1:$ORIGIN_PORT

# start NAME CMD...: runs CMD in the background, output in bench/out/NAME.log
start() {
	local name=$1; shift
	"$@" >"$OUT/$name.log" 2>&1 &
	PIDS+=($!)
	CUR_PID=$!
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_ok() { # URL [PID LOG]: wait until URL answers 200, at most 15s
	local i
	for i in $(seq 150); do
		if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
		if [[ -n ${2:-} ]] && ! kill -0 "$2" 2>/dev/null; then
			die "the server for $1 exited: $(tail -5 "$3" 2>/dev/null)"
		fi
		sleep 0.1
	done
	die "$1 did not answer 200 within 15s"
}

# --- configs --------------------------------------------------------------
cat >"$OUT/haproxy.cfg" <<EOF
# generated by bench/proxy.sh
global
    nbthread $PROXY_THREADS
    maxconn 4096
    # no "log" line: HAProxy logs nothing

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 5s
    timeout http-keep-alive 120s
    retries 2
    retry-on conn-failure empty-response response-timeout 503
    option http-keep-alive
    http-reuse always

frontend fe
    bind 127.0.0.1:$HAP_PORT
    default_backend be

backend be
    # same routing as fender: /{upstream}/{path} -> {origin}/{path}
    http-request replace-path /$UPSTREAM(/.*) \1
    server origin 127.0.0.1:$ORIGIN_PORT maxconn 1000
EOF
"$HAPROXY" -c -f "$OUT/haproxy.cfg" >"$OUT/haproxy-check.log" 2>&1 || die "haproxy rejected $OUT/haproxy.cfg: $(cat "$OUT/haproxy-check.log")"

cat >"$OUT/fender.yaml" <<EOF
# generated by bench/proxy.sh: one upstream with every default policy
# (timeouts 5s/15s, 3 attempts with budget 20%, breaker, no rate limit),
# except concurrency.max raised from 100 to 1000 so 32 connections are
# never shed by the bulkhead.
listen: { proxy: 127.0.0.1:$FENDER_PORT, webhooks: "", admin: "" }
storage: { driver: sqlite, dsn: $OUT/fender.db }
log: { level: info, format: json }
upstreams:
  $UPSTREAM:
    url: $ORIGIN_URL
    allow_private_network: true
    concurrency: { max: 1000 }
EOF
"$BIN/fender" check -c "$OUT/fender.yaml" >"$OUT/fender-effective.yaml" 2>"$OUT/fender-check.log" ||
	die "fender check rejected $OUT/fender.yaml: $(cat "$OUT/fender-check.log")"

# --- measurement ----------------------------------------------------------
RESULTS=$OUT/results.tsv
: >"$RESULTS"

# measure PEER URL: one warm-up and one measured wrk run, then lat.
measure() {
	local peer=$1 url=$2 r f rps non2xx sockerr lat
	f=$OUT/$peer-wrk.txt
	timeout $(( W + 15 )) "${LOAD[@]}" wrk -t$THREADS -c$CONNS -d"${W}s" "$url" >"$OUT/$peer-wrk-warmup.txt" 2>&1 ||
		die "$peer: wrk warm-up failed: $(cat "$OUT/$peer-wrk-warmup.txt")"
	timeout $(( D + 15 )) "${LOAD[@]}" wrk -t$THREADS -c$CONNS -d"${D}s" "$url" >"$f" 2>&1 ||
		die "$peer: wrk failed: $(cat "$f")"
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
	non2xx=$(awk '/Non-2xx/ {print $NF}' "$f"); non2xx=${non2xx:-0}
	sockerr=$(grep -c 'Socket errors' "$f" || true)
	[[ -n $rps ]] || die "$peer: no Requests/sec in $f"
	lat=$(timeout $(( D + 15 )) "${LOAD[@]}" "$BIN/lat" -d "${D}s" -warmup $LAT_WARMUP "$url" 2>"$OUT/$peer-lat.err") ||
		die "$peer: lat failed: $(cat "$OUT/$peer-lat.err")"
	echo "$lat" >"$OUT/$peer-lat.txt"
	local p50 p99 lerr
	p50=$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$lat")
	p99=$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$lat")
	lerr=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$lat")
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$peer" "$rps" "$p50" "$p99" "$non2xx" "$(( sockerr + lerr ))" >>"$RESULTS"
	printf '#   %-9s %10s req/s   p50 %7s µs   p99 %7s µs   non-2xx %s\n' "$peer" "$rps" "$p50" "$p99" "$non2xx"
}

echo "# $(date -u +%FT%TZ) $(uname -srm), $NCPU CPUs, $(go version | awk '{print $3}'), HAProxy $HAPROXY_VERSION, wrk $WRK_VERSION"
echo "# $PIN_NOTE"
echo "# DURATION=$DURATION (warm-up ${W}s), ROUNDS=$ROUNDS, throughput: wrk -t$THREADS -c$CONNS, latency: bench/cmd/lat (1 conn, exact percentiles)"

start origin "${LOAD[@]}" env GOMAXPROCS=$(( NCPU - PROXY_THREADS > 0 ? NCPU - PROXY_THREADS : NCPU )) "$BIN/origin" -addr "127.0.0.1:$ORIGIN_PORT"
wait_ok "$ORIGIN_URL$PATH_REQ" $CUR_PID "$OUT/origin.log"

for round in $(seq "$ROUNDS"); do
	echo "# round $round/$ROUNDS"
	measure direct "$ORIGIN_URL$PATH_REQ"

	start revproxy "${PROXY[@]}" env GOMAXPROCS=$PROXY_THREADS "$BIN/revproxy" -addr "127.0.0.1:$REV_PORT" -upstream "$ORIGIN_URL" -name "$UPSTREAM"
	pid=$CUR_PID; wait_ok "http://127.0.0.1:$REV_PORT/$UPSTREAM$PATH_REQ" $pid "$OUT/revproxy.log"
	measure httputil "http://127.0.0.1:$REV_PORT/$UPSTREAM$PATH_REQ"
	stop_pid $pid

	start haproxy "${PROXY[@]}" "$HAPROXY" -db -f "$OUT/haproxy.cfg"
	pid=$CUR_PID; wait_ok "http://127.0.0.1:$HAP_PORT/$UPSTREAM$PATH_REQ" $pid "$OUT/haproxy.log"
	measure haproxy "http://127.0.0.1:$HAP_PORT/$UPSTREAM$PATH_REQ"
	stop_pid $pid

	: >"$FENDER_LOG" 2>/dev/null || true
	"${PROXY[@]}" env GOMAXPROCS=$PROXY_THREADS "$BIN/fender" serve -c "$OUT/fender.yaml" >"$OUT/fender-stdout.log" 2>"$FENDER_LOG" &
	pid=$!; PIDS+=($pid)
	wait_ok "http://127.0.0.1:$FENDER_PORT/$UPSTREAM$PATH_REQ" $pid "$FENDER_LOG"
	measure fender "http://127.0.0.1:$FENDER_PORT/$UPSTREAM$PATH_REQ"
	stop_pid $pid
done

# --- report ---------------------------------------------------------------
echo
awk -v pin="$PIN_NOTE" -v flog="$FENDER_LOG" -F'\t' '
function median(peer, col,   n, i, j, t, a) {
	n = 0
	for (i = 1; i <= rows; i++) if (P[i] == peer) a[++n] = V[i, col]
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	if (n == 0) return 0
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function ratio(a, b) { return (b > 0) ? a / b : -1 }
function fmt_ratio(r) { return (r < 0) ? "  n/a" : sprintf("%5.2f", r) }
function verdict(r, op, t) {
	if (r < 0) return "n/a"
	if (op == ">=") return (r >= t) ? "PASS" : "MISS"
	return (r <= t) ? "PASS" : "MISS"
}
{ rows++; P[rows] = $1; for (c = 2; c <= 6; c++) V[rows, c] = $c + 0; seen[$1] = 1 }
END {
	split("direct httputil haproxy fender", peers, " ")
	for (i = 1; i <= 4; i++) { p = peers[i]; rps[p] = median(p, 2); p50[p] = median(p, 3); p99[p] = median(p, 4); bad[p] = median(p, 5) + median(p, 6) }
	printf "%-9s %12s %10s %10s %12s %12s\n", "peer", "req/s @32c", "p50 @1c", "p99 @1c", "added p50", "added p99"
	for (i = 1; i <= 4; i++) {
		p = peers[i]
		a50 = (p == "direct") ? "-" : sprintf("%+.1fµs", p50[p] - p50["direct"])
		a99 = (p == "direct") ? "-" : sprintf("%+.1fµs", p99[p] - p99["direct"])
		printf "%-9s %12.0f %8.1fµs %8.1fµs %12s %12s%s\n", p, rps[p], p50[p], p99[p], a50, a99, (bad[p] > 0) ? sprintf("   (%d non-2xx/errors)", bad[p]) : ""
	}
	add50f = p50["fender"] - p50["direct"]; add50h = p50["haproxy"] - p50["direct"]; add50r = p50["httputil"] - p50["direct"]
	r1 = ratio(rps["fender"], rps["haproxy"]); r2 = ratio(rps["fender"], rps["httputil"])
	r3 = ratio(add50f, add50h); r4 = ratio(add50f, add50r)
	if (add50h <= 0) r3 = -1
	if (add50r <= 0) r4 = -1
	print ""
	printf "%-44s %s   %-10s %s\n", "ratio", "value", "target", "verdict"
	printf "%-44s %s   %-10s %s\n", "fender throughput / haproxy throughput", fmt_ratio(r1), ">= 1.00", verdict(r1, ">=", 1.0)
	printf "%-44s %s   %-10s %s\n", "fender throughput / httputil throughput", fmt_ratio(r2), ">= 1.20", verdict(r2, ">=", 1.2)
	printf "%-44s %s   %-10s %s\n", "fender added p50 / haproxy added p50", fmt_ratio(r3), "<= 1.00", verdict(r3, "<=", 1.0)
	printf "%-44s %s   %-10s %s\n", "fender added p50 / httputil added p50", fmt_ratio(r4), "(none)", "-"
	print ""
	print "# " pin
	print "# fender: every default policy, concurrency.max raised 100 -> 1000, JSON log at info to " flog
}' "$RESULTS" | tee "$OUT/summary.txt"
echo "# raw results: $RESULTS; wrk/lat outputs, configs and logs in $OUT/"
