"""`plan serve`: the JSON API over real HTTP, and the page in a real browser (Chromium via Playwright)."""
import http.client
import io
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from planner.cli import main
from planner.web.server import MAX_JSON_BODY, STATIC_DIR, make_server

HEADLINE = ["--model", "70b", "--method", "qlora", "--budget", "200000"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def cli_json(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv) + ["--json"], out=out, err=err)
    return code, (json.loads(out.getvalue()) if out.getvalue() else None), err.getvalue()


def comparable(d):
    """A plan's JSON less the solver's wall-clock time, the one field that differs between two runs."""
    return {k: v for k, v in d.items() if k != "solve_seconds"}


@pytest.fixture(scope="module")
def server():
    httpd = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def request(server, method, path, body=None, headers=None, raw=None):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=hdrs)
    r = conn.getresponse()
    payload = r.read()
    conn.close()
    return r.status, r.headers, payload     # header names are case-insensitive (r.headers is a Message)


def test_plan_api_equals_cli_json(server):
    status, _, payload = request(server, "POST", "/api/plan", {"model": "70b", "method": "qlora", "budget": 200000})
    assert status == 200
    code, expected, _ = cli_json(HEADLINE)
    assert code == 0
    assert comparable(json.loads(payload)) == comparable(expected)


def test_estimate_api_equals_cli_json_and_accepts_either_spelling(server):
    status, _, payload = request(server, "POST", "/api/estimate",
                                 {"model": "8b", "method": "lora", "batch_size": 2, "seq-len": 1024,
                                  "gradient_checkpointing": True})
    assert status == 200
    code, expected, _ = cli_json(["estimate", "--model", "8b", "--method", "lora", "--batch-size", "2",
                                  "--seq-len", "1024", "--gradient-checkpointing"])
    assert code == 0 and json.loads(payload) == expected


def test_capacity_api_equals_cli_json(server):
    body = {"model": "70b", "have": "2xrtx-3090", "engine": "llama.cpp", "precision": "q4_k_m"}
    status, _, payload = request(server, "POST", "/api/capacity", body)
    code, expected, _ = cli_json(["capacity", "--model", "70b", "--have", "2xrtx-3090", "--engine", "llama.cpp",
                                  "--precision", "q4_k_m"])
    assert status == 200 and code == 0 and json.loads(payload) == expected


def test_no_plan_fits_is_200_with_the_cli_json(server):
    status, _, payload = request(server, "POST", "/api/plan", {"model": "70b", "method": "qlora", "budget": 100})
    code, expected, _ = cli_json(["--model", "70b", "--method", "qlora", "--budget", "100"])
    assert code == 3 and status == 200
    d = json.loads(payload)
    assert d["feasible"] is False and comparable(d) == comparable(expected)


@pytest.mark.parametrize("options, field", [
    ({"model": "70b", "method": "qlora", "batch_size": 0}, "batch-size"),
    ({"model": "70b", "batch-size": "four"}, "batch-size"),
    ({"model": "70b", "method": "sideways"}, "method"),
    ({"model": "no-such-model-xyz"}, "model"),
    ({"model": "70b", "budget": -5}, "budget"),
])
def test_bad_field_is_400_with_the_cli_message_and_field(server, options, field):
    status, _, payload = request(server, "POST", "/api/plan", options)
    assert status == 400
    d = json.loads(payload)
    argv = []
    for k, v in options.items():
        argv.append(f"--{k.replace('_', '-')}={v}")
    code, _, err = cli_json(argv)
    assert code == 2
    assert d == {"error": err.strip().removeprefix("error: "), "field": field}


def test_options_outside_the_whitelist_and_file_paths_are_refused(server):
    for options, field in (({"model": "70b", "catalog": "/etc/passwd"}, "catalog"),
                           ({"model": "70b", "proposal": "/tmp/x.md"}, "proposal"),
                           ({"model": "/etc/passwd"}, "model"),
                           ({"model": "../calibration/configs/llama-2-7b.json"}, "model")):
        status, _, payload = request(server, "POST", "/api/plan", options)
        assert status == 400, options
        assert json.loads(payload)["field"] == field


def test_body_too_large_is_413(server):
    raw = b'{"model": "' + b"x" * (MAX_JSON_BODY + 10) + b'"}'
    status, _, payload = request(server, "POST", "/api/plan", raw=raw, headers={"Content-Type": "application/json"})
    assert status == 413
    assert "too large" in json.loads(payload)["error"]


def test_static_files_cannot_escape_the_static_directory(server):
    status, headers, body = request(server, "GET", "/")
    assert status == 200 and b"llm-hw-planner" in body and headers["Content-Type"].startswith("text/html")
    for path in ("/../server.py", "/%2e%2e/server.py", "/..%2fserver.py", "/vendor/../../server.py",
                 "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..\\server.py", "//etc/passwd"):
        status, _, body = request(server, "GET", path)
        assert status == 404, path
        assert b"import" not in body and b"root:" not in body


def test_static_assets_are_served_from_the_package(server):
    for name, ctype in (("app.js", "text/javascript"), ("style.css", "text/css"),
                        ("vendor/chart.umd.min.js", "text/javascript")):
        status, headers, body = request(server, "GET", "/" + name)
        assert status == 200 and headers["Content-Type"].startswith(ctype)
        assert body == (STATIC_DIR / name).read_bytes()
    assert (STATIC_DIR / "vendor" / "chart.js-LICENSE.md").is_file()


def test_catalog_api_is_the_cli_catalog(server):
    status, _, payload = request(server, "GET", "/api/catalog")
    code, expected, _ = cli_json(["catalog"])
    assert status == 200 and json.loads(payload) == expected and "USD" in expected["rates"]


def test_openapi_describes_the_api_with_the_cores_models(server):
    status, _, payload = request(server, "GET", "/openapi.json")
    assert status == 200
    doc = json.loads(payload)
    body = doc["paths"]["/api/plan"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    from planner.api import PlanRequest
    assert set(body["properties"]) == set(PlanRequest.model_fields)
    assert "PlanResult" in doc["components"]["schemas"]
    status, headers, page = request(server, "GET", "/docs")
    assert status == 200 and b"swagger" in page.lower()


def test_options_are_the_request_models_choices(server):
    from typing import get_args

    from planner import api, workload
    status, _, payload = request(server, "GET", "/api/options")
    assert status == 200
    d = json.loads(payload)
    assert d["method"] == list(get_args(workload.Method)) and "pretrain" in d["method"]
    assert d["framework"] == list(get_args(workload.Framework))
    assert d["offload"] == ["none", "optimizer", "optimizer+params", "any"] and d["zero"] == [0, 1, 2, 3]
    assert set(d["precision"]) == {p for group in d["precision_groups"].values() for p in group}
    for key, values in d.items():
        if key not in ("precision_groups", "defaults"):
            field = api.PlanRequest.model_fields[key.replace("-", "_")]
            for v in values:          # every offered value is accepted
                api.request(api.PlanRequest, {"model": "8b", field.alias or key.replace("-", "_"): v})


def test_foreign_host_header_is_refused(server):
    status, _, _ = request(server, "GET", "/", headers={"Host": "attacker.example:8000"})
    assert status == 403


def test_form_posts_without_json_content_type_are_refused(server):
    status, _, _ = request(server, "POST", "/api/plan", raw=b'{"model": "70b"}',
                           headers={"Content-Type": "text/plain"})
    assert status == 415


def test_proposal_download(server):
    for fmt, marker in (("html", b"<!doctype html>"), ("md", b"# Hardware proposal")):
        status, headers, body = request(server, "POST", f"/api/proposal?format={fmt}",
                                        {"model": "70b", "method": "qlora", "budget": 200000})
        assert status == 200, body
        assert body.startswith(marker)
        assert headers["Content-Disposition"].startswith("attachment;") and f".{fmt}" in headers["Content-Disposition"]
    status, _, _ = request(server, "POST", "/api/proposal?format=pdf", {"model": "70b"})
    assert status == 400


def test_sweep_rows_match_single_plans(server):
    body = {"options": {"model": "70b", "method": "qlora"}, "field": "batch_size", "values": [1, 4],
            "field2": "budget", "values2": [1000, 200000]}
    status, _, payload = request(server, "POST", "/api/sweep", body)
    assert status == 200
    d = json.loads(payload)
    assert d["fields"] == ["batch-size", "budget"] and len(d["rows"]) == 4
    for row in d["rows"]:
        code, expected, _ = cli_json(["--model", "70b", "--method", "qlora", "--batch-size", str(row["batch-size"]),
                                      "--budget", str(row["budget"])])
        assert row["feasible"] == expected["feasible"]
        if expected["feasible"]:
            assert row["total_cost"] == expected["plan"]["total_cost"] and row["gpus"] == expected["plan"]["gpus"]
            assert row["currency"] == "USD"
    status, _, payload = request(server, "POST", "/api/sweep", dict(body, values=list(range(1, 52))))
    assert status == 400 and json.loads(payload)["field"] == "values"
    status, _, payload = request(server, "POST", "/api/sweep", dict(body, values=list(range(1, 12)),
                                                                   values2=list(range(1, 11))))
    assert status == 400 and json.loads(payload)["field"] == "values2"


def test_upload_config_then_plan_with_its_token(server):
    cfg = (Path(__file__).resolve().parent.parent / "calibration" / "configs" / "llama-3.1-8b.json").read_bytes()
    status, _, payload = request(server, "POST", "/api/upload?name=llama-3.1-8b.json", raw=cfg,
                                 headers={"Content-Type": "application/octet-stream"})
    assert status == 200
    up = json.loads(payload)
    assert up["kind"] == "config.json" and up["model"].startswith("upload:")
    status, _, payload = request(server, "POST", "/api/estimate", {"model": up["model"], "method": "lora"})
    assert status == 200
    assert json.loads(payload)["params"] == 8_030_261_248
    status, _, payload = request(server, "POST", "/api/estimate", {"model": "upload:nope", "method": "lora"})
    assert status == 400 and json.loads(payload)["field"] == "model"


def test_upload_limits(server):
    status, _, _ = request(server, "POST", "/api/upload", raw=b"{" + b" " * (4 << 20) + b"}",
                           headers={"Content-Type": "application/octet-stream"})
    assert status == 413
    status, _, payload = request(server, "POST", "/api/upload?name=tiny.gguf", raw=b"GGUF" + b"\0" * 1024,
                                 headers={"Content-Type": "application/octet-stream"})
    assert status == 200 and json.loads(payload)["kind"] == "gguf"
    status, _, _ = request(server, "POST", "/api/upload", raw=b"not json",
                           headers={"Content-Type": "application/octet-stream"})
    assert status == 400


def test_internal_error_is_500_with_the_cli_line(server, monkeypatch):
    import planner.api

    def broken(req, files=True):
        raise RuntimeError("boom")
    monkeypatch.setattr(planner.api, "run_plan", broken)
    monkeypatch.delenv("PLANNER_DEBUG", raising=False)
    status, _, payload = request(server, "POST", "/api/plan", {"model": "70b"})
    assert status == 500
    assert json.loads(payload)["error"].startswith("internal error (RuntimeError: boom)")


def test_a_body_that_stops_arriving_is_answered_408(server, monkeypatch):
    import socket

    from planner.web import server as web
    monkeypatch.setattr(web, "BODY_TIMEOUT_S", 1)
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"POST /api/plan HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"model\": ")
        t0 = time.perf_counter()
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408") and time.perf_counter() - t0 < 5


def test_plans_queued_beyond_the_limit_are_answered_503_at_once(server, monkeypatch):
    import planner.api
    from planner.web import server as web
    real = planner.api.run_plan

    def slow(req, files=True):
        time.sleep(1.5)
        return real(req, files)
    monkeypatch.setattr(planner.api, "run_plan", slow)
    monkeypatch.setattr(web, "MAX_PENDING_PER_WORKER", 2)
    results = []

    def ask(_):
        t0 = time.perf_counter()
        status, _, payload = request(server, "POST", "/api/plan", {"model": "8b"})
        results.append((status, time.perf_counter() - t0))
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join()
    busy = [dt for status, dt in results if status == 503]
    assert sorted(status for status, _ in results) == [200, 200, 503, 503]
    assert all(dt < 1.0 for dt in busy)                 # refused at once, not after waiting


def test_concurrent_requests_each_get_their_own_answer(server):
    results = {}

    def ask(batch):
        status, _, payload = request(server, "POST", "/api/estimate", {"model": "8b", "batch_size": batch})
        results[batch] = (status, json.loads(payload))
    threads = [threading.Thread(target=ask, args=(b,)) for b in (1, 2, 4, 8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for b, (status, d) in results.items():
        assert status == 200 and d["workload"]["batch_size"] == b
        assert d == cli_json(["estimate", "--model", "8b", "--batch-size", str(b)])[1]


def test_serve_subcommand_is_wired_into_the_cli():
    out, err = io.StringIO(), io.StringIO()
    assert main(["serve", "--port", "99999"], out=out, err=err) == 2
    assert err.getvalue().startswith("error: --port")


# ---------- a real browser ----------

def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    required = os.environ.get("PLANNER_REQUIRE_BROWSER") == "1"
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("PLANNER_REQUIRE_BROWSER=1 but playwright is not installed")
        pytest.skip("playwright not installed")
    if executable is None:
        if required:
            pytest.fail("PLANNER_REQUIRE_BROWSER=1 but no chromium on PATH")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def open_page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    return page


def test_browser_plan_matches_cli(server, browser):
    code, expected, _ = cli_json(HEADLINE)
    assert code == 0
    plan = expected["plan"]
    t0 = time.perf_counter()
    page = open_page(browser, server)
    page.fill("#f-model", "70b")
    page.select_option("#f-method", "qlora")
    page.fill("#f-budget", "200000")
    page.click("#submit")
    page.wait_for_selector("#total-cost")
    assert float(page.get_attribute("#total-cost", "data-value")) == plan["total_cost"]
    assert page.inner_text("#total-cost") == f"{plan['total_cost']:,.0f} {plan['currency']}"
    shown_gpus = {li.get_attribute("data-gpu"): int(li.get_attribute("data-count"))
                  for li in page.query_selector_all("#gpu-list li")}
    assert shown_gpus == plan["gpus"]
    assert expected["prices_as_of"] in page.inner_text("#headline")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)  # let the charts paint
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-plan.png"), full_page=True)
    # a bad field: the CLI's own words, next to the field it names
    page.fill("#f-batch-size", "0")
    page.click("#submit")
    page.wait_for_selector(".field[data-field='batch-size'].invalid")
    _, _, err = cli_json(HEADLINE + ["--batch-size", "0"])
    assert page.inner_text(".field[data-field='batch-size'] .err") == err.strip().removeprefix("error: ")
    assert page.errors == []
    page.close()
    print(f"browser test: {time.perf_counter() - t0:.1f} s")


def test_browser_renders_keys_being_added_and_what_if(server, browser):
    """frontier, job, plan.stack/rent/machines are drawn when the JSON has them (a stubbed answer here)."""
    code, d, _ = cli_json(["--model", "8b", "--method", "lora", "--tokens", "1e9"])
    assert code == 0 and d["plan"]["time_s"]
    p = d["plan"]
    d["frontier"] = [{"total_cost": p["total_cost"] * k, "time_s": p["time_s"] / k, "gpus": p["gpus"],
                      "summary": f"option {k}", "energy_kwh": 10.0 * k} for k in (1, 2, 4)]
    d["job"] = {"tokens": 1e9, "epochs": 1}
    p["stack"] = "transformers + peft"
    p["rent"] = {"hourly_cost": 2.5, "job_cost": 120.0, "breakeven_hours": 1500, "provider": "example-cloud",
                 "as_of": "2026-11-20"}
    p["machines"] = [{"platform": "workstation", "gpus": p["gpus"], "ram_gb": p["ram_gb"]}]
    page = open_page(browser, server)
    page.route("**/api/plan", lambda route: route.fulfill(status=200, content_type="application/json",
                                                          body=json.dumps(d)))
    page.fill("#f-model", "8b")
    page.select_option("#f-method", "lora")
    page.click("#submit")
    page.wait_for_selector("#total-cost")
    for panel in ("#frontier-panel", "#rent-panel", "#job-panel"):
        assert page.is_visible(panel), panel
    assert "example-cloud" in page.inner_text("#rent") and "option 4" in page.inner_text("#frontier-table")
    assert "transformers + peft" in page.inner_text("#stack")
    assert "workstation" in page.inner_text("#bom")
    page.unroute("**/api/plan")
    page.select_option("#s-field", "budget")
    page.fill("#s-values", "500, 5000, 50000")
    page.click("#sweep-submit")
    page.wait_for_selector("#sweep-table tbody tr")
    assert len(page.query_selector_all("#sweep-table tbody tr")) == 3
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-plan-extended.png"), full_page=True)
    assert page.errors == []
    page.close()


def test_browser_shows_no_plan_fits(server, browser):
    page = open_page(browser, server)
    page.fill("#f-model", "70b")
    page.select_option("#f-method", "qlora")
    page.fill("#f-budget", "100")
    page.click("#submit")
    page.wait_for_selector("#result-reason")
    _, d, _ = cli_json(["--model", "70b", "--method", "qlora", "--budget", "100"])
    assert d["reason"] in page.inner_text("#result-reason")
    assert page.inner_text("#min-budget") == f"{d['min_budget']:,.0f} USD"
    assert page.errors == []
    page.close()


# ---------- the core's choices, every CLI option, and the page at phone width ----------

def test_options_endpoint_is_the_cores_types(server):
    from typing import get_args

    from planner import workload
    status, _, payload = request(server, "GET", "/api/options")
    d = json.loads(payload)
    assert status == 200
    for key, literal in (("method", workload.Method), ("precision", workload.Precision),
                         ("framework", workload.Framework), ("engine", workload.Engine),
                         ("optimizer", workload.Optimizer), ("loss", workload.Loss),
                         ("kv-cache-dtype", workload.KVCacheDtype), ("attention", workload.Attention),
                         ("activation-checkpointing", workload.ActivationCheckpointing)):
        assert d[key] == list(get_args(literal)), key
    assert "pretrain" in d["method"] and {"fp8", "awq", "gptq", "q4_k_m"} <= set(d["precision"])
    assert sorted(sum(d["precision_groups"].values(), [])) == sorted(d["precision"])
    assert d["offload"] == ["none", "optimizer", "optimizer+params", "any"] and d["objective"] == ["cost", "time"]


def _plan_flags():
    from planner.cli import build_parser
    import argparse
    plan = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["plan"]
    flags = {s.lstrip("-") for a in plan._actions for s in a.option_strings[:1]}
    return flags - {"h", "json", "catalog", "proposal"}    # files: the API takes none; proposals are downloads


def test_every_cli_option_has_a_field_on_the_page_and_in_the_api():
    import re
    from planner.web.server import accepted_options
    html = (STATIC_DIR / "index.html").read_text()
    names = set(re.findall(r'\bname="([a-z0-9-]+)"', html))
    flags = {FLAG for FLAG in _plan_flags() if not FLAG.startswith("no-")}     # --no-x: the same field as --x
    assert flags - names == set(), "CLI options without a form field"
    assert flags - accepted_options("plan") == set(), "CLI options the API refuses"


@pytest.mark.parametrize("options", [
    {"model": "8b", "engine": "vllm", "gpu-memory-utilization": 0.8, "kv-cache-dtype": "fp8", "gpus": 1},
    {"model": "8b", "method": "qlora", "loss": "chunked", "grad-accum": 2, "activation-offload": True},
    {"model": "8b", "engine": "llama.cpp", "precision": "q4_k_m", "gpu-layers": 20},
    {"model": "70b", "method": "qlora", "force-offload": "optimizer", "zero": 3, "budget": "200k"},
    {"model": "8b", "seq-len": "8k", "requests": "1M"},
])
def test_api_takes_the_options_the_cli_takes(server, options):
    status, _, payload = request(server, "POST", "/api/plan", options)
    argv = [f"--{k}" if v is True else f"--{k}={v}" for k, v in options.items()]
    code, expected, err = cli_json(argv)
    assert code in (0, 3) and status == 200, (json.loads(payload), err)
    assert comparable(json.loads(payload)) == comparable(expected)


def test_api_refuses_a_vanishing_gpu_memory_share_as_bad_input(server):
    # was: 500 (OverflowError in the estimate)
    status, _, payload = request(server, "POST", "/api/plan", {"model": "8b", "engine": "vllm",
                                                              "gpu-memory-utilization": 1e-320})
    assert status == 400 and json.loads(payload)["field"] == "gpu-memory-utilization"


VIEWPORTS = {"desktop": {"width": 1400, "height": 1000}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("device", VIEWPORTS)
def test_browser_headline_is_in_view_after_submit(server, browser, device):
    """At desktop and at phone width (390 px): choices come from the core, nothing overflows sideways, the form
    is not sticky on a phone, and after submitting, the headline is on screen."""
    code, expected, _ = cli_json(HEADLINE)
    page = browser.new_page(viewport=VIEWPORTS[device], is_mobile=device == "phone",
                            has_touch=device == "phone", device_scale_factor=1)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    methods = page.eval_on_selector_all("#f-method option", "os => os.map(o => [o.value, o.textContent])")
    assert [v for v, _ in methods] == ["inference", "pretrain", "full", "lora", "qlora"]
    assert dict(methods)["full"] == "full fine-tuning" and "pre-training" in dict(methods)["pretrain"]
    precisions = page.eval_on_selector_all("#f-precision option", "os => os.map(o => o.value)")
    assert {"fp8", "awq", "gptq", "q4_k_m", "nf4", "bf16-mixed"} <= set(precisions)
    frameworks = page.eval_on_selector_all("#f-framework option", "os => os.map(o => o.value)")
    from typing import get_args

    from planner.workload import Framework
    assert frameworks == ["", *get_args(Framework)]            # generated from the core's type, not typed twice
    page.fill("#f-model", "70b")
    page.select_option("#f-method", "qlora")
    page.fill("#f-budget", "200k")                        # the CLI's suffixes work in the page too
    page.click("#submit")
    page.wait_for_selector("#total-cost")
    assert float(page.get_attribute("#total-cost", "data-value")) == expected["plan"]["total_cost"]
    page.wait_for_function("""() => { const r = document.querySelector('#headline').getBoundingClientRect();
                                      return r.top >= -1 && r.top < window.innerHeight * 0.5 && r.height > 0; }""",
                           timeout=5000)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
    position = page.eval_on_selector("#plan-form", "f => getComputedStyle(f).position")
    assert position == ("static" if device == "phone" else "sticky")
    if device == "phone":                                 # results first; wide tables scroll inside their panel
        assert page.eval_on_selector("#results", "r => r.getBoundingClientRect().top") < \
            page.eval_on_selector("#plan-form", "f => f.getBoundingClientRect().top")
        for wrap in page.query_selector_all("#out .tbl-wrap"):
            assert wrap.evaluate("w => w.getBoundingClientRect().right <= window.innerWidth + 0.5")
        page.wait_for_timeout(300)                        # let the charts paint
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-phone-390.png"))
        page.screenshot(path=str(ARTIFACTS / "web-phone-390-full.png"), full_page=True)
    assert page.errors == []
    page.close()


def test_serving_targets_and_costs_per_token_through_the_api(server):
    """The web form's serving fields reach the planner, and the answer carries plan.serving and the costs per token
    the page's 'Serving and cost per million tokens' panel shows."""
    status, _, payload = request(server, "POST", "/api/plan", {"model": "8b", "engine": "vllm", "rate": 5,
                                                                "seq-len": 1000, "new-tokens": 300, "ttft": 1,
                                                                "itl": 0.05, "years": 4})
    assert status == 200, payload
    p = json.loads(payload)["plan"]
    assert p["serving"]["rate_rps"] >= 5 and p["serving"]["itl_s"] <= 0.05
    assert p["cost_per_mtok"]["buy"] > 0 and p["tco"]["years"] == 4


def test_the_page_has_the_serving_fields_and_panel(server):
    status, _, page = request(server, "GET", "/")
    text = page if isinstance(page, str) else page.decode() if isinstance(page, bytes) else str(page)
    for needle in ('name="rate"', 'name="users"', 'name="ttft"', 'name="itl"', 'id="serving-panel"'):
        assert needle in text
