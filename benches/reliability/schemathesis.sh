#!/usr/bin/env bash
# Property-based API testing with schemathesis against /openapi.json (not run by CI).
#
# Installs schemathesis into a venv under bench-out/reliability/, starts `edna-search serve` on the default
# index (admin token configured, so /admin/reload is exercised too), runs every operation of the document
# with the checks below, and writes bench-out/reliability/schemathesis-summary.txt.
#
#   benches/reliability/schemathesis.sh [MAX_EXAMPLES]      # default 100 examples per operation
#
# Environment: PYTHON (default: python3.13, python3.12 or python3, the first that runs), BIN (default target/release/edna-search, built if missing), PORT (default 18390),
# SEED (schemathesis --seed, default 1), CHECKS (default: server errors, response schema, status codes and
# content types conformance).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/bench-out/reliability
MAX_EXAMPLES=${1:-100}
PORT=${PORT:-18390}
SEED=${SEED:-1}
CHECKS=${CHECKS:-not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance}
BIN=${BIN:-$ROOT/target/release/edna-search}
mkdir -p "$OUT"

# Python 3.11.7's AST module trips hypothesis's lambda introspection ("AST constructor recursion depth
# mismatch") in schemathesis's coverage phase; 3.12 does not.
if [ -z "${PYTHON:-}" ]; then
    for c in python3.13 python3.12 python3; do
        if "$c" -c 'import sys; assert sys.version_info >= (3, 9)' > /dev/null 2>&1; then PYTHON=$c; break; fi
    done
fi
VENV=$OUT/venv-$(basename "$PYTHON")
if [ ! -x "$VENV/bin/schemathesis" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q schemathesis
fi
if [ ! -x "$BIN" ]; then
    (cd "$ROOT" && cargo build --release --bin edna-search)
fi

TOKEN=schemathesis-admin-token-$RANDOM$RANDOM
TOKEN_FILE=$OUT/schemathesis.token
printf '%s\n' "$TOKEN" > "$TOKEN_FILE"
LOG=$OUT/schemathesis-server.log
"$BIN" serve --listen "127.0.0.1:$PORT" --workers 2 --admin-token-file "$TOKEN_FILE" > "$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    curl -fsS "http://127.0.0.1:$PORT/health" > /dev/null 2>&1 && break
    sleep 0.5
done

REPORT=$OUT/schemathesis
rm -rf "$REPORT"
set +e
"$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
    --checks "$CHECKS" \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 2 \
    --request-timeout 60 \
    --header "Authorization: Bearer $TOKEN" \
    --report junit,ndjson --report-dir "$REPORT" \
    --no-color 2>&1 | tee "$OUT/schemathesis.log"
STATUS=${PIPESTATUS[0]}
set -e

{
    echo "schemathesis $("$VENV/bin/schemathesis" --version | awk '{print $NF}') against $BIN"
    echo "date: $(date -u +%FT%TZ); max examples per operation: $MAX_EXAMPLES; seed: $SEED; checks: $CHECKS"
    echo "exit status: $STATUS"
    # The run's own summary: operations, test cases generated, failures by check.
    sed -n '/SUMMARY/,$p' "$OUT/schemathesis.log"
    echo
    echo "server 5xx answers in the log: $(grep -c 'status=5[0-9][0-9]' "$LOG" || true) (503 load shedding included)"
    echo "server panics in the log: $(grep -c 'panicked' "$LOG" || true)"
} > "$OUT/schemathesis-summary.txt"
cat "$OUT/schemathesis-summary.txt"
exit "$STATUS"
