#!/usr/bin/env python3
"""Scale-test input from real data: N distinct sequences as mutated copies of real ASVs, each carried by
OCC occurrences on average (a fraction spreads evenly: 7.5 gives 7 and 8 alternately), written as a GBIF
occurrence-download FASTA (`>{md5}|{gbifID}|{targetGene}`).

Usage: make_scale_input.py N OCC OUT.fasta ASVS.fasta.gz [ASVS.fasta.gz ...]
OUT may be a named pipe (the builder reads it once, so a 35 GB input never touches the disk); the bytes
written are printed to stderr at the end.
Mutations: 1-6 substitutions/indels per copy (~97-99.5 % identity to the source ASV, like real ASV variants);
duplicates after mutation are skipped (seen sequences are remembered by a 64-bit digest, ~50 bytes each),
so the output has exactly N distinct sequences. Deterministic (seed 7).
"""
import fcntl
import gzip
import hashlib
import os
import random
import stat
import sys

n, occ, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
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
written = 0


def digest(s):
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")


with open(out, "w", buffering=1 << 20) as f:
    if stat.S_ISFIFO(os.fstat(f.fileno()).st_mode):
        # A 64 KiB pipe makes writer and reader wait on each other at every few records; 1 MiB lets both
        # run (Linux F_SETPIPE_SZ; the reader sees the same bytes either way).
        try:
            fcntl.fcntl(f.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except OSError:
            pass
    made = 0
    while made < n:
        s, gene = sources[rng.randrange(len(sources))]
        if made >= len(sources) or digest(s) in seen:
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
        d = digest(s)
        if d in seen:
            continue
        seen.add(d)
        copies = int((made + 1) * occ) - int(made * occ)
        made += 1
        for _ in range(copies):
            gbif_id += 1
            record = f">x|{gbif_id}|{gene}\n{s}\n"
            written += len(record)
            f.write(record)
print(f"{written} bytes, {gbif_id - 1_000_000_000} occurrences", file=sys.stderr)
