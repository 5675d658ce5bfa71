#!/usr/bin/env python3
"""Request bodies for benches/http/load.sh from real query sequences.

Samples N sequences (seeded) from a FASTA (plain or gzip) and writes, one JSON body per line:
  search_12s.jsonl   /v1/search  {"sequence": s, "marker": "12S", "minIdentity": 0.97}
  search_any.jsonl   /v1/search  {"sequence": s, "minIdentity": 0.97}
  batch25.jsonl      /blast/batch {"marker": "12S", "sequence": [25 sequences]}  (blast-ws default: 80 % identity)
  batch25_id90.jsonl /blast/batch, the same with "perc_identity": 90 (sequence-search-ws's --id 0.9)
  gbif_search.jsonl  GBIF-style baseline /search {"database": DB, "sequence": s}
  gbif_batch25.jsonl GBIF-style baseline /search/batch {"database": DB, "sequence": [25 sequences]}
and queries.fasta (the sample, for direct vsearch timing).

Usage: make_bodies.py QUERIES.fasta[.gz] OUTDIR [-n 1000] [--seed 42] [--batch 25] [--database NAME.udb]
"""
import argparse
import gzip
import json
import os
import random


def read_fasta(path):
    opener = gzip.open if path.endswith(".gz") else open
    name, seq = None, []
    with opener(path, "rt") as f:
        for line in f:
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    yield name, "".join(seq)
                name, seq = line[1:].split()[0], []
            elif line:
                seq.append(line)
    if name is not None:
        yield name, "".join(seq)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("queries")
    ap.add_argument("outdir")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--database", default="12S_mitohelper.udb")
    a = ap.parse_args()

    records = list(read_fasta(a.queries))
    rng = random.Random(a.seed)
    sample = rng.sample(records, min(a.n, len(records)))
    os.makedirs(a.outdir, exist_ok=True)

    def write(name, bodies):
        with open(os.path.join(a.outdir, name), "w") as f:
            for b in bodies:
                f.write(json.dumps(b, separators=(",", ":")) + "\n")

    seqs = [s for _, s in sample]
    write("search_12s.jsonl", ({"sequence": s, "marker": "12S", "minIdentity": 0.97} for s in seqs))
    write("search_any.jsonl", ({"sequence": s, "minIdentity": 0.97} for s in seqs))
    batches = [seqs[i:i + a.batch] for i in range(0, len(seqs) - a.batch + 1, a.batch)]
    write("batch25.jsonl", ({"marker": "12S", "sequence": b} for b in batches))
    write("batch25_id90.jsonl", ({"marker": "12S", "sequence": b, "perc_identity": 90} for b in batches))
    write("gbif_search.jsonl", ({"database": a.database, "sequence": s} for s in seqs))
    write("gbif_batch25.jsonl", ({"database": a.database, "sequence": b} for b in batches))
    with open(os.path.join(a.outdir, "queries.fasta"), "w") as f:
        for name, s in sample:
            f.write(f">{name}\n{s}\n")
    lens = sorted(len(s) for s in seqs)
    print(f"{len(seqs)} queries sampled from {len(records)} (seed {a.seed}); length median {lens[len(lens) // 2]}, "
          f"min {lens[0]}, max {lens[-1]}; {len(batches)} batches of {a.batch}")


if __name__ == "__main__":
    main()
