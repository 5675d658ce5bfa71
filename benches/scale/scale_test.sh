#!/usr/bin/env bash
# How build and query cost grow with the index: builds indexes of N distinct sequences (mutated copies of
# the real 12S, 16S and COI ASV catalogs in ../shared/data/queries, OCC occurrences each, as GBIF download
# FASTA) and reports build wall time, peak RSS, index size and single-query search latency at each size.
# Usage: benches/scale/scale_test.sh [N...]   (default: 250000 1000000)   Env: OCC=2 QUERIES=200
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${SHARED_DATA:-../shared/data}
OCC=${OCC:-2}
NQ=${QUERIES:-200}
OUT=bench-out/scale
mkdir -p "$OUT"
BIN=target/release/edna-search
cargo build --release -q
SIZES=("$@"); [[ ${#SIZES[@]} -gt 0 ]] || SIZES=(250000 1000000)
# Queries: real ASVs not used as sources' exact copies are fine (most have near-identical variants indexed).
python3 benches/sample_fasta.py "$D/queries/pacman_12S_MiFish_asv_catalog.fasta.gz" "$NQ" "$OUT/queries.fasta" 11
printf 'sequences\toccurrences\tinput_MB\tbuild_s\tbuild_peak_RSS_MiB\tindex_MB\tsearch_ms_per_query_97\tsearch_ms_per_query_90\tsearch_peak_RSS_MiB\n' > "$OUT/scale.tsv"
for N in "${SIZES[@]}"; do
  IN="$OUT/input_$N.fasta"
  [[ -s $IN ]] || python3 benches/scale/make_scale_input.py "$N" "$OCC" "$IN" \
    "$D/queries/pacman_12S_MiFish_asv_catalog.fasta.gz" "$D/queries/pacman_16S_vert_asv_catalog.fasta.gz" \
    "$D/queries/pacman_COI_Leray_asv_catalog.fasta.gz"
  rm -rf "$OUT/idx_$N"
  /usr/bin/time -f '%e %M' -o "$OUT/build_$N.time" "$BIN" build --out "$OUT/idx_$N" --dwca "$IN" > "$OUT/build_$N.log" 2>&1
  read -r bs brss < "$OUT/build_$N.time"
  ms=()
  for id in 0.97 0.90; do
    /usr/bin/time -f '%e %M' -o "$OUT/search_${N}_$id.time" "$BIN" search --index "$OUT/idx_$N" "$OUT/queries.fasta" \
      --target occurrences --min-identity $id --max-hits 100 --threads 1 --format blast6 --out "$OUT/hits_${N}_$id.b6" 2>/dev/null
    read -r ss srss < "$OUT/search_${N}_$id.time"
    ms+=("$(echo "scale=2; $ss * 1000 / $NQ" | bc)")
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$((N * OCC))" "$(( $(stat -c %s "$IN") / 1000000 ))" "$bs" \
    "$((brss / 1024))" "$(( $(stat -c %s "$OUT/idx_$N/index.edna") / 1000000 ))" "${ms[0]}" "${ms[1]}" "$((srss / 1024))" >> "$OUT/scale.tsv"
  column -t "$OUT/scale.tsv"
done
