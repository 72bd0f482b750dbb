"""`plan serve` as a process under ordinary abuse (issue 19): a busy port, idle and trickling connections, a burst
of connections, a foreign Host, a server reachable beyond loopback, SIGTERM with uploads on disk. Loopback only,
bounded to well under a minute."""
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from planner.web import server as web

ROOT = Path(__file__).resolve().parent.parent


class Served:
    """`plan serve` in a child process; its URL read from the first line it prints."""

    def __init__(self, *args, env=None, workers=1):
        self.log = tempfile.TemporaryFile(mode="w+")        # the access log; a pipe nobody reads would fill up
        self.proc = subprocess.Popen([sys.executable, "-m", "planner.cli", "serve", "--port", "0", "--workers",
                                      str(workers), *args], stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, env=dict(os.environ, **(env or {})))
        line = self.proc.stdout.readline()
        m = re.search(r"(http://\S+)", line)
        if not m:
            self.proc.wait(30)
            self.log.seek(0)
            raise AssertionError((line, self.log.read()[-2000:]))
        self.url = m.group(1)
        self.port = int(re.search(r":(\d+)/", self.url).group(1))
        self.token = (re.search(r"token=(\S+)", self.url) or [None, None])[1]

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.proc.stdout.close()
            self.log.close()


def ask(port, method, path, body=None, headers=None, host="127.0.0.1", timeout=30):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=hdrs)
    r = conn.getresponse()
    payload = r.read()
    conn.close()
    return r.status, payload


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-tmp")
    s = Served(env={"TMPDIR": str(tmp)})
    s.tmp = tmp
    yield s
    assert s.stop() == 0


def test_a_busy_port_or_a_bad_address_is_one_line_and_exit_2():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        for args in (["--port", str(port)], ["--host", "no-such-host.invalid"], ["--host", "256.1.1.1"]):
            r = subprocess.run([sys.executable, "-m", "planner.cli", "serve", *args], capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 2, (args, r.stderr)
            assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: --"), r.stderr
            assert r.stdout == ""
    finally:
        taken.close()


def test_idle_connections_neither_lock_out_a_new_client_nor_stay_open(served):
    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(300)]
    trickle = socket.create_connection(("127.0.0.1", served.port))
    trickle.sendall(b"GET / HTTP/1.1\r\n")                   # a head that never ends (slowloris)
    try:
        t0 = time.monotonic()
        status, payload = ask(served.port, "POST", "/api/plan", {"model": "8b"})
        assert status == 200 and json.loads(payload)["feasible"] is True
        assert time.monotonic() - t0 < 5
        deadline = time.monotonic() + web.HEADER_TIMEOUT_S + 10
        for s in idle[:20] + [trickle]:
            trickle.sendall(b"X-A: b\r\n") if s is trickle else None
            s.settimeout(max(0.1, deadline - time.monotonic()))
            assert s.recv(1) == b""                              # closed by the server's head timeout
    finally:
        for s in idle + [trickle]:
            s.close()


def test_a_burst_of_100_connections_is_answered_in_full(served):
    def one(_):
        return ask(served.port, "GET", "/api/models")[0]
    with ThreadPoolExecutor(100) as pool:
        statuses = list(pool.map(one, range(100)))
    assert statuses == [200] * 100


def test_a_caller_that_reads_only_the_url_line_never_blocks_the_server(served):
    """Its stdout is a pipe nobody reads after the first line: 1,500 answers later (10 clients) (the access log's lines
    would have filled a 64 KiB pipe) it still answers and still stops on SIGTERM (the module fixture checks)."""
    def client(_):
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        statuses = []
        for _ in range(150):
            conn.request("GET", "/api/nothing-here")    # small answers: the test is about the log lines
            r = conn.getresponse()
            r.read()
            statuses.append(r.status)
        conn.close()
        return statuses
    with ThreadPoolExecutor(10) as pool:
        assert [s for batch in pool.map(client, range(10)) for s in batch] == [404] * 1500


def test_foreign_host_and_cross_site_origin_are_refused(served):
    assert ask(served.port, "GET", "/", headers={"Host": "rebind.attacker.example"})[0] == 403
    status, _ = ask(served.port, "POST", "/api/plan", {"model": "8b"},
                    headers={"Origin": "http://attacker.example"})
    assert status == 403
    assert ask(served.port, "POST", "/api/plan", {"model": "8b"},
               headers={"Origin": f"http://127.0.0.1:{served.port}"})[0] == 200


def test_deep_json_and_long_paths_get_an_answer_not_a_500(served):
    deep = b"[" * 100_000 + b"]" * 100_000
    status, payload = ask(served.port, "POST", "/api/plan", deep)
    assert status == 400 and b"not valid JSON" in payload
    status, _ = ask(served.port, "GET", "/" + "a" * 6000)
    assert status in (404, 414, 431)


def test_every_cli_option_is_accepted_by_the_api_except_local_files(served):
    body = {"model": "70b", "method": "qlora", "gpus": 2, "force_offload": "optimizer", "loss": "chunked",
            "grad_accum": 2, "activation_offload": True, "kv_cache_dtype": "auto", "gpu_layers": 80,
            "gpu_memory_utilization": 0.9, "budget": "200000", "deadline": "none"}
    status, payload = ask(served.port, "POST", "/api/plan", body)
    assert status == 200, payload
    for local in ("catalog", "proposal"):
        status, payload = ask(served.port, "POST", "/api/plan", {"model": "8b", local: "x"})
        assert status == 400 and json.loads(payload)["field"] == local


def test_off_loopback_every_request_needs_the_printed_token():
    s = Served("--host", "0.0.0.0")
    try:
        assert s.token and len(s.token) >= 24
        assert ask(s.port, "GET", "/api/models")[0] == 403
        assert ask(s.port, "GET", f"/api/models?token={s.token}")[0] == 200
        assert ask(s.port, "GET", "/api/models", headers={"Authorization": f"Token {s.token}"})[0] == 200
        status, _ = ask(s.port, "GET", f"/?token={s.token}", headers={"Host": "rebind.attacker.example"})
        assert status == 403
    finally:
        assert s.stop() == 0


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    s = Served("--host", "::1")
    try:
        assert s.url.startswith("http://[::1]:")
        assert ask(s.port, "GET", "/api/models", host="::1")[0] == 200
    finally:
        s.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_nothing_is_left_in_the_temporary_directory_after_a_signal(tmp_path, sig):
    s = Served(env={"TMPDIR": str(tmp_path)})
    cfg = (ROOT / "calibration" / "configs" / "llama-3.1-8b.json").read_bytes()
    status, payload = ask(s.port, "POST", "/api/upload?name=m.json", cfg,
                          headers={"Content-Type": "application/octet-stream"})
    assert status == 200
    assert any(tmp_path.iterdir())
    assert s.stop(sig) == 0
    assert list(tmp_path.iterdir()) == []


def test_a_killed_servers_uploads_are_removed_by_the_next_start(tmp_path):
    s = Served(env={"TMPDIR": str(tmp_path)})
    ask(s.port, "POST", "/api/upload?name=m.json", b'{"a": 1}', headers={"Content-Type": "application/octet-stream"})
    s.stop(signal.SIGKILL)
    assert any(tmp_path.iterdir())
    s = Served(env={"TMPDIR": str(tmp_path)})
    try:
        left = [p.name for p in tmp_path.iterdir()]
        assert len(left) == 1 and left[0].startswith(f"plan-serve-{s.proc.pid}-")
    finally:
        s.stop()


def test_over_the_connection_cap_a_request_is_answered_503_not_left_waiting():
    httpd = web.make_server("127.0.0.1", 0, max_connections=5)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        assert ask(port, "GET", "/api/models")[0] == 503
        assert time.monotonic() - t0 < 5
        for s in idle:
            s.close()
        time.sleep(0.5)
        assert ask(port, "GET", "/api/models")[0] == 200
    finally:
        httpd.shutdown()
        httpd.server_close()
