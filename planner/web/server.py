"""`plan serve`: a web page and a JSON API over planner.api, on FastAPI + uvicorn.

Why this stack: FastAPI validates with the same pydantic models the planner's core declares (planner/api.py) and
publishes them as OpenAPI at /docs; uvicorn is the maintained ASGI server FastAPI documents, with a real listen
backlog, a keep-alive timeout and a concurrency cap answered with 503. Plans run in worker processes (one per core
by default), so a slow request (a large GGUF upload being parsed) never holds up the others, and the answer of
POST /api/plan is exactly what `plan ... --json` prints (both are planner.api's result model, dumped once).

Defences, each for an abuse seen in testing (issue 19): request headers must arrive within HEADER_TIMEOUT_S and
bodies within BODY_TIMEOUT_S; idle keep-alive connections close after KEEP_ALIVE_S; at most MAX_CONNECTIONS
connections (503 beyond); JSON bodies and uploads share bounded memory and disk budgets (503 when spent);
uploads live in one temporary directory removed on exit (SIGTERM, SIGHUP, Ctrl+C) and, if the process was killed,
by the next server's start; the Host header must name this server at every bind address (DNS rebinding) and a
cross-site Origin is refused; bound beyond loopback, every request needs the random token printed in the URL (as
Jupyter does). The client never names a file on this machine: model names are never read as paths, --catalog
and --proposal are refused, and an uploaded file is named by the token the server gave it.
"""
import asyncio
import atexit
import ipaddress
import json
import mimetypes
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from planner.errors import shown          # a user's value in a message: bounded

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_JSON_BODY = 1 << 20          # API requests: 1 MiB of JSON options is plenty
MAX_CONFIG_BYTES = 4 << 20       # an uploaded config.json
MAX_GGUF_BYTES = 64 << 20        # the first bytes of a GGUF file (its header and metadata)
MAX_UPLOADS = 64                 # kept per server; the oldest is dropped first
MAX_UPLOAD_DISK = 512 << 20      # all kept uploads together; the oldest are dropped first
MAX_BODY_BYTES_IN_FLIGHT = 256 << 20   # request bodies being received at once (memory and disk); 503 beyond
MAX_DRAIN_BYTES = 16 << 20      # a refused body up to this size is read and dropped before the 413/415
MAX_SWEEP_VALUES = 50
MAX_SWEEP_VARIANTS = 100
MAX_CONNECTIONS = 2000           # open connections; uvicorn answers 503 beyond (fewer if file descriptors are few)
BACKLOG = 2048                   # listen(2) queue: a burst of connections waits instead of being refused
HEADER_TIMEOUT_S = 10            # a connection that has not sent a whole request head by then is closed
KEEP_ALIVE_S = 5                 # an idle keep-alive connection is closed after this
BODY_TIMEOUT_S = 30              # a body that stops arriving for this long is abandoned (408)
MAX_PENDING_PER_WORKER = 64      # queued plans per worker process before new ones get 503
TEMP_PREFIX = "plan-serve-"
SWEEP_KEYS = ("field", "values", "field2", "values2", "options")
ALIASES = {"deadline_days": "deadline"}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    def body(self) -> dict:
        return {"error": self.message, "field": self.field}


def accepted_options(kind: str) -> set[str]:
    """The options the web API takes for a command (CLI spelling): every request field but the local-file ones."""
    from planner import api
    return {name.replace("_", "-") for name, field in api.REQUESTS[kind].model_fields.items()
            if not api.cli_meta(field).local_file}


def _norm(key) -> str:
    return str(key).strip().lstrip("-").replace("-", "_").lower()


def field_of(message: str) -> str | None:
    """The option an error line names: '--batch-size: ...' -> 'batch-size'."""
    m = re.search(r"--([a-z][a-z0-9-]*)", message)
    if not m:
        return None
    name = m.group(1)
    return {"deadline-days": "deadline"}.get(name, name)


# ---------------------------------------------------------------------------------------------------
# The work, run in a worker process (or a thread when workers=0): planner.api in, (status, JSON bytes) out

def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl+C reaches the whole process group; the parent stops us
    from planner import api
    api.plan(model="8b", method="lora", alternatives=1)   # warm every cache (models, catalogue, throughput, solver)


def work(kind: str, options: dict, upload: str | None = None, proposal: str | None = None) -> tuple[int, bytes]:
    """One API call: 200 with the JSON of record (no plan fitting is 200 too), 400 with the one-line error the CLI
    prints and the option it names, 500 for a bug."""
    from pydantic import ValidationError

    from planner import api
    from planner.cli import _one_line, _validation_message
    from planner.errors import InputError
    from planner.workload import WorkloadError
    try:
        if kind == "catalog":
            return 200, api.dumps(api.run_catalog()).encode()
        if kind == "models":
            return 200, api.dumps(api.models()).encode()
        req = api.request(api.REQUESTS[kind], options)
        if upload is not None:
            req.model = upload
        if kind == "estimate":
            return 200, api.dumps(api.run_estimate(req, files=upload is not None)).encode()
        if kind == "capacity":
            return 200, api.dumps(api.run_capacity(req, files=upload is not None)).encode()
        if proposal is not None:
            req.proposal = proposal
        result = api.run_plan(req, files=upload is not None)
        if proposal is not None:
            if not result.feasible:
                reason = result.reason or result.binding or ""
                return 409, _body(f"no plan fits, so there is nothing to propose: {reason}", None)
            return 200, Path(proposal).read_bytes()
        return 200, api.dumps(result).encode()
    except InputError as e:
        message = _one_line(str(e))
        return 400, _body(message, getattr(e, "field", None) or field_of(message))
    except (ValidationError, WorkloadError) as e:
        message = _one_line(_validation_message(e))
        return 400, _body(message, field_of(message))
    except Exception as e:  # a bug, not bad input: one line, like the CLI
        if os.environ.get("PLANNER_DEBUG"):
            raise
        return 500, _body(_one_line(f"internal error ({type(e).__name__}: {e}); rerun with PLANNER_DEBUG=1 and "
                                    "report it"), None)


def _body(message: str, field: str | None) -> bytes:
    return (json.dumps({"error": message, "field": field}) + "\n").encode()


# ---------------------------------------------------------------------------------------------------
# Uploads and byte budgets

class Budget:
    """Bytes that may be held at once (bodies in flight): take() fails instead of waiting, so the caller can 503."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self.lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self.lock:
            if self.used + n > self.limit:
                return False
            self.used += n
            return True

    def give(self, n: int) -> None:
        with self.lock:
            self.used -= n


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_dirs(root: str | None = None) -> int:
    """Temporary directories of servers that were killed (SIGKILL, power loss): removed at the next start."""
    root = root or tempfile.gettempdir()
    removed = 0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return 0
    for entry in entries:
        m = re.fullmatch(re.escape(TEMP_PREFIX) + r"(\d+)-.*", entry.name)
        if m and entry.is_dir(follow_symlinks=False) and int(m.group(1)) != os.getpid() \
                and not _pid_alive(int(m.group(1))):
            try:
                if entry.stat(follow_symlinks=False).st_uid == os.getuid():
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed += 1
            except OSError:
                pass
    return removed


class Uploads:
    """Files the client uploaded, each under a random token, in one temporary directory removed at exit."""

    def __init__(self):
        remove_stale_dirs()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
        self.files: dict[str, tuple[Path, int]] = {}
        self.lock = threading.Lock()
        atexit.register(self.close)

    def new_folder(self) -> tuple[str, Path]:
        token = secrets.token_hex(12)
        folder = self.dir / token
        folder.mkdir()
        return token, folder

    def keep(self, token: str, path: Path, size: int) -> None:
        with self.lock:
            self.files[token] = (path, size)
            while len(self.files) > MAX_UPLOADS or sum(s for _, s in self.files.values()) > MAX_UPLOAD_DISK:
                old = next(iter(self.files))
                self.files.pop(old)
                shutil.rmtree(self.dir / old, ignore_errors=True)

    def path(self, token: str) -> Path:
        with self.lock:
            entry = self.files.get(token)
        if entry is None or not entry[0].exists():
            raise ApiError(400, f"--model: unknown upload token {shown(token)}; upload the file again", "model")
        return entry[0]

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------
# Who may ask: Host, Origin, token

def _host_name(host_header: str) -> str:
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:].split("]")[0]
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


class Access:
    """Host and Origin checks at every bind address, and the access token off loopback."""

    def __init__(self, bind_host: str, token: str | None, allow_hosts: tuple[str, ...] = ()):
        self.loopback = _is_loopback(bind_host)
        self.token = token
        names = set(LOOPBACK_NAMES) | {h.lower() for h in allow_hosts}
        self.any_ip = False
        if not self.loopback:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
            if bind_host in ("", "0.0.0.0", "::"):
                self.any_ip = True           # an IP literal cannot be a rebinding attack: no name was resolved
            else:
                names.add(bind_host.lower().strip("[]"))
        self.names = names

    def host_ok(self, host_header: str) -> bool:
        name = _host_name(host_header)
        return name in self.names or (self.any_ip and _is_ip(name))

    def origin_ok(self, origin: str | None, host_header: str) -> bool:
        if origin is None:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == host_header.strip().lower()

    def token_ok(self, query_token: str | None, cookie: str | None, authorization: str | None) -> bool:
        if self.token is None:
            return True
        given = query_token or cookie or (authorization or "").removeprefix("Token ").removeprefix("Bearer ")
        return bool(given) and secrets.compare_digest(given.encode(), self.token.encode())


def _is_loopback(host: str) -> bool:
    h = host.strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------------
# The application

SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]
PAGE_CSP = b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; frame-ancestors 'none'"
# /docs is FastAPI's Swagger UI, which loads its script and style from the jsDelivr CDN
DOCS_CSP = (b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; style-src 'self' "
            b"https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'")


class State:
    def __init__(self, executor: Executor, workers: int, access: Access):
        self.executor, self.workers, self.access = executor, workers, access
        self.uploads = Uploads()
        self.bodies = Budget(MAX_BODY_BYTES_IN_FLIGHT)
        self.pending = 0
        self.cache: dict[str, bytes] = {}

    async def run(self, kind: str, options: dict, upload: str | None = None,
                  proposal: str | None = None) -> tuple[int, bytes]:
        limit = MAX_PENDING_PER_WORKER * max(1, self.workers)
        if self.pending >= limit:
            raise ApiError(503, f"server busy: {self.pending} plans queued; retry shortly", None)
        self.pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, _call_work, kind, options, upload, proposal)
        finally:
            self.pending -= 1


def _call_work(kind, options, upload=None, proposal=None):
    return work(kind, options, upload, proposal)


def create_app(state: State):
    from planner import __version__, api

    app = FastAPI(title="llm-hw-planner", version=__version__,
                  description="What hardware to buy or rent to run an LLM workload. The request bodies are "
                              "planner.api's request models (the CLI's long flags with underscores); the answers are "
                              "exactly what `plan ... --json` prints.")
    app.state.planner = state

    def json_response(status: int, body: bytes, extra: dict | None = None) -> Response:
        return Response(body, status_code=status, media_type="application/json; charset=utf-8", headers=extra)

    def error_response(e: ApiError) -> Response:
        extra = {"Connection": "close"} if e.status in (408, 413) else None
        return json_response(e.status, (json.dumps(e.body()) + "\n").encode(), extra)

    @app.exception_handler(ApiError)
    async def _api_error(request, e: ApiError):
        return error_response(e)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, e):
        message = "not found" if e.status_code == 404 else str(e.detail)
        if e.status_code == 405:
            message = f"method {request.method} not allowed on {request.url.path}"
        return error_response(ApiError(e.status_code, message, None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, e):
        return error_response(ApiError(400, "bad request", None))

    @app.exception_handler(Exception)
    async def _bug(request, e):
        return error_response(ApiError(500, f"internal error ({type(e).__name__}: {e})", None))

    async def read_body(request: Request, limit: int, kinds: tuple[str, ...], dest: Path | None = None) -> bytes:
        """The body, bounded in size, time and shared memory; to `dest` on disk when given (uploads)."""
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if request.headers.get("transfer-encoding"):
            raise ApiError(411, "send a Content-Length (chunked bodies are not accepted)", None)
        try:
            length = int(request.headers.get("content-length", ""))
        except ValueError:
            raise ApiError(411, "a Content-Length header is required", None) from None
        if length < 0:
            raise ApiError(400, "bad Content-Length", None)
        if ctype not in kinds:   # not a cross-site "simple" content type: a foreign form cannot post here unasked
            await drain(request, length)
            raise ApiError(415, f"send the body as Content-Type: {kinds[0]}", "model" if dest else None)
        if length > limit:
            await drain(request, length)
            raise ApiError(413, f"request body too large: {length:,} bytes (limit {limit:,})", None)
        if not state.bodies.take(length):
            raise ApiError(503, "server busy: too many request bodies in flight; retry shortly", None)
        try:
            chunks, got = [], 0
            out = open(dest, "wb") if dest else None
            try:
                stream = request.stream().__aiter__()
                deadline = time.monotonic() + BODY_TIMEOUT_S + length / (256 << 10)   # >= 256 KiB/s
                while True:
                    left = deadline - time.monotonic()
                    try:
                        chunk = await asyncio.wait_for(stream.__anext__(), timeout=max(0.1, min(left,
                                                                                               BODY_TIMEOUT_S)))
                    except StopAsyncIteration:
                        break
                    except asyncio.TimeoutError:
                        raise ApiError(408, "request body timed out", None) from None
                    got += len(chunk)
                    if got > length:
                        raise ApiError(400, "body longer than its Content-Length", None)
                    if out:
                        out.write(chunk)
                    else:
                        chunks.append(chunk)
            finally:
                if out:
                    out.close()
            return b"".join(chunks)
        finally:
            state.bodies.give(length)

    async def drain(request: Request, length: int) -> None:
        """Read and drop a refused body of moderate size, so the client reads the answer instead of a reset."""
        if length > MAX_DRAIN_BYTES:
            return
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):
                async for _ in request.stream():
                    pass
        except (TimeoutError, Exception):
            pass

    async def json_body(request: Request) -> dict:
        raw = await read_body(request, MAX_JSON_BODY, ("application/json",))
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            message = "nested too deeply" if isinstance(e, RecursionError) else str(e)
            raise ApiError(400, f"the request body is not valid JSON ({message})", None) from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object of option names", None)
        return body

    def options_of(body: dict, kind: str) -> tuple[dict, str | None]:
        """Client option names (either spelling) -> request fields; refused: unknown options, local files."""
        model = api.REQUESTS[kind]
        options: dict = {}
        upload = None
        for raw_key, value in body.items():
            key = _norm(raw_key)
            negate = key.startswith("no_") and key[3:] in model.model_fields
            key = ALIASES.get(key[3:] if negate else key, key[3:] if negate else key)
            flag = key.replace("_", "-")
            field = model.model_fields.get(key)
            if field is None or api.cli_meta(field).local_file:
                raise ApiError(400, f"--{flag}: not an option the web API accepts", flag)
            if key in options:
                raise ApiError(400, f"--{flag}: given twice", flag)
            if value is None or value == "" or value == []:
                continue
            if isinstance(value, dict):
                raise ApiError(400, f"--{flag}: expected a value, got an object", flag)
            if negate:
                if not isinstance(value, bool):
                    raise ApiError(400, f"--no-{flag}: expected true or false, got {shown(value)}", flag)
                value = not value
            if key == "model" and isinstance(value, str) and value.strip().startswith("upload:"):
                upload = str(state.uploads.path(value.strip()[len("upload:"):]))
            options[key] = value
        return options, upload

    async def answer(kind: str, body: dict) -> Response:
        options, upload = options_of(body, kind)
        status, payload = await state.run(kind, options, upload)
        return json_response(status, payload)

    @app.post("/api/plan", responses={200: {"model": api.PlanResult}},
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": api.PlanRequest.model_json_schema()}}}})
    async def plan(request: Request):
        """Plan hardware: the body is planner.api.PlanRequest; the answer is `plan --json` (200 also when no plan
        fits: read `feasible`)."""
        return await answer("plan", await json_body(request))

    @app.post("/api/estimate", responses={200: {"model": api.EstimateResult}},
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": api.EstimateRequest.model_json_schema()}}}})
    async def estimate(request: Request):
        """Peak memory of one configuration: the body is planner.api.EstimateRequest; the answer is
        `plan estimate --json`."""
        return await answer("estimate", await json_body(request))

    @app.post("/api/capacity", responses={200: {"model": api.CapacityResult}},
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": api.CapacityRequest.model_json_schema()}}}})
    async def capacity(request: Request):
        """What owned cards serve: the body is planner.api.CapacityRequest; the answer is `plan capacity --json`
        (200 also when it does not fit: read `fits`)."""
        return await answer("capacity", await json_body(request))

    @app.post("/api/proposal")
    async def proposal(request: Request, format: str = "html"):
        """A procurement proposal (HTML or Markdown) for the plan the body asks for."""
        fmt = format.lower()
        if fmt not in ("html", "md"):
            raise ApiError(400, f"format: expected html or md, got {shown(fmt)}", "format")
        options, upload = options_of(await json_body(request), "plan")
        with tempfile.TemporaryDirectory(prefix="proposal-", dir=state.uploads.dir) as tmp:
            status, payload = await state.run("plan", options, upload, os.path.join(tmp, f"proposal.{fmt}"))
        if status != 200:
            return json_response(status, payload)
        model = re.sub(r"[^A-Za-z0-9._-]+", "-", str(options.get("model") if not upload else "uploaded-model"))
        ctype = "text/html; charset=utf-8" if fmt == "html" else "text/markdown; charset=utf-8"
        return Response(payload, media_type=ctype,
                        headers={"Content-Disposition": f'attachment; filename="proposal-{model[:80]}.{fmt}"'})

    @app.post("/api/sweep")
    async def sweep(request: Request):
        """Plans over one or two lists of option values (at most 100 variants), run in parallel."""
        return json_response(200, (json.dumps(await sweep_rows(await json_body(request)), indent=1) + "\n").encode())

    async def sweep_rows(body: dict) -> dict:
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
            name = ALIASES.get(_norm(field), _norm(field))
            f = api.PlanRequest.model_fields.get(name)
            if f is None or api.cli_meta(f).local_file:
                raise ApiError(400, f"--{name.replace('_', '-')}: not an option the web API accepts", fk)
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
        base = {ALIASES.get(_norm(k), _norm(k)): v for k, v in base.items()}
        combos = [[v] for v in axes[0][1]]
        if len(axes) == 2:
            combos = [[a, b] for a in axes[0][1] for b in axes[1][1]]
        t0 = time.perf_counter()

        async def one(combo):
            opts = dict(base)
            row = {}
            for (name, _), v in zip(axes, combo):
                opts[name] = v
                row[name.replace("_", "-")] = v
            try:
                options, upload = options_of(opts, "plan")
                status, payload = await state.run("plan", options, upload)
                d = json.loads(payload)
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
            return row
        rows = await asyncio.gather(*(one(c) for c in combos))
        return {"fields": [a[0].replace("_", "-") for a in axes], "rows": rows,
                "seconds": round(time.perf_counter() - t0, 3)}

    @app.post("/api/upload")
    async def upload(request: Request, name: str = ""):
        """A config.json (at most 4 MiB) or the head of a GGUF file (at most 64 MiB); answers the upload token to
        pass as model: "upload:TOKEN"."""
        token, folder = state.uploads.new_folder()
        try:
            part = folder / "body.part"
            await read_body(request, MAX_GGUF_BYTES, ("application/octet-stream", "application/json"), part)
            size = part.stat().st_size
            if size == 0:
                raise ApiError(400, "upload: the body is empty; send the file's bytes", "model")
            filename = name or request.headers.get("x-filename") or ""
            with open(part, "rb") as f:
                head = f.read(4)
            if head == b"GGUF":
                kind, limit = "gguf", MAX_GGUF_BYTES
                stored = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(filename))[:120]
                if not stored.lower().endswith(".gguf"):
                    stored = "model.gguf"
            else:
                # the CLI names a model after FILE.json's stem, or after the folder of a config.json
                kind, limit = "config.json", MAX_CONFIG_BYTES
                stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(os.path.basename(filename)).stem)[:120].strip("._")
                stored = f"{stem}.json" if stem and stem != "config" else "uploaded-model/config.json"
                if size > limit:
                    raise ApiError(413, f"upload: a config.json may be at most {limit >> 20} MiB (got "
                                        f"{size / (1 << 20):.1f} MiB); a GGUF file starts with 'GGUF'", "model")
                try:
                    cfg = json.loads(part.read_bytes().decode("utf-8"))
                except (UnicodeDecodeError, ValueError, RecursionError) as e:
                    raise ApiError(400, f"upload: not a GGUF file and not valid JSON ({str(e)[:200]})",
                                   "model") from None
                if not isinstance(cfg, dict):
                    raise ApiError(400, "upload: a config.json must hold a JSON object", "model")
            path = folder / stored
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, path)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        state.uploads.keep(token, path, size)
        return json_response(200, (json.dumps({"token": token, "model": f"upload:{token}", "kind": kind,
                                               "name": stored, "bytes": size, "limit_bytes": limit},
                                              indent=1) + "\n").encode())

    async def cached(kind: str) -> Response:
        if kind not in state.cache:
            status, payload = await state.run(kind, {})
            if status != 200:
                return json_response(status, payload)
            state.cache[kind] = payload
        return json_response(200, state.cache[kind])

    api._complete(api.CatalogResult)         # its item types come from planner.catalog (see api._complete)

    @app.get("/api/catalog", responses={200: {"model": api.CatalogResult}})
    async def catalog():
        """The hardware catalogue: `plan catalog --json`."""
        return await cached("catalog")

    options_body = (json.dumps(api.options(), indent=1) + "\n").encode()

    @app.get("/api/options")
    async def options():
        """The allowed values of every closed-set option (from planner.api's request model: the CLI's own)."""
        return json_response(200, options_body)

    @app.get("/api/models", responses={200: {"model": api.ModelsResult}})
    async def models():
        """Built-in models and size aliases: `plan models --json`."""
        return await cached("models")

    static = _static_files()

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def page(path: str, request: Request):
        if request.url.path.startswith("/api/"):
            raise ApiError(404, f"no such endpoint: {request.method} {request.url.path}", None)
        rel = path.lstrip("/") or "index.html"
        hit = static.get(rel)
        if hit is None:
            raise ApiError(404, "not found", None)
        data, ctype = hit
        return Response(data, media_type=ctype)

    return _guard(app, state.access)


def _static_files() -> dict[str, tuple[bytes, str]]:
    """The page's files, read once: a request can only ever name one of these (no path is resolved per request)."""
    files = {}
    for p in STATIC_DIR.rglob("*"):
        if p.is_file():
            rel = p.relative_to(STATIC_DIR).as_posix()
            ctype = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
            if p.suffix == ".js":
                ctype = "text/javascript"
            if ctype.startswith("text/") or ctype == "application/json":
                ctype += "; charset=utf-8"
            files[rel] = (p.read_bytes(), ctype)
    return files


def _guard(app, access: Access):
    """Plain ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware): Host, Origin and token checks before
    the app; security headers after."""
    from http.cookies import SimpleCookie
    from urllib.parse import parse_qs

    async def refuse(send, status: int, message: str):
        body = (json.dumps({"error": message, "field": None}) + "\n").encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": body})

    async def guarded(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if not access.host_ok(host):
            return await refuse(send, 403, f"host {shown(host)} refused: this server answers to its own names only")
        if scope["method"] not in ("GET", "HEAD") and not access.origin_ok(headers.get("origin"), host):
            return await refuse(send, 403, "cross-site request refused (Origin is not this server)")
        set_cookie = None
        if access.token is not None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            query_token = (query.get("token") or [None])[0]
            cookie = SimpleCookie()
            try:
                cookie.load(headers.get("cookie", ""))
            except Exception:
                pass
            cookie_token = cookie["plan_token"].value if "plan_token" in cookie else None
            if not access.token_ok(query_token, cookie_token, headers.get("authorization")):
                return await refuse(send, 403, "this server needs its access token: open the URL `plan serve` "
                                               "printed (…/?token=…)")
            if query_token:
                set_cookie = f"plan_token={access.token}; HttpOnly; SameSite=Strict; Path=/".encode()
        docs = scope["path"] in ("/docs", "/redoc", "/docs/oauth2-redirect")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS) + [(b"content-security-policy", DOCS_CSP if docs else PAGE_CSP)]
                if set_cookie:
                    extra.append((b"set-cookie", set_cookie))
                message = dict(message, headers=list(message.get("headers", [])) + extra)
            await send(message)
        return await app(scope, receive, send_with_headers)
    return guarded


# ---------------------------------------------------------------------------------------------------
# Listening

def _protocol_class():
    """uvicorn's h11 protocol plus a deadline for each request head: uvicorn's own keep-alive timer stops at the
    first byte, so a client trickling a header (or never sending one) would hold its connection for ever."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        _head_timer = None

        def _arm(self):
            self._disarm()
            self._head_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._head_timeout)

        def _disarm(self):
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self):
            self._head_timer = None
            waiting = self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)
            if waiting and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm()

        def handle_events(self):
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def on_response_complete(self):
            self._arm()
            super().on_response_complete()

        def connection_lost(self, exc):
            self._disarm()
            super().connection_lost(exc)
    return Protocol


def listen(host: str, port: int) -> socket.socket:
    """A listening socket with a real backlog, IPv4 or IPv6 ('::' listens on both); bad input -> InputError."""
    from planner.errors import InputError
    if not 0 <= port <= 65535:
        raise InputError(f"--port: must be 0-65535, got {port}")
    host = host.strip().strip("[]")
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        raise InputError(f"--host: cannot listen on {shown(host)} ({getattr(e, 'strerror', None) or e})") from None
    family, _, _, _, addr = infos[0]
    try:
        if family == socket.AF_INET6 and host == "::" and socket.has_dualstack_ipv6():
            sock = socket.create_server(addr, family=family, backlog=BACKLOG, dualstack_ipv6=True)
        else:
            sock = socket.create_server(addr[:2] if family == socket.AF_INET else addr, family=family,
                                        backlog=BACKLOG)
    except OSError as e:
        where = f"[{host}]" if ":" in host else host
        raise InputError(f"--port: cannot listen on {where}:{port} ({e.strerror or e})") from None
    sock.setblocking(False)
    return sock


def connection_cap() -> int:
    """MAX_CONNECTIONS, or fewer where the file-descriptor limit is lower (it is raised to the hard limit first:
    many systems start processes at 1,024, which idle connections would exhaust before the cap answers 503)."""
    try:
        import resource
    except ImportError:                     # Windows: no RLIMIT_NOFILE
        return MAX_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * MAX_CONNECTIONS if hard == resource.RLIM_INFINITY else min(hard, 4 * MAX_CONNECTIONS)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return MAX_CONNECTIONS if soft == resource.RLIM_INFINITY else max(32, min(MAX_CONNECTIONS, soft // 2 - 64))


def _executor(workers: int) -> Executor:
    if workers <= 0:                       # in-process (tests): one thread, so a monkeypatch reaches the work
        return ThreadPoolExecutor(max_workers=1, initializer=None)
    import multiprocessing
    # spawned, not forked: a process that has run HiGHS holds its threads' locks (planner/scenario.py)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker)


class PlannerServer:
    """A server on one socket: serve_forever() in any thread, shutdown() from another, server_close() at the end."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8000, workers: int | None = None, verbose: bool = False,
                 token: str | None = None, allow_hosts: tuple[str, ...] = (), max_connections: int | None = None):
        import uvicorn
        self.sock = listen(host, port)
        self.host = host.strip().strip("[]")
        self.loopback = _is_loopback(self.host)
        self.token = token if token is not None else (None if self.loopback else secrets.token_urlsafe(24))
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.state = State(_executor(self.workers), self.workers, Access(self.host, self.token, allow_hosts))
        import copy
        from uvicorn.config import LOGGING_CONFIG
        logging_config = copy.deepcopy(LOGGING_CONFIG)
        # uvicorn writes its access log to stdout; here stdout carries only the URL line, so a caller that reads
        # that line and nothing more (a pipe left full) can never block the server: every log line goes to stderr
        logging_config["handlers"]["access"]["stream"] = "ext://sys.stderr"
        config = uvicorn.Config(create_app(self.state), http=_protocol_class(), lifespan="off",
                                log_config=logging_config, log_level="info" if verbose else "warning",
                                access_log=verbose,
                                limit_concurrency=max_connections or connection_cap(), backlog=BACKLOG,
                                timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=5,
                                server_header=False, date_header=False,
                                h11_max_incomplete_event_size=16 << 10)
        self.server = uvicorn.Server(config)
        self.done = threading.Event()

    @property
    def server_address(self) -> tuple:
        return self.sock.getsockname()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if self.host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        where = f"[{host}]" if ":" in host else host
        return f"http://{where}:{port}/" + (f"?token={self.token}" if self.token else "")

    def warm_up(self) -> None:
        """Start the worker processes now (each imports the planner), not on the first client's request."""
        futures = [self.state.executor.submit(_call_work, "models", {}) for _ in range(max(1, self.workers))]
        for f in futures:
            f.result()

    def serve_forever(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.done.set()

    def shutdown(self) -> None:
        self.server.should_exit = True
        self.done.wait(30)

    def server_close(self) -> None:
        try:
            self.sock.close()
        finally:
            self.state.executor.shutdown(wait=True, cancel_futures=True)
            self.state.uploads.close()


def make_server(host: str = "127.0.0.1", port: int = 8000, verbose: bool = False, workers: int = 0,
                **kw) -> PlannerServer:
    return PlannerServer(host, port, workers=workers, verbose=verbose, **kw)


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False, out=None,
          workers: int | None = None) -> int:
    from planner.errors import InputError
    out = out or sys.stdout
    if workers is not None and not 1 <= workers <= 512:
        raise InputError(f"--workers: must be 1-512, got {workers}")
    httpd = PlannerServer(host, port, workers=workers, verbose=True)
    stop = {"signal": None}

    def on_signal(signum, frame):
        # uvicorn stops on SIGINT/SIGTERM and then re-raises the signal to the previous handler (this one):
        # end with SystemExit so the finally below removes the uploads; SIGHUP (terminal closed) stops it too
        stop["signal"] = signum
        if httpd.server.started and not httpd.server.should_exit:
            httpd.server.should_exit = True
        else:
            raise SystemExit(0)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, on_signal)
    try:
        httpd.warm_up()
        print(f"llm-hw-planner: serving {httpd.url} (API docs at /docs; Ctrl+C stops it)", file=out, flush=True)
        if not httpd.loopback:
            print(f"note: --host {host} makes the page reachable from other machines; the token in the URL is its "
                  "password", file=out, flush=True)
        if open_browser:
            import webbrowser
            threading.Timer(0.5, webbrowser.open, args=(httpd.url,)).start()
        httpd.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        httpd.server_close()
    return 0
