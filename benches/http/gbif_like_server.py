#!/usr/bin/env python3
"""A stand-in for GBIF's sequence-search-ws, for benches/http/load.sh: one vsearch process per request.

What it copies from sequence-search-ws (see ../shared/spec/gbif-compat.md §8):
- `POST /search` and `POST /search/batch` (same handler), body `{"database": "<name>.udb", "sequence": "ACGT…" |
  ["ACGT…", …], "identity"?: percent}`; one object for a string, an array in input order for an array.
- each request writes its sequences to a temp FASTA and spawns
  `vsearch --usearch_global FILE --db UDB --id 0.9 --query_cov 0.5 --maxaccepts 100 --maxrejects 100
   --maxhits 100 --threads T --quiet` with the hits on stdout;
- one vsearch job at a time (`PQueue({concurrency: 1})`), 503 once more than 10 jobs wait (`MAX_QUEUED_JOBS`);
- a client that disconnects kills its vsearch process (a queued job whose client left is skipped).
What differs: `--blast6out -` instead of the default `--alnout -` (cheaper to print and parse, which favours the
baseline), `--threads` defaults to the machine's cores instead of 8, the answer is a reduced Match (best hit,
identity, match type by blast-ws thresholds 99/90, hit count), and no HBase cache (off in the code too).
Stdlib only. `GET /ready` answers 200 with `{"waiting": jobs queued, "running": bool}`. Usage: gbif_like_server.py --udb REF.udb --port PORT [--threads T]
"""
import argparse
import json
import os
import select
import socket
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_QUEUED_JOBS = 10


class Queue:
    """PQueue({concurrency: 1}) with sequence-search-ws's `queue.size > MAX_QUEUED_JOBS` refusal."""

    def __init__(self):
        self.run = threading.Lock()
        self.count = threading.Lock()
        self.waiting = 0

    def enter(self):
        with self.count:
            if self.waiting > MAX_QUEUED_JOBS:
                return False
            self.waiting += 1
        self.run.acquire()
        with self.count:
            self.waiting -= 1
        return True

    def leave(self):
        self.run.release()


def client_gone(sock):
    """True when the client closed its connection (readable with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def match(hits):
    if not hits:
        return {"matchType": "BLAST_NO_MATCH"}
    best = hits[0]
    ident = float(best[2])
    kind = "BLAST_EXACT_MATCH" if ident >= 99 else "BLAST_CLOSE_MATCH" if ident >= 90 else "BLAST_WEAK_MATCH"
    return {"matchType": kind, "identity": ident, "name": best[1], "alignmentLength": int(best[3]), "hits": len(hits)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gbif-like-sequence-search-ws"

    def log_message(self, *args):
        pass

    def send_json(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/ready"):
            q = self.server.queue
            self.send_json(200, {"status": "ready", "waiting": q.waiting, "running": q.run.locked()})
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        if not self.path.startswith("/search"):
            return self.send_json(404, {"error": "not found"})
        if n > 1 << 20:
            return self.send_json(413, {"error": "body over 1 MB"})
        try:
            body = json.loads(raw)
            seq = body["sequence"]
        except (ValueError, KeyError, TypeError):
            return self.send_json(400, {"error": "bad request"})
        single = isinstance(seq, str)
        seqs = [seq] if single else list(seq)
        identity = float(body.get("identity", 90)) / 100
        q = self.server.queue
        if not q.enter():
            return self.send_json(503, {"error": "too many queued jobs"})
        try:
            if client_gone(self.connection):
                self.close_connection = True
                return
            with tempfile.NamedTemporaryFile("w", suffix=".fasta", delete=False) as f:
                for i, s in enumerate(seqs):
                    f.write(f">{i}\n{s}\n")
                path = f.name
            try:
                with tempfile.TemporaryFile() as err:
                    proc = subprocess.Popen(
                        ["vsearch", "--usearch_global", path, "--db", self.server.udb, "--id", str(identity),
                         "--query_cov", "0.5", "--blast6out", "-", "--maxaccepts", "100", "--maxrejects", "100",
                         "--maxhits", "100", "--threads", str(self.server.threads), "--quiet"],
                        stdout=subprocess.PIPE, stderr=err, text=True)
                    reader = threading.Thread(target=lambda: setattr(proc, "out", proc.stdout.read()))
                    reader.start()
                    while True:
                        try:
                            proc.wait(timeout=0.05)
                            break
                        except subprocess.TimeoutExpired:
                            if client_gone(self.connection):
                                proc.kill()
                    reader.join()
                    err.seek(0)
                    stderr = err.read().decode(errors="replace")
            finally:
                os.unlink(path)
        finally:
            q.leave()
        if proc.returncode != 0:
            if client_gone(self.connection):
                self.close_connection = True
                return
            return self.send_json(500, {"error": stderr[-300:]})
        by_query = [[] for _ in seqs]
        for line in proc.out.splitlines():
            cols = line.split("\t")
            by_query[int(cols[0])].append(cols)
        answers = [match(h) for h in by_query]
        self.send_json(200, answers[0] if single else answers)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--udb", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    ThreadingHTTPServer.request_queue_size = 256
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.udb, srv.threads, srv.queue = a.udb, a.threads, Queue()
    srv.serve_forever()


if __name__ == "__main__":
    main()
