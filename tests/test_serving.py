"""Serving sized by load and latency (planner/serving.py), money per token (planner/tco.py) and `plan capacity`."""
import io
import json
import statistics

import pytest
import yaml

from planner.catalog import load_catalog
from planner.cli import main
from planner.configs import Constraints
from planner.serving import Load, ServingSpec, Targets, capacity, operating_point
from planner.solver import plan
from planner.tco import RESIDUAL_PAIRS, TcoAssumptions
from planner.throughput.inference import Card
from planner.workload import Workload

ACCEPT = ["--model", "8b", "--engine", "vllm", "--rate", "5", "--seq-len", "1000", "--new-tokens", "300",
          "--ttft", "1", "--itl", "0.05", "--budget", "200000", "--json"]
# a few cards of each kind keep the solves quick
CARDS = ["--include", "rtx-4090,rtx-3090,l40s,h100-sxm,a100-80gb-sxm,rtx-pro-6000-blackwell,mac-studio-m4-max-128gb"]


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def api_catalog(tmp_path_factory):
    """Three dated API prices for llama-3.1-8b in a --catalog file (the shape of catalog/apis.yaml)."""
    p = tmp_path_factory.mktemp("cat") / "apis.yaml"
    rows = [{"model": "llama-3.1-8b", "provider": f"Provider {i}", "model_id": f"org/llama-8b-{i}",
             "input_usd_per_mtok": 0.05 * i, "output_usd_per_mtok": 0.08 * i, "as_of": "2026-07-24",
             "source": "test fixture"} for i in (1, 2, 3)]
    p.write_text(yaml.safe_dump({"api_prices": rows}))
    if not hasattr(load_catalog(), "api_prices"):
        pytest.skip("the catalogue has no api_prices yet (catalog/apis.yaml lands with the catalogue branch)")
    return str(p)


def test_acceptance_8b_at_5_rps_meets_the_targets_with_costs_per_token(api_catalog):
    code, text, err = run(*ACCEPT, "--catalog", api_catalog)
    assert code == 0, err
    p = json.loads(text)["plan"]
    s = p["serving"]
    assert s["rate_rps"] >= 5 and s["at_load"]["rate_rps"] >= 5 * 0.99
    assert s["ttft_s"] <= 1 and s["itl_s"] <= 0.05
    assert s["at_load"]["ttft_s"] <= 1 and s["at_load"]["itl_s"] <= 0.05
    assert {"rate_rps", "users", "ttft_s", "itl_s", "tokens_per_s", "replicas", "tensor_parallel"} <= set(s)
    cm = p["cost_per_mtok"]
    assert cm["buy"] > 0 and cm["rent"] > 0
    assert len(cm["api"]) >= 3 and all(a["as_of"] and a["source"] for a in cm["api"])
    assert p["tco"]["years"] == 3 and p["tco"]["pue"] > 1


def _cost(rate=5.0, itl=0.05, ttft=1.0, users=None, budget=None):
    from planner.data import builtin_registry
    arch = builtin_registry().resolve("llama-3.1-8b")[0]
    wl = Workload(method="inference", engine="vllm", seq_len=1000, new_tokens=300)
    c = Constraints(budget=budget, serving=ServingSpec(None if users else rate, users, ttft, itl),
                    include=CARDS[1].split(","), stack_explicit=True)
    res = plan(arch, wl, load_catalog(), c, alternatives=0)
    return res.plan.total_cost if res.feasible else float("inf"), res


def test_more_load_or_tighter_targets_never_cost_less():
    base, res = _cost()
    assert res.feasible and res.plan.serving["rate_rps"] >= 5
    more, res50 = _cost(rate=50)
    assert more >= base and (not res50.feasible or res50.plan.serving["rate_rps"] >= 50)
    tight, res20 = _cost(itl=0.02)
    assert tight >= base and (not res20.feasible or res20.plan.serving["itl_s"] <= 0.02)
    rates = [1, 3, 10, 30]
    costs = [_cost(rate=r)[0] for r in rates]
    assert costs == sorted(costs)
    itls = [0.1, 0.05, 0.03]
    costs = [_cost(itl=x)[0] for x in itls]
    assert costs == sorted(costs)


def test_users_load_sizes_the_concurrency():
    cost, res = _cost(users=40)
    assert res.feasible and res.plan.serving["users"] >= 40


def test_the_largest_batch_within_targets_meets_them_and_one_more_user_would_not(arch):
    cat = load_catalog()
    a = arch("llama-3.1-8b")
    w = Workload(method="inference", engine="vllm", seq_len=1000, new_tokens=300)
    card = Card(cat.gpus["l40s"])
    t = Targets(ttft_s=1.0, itl_s=0.03)
    cap = capacity(a, w, card, 1, 1, Load(rate_rps=1, prompt_tokens=1000, new_tokens=300), t, 1e9)
    assert cap.best.itl_s <= 0.03 and cap.best.ttft_s <= 1.0
    if cap.binding in ("itl", "ttft"):
        over = operating_point(a, w, card, 1, 1, cap.best.batch + 1, 1000, 300)
        assert over.itl_s > 0.03 or over.ttft_s > 1.0


def test_kv_cache_limits_the_batch(arch):
    cat = load_catalog()
    a = arch("llama-3.1-8b")
    w = Workload(method="inference", engine="vllm", seq_len=1000, new_tokens=300)
    cap = capacity(a, w, Card(cat.gpus["h100-sxm"]), 1, 1, Load(rate_rps=1, prompt_tokens=1000, new_tokens=300),
                   Targets(), 12.5)
    assert cap.binding == "kv-cache" and cap.best.batch == 12


def test_terminal_says_what_the_purchase_serves_in_plain_words():
    code, text, _ = run(*[a for a in ACCEPT if a != "--json"])
    assert code == 0
    assert "serves" in text and "req/s" in text and "to first token" in text and "tokens/s per user" in text
    assert "cost per million output tokens" in text


@pytest.mark.parametrize("argv,field", [
    (["--model", "8b", "--itl", "0.05"], "--ttft/--itl"),
    (["--model", "8b", "--method", "lora", "--rate", "2"], "--rate"),
    (["--model", "8b", "--rate", "2", "--utilization", "2"], "--utilization"),
    (["--model", "8b", "--rate", "2", "--pue", "0.5"], "--pue"),
    (["--model", "8b", "--rate", "-1"], "--rate"),
    (["--model", "8b", "--rate", "2", "--users", "4"], "--users"),
])
def test_bad_serving_input_is_one_line_exit_2(argv, field):
    code, out, err = run(*argv)
    assert code == 2 and err.count("\n") == 1 and field in err


def test_residual_default_is_the_catalogue_used_over_new_prices():
    cat = load_catalog()
    for name, used, new in RESIDUAL_PAIRS:
        g = cat.gpus[name]
        text = f"{g.price:g} {g.source}".replace(",", "")
        assert str(used) in text and str(new) in text, name
    ratios = [used / new for _, used, new in RESIDUAL_PAIRS]
    assert TcoAssumptions().residual == pytest.approx(statistics.median(ratios), abs=0.03)


def test_buying_gets_cheaper_per_token_the_more_the_load_runs():
    from planner.data import builtin_registry
    arch = builtin_registry().resolve("llama-3.1-8b")[0]
    wl = Workload(method="inference", engine="vllm", seq_len=1000, new_tokens=300)
    cat = load_catalog()
    out = []
    for util in (0.25, 0.5, 1.0):
        c = Constraints(serving=ServingSpec(5, None, 1, 0.05), tco=TcoAssumptions(utilization=util),
                        include=["l40s"], stack_explicit=True)
        out.append(plan(arch, wl, cat, c, alternatives=0).plan.cost_per_mtok["buy"])
    assert out[0] > out[1] > out[2]


# ---- plan capacity -------------------------------------------------------------------------------

def test_capacity_of_two_3090s_for_a_70b_q4():
    code, text, err = run("capacity", "--have", "2xrtx-3090", "--model", "70b", "--engine", "llama.cpp",
                          "--precision", "q4_k_m", "--itl", "0.2", "--json")
    assert code == 0, err
    r = json.loads(text)
    assert r["fits"] and r["users"] >= 1 and r["max_context_tokens"] > 4096
    assert r["tokens_per_s_per_user"] >= 5 and r["rate_rps"] > 0 and r["itl_s"] <= 0.2
    assert r["pipeline_parallel"] == 2


def test_capacity_of_a_mac():
    code, text, err = run("capacity", "--have", "mac-studio-m4-max-128gb", "--model", "70b", "--engine", "mlx",
                          "--precision", "int4", "--json")
    assert code == 0, err
    r = json.loads(text)
    assert r["fits"] and r["users"] >= 1 and r["max_context_tokens"] >= 32768


def test_capacity_exits_3_with_the_binding_constraint_when_the_model_cannot_fit():
    code, text, err = run("capacity", "--have", "2xrtx-3090", "--model", "70b", "--engine", "llama.cpp",
                          "--precision", "q8_0")
    assert code == 3
    assert "Binding constraint: memory" in text


def test_capacity_needs_have():
    code, _, err = run("capacity", "--model", "8b")
    assert code == 2 and "--have" in err


def test_capacity_more_cards_never_serve_fewer_users():
    users = []
    for n in (1, 2, 4):
        code, text, _ = run("capacity", "--have", f"{n}xrtx-4090", "--model", "8b", "--engine", "vllm",
                            "--itl", "0.05", "--json")
        users.append(json.loads(text).get("users", 0) if code == 0 else 0)
    assert users == sorted(users) and users[-1] > 0


def test_a_proposal_carries_serving_and_the_cost_per_token(tmp_path):
    out = tmp_path / "p.md"
    code, _, err = run(*[a for a in ACCEPT if a != "--json"], "--proposal", str(out))
    assert code == 0, err
    text = out.read_text()
    assert "serves" in text and "cost per million output tokens" in text and "buying amortised" in text


def test_inference_times_say_how_they_were_obtained():
    code, text, _ = run("--model", "8b", "--engine", "llama.cpp", "--precision", "q4_k_m", "--json")
    p = json.loads(text)["plan"]
    assert p["time_basis"] and p["time_range_s"][0] < p["time_s"] < p["time_range_s"][1]
    assert p["link"] in ("none", "pcie", "nvlink", "unified", "network")


def test_an_unreachable_target_names_the_binding_constraint():
    code, text, _ = run("--model", "70b", "--engine", "vllm", "--rate", "5", "--itl", "0.002", "--json")
    d = json.loads(text)
    assert code == 3 and d["binding"] == "itl" and "--itl" in d["reason"]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from planner.serving import replicas_needed  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(0.1, 200), more=st.floats(1.0, 10.0), itl=st.floats(0.01, 0.2), tighter=st.floats(0.3, 1.0),
       ttft=st.floats(0.2, 5.0), card=st.sampled_from(["rtx-4090", "l40s", "h100-sxm", "mi300x"]))
def test_replicas_never_fall_with_more_load_or_tighter_targets(rate, more, itl, tighter, ttft, card):
    from planner.data import builtin_registry
    g = load_catalog().gpus[card]
    a = builtin_registry().resolve("llama-3.1-8b")[0]
    w = Workload(method="inference", engine="vllm", seq_len=1000, new_tokens=300)

    def need(r, t_itl, t_ttft):
        load = Load(rate_rps=r, prompt_tokens=1000, new_tokens=300)
        cap = capacity(a, w, Card(g), 1, 1, load, Targets(t_ttft, t_itl), 200)
        n = replicas_needed(load, cap)
        return float("inf") if n is None else n
    base = need(rate, itl, ttft)
    assert need(rate * more, itl, ttft) >= base
    assert need(rate, itl * tighter, ttft) >= base
    assert need(rate, itl, ttft * tighter) >= base


def test_a_serving_plan_no_card_can_run_says_why_not_that_zero_cards_miss_a_target():
    """Every allowed card refused before any latency is computed (here: the engine): the reason names the refusal."""
    from planner.api import plan
    r = plan(model="70b", method="inference", engine="tensorrt-llm", rate=5, include=["mi300x"])
    assert not r.feasible
    assert "mi300x: TensorRT-LLM does not run on ROCm" in r.reason
    assert "0 card type(s)" not in r.reason
