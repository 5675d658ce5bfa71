#!/usr/bin/env bash
# Regenerates fixtures/vsearch/: exhaustive vsearch hits of the bundled NOAA 12S ASVs against the
# occurrence sequences of the default index, the ground truth of tests/recall.rs.
# Needs vsearch (bash ../shared/peers/install.sh, or apt-get install vsearch).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=target/release/edna-search
"$BIN" info >/dev/null   # builds the default index when missing
tmp=$(mktemp -d)
"$BIN" export --target occurrences > "$tmp/occ.fasta"
for id in 0.97 0.90; do
  vsearch --usearch_global fixtures/queries/noaa_gu1901_12S_MiFish_asvs.fasta --db "$tmp/occ.fasta" \
    --id "$id" --query_cov 0.5 --maxaccepts 0 --maxrejects 0 --maxhits 0 --strand plus --threads 2 --quiet \
    --userout "fixtures/vsearch/noaa_asvs_vs_occurrences_${id#0.}.tsv" \
    --userfields query+target+id+alnlen+mism+opens+qilo+qihi+tilo+tihi+ql+tl
done
vsearch --version 2>&1 | head -1 > fixtures/vsearch/VERSION
rm -rf "$tmp"
wc -l fixtures/vsearch/*.tsv
