#!/usr/bin/env bash
# Our search at 90 % with GBIF's output cap (--max-hits 100) against vsearch with GBIF's production settings
# (--id 0.9 --query_cov 0.5 --maxaccepts 100 --maxrejects 100 --maxhits 100), both on 2 threads, three
# alternated rounds, median wall. It separates the cost of reporting every hit from the cost of screening
# every seeded target: the ratio at equal output.
# Needs the peer directories benches/vs_peers.sh leaves (bench-out/peers-*/: queries.fasta, ref.fasta, idx)
# and vsearch. Usage: [BIN=target/release/edna-search] benches/cap100_vs_gbif.sh [PEER_DIR…]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/edna-search}
DIRS=("$@")
[[ ${#DIRS[@]} -gt 0 ]] || DIRS=(bench-out/peers-*/)
for O in "${DIRS[@]}"; do
  O=${O%/}
  [[ -s $O/queries.fasta && -s $O/ref.fasta && -d $O/idx ]] || continue
  nq=$(grep -c '>' "$O/queries.fasta")
  G=() U=()
  for _ in 1 2 3; do
    s=$EPOCHREALTIME
    vsearch --usearch_global "$O/queries.fasta" --db "$O/ref.fasta" --threads 2 --userout /dev/null \
      --userfields query+target+id --quiet --id 0.9 --query_cov 0.5 --maxaccepts 100 --maxrejects 100 --maxhits 100
    e=$EPOCHREALTIME; G+=("$(echo "$e - $s" | bc -l)")
    s=$EPOCHREALTIME
    "$BIN" search --index "$O/idx" "$O/queries.fasta" --min-identity 0.9 --min-coverage 0.5 --max-hits 100 \
      --strand plus --format blast6 --threads 2 --out /dev/null 2>/dev/null
    e=$EPOCHREALTIME; U+=("$(echo "$e - $s" | bc -l)")
  done
  g=$(printf '%s\n' "${G[@]}" | sort -n | sed -n 2p)
  u=$(printf '%s\n' "${U[@]}" | sort -n | sed -n 2p)
  printf '%s\t%d queries\tGBIF settings %.3f s (%.1f q/s)\tours, 100 hits %.3f s (%.1f q/s)\t%.1fx\n' \
    "$(basename "$O")" "$nq" "$g" "$(echo "$nq / $g" | bc -l)" "$u" "$(echo "$nq / $u" | bc -l)" "$(echo "$g / $u" | bc -l)"
done
