#!/usr/bin/env bash
# bench/profile.sh — CPU and allocation profiles of fender's egress proxy
# under wrk load, for the proxy's author.
#
# fender serve exposes no pprof, so bench/cmd/fenderprof wires the same
# packages the way cmd/fender/serve.go does (config loader, JSON logger,
# metrics, tracing) and writes the profiles. Same origin, same config and
# the same pinning as bench/proxy.sh; wrk -t2 -c32 for DURATION after a
# warm-up that the CPU profile skips.
#
# Environment: DURATION=10s, PIN=1, FENDER_LOG=bench/out/fender-prof.log
# Writes bench/out/fender.cpu.pprof, bench/out/fender.allocs.pprof and prints
# `go tool pprof -top` (flat and cum, top 25) of both.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=$PWD/bench/out
BIN=$OUT/bin
mkdir -p "$BIN"
DURATION=${DURATION:-10s}
D=${DURATION%s}
[[ $D =~ ^[0-9]+$ ]] || { echo "profile.sh: DURATION=$DURATION: want whole seconds like 10s" >&2; exit 1; }
W=3
PIN=${PIN:-1}
FENDER_LOG=${FENDER_LOG:-$OUT/fender-prof.log}
command -v wrk >/dev/null || { echo "profile.sh: wrk is missing (apt-get install -y wrk)" >&2; exit 1; }

for c in origin fenderprof freeport; do timeout 300 go build -o "$BIN/$c" ./bench/cmd/$c; done

PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
( sleep $(( D + W + 90 )); echo "profile.sh: time limit reached" >&2; kill -TERM $$ ) &
PIDS+=($!)

NCPU=$(nproc)
if [[ $PIN == 1 && $NCPU -ge 2 ]]; then
	half=$(( NCPU / 2 ))
	LOAD=(taskset -c "0-$(( half - 1 ))"); PROXY=(taskset -c "$half-$(( NCPU - 1 ))")
else
	LOAD=(); PROXY=()
fi
mapfile -t PORTS < <("$BIN/freeport" -n 2)
ORIGIN=127.0.0.1:${PORTS[0]} FENDER=127.0.0.1:${PORTS[1]}
cat >"$OUT/fender-prof.yaml" <<EOF
listen: { proxy: $FENDER, webhooks: "", admin: "" }
storage: { driver: sqlite, dsn: $OUT/fender.db }
log: { level: info, format: json }
upstreams:
  origin:
    url: http://$ORIGIN
    allow_private_network: true
    concurrency: { max: 1000 }
EOF

"${LOAD[@]}" "$BIN/origin" -addr "$ORIGIN" >"$OUT/origin-prof.log" 2>&1 &
PIDS+=($!)
: >"$FENDER_LOG" 2>/dev/null || true
"${PROXY[@]}" "$BIN/fenderprof" -c "$OUT/fender-prof.yaml" -log "$FENDER_LOG" \
	-cpuprofile "$OUT/fender.cpu.pprof" -memprofile "$OUT/fender.allocs.pprof" \
	-delay "${W}s" -for $(( W + D ))s >"$OUT/fenderprof.log" 2>&1 &
FP=$!; PIDS+=($FP)
URL=http://$FENDER/origin/v1/charges/ch_123
for _ in $(seq 100); do curl -fsS -o /dev/null --max-time 1 "$URL" 2>/dev/null && break; sleep 0.1; done
"${LOAD[@]}" timeout $(( W + D + 15 )) wrk -t2 -c32 -d$(( W + D ))s "$URL" | tee "$OUT/fender-prof-wrk.txt" | grep -E 'Requests/sec|Non-2xx'
wait $FP || true

top() { # TITLE FILE PPROF-ARGS...
	local title=$1 file=$2; shift 2
	echo; echo "## $title"
	go tool pprof "$@" -top -nodecount=25 "$BIN/fenderprof" "$file" 2>/dev/null | tee "$OUT/fender-top-${title// /_}.txt"
}
top "cpu flat" "$OUT/fender.cpu.pprof"
top "cpu cum" "$OUT/fender.cpu.pprof" -cum
top "alloc_objects flat" "$OUT/fender.allocs.pprof" -sample_index=alloc_objects
top "alloc_space flat" "$OUT/fender.allocs.pprof" -sample_index=alloc_space
