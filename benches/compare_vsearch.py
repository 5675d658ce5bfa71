#!/usr/bin/env python3
"""Compares edna-search hits (blast6) with exhaustive vsearch hits (userout: query target id alnlen ...).

Usage: compare_vsearch.py VSEARCH_USEROUT OURS_BLAST6 QUERIES.fasta [--min-len 100]
Prints recall of vsearch's (query, target) pairs, recall for queries >= min-len, identity agreement
(|ours - vsearch| <= 0.5 points) on shared pairs, and best-hit agreement per query.
"""
import sys
from collections import defaultdict


def read_fasta_lengths(path):
    lens, name = {}, None
    for line in open(path):
        if line.startswith(">"):
            name = line[1:].split()[0]
            lens[name] = 0
        elif name is not None:
            lens[name] += len(line.strip())
    return lens


def main():
    vs_path, ours_path, q_path = sys.argv[1:4]
    min_len = int(sys.argv[sys.argv.index("--min-len") + 1]) if "--min-len" in sys.argv else 100
    qlen = read_fasta_lengths(q_path)
    vs, ours = {}, {}
    for line in open(vs_path):
        f = line.rstrip("\n").split("\t")
        vs[(f[0], f[1])] = float(f[2])
    for line in open(ours_path):
        f = line.rstrip("\n").split("\t")
        key = (f[0], f[1])
        ours[key] = max(ours.get(key, 0.0), float(f[2]))
    shared = [k for k in vs if k in ours]
    missed = [k for k in vs if k not in ours]
    long_pairs = [k for k in vs if qlen.get(k[0], 0) >= min_len]
    # Queries under 20 bases get an `invalid` status from edna-search (a few bases align almost anywhere).
    valid_pairs = [k for k in vs if qlen.get(k[0], 0) >= 20]
    valid_found = [k for k in valid_pairs if k in ours]
    long_found = [k for k in long_pairs if k in ours]
    close = [k for k in shared if abs(vs[k] - ours[k]) <= 0.5]
    best_vs, best_ours = defaultdict(float), defaultdict(float)
    for (q, _), i in vs.items():
        best_vs[q] = max(best_vs[q], i)
    for (q, _), i in ours.items():
        best_ours[q] = max(best_ours[q], i)
    # Our best hit is right when its identity is at least vsearch's best (within 0.5 points).
    best_ok = sum(1 for q in best_vs if best_ours.get(q, 0.0) >= best_vs[q] - 0.5)
    pct = lambda a, b: 100.0 * a / b if b else 100.0
    print(f"vsearch pairs          {len(vs)}")
    print(f"ours pairs             {len(ours)} ({len(ours) - len(shared)} not reported by vsearch)")
    print(f"recall                 {pct(len(shared), len(vs)):.3f}% ({len(missed)} missed)")
    print(f"recall, query >= 20 bp  {pct(len(valid_found), len(valid_pairs)):.3f}% of {len(valid_pairs)}")
    print(f"recall, query >= {min_len} bp {pct(len(long_found), len(long_pairs)):.3f}% of {len(long_pairs)}")
    print(f"identity within 0.5    {pct(len(close), len(shared)):.3f}% of shared pairs")
    print(f"best hit as good       {pct(best_ok, len(best_vs)):.3f}% of {len(best_vs)} queries with vsearch hits")
    for k in missed[:10]:
        print(f"  missed {k[0]} {k[1]} vsearch {vs[k]:.2f} qlen {qlen.get(k[0])}")
    diffs = sorted(((abs(vs[k] - ours[k]), k) for k in shared), reverse=True)[:5]
    for d, k in diffs:
        if d > 0.5:
            print(f"  identity differs {k}: vsearch {vs[k]:.2f} ours {ours[k]:.2f}")


if __name__ == "__main__":
    main()
