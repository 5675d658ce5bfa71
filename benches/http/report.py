#!/usr/bin/env python3
"""Markdown table from the phases benches/http/load.sh ran.

Reads OUTDIR/phases.tsv (key, service, endpoint, concurrency, result file, baseline key) and the RESULT line of
each result file (benches/http/post.lua or vsearch_direct.py). The ratio column compares a row with its baseline
row: requests/s ours ÷ theirs, and p50 theirs ÷ ours. Usage: report.py OUTDIR
"""
import os
import sys


def parse(path):
    res, sample = None, ""
    if not os.path.exists(path):
        return None, "missing"
    with open(path) as f:
        for line in f:
            if line.startswith("RESULT "):
                res = {}
                for kv in line.split()[1:]:
                    k, _, v = kv.partition("=")
                    res[k] = v
            elif line.startswith("SAMPLE_NON2XX "):
                sample = line[len("SAMPLE_NON2XX "):].strip()
    return res, sample


def num(r, k):
    return float(r[k]) if r and k in r else float("nan")


def good(r):
    """2xx answers per second."""
    return int(r.get("ok2xx", 0)) / float(r["duration_s"]) if r and float(r.get("duration_s", 0)) > 0 else 0.0


def times(x):
    return f"{x:,.0f}×" if x >= 10 else f"{x:.2g}×"


def main():
    out = sys.argv[1]
    rows = []
    with open(os.path.join(out, "phases.tsv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                key, service, endpoint, conc, path, base = (line.rstrip("\n").split("\t") + [""] * 6)[:6]
                res, sample = parse(os.path.join(out, path))
                rows.append(dict(key=key, service=service, endpoint=endpoint, conc=conc, res=res, sample=sample,
                                 base=base))
    by_key = {r["key"]: r for r in rows}
    print("| service | endpoint | clients | requests/s (2xx/s) | p50 ms | p90 ms | p99 ms | max ms "
          "| errors: non-2xx / socket | vs vsearch per request |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    notes = []
    for r in rows:
        res = r["res"]
        if res is None:
            print(f"| {r['service']} | {r['endpoint']} | {r['conc']} | (no result) | | | | | | |")
            continue
        sock = sum(int(res.get(k, 0)) for k in ("connect_err", "read_err", "write_err", "timeout_err"))
        socket_detail = "" if sock == 0 else " (" + ", ".join(
            f"{k.split('_')[0]} {res[k]}" for k in ("connect_err", "read_err", "write_err", "timeout_err")
            if int(res.get(k, 0))) + ")"
        status = res.get("status", "")
        non2xx = int(res.get("non2xx", 0))
        err = f"{non2xx} / {sock}{socket_detail}"
        if non2xx:
            err += f" [{status}]"
        ratio = ""
        b = by_key.get(r["base"])
        if int(res.get("requests", 0)) == 0:
            print(f"| {r['service']} | {r['endpoint']} | {r['conc']} | 0 (no request completed in "
                  f"{res.get('duration_s')} s) | | | | | {res.get('non2xx')} / 0 | |")
            continue
        if b and b["res"] and num(b["res"], "p50_ms") > 0:
            rps = good(res) / good(b["res"]) if good(b["res"]) else float("nan")
            lat = num(b["res"], "p50_ms") / num(res, "p50_ms")
            ratio = (f"{times(rps)} the 2xx/s; p50 " +
                     ("about the same" if 0.9 <= lat <= 1.1 else f"{times(lat)} lower" if lat > 1 else f"{times(1 / lat)} higher") + f" (vs `{b['key']}`)")
        if "mean_rps" in res:
            rps_s = f"{num(res, 'rps'):,.2f} (1/p50; mean {num(res, 'mean_rps'):.2f})"
        else:
            rps_s = f"{num(res, 'rps'):,.1f}"
            if non2xx:
                rps_s += f" ({good(res):,.1f})"
        print(f"| {r['service']} | {r['endpoint']} | {r['conc']} | {rps_s} | {num(res, 'p50_ms'):.2f} | "
              f"{num(res, 'p90_ms'):.2f} | {num(res, 'p99_ms'):.2f} | {num(res, 'max_ms'):.1f} | {err} | {ratio} |")
        if r["sample"]:
            notes.append(f"- `{r['key']}` first non-2xx answer: `{r['sample'][:300]}`")
    if notes:
        print()
        print("\n".join(notes))

    # Targets from the issue.
    def check(key, field, op, target, label):
        r = by_key.get(key)
        if not r or not r["res"]:
            return f"- {label}: not measured"
        if int(r["res"].get("requests", 0)) == 0:
            return f"- {label}: no request completed **NOT met**"
        v = num(r["res"], field) if field != "rps" else good(r["res"])
        ok = v <= target if op == "<=" else v >= target
        if field == "rps":
            ok = ok and int(r["res"].get("non2xx", 0)) == 0 and all(
                int(r["res"].get(k, 0)) == 0 for k in ("connect_err", "read_err", "write_err", "timeout_err"))
        return f"- {label}: {v:,.2f} (target {op} {target:,}) **{'met' if ok else 'NOT met'}**"

    print()
    print("Targets:")
    print(check("ours_search_12s", "p50_ms", "<=", 2, "`/v1/search` 16 clients p50 ms"))
    print(check("ours_search_12s", "p99_ms", "<=", 10, "`/v1/search` 16 clients p99 ms"))
    # The issue gives no client count for batches: one call alone is its latency; four in parallel (the
    # toolkit's) share the two cores, so their p50 is bound by throughput. Both are reported.
    print(check("ours_batch25_c1", "p50_ms", "<=", 20, "`/blast/batch` 25 sequences p50 ms, one call at a time"))
    print(check("ours_batch25", "p50_ms", "<=", 20, "`/blast/batch` 25 sequences p50 ms, 4 calls in parallel"))
    print(check("ours_batch25_id90_c1", "p50_ms", "<=", 20,
                "(like for like) `/blast/batch` 25 sequences at 90 % p50 ms, one call at a time"))
    print(check("ours_batch25_id90", "p50_ms", "<=", 20,
                "(like for like) `/blast/batch` 25 sequences at 90 % p50 ms, 4 calls in parallel"))
    print(check("ours_search_12s", "rps", ">=", 2000, "sustained `/v1/search` queries/s, no errors"))


if __name__ == "__main__":
    main()
