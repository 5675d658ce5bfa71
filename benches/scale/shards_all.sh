#!/usr/bin/env bash
# Sharded build of everything in ../shared/data (the inputs of benches/build_all.sh) into N shards,
# then: search a query sample against the whole index and against every shard, merge the shard outputs
# (`edna-search merge`), and check the merged blast6 and tsv are byte-identical to the whole index's.
# Needs the whole index (benches/build_all.sh -> bench-out/all-index). Not part of CI.
#
#   benches/scale/shards_all.sh          # N=3 QUERIES=bench-out/q12s_2k.fasta MAX_HITS=100 SHARED_DATA=../shared/data
# Output: bench-out/scale/shards-all/ (shard indexes, build logs, outputs, report.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${SHARED_DATA:-../shared/data}
N=${N:-3}
WHOLE=${WHOLE:-bench-out/all-index}
QUERIES=${QUERIES:-bench-out/q12s_2k.fasta}
MAX_HITS=${MAX_HITS:-100}
OUT=bench-out/scale/shards-all
BIN=${BIN:-target/release/edna-search}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin edna-search
"$BIN" info --index "$WHOLE" >/dev/null
[ -f "$QUERIES" ] || { echo "no query file $QUERIES" >&2; exit 2; }

R=$D/references
args=(--reference "$R/12S_mitohelper_derep_uniq.fasta.gz" --taxonomy "$R/12S_mitohelper_derep_uniq.taxonomy.tsv.gz" --marker 12S --name 12S_mitohelper
  --reference "$R/12S_ScandiFish_v1.4.fasta" --marker 12S --name ScandiFish
  --reference "$R/ITS1_if-unite-insdc_fungi.fasta.gz" --marker ITS1 --name ITS1_unite_insdc
  --reference "$R/ITS2_if-unite-insdc_fungi.fasta.gz" --marker ITS2 --name ITS2_unite_insdc
  --reference "$R/18S_pr2_v5.0.1_eukref2023_exports.fasta.gz" --taxonomy "$R/18S_pr2_v5.0.1_eukref2023_exports.taxonomy.tsv.gz" --marker 18S --name PR2
  --reference "$R/16S_rRNA16S_gold_microbiomeutil.fasta.gz" --marker 16S --name 16S_gold
  --reference "$R/multi_meta-fish-lib_2021-01-07_master.csv.gz" --marker 12S --name meta-fish-lib)
for d in "$R"/gbif_refdb_format/refSeq-*/; do args+=(--refdb "$d"); done
args+=(--dwca "$D/dwca")

mkdir -p "$OUT"
report=$OUT/report.md
{
    echo "# Sharded build of the shared data: $N shards ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "| index | sequences | reference records | occurrences | bytes | build wall | build peak RSS |"
    echo "|---|---:|---:|---:|---:|---|---|"
    echo "| whole ($WHOLE) | $("$BIN" info --index "$WHOLE" --json | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["sequences"], "|", m["reference_sequences"], "|", m["occurrences"], "|", m["index_bytes"])') | see README | see README |"
} >"$report"
for i in $(seq 0 $((N - 1))); do
    dir=$OUT/shard$i
    /usr/bin/time -v "$BIN" build --out "$dir" --shard "$i/$N" "${args[@]}" 2>"$dir.build.log"
    wall=$(grep "Elapsed (wall" "$dir.build.log" | awk '{print $NF}')
    rss=$(grep "Maximum resident" "$dir.build.log" | awk '{printf "%.2f GiB", $NF/1048576}')
    echo "| shard $i/$N | $("$BIN" info --index "$dir" --json | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["sequences"], "|", m["reference_sequences"], "|", m["occurrences"], "|", m["index_bytes"])') | $wall | $rss |" >>"$report"
done

nq=$(grep -c '>' "$QUERIES")
{
    echo
    echo "Queries: $QUERIES ($nq), --target all --min-identity 0.97, final --max-hits $MAX_HITS; shards searched with --max-hits $MAX_HITS, --format json."
    echo
} >>"$report"
status=0
secs() { python3 -c "import time; print(time.time())"; }
t0=$(secs)
for i in $(seq 0 $((N - 1))); do
    "$BIN" search --index "$OUT/shard$i" "$QUERIES" --target all --max-hits "$MAX_HITS" --format json --out "$OUT/shard$i.json" 2>/dev/null
done
t1=$(secs)
echo "search time: $N shards one after the other $(python3 -c "print(f'{$t1 - $t0:.1f}')") s" >>"$report"
for fmt in blast6 tsv; do
    t0=$(secs)
    "$BIN" search --index "$WHOLE" "$QUERIES" --target all --max-hits "$MAX_HITS" --format "$fmt" --out "$OUT/whole.$fmt" 2>/dev/null
    t1=$(secs)
    shard_files=()
    for i in $(seq 0 $((N - 1))); do shard_files+=("$OUT/shard$i.json"); done
    "$BIN" merge --format "$fmt" --max-hits "$MAX_HITS" --out "$OUT/merged.$fmt" "${shard_files[@]}" 2>/dev/null
    t2=$(secs)
    if cmp -s "$OUT/whole.$fmt" "$OUT/merged.$fmt"; then
        verdict="identical"
    else
        verdict="DIFFERENT"
        status=1
    fi
    echo "$fmt: merged shards vs whole index: $verdict ($(wc -l <"$OUT/whole.$fmt") lines; whole search $(python3 -c "print(f'{$t1 - $t0:.1f}')") s, merge $(python3 -c "print(f'{$t2 - $t1:.2f}')") s)" >>"$report"
done
cat "$report"
exit $status
