#!/usr/bin/env python3
"""A dense 18S set from PR2 for benches/vs_peers.sh: pr2_subset.py PR2.fasta[.gz] PR2.taxonomy.tsv[.gz] OUTDIR [SEED=11].

Random PR2 records are mostly far apart (few pairs at 97 %), so this takes 3,300 consecutive records in
the order of their EukRef export group (the taxonomy TSV's second column; FASTA order within a group) from
a random start, holds every 16th out as a query (200) and keeps the rest as references (3,100): long
barcodes (median ~1,650 bases) with many close relatives, where the aligner's cost decides the speed.
Writes OUTDIR/ref18.fasta and OUTDIR/q18.fasta, and OUTDIR/q18v4.fasta: bases 550-950 of every held-out
query of 1,000 bases or more (148), a 400-base stretch like a V4 amplicon, the shape of a metabarcoding ASV
against full-length references. With SEED=11 and PR2 v5.0.1 (EukRef 2023 exports) the chunk is Chlorophyta."""
import gzip
import os
import random
import sys


def text(path):
    return gzip.open(path, "rt") if path.endswith(".gz") else open(path)


fasta, taxonomy, out = sys.argv[1], sys.argv[2], sys.argv[3]
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 11
group = {}
for line in text(taxonomy):
    cols = line.rstrip("\n").split("\t")
    if len(cols) >= 2:
        group[cols[0]] = cols[1]
recs, h, s = [], None, []
for line in text(fasta):
    line = line.strip()
    if line.startswith(">"):
        if h:
            recs.append((h, "".join(s)))
        h, s = line[1:], []
    else:
        s.append(line)
if h:
    recs.append((h, "".join(s)))
recs.sort(key=lambda r: group.get(r[0], ""))
random.seed(seed)
start = random.randrange(len(recs) - 3300)
chunk = recs[start : start + 3300]
queries = chunk[::16][:200]
held = {id(r) for r in queries}
refs = [r for r in chunk if id(r) not in held]
os.makedirs(out, exist_ok=True)
amplicons = [(h, s[550:950]) for h, s in queries if len(s) >= 1000]
for name, records in (("ref18.fasta", refs), ("q18.fasta", queries), ("q18v4.fasta", amplicons)):
    with open(os.path.join(out, name), "w") as f:
        f.writelines(f">{h}\n{s}\n" for h, s in records)
print(f"{len(refs)} references, {len(queries)} queries, group {group.get(chunk[0][0], '?')}", file=sys.stderr)
