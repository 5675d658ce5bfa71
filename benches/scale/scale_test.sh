#!/usr/bin/env bash
# How build and query cost grow with the index: builds indexes of N distinct sequences (mutated copies of
# the real 12S, 16S and COI ASV catalogs in ../shared/data/queries, OCC occurrences each, as GBIF download
# FASTA) and reports build wall time, peak RSS, index size and single-query search latency at each size.
# Usage: benches/scale/scale_test.sh [N...]   (default: 250000 1000000)
# Env: OCC=2 (occurrences per sequence, may be fractional: 7.5), QUERIES=200,
#      STREAM=1 (generate into a named pipe the build reads: no input file on disk, for 150 M occurrences),
#      KEEP_INDEX=0 (delete each index after its searches, to save disk).
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
printf 'sequences\toccurrences\tinput_MB\tbuild_s\tbuild_peak_RSS_MiB\tbuild_peak_anon_MiB\tindex_MB\tsearch_ms_per_query_97\tsearch_ms_per_query_90\tsearch_peak_RSS_MiB\n' > "$OUT/scale.tsv"
for N in "${SIZES[@]}"; do
  gen=(python3 benches/scale/make_scale_input.py "$N" "$OCC")
  asvs=("$D/queries/pacman_12S_MiFish_asv_catalog.fasta.gz" "$D/queries/pacman_16S_vert_asv_catalog.fasta.gz"
    "$D/queries/pacman_COI_Leray_asv_catalog.fasta.gz")
  rm -rf "$OUT/idx_$N"
  if [[ ${STREAM:-0} == 1 ]]; then
    IN="$OUT/pipe_$N.fasta"
    rm -f "$IN"; mkfifo "$IN"
    "${gen[@]}" "$IN" "${asvs[@]}" 2> "$OUT/input_$N.bytes" &
  else
    IN="$OUT/input_$N.fasta"
    [[ -s $IN ]] || "${gen[@]}" "$IN" "${asvs[@]}" 2> "$OUT/input_$N.bytes"
  fi
  /usr/bin/time -f '%e %M' -o "$OUT/build_$N.time" "$BIN" build --out "$OUT/idx_$N" --dwca "$IN" > "$OUT/build_$N.log" 2>&1 &
  tpid=$!
  # Max RSS counts the index pages that verifying maps (file-backed, reclaimable): sample the anonymous
  # part, the build's own memory, every second too.
  anon=0
  while kill -0 "$tpid" 2>/dev/null; do
    bpid=$(pgrep -P "$tpid" | head -1 || true)
    if [[ -n $bpid ]]; then
      a=$(awk '/^RssAnon/ {print $2}' "/proc/$bpid/status" 2>/dev/null || echo 0)
      (( ${a:-0} > anon )) && anon=$a
    fi
    sleep 1
  done
  wait
  echo "$anon" > "$OUT/build_$N.anon_kib"
  [[ ${STREAM:-0} == 1 ]] && rm -f "$IN"
  read -r bs brss < "$OUT/build_$N.time"
  in_bytes=$(cut -d' ' -f1 "$OUT/input_$N.bytes" 2>/dev/null || stat -c %s "$IN")
  ms=()
  for id in 0.97 0.90; do
    /usr/bin/time -f '%e %M' -o "$OUT/search_${N}_$id.time" "$BIN" search --index "$OUT/idx_$N" "$OUT/queries.fasta" \
      --target occurrences --min-identity $id --max-hits 100 --threads 1 --format blast6 --out "$OUT/hits_${N}_$id.b6" 2>/dev/null
    read -r ss srss < "$OUT/search_${N}_$id.time"
    ms+=("$(echo "scale=2; $ss * 1000 / $NQ" | bc)")
  done
  occs=$("$BIN" info --index "$OUT/idx_$N" --json | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["occurrences"], m["sequences"])')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${occs#* }" "${occs%% *}" "$(( in_bytes / 1000000 ))" "$bs" \
    "$((brss / 1024))" "$((anon / 1024))" "$(( $(stat -c %s "$OUT/idx_$N/index.edna") / 1000000 ))" "${ms[0]}" "${ms[1]}" "$((srss / 1024))" >> "$OUT/scale.tsv"
  [[ ${KEEP_INDEX:-1} == 1 ]] || rm -rf "$OUT/idx_$N"
  column -t "$OUT/scale.tsv"
done
