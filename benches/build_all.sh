#!/usr/bin/env bash
# Builds one index from every reference library and DwC dataset in ../shared/data and reports wall time,
# peak RSS (GNU time) and the index's info. Usage: benches/build_all.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
D=${SHARED_DATA:-../shared/data}
OUT=${1:-bench-out/all-index}
BIN=target/release/edna-search
[[ -x $BIN ]] || cargo build --release
[[ -x /usr/bin/time ]] || { echo "needs GNU time: apt-get install time" >&2; exit 2; }
R=$D/references
args=(build --out "$OUT"
  --reference "$R/12S_mitohelper_derep_uniq.fasta.gz" --taxonomy "$R/12S_mitohelper_derep_uniq.taxonomy.tsv.gz" --marker 12S --name 12S_mitohelper
  --reference "$R/12S_ScandiFish_v1.4.fasta" --marker 12S --name ScandiFish
  --reference "$R/ITS1_if-unite-insdc_fungi.fasta.gz" --marker ITS1 --name ITS1_unite_insdc
  --reference "$R/ITS2_if-unite-insdc_fungi.fasta.gz" --marker ITS2 --name ITS2_unite_insdc
  --reference "$R/18S_pr2_v5.0.1_eukref2023_exports.fasta.gz" --taxonomy "$R/18S_pr2_v5.0.1_eukref2023_exports.taxonomy.tsv.gz" --marker 18S --name PR2
  --reference "$R/16S_rRNA16S_gold_microbiomeutil.fasta.gz" --marker 16S --name 16S_gold
  --reference "$R/multi_meta-fish-lib_2021-01-07_master.csv.gz" --marker 12S --name meta-fish-lib)
for d in "$R"/gbif_refdb_format/refSeq-*/; do args+=(--refdb "$d"); done
args+=(--dwca "$D/dwca" ${ASSIGN:+--assign})
mkdir -p "$(dirname "$OUT")"
/usr/bin/time -v "$BIN" "${args[@]}" 2> >(tee "$OUT.build.log" >&2)
grep -E "Elapsed|Maximum resident" "$OUT.build.log"
"$BIN" info --index "$OUT"
