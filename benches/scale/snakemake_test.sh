#!/usr/bin/env bash
# Runs workflow/Snakefile (chunked batch search over one shared index) on the bundled queries and the
# default index with --cores 2, and checks that the merged output is byte-identical to a single
# `edna-search search` run, for tsv (4 chunks), blast6 (7 uneven chunks) and json (3 chunks); then the
# same against 3 index shards (`build --shard i/3`, chunk outputs combined with `edna-search merge`) for
# tsv (5 chunks) and blast6 (2 chunks), compared with the single run against the whole index.
# Snakemake is installed into a venv under bench-out/ (pip). Not part of CI.
#
#   benches/scale/snakemake_test.sh            # BIN=... to use another binary, SKIP_BUILD=1 to not build
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/bench-out/scale/snakemake
VENV=$ROOT/bench-out/scale/venv-snakemake
BIN=${BIN:-$ROOT/target/release/edna-search}
QUERIES=$ROOT/fixtures/queries/noaa_gu1901_12S_MiFish_asvs.fasta
INDEX=$ROOT/target/default-index
# References and occurrences at 90 %: enough hits per query for the comparison to mean something.
ARGS="--target all --min-identity 0.9"
MAX_HITS=20

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin edna-search
if [ ! -x "$VENV/bin/snakemake" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet snakemake
fi
echo "snakemake $("$VENV/bin/snakemake" --version)"
# The default index (built from the bundled data when missing).
EDNA_SEARCH_INDEX=$INDEX "$BIN" info >/dev/null

rm -rf "$OUT"
mkdir -p "$OUT"
shard_list=""
for i in 0 1 2; do
    "$BIN" build --default --shard "$i/3" --out "$OUT/index-shards/shard$i" 2>"$OUT/index-shards-$i.log"
    shard_list+="$OUT/index-shards/shard$i, "
done
status=0
for case in tsv:4 blast6:7 json:3 tsv:5:sharded blast6:2:sharded; do
    IFS=: read -r fmt chunks sharded <<<"$case"
    dir=$OUT/$fmt-$chunks${sharded:+-sharded}
    shards="[]"
    [ -z "$sharded" ] || shards="[${shard_list%, }]"
    mkdir -p "$dir"
    cat >"$dir/config.yaml" <<EOF
queries: $QUERIES
index: $INDEX
binary: $BIN
chunks: $chunks
format: $fmt
threads_per_chunk: 1
search_args: "$ARGS"
max_hits: $MAX_HITS
shards: $shards
outdir: $dir/run
EOF
    start=$(date +%s.%N)
    # --directory keeps snakemake's .snakemake/ state out of the repository.
    "$VENV/bin/snakemake" -s "$ROOT/workflow/Snakefile" --configfile "$dir/config.yaml" \
        --directory "$dir" --cores 2 --quiet >"$dir/snakemake.log" 2>&1 ||
        { cat "$dir/snakemake.log"; exit 1; }
    wf=$(echo "$(date +%s.%N) - $start" | bc)
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$BIN" search --index "$INDEX" "$QUERIES" --format "$fmt" --threads 2 $ARGS --max-hits $MAX_HITS --out "$dir/single.$fmt" 2>/dev/null
    single=$(echo "$(date +%s.%N) - $start" | bc)
    lines=$(wc -l <"$dir/single.$fmt")
    if cmp -s "$dir/single.$fmt" "$dir/run/results.$fmt"; then
        printf '%-6s %d chunks%s: identical (%d lines; workflow %.1fs, single run %.2fs)\n' "$fmt" "$chunks" "${sharded:+ x 3 shards}" "$lines" "$wf" "$single"
    else
        printf '%-6s %d chunks%s: DIFFERENT\n' "$fmt" "$chunks" "${sharded:+ x 3 shards}"
        diff "$dir/single.$fmt" "$dir/run/results.$fmt" | head -20
        status=1
    fi
done
exit $status
