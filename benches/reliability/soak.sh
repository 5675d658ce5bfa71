#!/usr/bin/env bash
# Soak test of `edna-search serve` (not run by CI): steady load, an overload phase at 3× the rate, then the
# steady rate again to show recovery, sampling the server's RSS every 10 s.
#
#   benches/reliability/soak.sh                       # 60 s steady + 30 s overload + 30 s recovery, 50 req/s
#   RATE=100 STEADY=3600 OVERLOAD=300 RECOVERY=600 benches/reliability/soak.sh
#
# Load: wrk 4 with benches/reliability/rate.lua (closed-loop pacing, see there) POSTing /v1/search bodies
# {"sequence", "target": "all", "include": ["taxon"]} built from the 243 bundled NOAA 12S ASVs, on loopback.
# Steady and recovery use CONNECTIONS connections; overload uses 3× as many with the same pacing (3× the
# offered rate) and a server with --max-in-flight MAX_IN_FLIGHT, so the excess must be shed with 503.
# Knobs: RATE (req/s, default 50), STEADY/OVERLOAD/RECOVERY (seconds), CONNECTIONS (default 8),
#        MAX_IN_FLIGHT (default 8), INDEX (default: the bundled default index), BIN (default
#        target/release/edna-search, built if missing), PORT (default 18391).
# Output: bench-out/reliability/soak/ (wrk outputs, rss.csv, metrics, server log) and soak-summary.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT=bench-out/reliability/soak
RATE=${RATE:-50}
STEADY=${STEADY:-60}
OVERLOAD=${OVERLOAD:-30}
RECOVERY=${RECOVERY:-30}
CONNECTIONS=${CONNECTIONS:-8}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-8}
PORT=${PORT:-18391}
BIN=${BIN:-target/release/edna-search}
mkdir -p "$OUT"
rm -f "$OUT"/*

if [ ! -x "$BIN" ]; then
    cargo build --release --bin edna-search
fi
INDEX_ARGS=()
if [ -n "${INDEX:-}" ]; then INDEX_ARGS=(--index "$INDEX"); fi

# Bodies: one JSON object per line.
python3 - fixtures/queries/noaa_gu1901_12S_MiFish_asvs.fasta > "$OUT/bodies.jsonl" <<'PY'
import json, sys
seqs, cur = [], []
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith(">"):
        if cur: seqs.append("".join(cur)); cur = []
    elif line:
        cur.append(line)
if cur: seqs.append("".join(cur))
for s in seqs:
    print(json.dumps({"sequence": s, "target": "all", "include": ["taxon"]}))
PY

"$BIN" serve "${INDEX_ARGS[@]}" --listen "127.0.0.1:$PORT" --workers 2 --max-in-flight "$MAX_IN_FLIGHT" \
    > "$OUT/server.log" 2>&1 &
SERVER=$!
SAMPLER=
cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 600); do
    curl -fsS "http://127.0.0.1:$PORT/health" > /dev/null 2>&1 && break
    sleep 0.5
done

# RSS every 10 s, with the phase running at that moment.
echo "phase" > "$OUT/phase"
(
    echo "elapsed_s,phase,rss_kb"
    start=$(date +%s)
    while kill -0 "$SERVER" 2>/dev/null; do
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || echo "")
        echo "$(( $(date +%s) - start )),$(cat "$OUT/phase"),$rss"
        sleep 10
    done
) > "$OUT/rss.csv" &
SAMPLER=$!

# Pause per connection so CONNECTIONS connections offer RATE requests/s.
DELAY_MS=$(( CONNECTIONS * 1000 / RATE ))
run_phase() { # name connections seconds
    echo "$1" > "$OUT/phase"
    BODIES="$OUT/bodies.jsonl" POST_LUA=benches/http/post.lua DELAY_MS=$DELAY_MS \
        wrk -t2 -c"$2" -d"$3"s --timeout 30s --latency -s benches/reliability/rate.lua \
        "http://127.0.0.1:$PORT/v1/search" > "$OUT/wrk-$1.txt" 2>&1
    curl -fsS "http://127.0.0.1:$PORT/metrics" > "$OUT/metrics-$1.txt"
    grep '^RESULT' "$OUT/wrk-$1.txt" | sed "s/^RESULT/$1/"
}
echo "soak: $RATE req/s offered (${CONNECTIONS} connections, ${DELAY_MS} ms pause), overload ×3, server pid $SERVER"
run_phase steady "$CONNECTIONS" "$STEADY"
run_phase overload $(( CONNECTIONS * 3 )) "$OVERLOAD"
run_phase recovery "$CONNECTIONS" "$RECOVERY"
echo "done" > "$OUT/phase"
sleep 1
RSS_END=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status")
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=

{
    echo "# Soak ($(date -u +%FT%TZ))"
    echo
    echo "Binary $BIN, index ${INDEX:-default}, 2 search threads, --max-in-flight $MAX_IN_FLIGHT; offered $RATE req/s"
    echo "(closed-loop pacing: $CONNECTIONS connections × ${DELAY_MS} ms pause), overload 3× ($(( CONNECTIONS * 3 )) connections)."
    echo
    echo "| phase | seconds | requests | achieved req/s | p50 ms | p99 ms | max ms | 2xx | non-2xx | socket errors | statuses | RSS min–max MB |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    for p in steady overload recovery; do
        line=$(grep '^RESULT' "$OUT/wrk-$p.txt")
        get() { echo "$line" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
        errs=$(( $(get connect_err) + $(get read_err) + $(get write_err) + $(get timeout_err) ))
        rss=$(awk -F, -v p="$p" '$2 == p && $3 != "" {if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3}
            END {if (min == "") print "n/a"; else printf "%.1f–%.1f", min / 1024, max / 1024}' "$OUT/rss.csv")
        echo "| $p | $(get duration_s) | $(get requests) | $(get rps) | $(get p50_ms) | $(get p99_ms) | $(get max_ms) | $(get ok2xx) | $(get non2xx) | $errs | $(get status) | $rss |"
    done
    echo
    echo "RSS at the end: $(awk -v k="$RSS_END" 'BEGIN {printf "%.1f", k / 1024}') MB. Samples: $OUT/rss.csv."
    echo "Server: $(grep -c 'status=5' "$OUT/server.log" || true) log lines with a 5xx at info level or above (503 sheds log at debug)," \
        "$(grep -c 'panicked' "$OUT/server.log" || true) panics;" \
        "edna_http_rejected_total $(awk '/^edna_http_rejected_total/ {print $2}' "$OUT/metrics-recovery.txt")."
} > bench-out/reliability/soak-summary.md
cat bench-out/reliability/soak-summary.md
