#!/usr/bin/env python3
"""Random sample of a FASTA (plain or gzip): sample_fasta.py SRC N DST [SEED=42].
Headers are cut at the first space; all records are kept, in order, when N ≥ their number."""
import gzip
import random
import sys

src, n, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 42
op = gzip.open if src.endswith(".gz") else open
recs, h, s = [], None, []
for line in op(src, "rt"):
    if line.startswith(">"):
        if h:
            recs.append((h, "".join(s)))
        h, s = line[1:].split()[0], []
    else:
        s.append(line.strip())
if h:
    recs.append((h, "".join(s)))
random.seed(seed)
with open(dst, "w") as f:
    for h, s in (random.sample(recs, n) if n < len(recs) else recs):
        f.write(f">{h}\n{s}\n")
