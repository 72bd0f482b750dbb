"""Load on `plan serve` over loopback: distinct plans per second and latency at N concurrent clients, a burst of
connections, and a new client's wait while many idle connections are open.

    python benchmarks/serve_load.py [--clients 8] [--seconds 20] [--workers 2] [--idle 900] [--burst 100]

Each client keeps one HTTP/1.1 connection and asks POST /api/plan for a plan no one asked before, so no cache
of answers helps: with `--vary budget` (the issue-19 figure) only the budget differs, and the workers' candidate
caches (configurations, housing, times: they do not depend on the budget, planner/configs.SOLVE_ONLY) leave each
plan its integer programs and rendering; with `--vary workload` the sequence length differs too, so every plan
also rebuilds its candidates from memory estimate to timing (the cost of a truly new question). The server runs in its own process with --workers processes; the
clients share the same machine, so on a small one they compete with the server for the cores (reported).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def start(workers: int):
    log = tempfile.TemporaryFile(mode="w+")
    # --workers 0: leave the flag out (to measure a planner whose `plan serve` has none, via PYTHONPATH)
    extra = ["--workers", str(workers)] if workers > 0 else []
    proc = subprocess.Popen([sys.executable, "-m", "planner.cli", "serve", "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    line = proc.stdout.readline()
    m = re.search(r"http://[^:]+:(\d+)/", line)
    if not m:
        raise SystemExit(f"server did not start: {line}")
    return proc, int(m.group(1))


def body_of(n: int, vary: str) -> str:
    """The n-th request: 8B LoRA at budget 20,000 + n USD; `workload` also moves the sequence length."""
    req = {"model": "8b", "method": "lora", "budget": 20000 + n, "alternatives": 1}
    if vary == "workload":
        req["seq_len"] = 256 + 8 * n
    return json.dumps(req)


def load(port: int, clients: int, seconds: float, vary: str = "budget", start_n: int = 0) -> dict:
    latencies: list[float] = []
    errors = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    counter = iter(range(start_n, 10**9))

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop:
            with lock:
                n = next(counter)
            body = body_of(n, vary)
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/plan", body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                payload = r.read()
                ok = r.status == 200 and b'"feasible"' in payload
            except OSError as e:
                ok = False
                payload = str(e).encode()
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            dt = time.perf_counter() - t0
            with lock:
                (latencies.append(dt) if ok else errors.append(payload[:200]))
        conn.close()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")
    return {"clients": clients, "plans": len(latencies), "errors": len(errors), "wall_s": round(wall, 2),
            "plans_per_s": round(len(latencies) / wall, 1), "p50_s": round(pct(0.50), 3),
            "p99_s": round(pct(0.99), 3), "max_s": round(latencies[-1], 3) if latencies else None}


def burst(port: int, n: int) -> dict:
    statuses = []
    lock = threading.Lock()

    def one():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/api/models")
            r = conn.getresponse()
            r.read()
            status = r.status
            conn.close()
        except OSError as e:
            status = type(e).__name__
        with lock:
            statuses.append(status)
    threads = [threading.Thread(target=one) for _ in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"connections": n, "answered_200": statuses.count(200), "wall_s": round(time.perf_counter() - t0, 2)}


def idle(port: int, n: int, wait_close_s: float) -> dict:
    socks = []
    for _ in range(n):
        socks.append(socket.create_connection(("127.0.0.1", port)))
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/api/plan", body=json.dumps({"model": "8b"}), headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    served_s = time.perf_counter() - t0
    conn.close()
    deadline = time.monotonic() + wait_close_s
    closed = 0
    for s in socks:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if s.recv(1) == b"":
                closed += 1
        except OSError:
            pass
        s.close()
    return {"idle_connections": n, "new_client_status": r.status, "new_client_served_s": round(served_s, 3),
            "idle_closed_by_server": closed, "closed_within_s": round(time.monotonic() - deadline + wait_close_s, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--idle", type=int, default=900)
    ap.add_argument("--burst", type=int, default=100)
    ap.add_argument("--vary", choices=("budget", "workload"), default="budget")
    a = ap.parse_args()
    proc, port = start(a.workers)
    try:
        print(json.dumps({"cores": os.cpu_count(), "workers": a.workers, "loadavg_before": os.getloadavg()}))
        load(port, 2, 3, "budget", 10**6)                      # warm the workers (imports, catalogue)
        print(json.dumps({"vary": a.vary, **load(port, a.clients, a.seconds, a.vary)}))
        print(json.dumps(burst(port, a.burst)))
        print(json.dumps(idle(port, a.idle, 20)))
        print(json.dumps({"loadavg_after": os.getloadavg()}))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


if __name__ == "__main__":
    main()
