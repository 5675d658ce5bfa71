#!/usr/bin/env bash
# Screenshot of the web page after a search of three bundled 12S ASVs (one shared by occurrences, so the
# hit table, occurrence table, map and country chart all show), written to bench-out/page.png.
# Not a test: it is for looking at the page (tests/page.rs checks its content).
#   benches/http/page_screenshot.sh            # debug build, default index, port 18091
#   PORT=9000 CHROMIUM=chromium-browser OUT=bench-out/x.png benches/http/page_screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${PORT:-18091}
CHROMIUM=${CHROMIUM:-chromium}
OUT=${OUT:-bench-out/page.png}
mkdir -p "$(dirname "$OUT")"
cargo build --quiet --bin edna-search
./target/debug/edna-search serve --listen "127.0.0.1:$PORT" 2>bench-out/page_screenshot.log &
server=$!
profile=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; rm -rf "$profile"' EXIT
# The first start may build the default index: wait for /ready (up to 5 minutes).
for _ in $(seq 600); do
    curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { echo "server exited; see bench-out/page_screenshot.log" >&2; exit 1; }
    sleep 0.5
done
# Three fixture ASVs as FASTA: one found as occurrences and close to a Sarda reference, two others.
fasta=$(for id in 93bb2bf6 27ce4ef8 010e7a14; do
    grep -A1 "^>$id" fixtures/queries/noaa_gu1901_12S_MiFish_asvs.fasta | cut -d' ' -f1
done)
query=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))' <<<"$fasta")
url="http://127.0.0.1:$PORT/?sequence=$query&marker=12S&identity=97&run=1"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
    --virtual-time-budget=10000 --window-size=1280,1600 --screenshot="$OUT" "$url" 2>/dev/null
echo "wrote $OUT"
