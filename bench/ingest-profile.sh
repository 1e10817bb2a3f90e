#!/usr/bin/env bash
# bench/ingest-profile.sh — CPU profile of fender's webhook ingest under
# bench/cmd/hookgen load, for the inbox's and the stores' authors.
#
# fender serve exposes no pprof, so bench/cmd/inboxprof wires the inbox the
# way cmd/fender/serve.go does (config loader, buffered JSON logger, metrics,
# store opened by driver, inbox.New) and writes the profile. Same source
# config, bodies and pinning as bench/ingest.sh; hookgen -c CONNS for
# DURATION after a 2s warm-up that the profile skips.
#
# Environment: DURATION=10s, CONNS=64, PIN=1, STORE=sqlite (or postgres, in
# a fresh schema of PG_DSN, dropped on exit), FENDER_SRC=. (the checkout
# fender's packages come from; bench/cmd/inboxprof is copied into it when it
# is another directory), TRACE=1 also writes a 1s execution trace.
# Writes bench/out/ingest.cpu.pprof and prints `go tool pprof -top` (flat and
# cum, top 25). GOMAXPROCS of inboxprof: SRV_GOMAXPROCS, default the CPUs it
# is pinned to (as in ingest.sh).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
BIN=$OUT/bin
mkdir -p "$BIN"
DURATION=${DURATION:-10s}
D=${DURATION%s}
[[ $D =~ ^[0-9]+$ ]] || { echo "ingest-profile.sh: DURATION=$DURATION: want whole seconds like 10s" >&2; exit 1; }
W=2
CONNS=${CONNS:-64}
PIN=${PIN:-1}
STORE=${STORE:-sqlite}
PG_DSN=${PG_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
FENDER_SRC=${FENDER_SRC:-$ROOT}

if [[ $(cd "$FENDER_SRC" && pwd) != "$ROOT" ]]; then
	mkdir -p "$FENDER_SRC/bench/cmd"
	rm -rf "$FENDER_SRC/bench/cmd/inboxprof"
	cp -r "$ROOT/bench/cmd/inboxprof" "$FENDER_SRC/bench/cmd/"
fi
(cd "$FENDER_SRC" && timeout 300 go build -o "$BIN/inboxprof" ./bench/cmd/inboxprof)
for c in hookgen freeport; do timeout 300 go build -o "$BIN/$c" ./bench/cmd/$c; done

PIDS=()
PG_SCHEMA=
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	[[ -z $PG_SCHEMA ]] || timeout 30 psql -q "$PG_DSN" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
}
trap cleanup EXIT
( trap 'kill $s 2>/dev/null; exit 0' TERM; sleep $(( D + W + 90 )) & s=$!; wait $s
  echo "ingest-profile.sh: time limit reached" >&2; kill -TERM $$ ) &
PIDS+=($!)

NCPU=$(nproc)
if [[ $PIN == 1 && $NCPU -ge 2 ]]; then
	half=$(( NCPU / 2 ))
	LOAD=(taskset -c "0-$(( half - 1 ))" env GOMAXPROCS=$half)
	SRV=(taskset -c "$half-$(( NCPU - 1 ))" env GOMAXPROCS=${SRV_GOMAXPROCS:-$(( NCPU - half ))})
else
	LOAD=(); SRV=()
fi
mapfile -t PORTS < <("$BIN/freeport" -n 2)
HOOK=127.0.0.1:${PORTS[0]}
case $STORE in
sqlite)
	rm -f "$OUT"/ingest-prof.db*
	DRIVER=sqlite DSN=$OUT/ingest-prof.db ;;
postgres)
	PG_SCHEMA=bench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
	timeout 30 psql -q "$PG_DSN" -c "CREATE SCHEMA $PG_SCHEMA" >/dev/null
	sep='?'; [[ $PG_DSN == *\?* ]] && sep='&'
	DRIVER=postgres DSN="$PG_DSN${sep}search_path=$PG_SCHEMA" ;;
*) echo "ingest-profile.sh: STORE=$STORE: want sqlite or postgres" >&2; exit 1 ;;
esac
cat >"$OUT/ingest-prof.yaml" <<EOF
listen: { proxy: "", webhooks: $HOOK, admin: "" }
storage: { driver: $DRIVER, dsn: "$DSN" }
log: { level: warn, format: json }
sources:
  stripe:
    path: /webhooks/stripe
    verify: { scheme: stripe, secret: whsec_bench_secret }
    event_id: body.id
    deliver: { url: "http://127.0.0.1:${PORTS[1]}/hooks", concurrency: 16, schedule: [0s, 1s, 5s] }
EOF
TRACE_ARGS=()
[[ ${TRACE:-0} == 1 ]] && TRACE_ARGS=(-trace "$OUT/ingest.trace")
"${SRV[@]}" "$BIN/inboxprof" -c "$OUT/ingest-prof.yaml" -log "$OUT/ingest-prof.log" \
	-cpuprofile "$OUT/ingest.cpu.pprof" "${TRACE_ARGS[@]}" -delay "${W}s" -for $(( W + D + 30 ))s >"$OUT/inboxprof.log" 2>&1 &
FP=$!; PIDS+=($FP)
for _ in $(seq 100); do curl -sS -o /dev/null --max-time 1 "http://$HOOK/" 2>/dev/null && break; sleep 0.1; done
echo "# $STORE, hookgen -c $CONNS for ${D}s after ${W}s (profiled: the ${D}s)"
"${LOAD[@]}" timeout $(( W + D + 15 )) "$BIN/hookgen" -c "$CONNS" -d "${D}s" -warmup "${W}s" "http://$HOOK/webhooks/stripe" | tee "$OUT/ingest-prof-hookgen.txt"
kill -TERM $FP 2>/dev/null || true # ends the profile with the load
wait $FP || true

top() { # TITLE PPROF-ARGS...
	local title=$1; shift
	echo; echo "## $title"
	go tool pprof "$@" -top -nodecount=25 "$BIN/inboxprof" "$OUT/ingest.cpu.pprof" 2>/dev/null | tee "$OUT/ingest-top-${title// /_}.txt"
}
top "cpu flat"
top "cpu cum" -cum
