"""`plan serve`: a local web page and a JSON API over the same `planner.cli.main` the terminal uses.

Python's standard library only (http.server): the API answers exactly what `plan ... --json` prints, so the page,
the terminal and scripts can never disagree. The server builds each argv from a whitelist of options; the
client never names a file on this machine (no --catalog, no --proposal path, no model path except the
files it uploaded, which the server wrote itself).
"""
from __future__ import annotations

import io
import json
import mimetypes
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from planner.errors import shown          # a user's value in a message: bounded

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_JSON_BODY = 1 << 20          # API requests: 1 MiB of JSON options is plenty
MAX_CONFIG_BYTES = 4 << 20       # an uploaded config.json
MAX_GGUF_BYTES = 64 << 20        # the first bytes of a GGUF file (its header and metadata)
MAX_UPLOADS = 64                 # kept per server; the oldest is dropped first
MAX_SWEEP_VALUES = 50
MAX_SWEEP_VARIANTS = 100

# Options a client may set: CLI long flag (without dashes) -> kind. "value" takes one value, "flag" is a bare
# switch, "list" may repeat (a list or a comma-separated string), "tristate" is --x / --no-x.
WORKLOAD_OPTIONS = {
    "model": "value", "method": "value", "precision": "value", "batch-size": "value", "seq-len": "value",
    "new-tokens": "value", "optimizer": "value", "lora-rank": "value", "lora-targets": "value",
    "gradient-checkpointing": "tristate", "attention": "value", "engine": "value", "framework": "value",
    "loss": "value", "grad-accum": "value", "activation-offload": "flag", "kv-cache-dtype": "value",
    "gpu-layers": "value", "gpu-memory-utilization": "value",
    # mechanisms published runs vary (planner/estimator/stacks.py, engines.py)
    "activation-checkpointing": "value", "ac-every": "value", "compile": "tristate",
    "optimizer-in-backward": "tristate", "pipeline-parallel": "value", "zero3-max-live-parameters": "value",
    "quantize-moe-experts": "flag", "n-cpu-moe": "value", "mem-fraction-static": "value", "speculative": "value",
    "speculative-tokens": "value",
}
PLAN_OPTIONS = dict(WORKLOAD_OPTIONS, **{
    "budget": "value", "currency": "value", "max-gpus": "value", "gpus": "value", "include": "list",
    "exclude": "list", "allow-used": "flag", "zero": "value", "offload": "value", "force-offload": "value",
    "ram-ratio": "value", "margin": "value", "require-nvlink": "flag", "parallel": "value", "alternatives": "value",
    "tokens": "value", "deadline": "value", "requests": "value", "objective": "value", "examples": "value",
    "epochs": "value",
    "min-headroom": "value", "tokens-per-example": "value", "no-savers": "flag", "have": "list",
    "max-machines": "value",
    # serving by load and latency, and the ownership assumptions behind the cost per token (planner/serving.py, tco.py)
    "rate": "value", "users": "value", "ttft": "value", "itl": "value", "years": "value", "utilization": "value",
    "pue": "value", "maintenance": "value", "residual": "value", "electricity": "value",
})
ESTIMATE_OPTIONS = dict(WORKLOAD_OPTIONS, **{"gpus": "value", "zero": "value", "offload": "value",
                                             "parallel": "value"})
FLAG_ALIASES = {"deadline-days": "deadline", "no-gradient-checkpointing": "gradient-checkpointing",
                "no-compile": "compile", "no-optimizer-in-backward": "optimizer-in-backward"}
SWEEP_KEYS = ("field", "values", "field2", "values2", "options")


def options() -> dict:
    """GET /api/options: the allowed values of every closed-set option, taken from the core's types
    (planner/workload.py Literals), so the page's choices are the CLI's and can never drift from them."""
    from typing import get_args

    from planner import workload as w
    from planner.cli import plan_choices
    planning = plan_choices()                   # options of planning only (offload ... any, objective): the CLI's
    return {"method": list(get_args(w.Method)), "precision": list(get_args(w.Precision)),
            "precision_groups": {
                "float": [p for p in get_args(w.Precision) if p not in w.QUANTISED + w.SERVING_FORMATS],
                "bitsandbytes": list(w.QUANTISED),
                "serving": [p for p in w.SERVING_FORMATS if p not in w.GGUF_TYPES], "gguf": list(w.GGUF_TYPES)},
            "optimizer": list(get_args(w.Optimizer)), "attention": list(get_args(w.Attention)),
            "engine": list(get_args(w.Engine)), "framework": list(get_args(w.Framework)),
            "loss": list(get_args(w.Loss)), "kv-cache-dtype": list(get_args(w.KVCacheDtype)),
            "activation-checkpointing": list(get_args(w.ActivationCheckpointing)),
            "parallel": list(get_args(w.Parallel)), "offload": planning["offload"],
            "force-offload": planning["force-offload"], "zero": planning["zero"], "objective": planning["objective"],
            "defaults": {"precision": dict(w.DEFAULT_PRECISION)}}


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    def body(self) -> dict:
        return {"error": self.message, "field": self.field}


def _norm(key: str) -> str:
    return str(key).strip().lstrip("-").replace("_", "-").lower()


def field_of(message: str) -> str | None:
    """The option a CLI error line names: 'error: argument --batch-size: ...' -> 'batch-size'."""
    m = re.search(r"--([a-z][a-z0-9-]*)", message)
    if not m:
        return None
    name = m.group(1)
    return FLAG_ALIASES.get(name, name)


class Uploads:
    """Files the client uploaded, each under a random token; removed when the server stops."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="plan-serve-"))
        self.files: dict[str, Path] = {}
        self.lock = threading.Lock()

    def add(self, data: bytes, filename: str) -> dict:
        if data[:4] == b"GGUF":
            kind, limit = "gguf", MAX_GGUF_BYTES
            name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(filename or ""))[:120]
            if not name.lower().endswith(".gguf"):
                name = "model.gguf"
        else:
            # the CLI names a model after FILE.json's stem, or after the folder of a config.json
            kind, limit = "config.json", MAX_CONFIG_BYTES
            stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(os.path.basename(filename or "")).stem)[:120].strip("._")
            name = f"{stem}.json" if stem and stem != "config" else "uploaded-model/config.json"
            if len(data) > limit:
                raise ApiError(413, f"upload: a config.json may be at most {limit >> 20} MiB "
                                    f"(got {len(data) / (1 << 20):.1f} MiB); a GGUF file starts with 'GGUF'",
                               "model")
            try:
                cfg = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise ApiError(400, f"upload: not a GGUF file and not valid JSON ({e})", "model") from None
            if not isinstance(cfg, dict):
                raise ApiError(400, "upload: a config.json must hold a JSON object", "model")
        token = secrets.token_hex(12)
        folder = self.dir / token
        folder.mkdir()
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        with self.lock:
            self.files[token] = path
            while len(self.files) > MAX_UPLOADS:
                old = next(iter(self.files))
                self.files.pop(old)
                shutil.rmtree(self.dir / old, ignore_errors=True)
        return {"token": token, "model": f"upload:{token}", "kind": kind, "name": name, "bytes": len(data),
                "limit_bytes": limit}

    def path(self, token: str) -> Path:
        with self.lock:
            p = self.files.get(token)
        if p is None or not p.exists():
            raise ApiError(400, f"--model: unknown upload token {shown(token)}; upload the file again", "model")
        return p

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _model_arg(value, uploads: Uploads) -> str:
    text = str(value).strip()
    if text.startswith("upload:"):
        return str(uploads.path(text[len("upload:"):]))
    looks_like_path = (text.startswith(("/", ".", "~", "\\")) or ".." in text or "\\" in text
                       or text.lower().endswith((".json", ".gguf", ".yaml", ".yml"))
                       or ("/" in text and os.path.exists(text)))
    if looks_like_path:
        raise ApiError(400, "--model: file paths are not accepted by the web API; upload the config.json or "
                            "GGUF file instead", "model")
    return text


def build_argv(options: dict, allowed: dict, uploads: Uploads) -> list[str]:
    """Turn {"batch_size": 4, "allow_used": true, ...} into ['--batch-size=4', '--allow-used', ...]."""
    if not isinstance(options, dict):
        raise ApiError(400, "the request body must be a JSON object of option names", None)
    argv: list[str] = []
    seen = set()
    for raw_key, value in options.items():
        key = FLAG_ALIASES.get(_norm(raw_key), _norm(raw_key))
        if key not in allowed:
            raise ApiError(400, f"--{key}: not an option the web API accepts", key)
        if key in seen:
            raise ApiError(400, f"--{key}: given twice", key)
        seen.add(key)
        kind = allowed[key]
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, dict):
            raise ApiError(400, f"--{key}: expected a value, got an object", key)
        if kind == "flag":
            if not isinstance(value, bool):
                raise ApiError(400, f"--{key}: expected true or false, got {shown(value)}", key)
            if value:
                argv.append(f"--{key}")
        elif kind == "tristate":
            if not isinstance(value, bool):
                raise ApiError(400, f"--{key}: expected true or false, got {shown(value)}", key)
            argv.append(f"--{key}" if value else f"--no-{key}")
        elif kind == "list":
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, (dict, list)):
                    raise ApiError(400, f"--{key}: expected names, got {shown(item)}", key)
                argv.append(f"--{key}={item}")
        else:
            if isinstance(value, list):
                raise ApiError(400, f"--{key}: expected one value, got a list", key)
            if isinstance(value, bool):
                raise ApiError(400, f"--{key}: expected a value, got {str(value).lower()}", key)
            if key == "model":
                value = _model_arg(value, uploads)
            argv.append(f"--{key}={value}")   # '=' keeps a value such as '-1' from reading as a flag
    return argv


class Planner:
    """Runs `planner.cli.main` one call at a time (the CLI keeps process-wide caches and prints)."""

    def __init__(self):
        self.lock = threading.Lock()

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        from planner.cli import main
        out, err = io.StringIO(), io.StringIO()
        with self.lock:
            rc = main(list(argv), out=out, err=err)
        return rc, out.getvalue(), err.getvalue()

    def run_json(self, argv: list[str]) -> tuple[int, dict]:
        """(HTTP status, body) for a command run with --json, mapped from the CLI's exit status."""
        rc, out, err = self.run(argv + ["--json"])
        lines = [x for x in err.splitlines() if x.strip()] or ["error: no output"]
        message = lines[-1].removeprefix("error: ").strip()
        if rc in (0, 3):
            try:
                return 200, json.loads(out)
            except ValueError:
                return 500, {"error": f"internal error: the CLI printed no JSON (exit {rc})", "field": None}
        if rc == 2:
            return 400, {"error": message, "field": field_of(message)}
        return 500, {"error": message or f"internal error (exit {rc})", "field": None}


def sweep_rows(planner: Planner, uploads: Uploads, body: dict) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", None)
    base = body.get("options")
    if base is None:
        base = {k: v for k, v in body.items() if k not in SWEEP_KEYS}
    if not isinstance(base, dict):
        raise ApiError(400, "options: expected a JSON object of option names", None)
    axes = []
    for fk, vk in (("field", "values"), ("field2", "values2")):
        field, values = body.get(fk), body.get(vk)
        if field in (None, "") and vk == "values2":
            continue
        if not isinstance(field, str) or not field.strip():
            raise ApiError(400, f"{fk}: name the option to vary (e.g. batch-size)", fk)
        name = FLAG_ALIASES.get(_norm(field), _norm(field))
        if name not in PLAN_OPTIONS:
            raise ApiError(400, f"--{name}: not an option the web API accepts", fk)
        if not isinstance(values, list) or not values:
            raise ApiError(400, f"{vk}: give a non-empty list of values", vk)
        if len(values) > MAX_SWEEP_VALUES:
            raise ApiError(400, f"{vk}: at most {MAX_SWEEP_VALUES} values (got {len(values)})", vk)
        axes.append((name, values))
    if len(axes) == 2 and axes[0][0] == axes[1][0]:
        raise ApiError(400, "field2: choose a different option from field", "field2")
    total = 1
    for _, values in axes:
        total *= len(values)
    if total > MAX_SWEEP_VARIANTS:
        raise ApiError(400, f"values2: at most {MAX_SWEEP_VARIANTS} variants (got {total})", "values2")
    base = {FLAG_ALIASES.get(_norm(k), _norm(k)): v for k, v in base.items()}
    combos = [[v] for v in axes[0][1]]
    if len(axes) == 2:
        combos = [[a, b] for a in axes[0][1] for b in axes[1][1]]
    rows = []
    t0 = time.perf_counter()
    for combo in combos:
        opts = dict(base)
        row = {}
        for (name, _), v in zip(axes, combo):
            opts[name] = v
            row[name] = v
        try:
            status, d = planner.run_json(build_argv(opts, PLAN_OPTIONS, uploads))
        except ApiError as e:
            status, d = e.status, e.body()
        if status != 200:
            row.update(feasible=False, error=d.get("error"), error_field=d.get("field"), total_cost=None,
                       currency=None, time_s=None, gpus=None)
        else:
            p = d.get("plan") or {}
            row.update(feasible=bool(d.get("feasible")), total_cost=p.get("total_cost"),
                       currency=p.get("currency") or str(opts.get("currency") or "USD").upper(),
                       time_s=p.get("time_s"), gpus=p.get("gpus"), binding=d.get("binding"),
                       min_budget=d.get("min_budget"))
        rows.append(row)
    return {"fields": [a[0] for a in axes], "rows": rows, "seconds": round(time.perf_counter() - t0, 3)}


class Handler(BaseHTTPRequestHandler):
    server_version = "llm-hw-planner"
    protocol_version = "HTTP/1.1"

    # -- plumbing --------------------------------------------------------------------------------------------
    def log_message(self, fmt, *args):  # quiet unless asked: tests and terminals stay readable
        if self.server.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; frame-ancestors 'none'")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj):
        self._send(status, (json.dumps(obj, indent=1) + "\n").encode(), "application/json; charset=utf-8")

    def _error(self, e: ApiError):
        extra = {}
        if e.status == 413:
            extra["Connection"] = "close"
            self.close_connection = True
        self._send(e.status, (json.dumps(e.body()) + "\n").encode(), "application/json; charset=utf-8", extra)

    def _check_host(self):
        """Refuse DNS-rebinding: a server on a loopback address answers only to loopback host names."""
        if not self.server.loopback_only:
            return
        host = (self.headers.get("Host") or "").strip().lower()
        hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if hostname not in ("localhost", "127.0.0.1", "[::1]", ""):
            raise ApiError(403, f"host {shown(host)} refused: this server answers on localhost only", None)

    def _read_body(self, limit: int) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise ApiError(411, "send a Content-Length (chunked bodies are not accepted)", None)
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise ApiError(411, "a Content-Length header is required", None) from None
        if length < 0:
            raise ApiError(400, "bad Content-Length", None)
        if length > limit:
            self._drain(length)
            raise ApiError(413, f"request body too large: {length:,} bytes (limit {limit:,})", None)
        return self.rfile.read(length)

    def _drain(self, length: int):
        """Read (and drop) a refused body, so the client sees the 413 instead of a reset connection."""
        if length > 256 << 20:
            return
        self.connection.settimeout(5)
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    break
                length -= len(chunk)
        except OSError:
            pass

    def _json_body(self) -> dict:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":  # not a "simple" type: a cross-site form cannot post here unasked
            self._read_body(MAX_JSON_BODY)
            raise ApiError(415, "send the options as Content-Type: application/json", None)
        raw = self._read_body(MAX_JSON_BODY)
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError) as e:
            raise ApiError(400, f"the request body is not valid JSON ({e})", None) from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object of option names", None)
        return body

    # -- GET: static files and read-only API ---------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        try:
            self._check_host()
            path = urlsplit(self.path).path
            if path == "/api/catalog":
                return self._cli_get(["catalog", "--json"])
            if path == "/api/models":
                return self._cli_get(["models", "--json"])
            if path == "/api/options":
                return self._json(200, options())
            if path.startswith("/api/"):
                raise ApiError(404, f"no such endpoint: GET {path}", None)
            self._static(path)
        except ApiError as e:
            self._error(e)

    def _cli_get(self, argv: list[str]):
        rc, out, err = self.server.planner.run(argv)
        if rc != 0:
            raise ApiError(500, err.strip().removeprefix("error: "), None)
        self._send(200, out.encode(), "application/json; charset=utf-8")

    def _static(self, url_path: str):
        rel = unquote(url_path).lstrip("/") or "index.html"
        if "\x00" in rel or "\\" in rel:
            raise ApiError(404, "not found", None)
        root = STATIC_DIR
        target = (root / rel).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise ApiError(404, "not found", None)
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "text/javascript"):
            ctype += "; charset=utf-8"
        if target.suffix == ".js":
            ctype = "text/javascript; charset=utf-8"
        self._send(200, target.read_bytes(), ctype)

    # -- POST: the API -------------------------------------------------------------------------------------
    def do_POST(self):
        try:
            self._check_host()
            url = urlsplit(self.path)
            route = {"/api/plan": self._plan, "/api/estimate": self._estimate, "/api/proposal": self._proposal,
                     "/api/sweep": self._sweep, "/api/upload": self._upload}.get(url.path)
            if route is None:
                length = self.headers.get("Content-Length") or "0"
                self._drain(int(length) if length.isdigit() else 0)
                raise ApiError(404, f"no such endpoint: POST {url.path}", None)
            route(parse_qs(url.query))
        except ApiError as e:
            self._error(e)
        except Exception as e:  # a bug in the server itself: one line, like the CLI
            if os.environ.get("PLANNER_DEBUG"):
                raise
            self._error(ApiError(500, f"internal error ({type(e).__name__}: {e})", None))

    def _plan(self, query):
        argv = ["plan"] + build_argv(self._json_body(), PLAN_OPTIONS, self.server.uploads)
        self._json(*self.server.planner.run_json(argv))

    def _estimate(self, query):
        argv = ["estimate"] + build_argv(self._json_body(), ESTIMATE_OPTIONS, self.server.uploads)
        self._json(*self.server.planner.run_json(argv))

    def _sweep(self, query):
        self._json(200, sweep_rows(self.server.planner, self.server.uploads, self._json_body()))

    def _proposal(self, query):
        fmt = (query.get("format") or ["html"])[0].lower()
        if fmt not in ("html", "md"):
            raise ApiError(400, f"format: expected html or md, got {shown(fmt)}", "format")
        argv = ["plan"] + build_argv(self._json_body(), PLAN_OPTIONS, self.server.uploads)
        with tempfile.TemporaryDirectory(prefix="plan-proposal-") as tmp:
            path = os.path.join(tmp, f"proposal.{fmt}")
            status, body = self.server.planner.run_json(argv + [f"--proposal={path}"])
            if status == 200 and not os.path.exists(path):
                raise ApiError(409, "no plan fits, so there is nothing to propose: "
                                    + str(body.get("reason") or body.get("binding") or ""), None)
            if status != 200:
                return self._json(status, body)
            data = Path(path).read_bytes()
        model = re.sub(r"[^A-Za-z0-9._-]+", "-", str((body.get("estimate") or {}).get("model") or "plan"))
        name = f"proposal-{model}.{fmt}"
        ctype = "text/html; charset=utf-8" if fmt == "html" else "text/markdown; charset=utf-8"
        self._send(200, data, ctype, {"Content-Disposition": f'attachment; filename="{name}"'})

    def _upload(self, query):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype not in ("application/octet-stream", "application/json"):  # not a cross-site "simple" request
            self._read_body(MAX_GGUF_BYTES)
            raise ApiError(415, "send the file as Content-Type: application/octet-stream", "model")
        data = self._read_body(MAX_GGUF_BYTES)
        if not data:
            raise ApiError(400, "upload: the body is empty; send the file's bytes", "model")
        name = (query.get("name") or [self.headers.get("X-Filename") or ""])[0]
        self._json(200, self.server.uploads.add(data, name))


class PlannerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, verbose: bool = False):
        super().__init__(address, Handler)
        self.planner = Planner()
        self.uploads = Uploads()
        self.verbose = verbose
        self.loopback_only = address[0] in ("127.0.0.1", "localhost", "::1")

    def server_close(self):
        super().server_close()
        self.uploads.close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def make_server(host: str = "127.0.0.1", port: int = 8000, verbose: bool = False) -> PlannerServer:
    return PlannerServer((host, port), verbose=verbose)


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False, out=None) -> int:
    from planner.errors import InputError
    out = out or sys.stdout
    if not 0 <= port <= 65535:
        raise InputError(f"--port: must be 0-65535, got {port}")
    try:
        httpd = make_server(host, port, verbose=True)
    except OSError as e:
        raise InputError(f"--port: cannot listen on {host}:{port} ({e.strerror or e})") from None
    print(f"llm-hw-planner: serving {httpd.url} (Ctrl+C stops it)", file=out, flush=True)
    if not httpd.loopback_only:
        print(f"warning: --host {host} makes the page reachable from other machines; it has no login",
              file=out, flush=True)
    if open_browser:
        import webbrowser
        threading.Timer(0.5, webbrowser.open, args=(httpd.url,)).start()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0
