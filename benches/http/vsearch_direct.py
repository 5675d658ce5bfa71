#!/usr/bin/env python3
"""Times N sequential one-request vsearch processes with sequence-search-ws's flags (no HTTP at all).

Each "request" is what sequence-search-ws does per request minus Node: write the queries to a temp FASTA, spawn
`vsearch --usearch_global FILE --db UDB --id 0.9 --query_cov 0.5 --blast6out - --maxaccepts 100 --maxrejects 100
--maxhits 100 --threads T --quiet`, wait. One job at a time, so the service's best rate is 1 / latency.
Prints one line in the format of benches/http/post.lua's RESULT (rps = 1 / p50, the one-job-at-a-time ceiling;
mean_rps = N / total time). Usage: vsearch_direct.py UDB QUERIES.fasta [-n 50] [--batch 1] [--threads T]
"""
import argparse
import os
import subprocess
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("udb")
    ap.add_argument("queries")
    ap.add_argument("-n", type=int, default=50, help="requests")
    ap.add_argument("--batch", type=int, default=1, help="sequences per request")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    seqs = []
    with open(a.queries) as f:
        for line in f:
            if not line.startswith(">") and line.strip():
                seqs.append(line.strip())
    times, fails = [], 0
    t0 = time.perf_counter()
    for r in range(a.n):
        part = [seqs[(r * a.batch + j) % len(seqs)] for j in range(a.batch)]
        start = time.perf_counter()
        with tempfile.NamedTemporaryFile("w", suffix=".fasta", delete=False) as f:
            for i, s in enumerate(part):
                f.write(f">{i}\n{s}\n")
        out = subprocess.run(
            ["vsearch", "--usearch_global", f.name, "--db", a.udb, "--id", "0.9", "--query_cov", "0.5",
             "--blast6out", "-", "--maxaccepts", "100", "--maxrejects", "100", "--maxhits", "100",
             "--threads", str(a.threads), "--quiet"], capture_output=True)
        os.unlink(f.name)
        times.append(time.perf_counter() - start)
        fails += out.returncode != 0
    total = time.perf_counter() - t0
    times.sort()

    def pct(p):
        return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))] * 1000

    p50 = pct(50)
    print(f"RESULT requests={a.n} duration_s={total:.2f} rps={1000 / p50:.2f} p50_ms={p50:.3f} p90_ms={pct(90):.3f} "
          f"p99_ms={pct(99):.3f} max_ms={times[-1] * 1000:.3f} ok2xx={a.n - fails} non2xx={fails} connect_err=0 "
          f"read_err=0 write_err=0 timeout_err=0 status=exit0:{a.n - fails} mean_rps={a.n / total:.2f}")


if __name__ == "__main__":
    main()
