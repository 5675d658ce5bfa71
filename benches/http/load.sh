#!/usr/bin/env bash
# HTTP load benchmark of `edna-search serve`, side by side with a GBIF sequence-search-ws stand-in
# (one vsearch process per request), on loopback only (127.0.0.1).
#
# Corpus model
#   Index: everything in ../shared/data, built by benches/build_all.sh into bench-out/all-index (13 reference
#   libraries, ~270,800 reference records: 12S mitohelper/ScandiFish/meta-fish-lib, UNITE ITS1/ITS2, PR2 18S,
#   16S gold, GBIF refdb packages; 127 DwC-A eDNA datasets, 1.2 M occurrences; ~437 k distinct sequences).
#   Queries: 1,000 real 12S MiFish ASVs sampled (seed 42) from the PacMAN catalog
#   (../shared/data/queries/pacman_12S_MiFish_asv_catalog.fasta.gz, 82,510 ASVs, 150-280 bp, median 188): about
#   1 in 5 has a 12S reference hit at ≥ 90 %, 4 in 5 an occurrence hit at ≥ 97 % — what a submission portal sees.
#   Bodies (benches/http/make_bodies.py, written to bench-out/http/):
#     /v1/search    {"sequence": s, "marker": "12S", "minIdentity": 0.97}   (and without "marker")
#     /blast/batch  {"marker": "12S", "sequence": [25 sequences]}   (blast-ws's default 80 % identity)
#                   and the same with "perc_identity": 90, the baseline's --id 0.9 (like for like)
#   Baseline: 12S_mitohelper_derep_uniq (38,350 records) as a vsearch UDB (`--makeudb_usearch`, as GBIF does),
#   searched with sequence-search-ws's flags `--id 0.9 --query_cov 0.5 --maxaccepts 100 --maxrejects 100
#   --maxhits 100` by (1) benches/http/gbif_like_server.py (stdlib HTTP, temp FASTA + one vsearch process per
#   request, one job at a time, 503 above 10 queued: sequence-search-ws's behaviour), driven by the same wrk
#   script; (2) vsearch_direct.py: sequential one-request vsearch processes with no HTTP (process cost alone).
#   Note the baseline searches one 12S library; edna-search searches every 12S library and all occurrences.
#
# Phases (wrk 4, HTTP/1.1 keep-alive, --latency; benches/http/post.lua cycles through the bodies):
#   ours_search_c1    /v1/search, marker 12S     -t1 -c1   $DURATION  (latency alone, like the baseline's one job)
#   ours_search_12s   /v1/search, marker 12S     -t2 -c16  $DURATION
#   ours_search_any   /v1/search, no marker      -t2 -c16  $DURATION
#   ours_batch25_c1   /blast/batch, 25 seqs      -t1 -c1   $DURATION  (one call alone: its latency)
#   ours_batch25      /blast/batch, 25 seqs      -t1 -c4   $DURATION  (the toolkit's 4 calls in parallel)
#   ours_batch25_id90_c1 / ours_batch25_id90  the same at 90 %
#   ours_overload     /v1/search, marker 12S     -t2 -c256 $OVERLOAD_DURATION  (excess must get 503, not errors)
#   gbif_direct_1 / gbif_direct_25                50 / 8 sequential vsearch processes of 1 / 25 queries
#   gbif_search_c1 / gbif_search_c16 / gbif_batch25_c1   the stand-in server under wrk
# wrk and the servers share the machine's cores (2 here): the figures include the load generator's CPU.
#
# Run:   benches/http/load.sh            (from anywhere; ~5 min plus build and, if needed, the ~40 s index build)
# Knobs: DURATION=20s OVERLOAD_DURATION=10s BASELINE_DURATION=20s QUERIES=1000 VSEARCH_THREADS=$(nproc)
#        INDEX=bench-out/all-index SHARED_DATA=../shared/data
# Output: bench-out/http/ (bodies, wrk outputs, server logs, metrics) and the table in bench-out/http-load.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

D=${SHARED_DATA:-../shared/data}
IDX=${INDEX:-bench-out/all-index}
OUT=bench-out/http
BIN=target/release/edna-search
DURATION=${DURATION:-20s}
OVERLOAD_DURATION=${OVERLOAD_DURATION:-10s}
BASELINE_DURATION=${BASELINE_DURATION:-20s}
QUERIES=${QUERIES:-1000}
VSEARCH_THREADS=${VSEARCH_THREADS:-$(nproc)}
H=benches/http

pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '== %s\n' "$*" >&2; }

# ---- 1. binary and index ------------------------------------------------------------------------------------
log "cargo build --release"
cargo build --release --quiet
if [[ -f $IDX/index.edna ]] && "$BIN" info --index "$IDX" >/dev/null 2>&1; then
  log "index $IDX is current"
else
  log "index $IDX missing or unreadable by this build: rebuilding (benches/build_all.sh, ~40 s)"
  rm -rf "$IDX"
  benches/build_all.sh "$IDX" >/dev/null
  "$BIN" info --index "$IDX" >/dev/null
fi

# ---- 2. tools -----------------------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
if ! command -v vsearch >/dev/null; then
  log "installing vsearch (../shared/peers/install.sh)"
  bash ../shared/peers/install.sh
fi

# ---- 3. bodies and the baseline's UDB -----------------------------------------------------------------------
mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT/phases.tsv" "$OUT/problems.txt"
python3 $H/make_bodies.py "$D/queries/pacman_12S_MiFish_asv_catalog.fasta.gz" "$OUT" -n "$QUERIES" \
  --database 12S_mitohelper.udb >&2
REF=$D/references/12S_mitohelper_derep_uniq.fasta.gz
UDB=$OUT/12S_mitohelper.udb
if [[ ! -s $UDB || $UDB -ot $REF ]]; then
  log "vsearch --makeudb_usearch (once)"
  gzip -dc "$REF" >"$OUT/12S_mitohelper.fasta"
  vsearch --makeudb_usearch "$OUT/12S_mitohelper.fasta" --output "$UDB" --quiet
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_ready() { # URL SECONDS PID
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -sf -m 2 -o /dev/null "$1" && return 0
    kill -0 "$3" 2>/dev/null || { echo "server exited before $1 answered" >&2; return 1; }
    sleep 0.1
  done
  echo "no answer from $1 after $2 s" >&2
  return 1
}
problem() { echo "- $*" | tee -a "$OUT/problems.txt" >&2; }
# wait_idle URL PY-EXPR: polls URL (JSON) until PY-EXPR over it (as r) is true, up to 60 s, so that work a
# previous phase left queued does not count against the next one.
wait_idle() {
  local i
  for ((i = 0; i < 600; i++)); do
    curl -sf -m 2 "$1" 2>/dev/null | python3 -c "import json, sys; r = json.load(sys.stdin); sys.exit(0 if ($2) else 1)" \
      2>/dev/null && return 0
    sleep 0.1
  done
  problem "still busy 60 s after the phase: $(curl -s -m 2 "$1")"
}

# run_wrk KEY SERVICE ENDPOINT-LABEL BASELINE-KEY BODIES URL WRK-ARGS…
run_wrk() {
  local key=$1 service=$2 label=$3 base=$4 bodies=$5 url=$6
  shift 6
  local conns
  conns=$(printf '%s\n' "$@" | sed -n 's/^-c//p')
  log "$key: wrk $* $url"
  if ! BODIES=$bodies wrk "$@" --latency -s $H/post.lua "$url" >"$OUT/$key.txt" 2>&1; then
    problem "$key: wrk exited non-zero (see $OUT/$key.txt)"
  fi
  grep -E '^(RESULT|SAMPLE_NON2XX)' "$OUT/$key.txt" >&2 || problem "$key: no RESULT line in $OUT/$key.txt"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$service" "$label" "$conns" "$key.txt" "$base" >>"$OUT/phases.tsv"
}

# ---- 4. edna-search -----------------------------------------------------------------------------------------
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
log "edna-search serve --index $IDX --listen 127.0.0.1:$PORT"
"$BIN" serve --index "$IDX" --listen "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
pids+=("$SERVER")
wait_ready "$URL/ready" 120 "$SERVER"
curl -sf "$URL/ready" >"$OUT/ready.json"
SLOTS=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["freeSlots"])' "$OUT/ready.json")
# Page the index in and warm the searchers (not measured).
cat "$IDX/index.edna" >/dev/null
BODIES=$OUT/search_12s.jsonl wrk -t1 -c4 -d3s -s $H/post.lua "$URL/v1/search" >"$OUT/warmup.log" 2>&1 || true

health() { # after a phase: the service still answers, and quickly, and its slots free up
  curl -sf -m 5 -o /dev/null "$URL/health" || problem "after $1: GET /health failed or took > 5 s"
  kill -0 "$SERVER" 2>/dev/null || problem "after $1: the server process is gone (see $OUT/server.log)"
  wait_idle "$URL/ready" "r['freeSlots'] == $SLOTS"
}

run_wrk ours_search_c1 edna-search '`POST /v1/search` marker 12S' gbif_search_c1 \
  "$OUT/search_12s.jsonl" "$URL/v1/search" -t1 -c1 -d"$DURATION" --timeout 5s
health ours_search_c1
run_wrk ours_search_12s edna-search '`POST /v1/search` marker 12S' gbif_search_c1 \
  "$OUT/search_12s.jsonl" "$URL/v1/search" -t2 -c16 -d"$DURATION" --timeout 5s
health ours_search_12s
run_wrk ours_search_any edna-search '`POST /v1/search` no marker' gbif_search_c1 \
  "$OUT/search_any.jsonl" "$URL/v1/search" -t2 -c16 -d"$DURATION" --timeout 5s
health ours_search_any
run_wrk ours_batch25_c1 edna-search '`POST /blast/batch` 25 seqs' gbif_batch25_c1 \
  "$OUT/batch25.jsonl" "$URL/blast/batch" -t1 -c1 -d"$DURATION" --timeout 30s
health ours_batch25_c1
run_wrk ours_batch25 edna-search '`POST /blast/batch` 25 seqs' gbif_batch25_c1 \
  "$OUT/batch25.jsonl" "$URL/blast/batch" -t1 -c4 -d"$DURATION" --timeout 30s
health ours_batch25
run_wrk ours_batch25_id90_c1 edna-search '`POST /blast/batch` 25 seqs, perc_identity 90' gbif_batch25_c1 \
  "$OUT/batch25_id90.jsonl" "$URL/blast/batch" -t1 -c1 -d"$DURATION" --timeout 30s
health ours_batch25_id90_c1
run_wrk ours_batch25_id90 edna-search '`POST /blast/batch` 25 seqs, perc_identity 90' gbif_batch25_c1 \
  "$OUT/batch25_id90.jsonl" "$URL/blast/batch" -t1 -c4 -d"$DURATION" --timeout 30s
health ours_batch25_id90
run_wrk ours_overload edna-search '`POST /v1/search` overload' "" \
  "$OUT/search_12s.jsonl" "$URL/v1/search" -t2 -c256 -d"$OVERLOAD_DURATION" --timeout 5s
health ours_overload
curl -sf -m 5 "$URL/ready" >"$OUT/ready_after.json" || problem "GET /ready failed after the overload phase"
curl -sf -m 5 "$URL/metrics" >"$OUT/metrics.txt" || problem "GET /metrics failed"
INFLIGHT=$(sed -n 's/^edna_http_in_flight //p' "$OUT/metrics.txt")
if [[ -n $INFLIGHT && $INFLIGHT -gt 1 ]]; then
  problem "edna_http_in_flight is $INFLIGHT with the service idle (only the /metrics request itself is in flight):" \
    "requests whose client went away are never subtracted"
fi
cleanup
if grep -Eq 'panic|ERROR' "$OUT/server.log"; then
  problem "server log has errors: $(grep -Ec 'panic|ERROR' "$OUT/server.log") lines, e.g. $(grep -E -m1 'panic|ERROR' "$OUT/server.log" | cut -c1-300)"
fi
LOGSTAT="server log: $(wc -l <"$OUT/server.log") lines, $(($(stat -c %s "$OUT/server.log") / 1024)) KiB, $(grep -c ' WARN ' "$OUT/server.log" || true) at WARN ($(grep -c 'status=503' "$OUT/server.log" || true) of them 503s)"
log "$LOGSTAT"

# ---- 5. GBIF sequence-search-ws behaviour -------------------------------------------------------------------
log "gbif_direct_1: 50 sequential one-query vsearch processes"
python3 $H/vsearch_direct.py "$UDB" "$OUT/queries.fasta" -n 50 --batch 1 --threads "$VSEARCH_THREADS" \
  >"$OUT/gbif_direct_1.txt"
cat "$OUT/gbif_direct_1.txt" >&2
printf '%s\t%s\t%s\t%s\t%s\t%s\n' gbif_direct_1 'vsearch process, no HTTP' '1 query per process' 1 \
  gbif_direct_1.txt "" >>"$OUT/phases.tsv"
log "gbif_direct_25: 8 sequential 25-query vsearch processes"
python3 $H/vsearch_direct.py "$UDB" "$OUT/queries.fasta" -n 8 --batch 25 --threads "$VSEARCH_THREADS" \
  >"$OUT/gbif_direct_25.txt"
cat "$OUT/gbif_direct_25.txt" >&2
printf '%s\t%s\t%s\t%s\t%s\t%s\n' gbif_direct_25 'vsearch process, no HTTP' '25 queries per process' 1 \
  gbif_direct_25.txt "" >>"$OUT/phases.tsv"

BPORT=$(free_port)
BURL=http://127.0.0.1:$BPORT
log "gbif_like_server.py on 127.0.0.1:$BPORT (vsearch --threads $VSEARCH_THREADS)"
python3 $H/gbif_like_server.py --udb "$UDB" --port "$BPORT" --threads "$VSEARCH_THREADS" >"$OUT/gbif_server.log" 2>&1 &
BASE=$!
pids+=("$BASE")
wait_ready "$BURL/ready" 30 "$BASE"
run_wrk gbif_search_c1 'sequence-search-ws stand-in' '`POST /search` 1 seq' "" \
  "$OUT/gbif_search.jsonl" "$BURL/search" -t1 -c1 -d"$BASELINE_DURATION" --timeout 30s
wait_idle "$BURL/ready" "r['waiting'] == 0 and not r['running']"
run_wrk gbif_search_c16 'sequence-search-ws stand-in' '`POST /search` 1 seq' "" \
  "$OUT/gbif_search.jsonl" "$BURL/search" -t2 -c16 -d"$BASELINE_DURATION" --timeout 30s
wait_idle "$BURL/ready" "r['waiting'] == 0 and not r['running']"
run_wrk gbif_batch25_c1 'sequence-search-ws stand-in' '`POST /search/batch` 25 seqs' "" \
  "$OUT/gbif_batch25.jsonl" "$BURL/search/batch" -t1 -c1 -d"$BASELINE_DURATION" --timeout 30s
cleanup

# ---- 6. report ----------------------------------------------------------------------------------------------
{
  echo "# HTTP load: edna-search serve vs one vsearch process per request"
  echo
  echo "$(date -u +%FT%TZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')),"\
    "$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(vsearch --version 2>&1 | head -1 | cut -d, -f1)," \
    "loopback, release build, one run. Index \`$IDX\`: $(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("{:,} sequences, {:,} reference records, {:,} occurrences, {} search threads".format(r["sequences"], r["referenceRecords"], r["occurrences"], r["searchThreads"]))' "$OUT/ready.json")."
  echo "Queries: $QUERIES real 12S MiFish ASVs (PacMAN catalog, seed 42); wrk shares the cores with the server."
  echo "Baseline: the ratio column compares with \`gbif_search_c1\` / \`gbif_batch25_c1\`: benches/http/gbif_like_server.py"
  echo "(HTTP, temp FASTA, one \`vsearch --usearch_global --id 0.9 --query_cov 0.5 --maxaccepts 100 --maxrejects 100"
  echo "--maxhits 100 --threads $VSEARCH_THREADS\` per request on 12S_mitohelper.udb, one job at a time, 503 above 10 queued)"
  echo "driven by the same wrk script with one client: its requests/s is the one-job-at-a-time ceiling. \`gbif_direct_*\`"
  echo "rows time the vsearch processes alone (no HTTP; requests/s = 1/p50)."
  echo
  python3 $H/report.py "$OUT"
  echo
  echo "edna-search $LOGSTAT."
  if [[ -s $OUT/problems.txt ]]; then
    echo
    echo "Problems seen:"
    cat "$OUT/problems.txt"
  fi
  echo
  echo "edna-search counters after its phases (\`/metrics\`):"
  echo '```'
  grep -E '^edna_(http_requests_total|http_rejected_total|search_queries_total|http_in_flight|search_slots_free)' \
    "$OUT/metrics.txt" 2>/dev/null || true
  echo '```'
} >bench-out/http-load.md
cat bench-out/http-load.md
