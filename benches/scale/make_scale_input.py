#!/usr/bin/env python3
"""Scale-test input from real data: N distinct sequences as mutated copies of real ASVs, each carried by
OCC occurrences, written as a GBIF occurrence-download FASTA (`>{md5}|{gbifID}|{targetGene}`).

Usage: make_scale_input.py N OCC OUT.fasta ASVS.fasta.gz [ASVS.fasta.gz ...]
Mutations: 1-6 substitutions/indels per copy (~97-99.5 % identity to the source ASV, like real ASV variants);
duplicates after mutation are skipped, so the output has exactly N distinct sequences. Deterministic (seed 7).
"""
import gzip
import random
import sys

n, occ, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
genes = {"12S": "12S", "16S": "16S", "COI": "COI"}
sources = []
for path in sys.argv[4:]:
    gene = next((g for g in genes if g in path), "unknown")
    seq, seqs = [], []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if seq:
                    seqs.append("".join(seq))
                seq = []
            else:
                seq.append(line.strip().upper())
    if seq:
        seqs.append("".join(seq))
    sources += [(s, gene) for s in seqs if s and set(s) <= set("ACGT")]
rng = random.Random(7)
seen = set()
gbif_id = 1_000_000_000
with open(out, "w") as f:
    made = 0
    while made < n:
        s, gene = sources[rng.randrange(len(sources))]
        if made >= len(sources) or s in seen:
            s = list(s)
            for _ in range(rng.randint(1, 6)):
                p = rng.randrange(len(s))
                r = rng.random()
                if r < 0.8:
                    s[p] = rng.choice("ACGT")
                elif r < 0.9:
                    del s[p]
                else:
                    s.insert(p, rng.choice("ACGT"))
            s = "".join(s)
        if s in seen:
            continue
        seen.add(s)
        made += 1
        for _ in range(occ):
            gbif_id += 1
            f.write(f">x|{gbif_id}|{gene}\n{s}\n")
