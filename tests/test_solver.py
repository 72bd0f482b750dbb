"""The integer program: sensible answers, honest infeasibility, and optimality against exhaustive search."""
import math
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.catalog import GPU, Catalog, Platform, load_catalog
from planner.data import builtin_registry
from planner.solver import Constraints, cards_per_host, plan, usable_bytes as _usable
from planner.workload import Workload

reg = builtin_registry()
CATALOG = load_catalog()


def test_70b_qlora_headline_names_a_stack_a_job_a_decision_a_frontier_and_rent():
    """The README's first command: one machine with >= 5% headroom, a realistic stated job, the rule that chose
    it in words, and both a cheaper and a faster plan named."""
    res = plan(reg.models["llama-3.1-70b"], Workload(method="qlora"), CATALOG, Constraints(budget=200_000))
    assert res.feasible
    p = res.plan
    assert p.total_cost < 50_000                       # a workstation-class purchase, not a data centre
    assert len(p.machines) == 1
    assert all(r["headroom_bytes"] >= 0.05 * r["usable_bytes"] for r in p.per_gpu)
    # 10,000 examples x 512 tokens x 3 epochs, not 10,000 x seq_len x 3
    assert res.job.default and res.job.tokens == 10_000 * 3 * 512 and res.job.seq_len == 2048
    assert res.deadline_s is None                      # no hidden deadline
    assert res.decision["rule"].startswith("no deadline given")
    assert "Cheapest:" in res.decision["text"] and "Fastest within the budget:" in res.decision["text"]
    assert "CUDA" in p.stack or "Metal" in p.stack or "ROCm" in p.stack
    assert len(res.frontier) >= 2 and min(f.time_s for f in res.frontier) <= 2 * 86400
    costs = [f.total_cost for f in res.frontier]
    times = [f.time_s for f in res.frontier]
    assert costs == sorted(costs) and all(a > b for a, b in zip(times, times[1:]))
    assert all(f.total_cost <= 200_000 for f in res.frontier)


def test_every_machine_can_be_built():
    """Per machine: slots, 80% of the PSU, RAM, cooling; no machine without GPUs; one card type per machine."""
    cases = [("llama-3.1-70b", Workload(method="qlora")), ("llama-3.1-8b", Workload(method="full")),
             ("llama-3.1-70b", Workload(method="inference", batch_size=8, seq_len=8192)),
             ("deepseek-v3", Workload(method="inference", engine="vllm", precision="fp8", batch_size=4))]
    for name, wl in cases:
        res = plan(reg.models[name], wl, CATALOG, Constraints(allow_used=True))
        assert res.feasible, (name, res.reason)
        for p in [res.plan] + res.alternatives + res.frontier:
            assert len(p.gpus) == 1                       # one card type per replica and purchase
            for mc in p.machines:
                assert sum(mc["gpus"].values()) >= 1
                if mc["platform"].lower() in CATALOG.platforms:
                    plat = CATALOG.platforms[mc["platform"].lower()]
                    for gname, k in mc["gpus"].items():
                        g = CATALOG.gpus[gname]
                        assert plat.takes(g) and k <= cards_per_host(g, plat)
                        assert g.tdp_w * k + plat.base_w <= 0.8 * plat.psu_w
                        assert mc["ram_gb"] <= plat.max_ram_gb
                        assert mc["ram_gb"] >= 1.0 * g.memory_gb * k - 1e-6      # --ram-ratio 1.0, per machine
                        if plat.fixed_gpus:
                            assert k == plat.fixed_gpus
            if len(p.machines) > 1 and p.config.needs_network:      # independent replicas need no cluster
                assert all(CATALOG.platforms[mc["platform"].lower()].multi_node for mc in p.machines)


def test_8b_full_finetune_with_100k_finishes_its_default_job_within_a_week():
    res = plan(reg.models["llama-3.1-8b"], Workload(method="full"), CATALOG, Constraints(budget=100_000,
                                                                                       deadline_s=7 * 86400))
    assert res.feasible and res.plan.time_s <= 7 * 86400
    assert res.job.kind == "fine-tune" and res.job.tokens < 1e9          # not Chinchilla pre-training


def test_nvlink_plans_pair_cards_and_buy_whole_bridges():
    res = plan(reg.models["llama-3.1-70b"], Workload(method="inference", precision="nf4", batch_size=4,
                                                      seq_len=4096), CATALOG,
               Constraints(require_nvlink=True, allow_used=True, include=["rtx-3090"]))
    assert res.feasible
    n = res.plan.gpus["rtx-3090"]
    bridges = sum(i.count for i in res.plan.items if i.kind == "bridge")
    assert n % 2 == 0 and bridges == n // 2
    for mc in res.plan.machines:
        assert mc["gpus"]["rtx-3090"] % 2 == 0                # a bridge joins cards in the same machine
    one = plan(reg.models["llama-3.2-1b"], Workload(method="inference"), CATALOG,
               Constraints(require_nvlink=True, allow_used=True, include=["rtx-3090"], objective="cost"))
    assert one.plan.gpus["rtx-3090"] == 1                     # one card that fits needs no partner


def test_min_budget_reruns_feasible_at_exactly_that_budget():
    for wl, c in [(Workload(method="qlora"), Constraints(budget=500)),
                  (Workload(method="inference", batch_size=4), Constraints(budget=300, require_nvlink=True,
                                                                             allow_used=True))]:
        res = plan(reg.models["llama-3.1-70b"], wl, CATALOG, c)
        assert not res.feasible and res.min_budget
        again = plan(reg.models["llama-3.1-70b"], wl, CATALOG, replace(c, budget=res.min_budget))
        assert again.feasible and math.isclose(again.plan.total_cost, res.min_budget, rel_tol=1e-9)


def test_passive_cards_only_go_into_servers_that_cool_them():
    res = plan(reg.models["llama-3.1-8b"], Workload(method="lora"), CATALOG, Constraints(include=["l40s"]))
    assert res.feasible
    for mc in res.plan.machines:
        assert CATALOG.platforms[mc["platform"].lower()].passive_cooling


def test_budget_too_small_reports_the_binding_constraint_and_min_budget():
    res = plan(reg.models["llama-3.1-70b"], Workload(method="qlora"), CATALOG,
               Constraints(budget=1000, deadline_s=math.inf))
    assert not res.feasible
    assert res.binding == "budget"
    assert res.min_budget and res.min_budget > 1000
    again = plan(reg.models["llama-3.1-70b"], Workload(method="qlora"), CATALOG,
                 Constraints(budget=res.min_budget + 1, deadline_s=math.inf))
    assert again.feasible and math.isclose(again.plan.total_cost, res.min_budget)


def test_budget_in_another_currency_is_converted():
    usd = plan(reg.models["llama-3.1-8b"], Workload(method="lora"), CATALOG, Constraints(budget=50_000))
    twd = plan(reg.models["llama-3.1-8b"], Workload(method="lora"), CATALOG,
               Constraints(budget=50_000 * CATALOG.rates["TWD"], currency="TWD"))
    assert twd.plan.currency == "TWD"
    assert math.isclose(twd.plan.total_cost, usd.plan.total_cost * CATALOG.rates["TWD"], rel_tol=1e-6)


def test_full_training_of_a_large_model_shards_over_many_gpus():
    res = plan(reg.models["llama-3.1-70b"], Workload(method="full", gradient_checkpointing=True), CATALOG,
               Constraints(budget=5_000_000))
    assert res.feasible
    cfg = res.plan.config
    assert cfg.zero == 3 and cfg.count >= 8         # 8 x 192 GB MI300X suffice; 80 GB cards need more
    assert cfg.need_bytes <= cfg.usable_bytes
    assert res.plan.ram_gb >= res.plan.vram_gb           # --ram-ratio 1.0


def test_alternatives_use_other_gpus_and_cost_no_less():
    res = plan(reg.models["llama-3.1-8b"], Workload(method="inference", batch_size=8, seq_len=8192), CATALOG,
               Constraints(objective="cost"))
    assert len(res.alternatives) == 3
    for alt in res.alternatives:
        assert alt.total_cost >= res.plan.total_cost - 1e-6
        assert set(alt.gpus) != set(res.plan.gpus)


def test_exclude_and_include():
    res = plan(reg.models["llama-3.1-8b"], Workload(), CATALOG, Constraints(include=["rtx-4090"]))
    assert set(res.plan.gpus) == {"rtx-4090"}
    res = plan(reg.models["llama-3.1-8b"], Workload(), CATALOG, Constraints(exclude=["rtx-4090"]))
    assert "rtx-4090" not in res.plan.gpus


def test_the_machines_of_the_published_llama_cpp_and_mlx_cases_serve_what_they_ran():
    """Each machine catalogued for a published case (validation/throughput-inference.json) is one a plan can buy
    for that run: an 8B model in GGUF Q4_K_M on one card or machine (a 10 GB RTX 3080, a 16 GB Mac mini), and
    Llama 70B in MLX 4-bit on the 64 GB M3 Max (~40 GB of weights within its 75% Metal working set)."""
    q4 = Workload(method="inference", engine="llama.cpp", precision="q4_k_m")
    for name in ("rtx-3080", "rtx-3090-ti", "macbook-pro-m1-max-64gb", "macbook-pro-m3-max-64gb", "mac-mini-m4-16gb"):
        res = plan(reg.models["llama-3.1-8b"], q4, CATALOG, Constraints(include=[name], allow_used=True))
        assert res.feasible and set(res.plan.gpus) == {name}, (name, res.reason)
        assert res.frontier[0].gpus == {name: 1}, name          # the cheapest plan: one card or machine
    res = plan(reg.models["llama-3.1-70b"], Workload(method="inference", engine="mlx", precision="int4"), CATALOG,
               Constraints(include=["macbook-pro-m3-max-64gb"], allow_used=True))
    assert res.feasible and res.plan.gpus == {"macbook-pro-m3-max-64gb": 1}, res.reason


def test_power_and_slots_force_a_bigger_host():
    # 70B in int8 needs more than two 24 GB cards: a desktop (two triple-slot cards) cannot take them
    res = plan(reg.models["llama-3.1-70b"], Workload(precision="int8"), CATALOG, Constraints(include=["rtx-4090"]))
    assert res.plan.gpus["rtx-4090"] >= 3
    assert "desktop-am5" not in res.plan.hosts


# ---- optimality: ILP == exhaustive search on small random catalogues ---------------------------------

def _tiny_catalog(specs, platform):
    gpus = {}
    for i, (mem, price, tdp, width) in enumerate(specs):
        g = GPU(name=f"g{i}", vendor="nvidia", memory_gb=mem, bandwidth_gbps=500, bf16_tflops=100, tdp_w=tdp,
                form="pcie", slot_width=width, price=price, as_of="2026-01-01", source="test")
        gpus[g.name] = g
    return Catalog(gpus=gpus, platforms={platform.name: platform}, rates={"USD": 1.0}, as_of="2026-01-01",
                   rates_as_of="2026-01-01", sources=[])


def _partitions(n, parts, cap, step=1):
    """Ways to put n cards into `parts` machines, each holding 1..cap (a multiple of `step`), ignoring order."""
    def rec(n, parts, hi):
        if parts == 0:
            if n == 0:
                yield ()
            return
        for k in range(min(hi, n), 0, -1):
            if k % step == 0:
                for rest in rec(n - k, parts - 1, k):
                    yield (k,) + rest
    yield from rec(n, parts, cap)


def _cheapest_housing(g, n, p, est, ratio, step=1):
    """Exhaustive: the cheapest set of machines of platform p that houses exactly n cards of g, each machine
    within its slots and power (cards_per_host), its RAM limit, and RAM sized per machine."""
    cap = cards_per_host(g, p)
    shard = 5e9
    per_card = max(est.cpu_ram_bytes - shard, 0) / n / 1e9
    best = None
    for y in range(1, n + 1):
        if y > 1 and not p.multi_node:
            break
        for ks in _partitions(n, y, cap, step):
            cost = 0.0
            for k in ks:
                need = max(ratio * k * g.memory_gb, k * per_card + shard / 1e9)
                ram = math.ceil(need / p.ram_step_gb - 1e-9) * p.ram_step_gb
                if ram > p.max_ram_gb:
                    break
                cost += p.price + ram * p.ram_price_per_gb + (p.network_per_node if y > 1 else 0)
            else:
                total = cost + n * g.price
                best = total if best is None else min(best, total)
    return best


def _assert_same_optimum(res, best):
    """The ILP finds a plan exactly when exhaustive search does, at the same cost."""
    if best is None:
        assert not res.feasible
    else:
        assert res.feasible, res.reason
        assert math.isclose(res.plan.total_cost, best, rel_tol=1e-6, abs_tol=0.01)


gpu_spec = st.tuples(st.sampled_from([8, 12, 16, 24, 32, 48, 80]), st.integers(100, 20000),
                     st.sampled_from([150, 300, 450, 700]), st.sampled_from([1, 2, 3]))
platform_spec = st.builds(
    lambda g, w, psu, ram, step, price, net, multi: Platform(
        name="host", forms=["pcie"], max_gpus=g, slot_width=w, psu_w=psu, base_w=200, max_ram_gb=ram,
        ram_step_gb=step, ram_price_per_gb=5, network_per_node=net, multi_node=multi, price=price),
    st.integers(1, 8), st.integers(2, 16), st.sampled_from([1000, 1600, 3000, 8000]),
    st.sampled_from([128, 512, 2048]), st.sampled_from([16, 32, 64]), st.integers(0, 5000),
    st.integers(0, 3000), st.booleans())


@settings(max_examples=40, deadline=None)
@given(st.lists(gpu_spec, min_size=1, max_size=3), platform_spec, st.sampled_from([0.0, 1.0, 2.0]))
def test_inference_ilp_equals_exhaustive_search(specs, platform, ratio):
    cat = _tiny_catalog(specs, platform)
    arch = reg.models["qwen2.5-0.5b"]
    wl = Workload(method="inference", batch_size=4, seq_len=8192, new_tokens=64)
    c = Constraints(max_gpus=4, ram_ratio=ratio, deadline_s=math.inf, objective="cost", min_headroom=0)
    res = plan(arch, wl, cat, c, alternatives=0)
    # exhaustive: one card type; the smallest layer split that holds the model; every housing in machines
    from planner.estimator import estimate
    est = estimate(arch, wl)
    shared = est.breakdown["weights"] + est.breakdown["kv_cache"] + est.kv_slack_bytes
    overhead = est.reserved_bytes - shared
    best = None
    for g in cat.gpus.values():
        room = _usable(g, c.margin) - overhead - g.context_bytes
        if room <= 0:
            continue
        n = max(1, math.ceil(shared / room))
        if n > 4 or cards_per_host(g, platform) < n:
            continue                       # a transformers replica stays in one machine
        cost = _cheapest_housing(g, n, platform, est, ratio, step=n)
        if cost is not None:
            best = cost if best is None else min(best, cost)
    _assert_same_optimum(res, best)


@settings(max_examples=30, deadline=None)
@given(st.lists(gpu_spec, min_size=1, max_size=3), platform_spec)
def test_training_ilp_equals_exhaustive_search(specs, platform):
    cat = _tiny_catalog(specs, platform)
    arch = reg.models["llama-3.2-1b"]
    wl = Workload(method="full", precision="bf16", batch_size=1, seq_len=512)
    c = Constraints(max_gpus=6, deadline_s=math.inf, objective="cost", min_headroom=0)
    res = plan(arch, wl, cat, c, alternatives=0)
    from planner.estimator import estimate
    best = None
    for g in cat.gpus.values():
        for zero in (0, 1, 2, 3):
            for n in range(1, 7):
                e = estimate(arch, wl.replace(gpus=n, zero_stage=zero))
                if e.reserved_bytes + g.context_bytes > _usable(g, c.margin):
                    continue
                cost = _cheapest_housing(g, n, platform, e, c.ram_ratio)
                if cost is not None:
                    best = cost if best is None else min(best, cost)
    _assert_same_optimum(res, best)


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([("llama-3.1-8b", dict(method="lora")), ("llama-3.1-70b", dict(method="qlora")),
                        ("llama-3.1-8b", dict(method="inference", batch_size=16, seq_len=8192)),
                        ("llama-3.2-3b", dict(method="full", gradient_checkpointing=True))]),
       st.sampled_from(["USD", "EUR", "TWD"]), st.booleans())
def test_shipped_catalogue_ilp_equals_exhaustive_search(case, currency, nvlink):
    """On the real catalogue: the plan costs what the cheapest configuration's exhaustive housing costs."""
    from planner.configs import _NeedCache, candidate_gpus, inference_configs, settle, training_configs
    from planner.job import job_size
    name, kw = case
    arch, wl = reg.models[name], Workload(**kw)
    c = Constraints(currency=currency, require_nvlink=nvlink, allow_used=True, deadline_s=math.inf,
                    objective="cost", min_headroom=0)
    res = plan(arch, wl, CATALOG, c, alternatives=0)
    cards, rejected = candidate_gpus(CATALOG, wl, c)
    make = training_configs if wl.training else inference_configs
    best = None
    for cf in make(arch, wl, cards, CATALOG, c, rejected, _NeedCache(arch)):
        if settle(arch, job_size(arch, wl), cf, CATALOG, c) is None:
            continue
        # exhaustive over every multiset of machines (up to 4 machines) that houses exactly cf.count cards
        import itertools
        for r in range(1, 5):
            for combo in itertools.combinations_with_replacement(cf.options, r):
                if sum(o.k for o in combo) != cf.count:
                    continue
                if r > 1 and not all(o.multi_node for o in combo):
                    continue
                cost = sum(o.cost_usd + (o.network_usd if r > 1 else 0) for o in combo)
                best = cost if best is None else min(best, cost)
    if best is None:
        assert not res.feasible
    else:
        assert res.feasible
        assert math.isclose(res.plan.total_cost, best * CATALOG.rates[currency], rel_tol=1e-6)


def test_tensor_parallel_inference_uses_one_nvlink_domain_in_one_host():
    res = plan(reg.models["llama-3.1-8b"], Workload(method="inference", parallel="tensor", batch_size=64,
                                                     seq_len=8192), CATALOG, Constraints(allow_used=True))
    assert res.feasible
    for p in [res.plan] + res.alternatives:
        assert sum(p.hosts.values()) == 1
        for name, count in p.gpus.items():
            g = CATALOG.gpus[name]
            assert g.nvlink is not None and count <= g.nvlink.width
        if any(CATALOG.gpus[n].nvlink.width == 2 and n for n in p.gpus) and sum(p.gpus.values()) == 2:
            assert any(i.kind == "bridge" for i in p.items)


@settings(max_examples=25, deadline=None)
@given(st.lists(gpu_spec, min_size=2, max_size=3), platform_spec, st.integers(1000, 60000), st.integers(1, 40000))
def test_more_budget_or_one_more_gpu_type_never_makes_the_optimum_worse(specs, platform, budget, extra):
    cat = _tiny_catalog(specs, platform)
    arch = reg.models["qwen2.5-0.5b"]
    wl = Workload(method="inference", batch_size=2, seq_len=4096)
    tight = plan(arch, wl, cat, Constraints(budget=budget, max_gpus=4, objective="cost"), alternatives=0)
    loose = plan(arch, wl, cat, Constraints(budget=budget + extra, max_gpus=4, objective="cost"), alternatives=0)
    if tight.feasible:
        assert loose.feasible and loose.plan.total_cost <= tight.plan.total_cost + 1e-6
    fewer = _tiny_catalog(specs[:-1], platform)
    small = plan(arch, wl, fewer, Constraints(max_gpus=4, objective="cost"), alternatives=0)
    full = plan(arch, wl, cat, Constraints(max_gpus=4, objective="cost"), alternatives=0)
    if small.feasible:
        assert full.feasible and full.plan.total_cost <= small.plan.total_cost + 1e-6


def test_serving_deadline_buys_replicas_and_meets_it():
    wl = Workload(method="inference", engine="vllm", batch_size=32, seq_len=4096, new_tokens=256)
    arch = reg.models["llama-3.1-8b"]
    few = plan(arch, wl, CATALOG, Constraints(requests=100_000, deadline_s=30 * 86400), alternatives=0)
    many = plan(arch, wl, CATALOG, Constraints(requests=10_000_000, deadline_s=30 * 86400), alternatives=0)
    assert few.feasible and many.feasible
    assert many.plan.time_s <= 30 * 86400 and few.plan.time_s <= 30 * 86400
    assert sum(many.plan.gpus.values()) > sum(few.plan.gpus.values())
    assert "replicas" in many.plan.strategy


def test_vllm_headroom_is_per_card_so_huge_models_can_still_be_split():
    res = plan(reg.models["deepseek-v3"], Workload(method="inference", engine="vllm", batch_size=4, seq_len=4096),
               CATALOG, Constraints(), alternatives=0)
    assert res.feasible
    for row in res.plan.per_gpu:
        g = CATALOG.gpus[row["gpu"]]
        # the need counts vLLM's 10% share (gpu_memory_utilization 0.9) once; usable is the card after the margin
        assert row["usable_bytes"] <= 0.95 * g.memory_bytes and row["need_bytes"] <= row["usable_bytes"]
    assert not any(CATALOG.gpus[n].is_machine for n in res.plan.gpus)     # vLLM is modelled for CUDA only


def test_a_time_limited_solution_is_never_reported_as_proven(monkeypatch):
    """HiGHS stopping at its time limit with a feasible solution (planner.milp's status 'feasible'): the plan
    must say 'time limit', in the JSON and the terminal."""
    import io
    import json

    from planner import milp
    from planner.cli import main
    real = milp.Program.solve

    def time_limited(self, *a, **kw):
        got = real(self, *a, **kw)
        assert got.status == "optimal"
        return milp.Solution("feasible", got.values, got.objective)

    monkeypatch.setattr(milp.Program, "solve", time_limited)
    out = io.StringIO()
    assert main(["--model", "8b", "--method", "lora", "--objective", "cost", "--json"], out=out) == 0
    assert json.loads(out.getvalue())["plan"]["optimality"] == "time limit"
    out = io.StringIO()
    main(["--model", "8b", "--method", "lora", "--objective", "cost"], out=out)
    assert "not proven cheapest" in out.getvalue()


def test_without_highspy_a_plan_is_one_line_naming_the_package(monkeypatch):
    import importlib.util
    import io
    import sys

    from planner import milp
    from planner.cli import main
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "highspy" else real(name, *a))
    monkeypatch.setattr(milp, "_HIGHS", None)
    monkeypatch.delitem(sys.modules, "highspy._core", raising=False)
    monkeypatch.delitem(sys.modules, "highspy", raising=False)
    err = io.StringIO()
    assert main(["--model", "8b", "--method", "lora", "--objective", "cost", "--json"], out=io.StringIO(), err=err) == 2
    assert err.getvalue() == "error: no MILP solver available: pip install highspy\n"


def test_a_deadline_buys_the_smallest_card_count_that_meets_it_not_the_next_power_of_two():
    arch, wl = reg.models["llama-3.2-1b"], Workload(method="pretrain", batch_size=2, gradient_checkpointing=True)
    one = plan(arch, wl, CATALOG, Constraints(include=["rtx-6000-ada"], tokens=2_000_000_000, deadline_s=math.inf),
               alternatives=0)
    assert one.plan.gpus == {"rtx-6000-ada": 1}
    res = plan(arch, wl, CATALOG, Constraints(include=["rtx-6000-ada"], tokens=2_000_000_000,
                                              deadline_s=one.plan.time_s / 2.5), alternatives=0)
    assert res.feasible and res.plan.time_s <= one.plan.time_s / 2.5
    assert res.plan.gpus == {"rtx-6000-ada": 3}


# ---- optimality with owned hardware, open-frame rigs, --max-machines and replicas ----------------------------

def _rig(price):
    """An open-frame rig as people build them: riser slots for any cooler, two PSUs, not clusterable."""
    return Platform(name="rig", forms=["pcie"], max_gpus=6, slot_width=24, psu_w=3200, base_w=250, max_ram_gb=2048,
                    ram_step_gb=32, ram_price_per_gb=12, network_per_node=1200, multi_node=False, price=price,
                    build="open-frame")


def _catalog_of(specs, platforms):
    cat = _tiny_catalog(specs, platforms[0])
    return cat.replace(platforms={p.name: p for p in platforms})


def _exhaustive_housing(g, n, platforms, ram_per_card, ram_fixed, ratio, network, max_machines, owned_hosts,
                        owned_cards, step=1):
    """Every multiset of machines (platform, k cards) that houses exactly n cards: each within its slots, power
    and RAM; several only if clusterable (or no network needed), each then paying its port; the user's own
    hosts (the dearest machines of their platform) free; the user's own cards free."""
    import itertools
    types = []
    for p in platforms:
        cap = cards_per_host(g, p)
        for k in range(step, min(cap, n) + 1, step):
            need = max(ratio * k * g.memory_gb, k * ram_per_card + ram_fixed)
            ram = math.ceil(need / p.ram_step_gb - 1e-9) * p.ram_step_gb
            if ram <= p.max_ram_gb:
                types.append((p, k, p.price + ram * p.ram_price_per_gb))
    best = None
    for y in range(1, min(n, max_machines or n) + 1):
        for combo in itertools.combinations_with_replacement(types, y):
            if sum(k for _, k, _ in combo) != n:
                continue
            if y > 1 and network and not all(p.multi_node for p, _, _ in combo):
                continue
            cost = 0.0
            for p in platforms:
                hosts = sorted((c for q, _, c in combo if q is p), reverse=True)
                cost += sum(hosts[owned_hosts.get(p.name, 0):])
            if y > 1 and network:
                cost += sum(p.network_per_node for p, _, _ in combo)
            cost += (n - min(n, owned_cards.get(g.name, 0))) * g.price
            best = cost if best is None else min(best, cost)
    return best


def _owned(gpus, hosts):
    from planner.owned import Owned
    return Owned({k: v for k, v in gpus.items() if v}, {k: v for k, v in hosts.items() if v})


@settings(max_examples=30, deadline=None)
@given(st.lists(gpu_spec, min_size=1, max_size=2), platform_spec, st.integers(500, 4000),
       st.integers(0, 3), st.integers(0, 2), st.integers(0, 1), st.sampled_from([None, 1, 2, 3]))
def test_training_with_owned_hardware_rigs_and_max_machines_equals_exhaustive_search(
        specs, platform, rig_price, my_cards, my_hosts, my_rigs, max_machines):
    platforms = [platform, _rig(rig_price)]
    cat = _catalog_of(specs, platforms)
    arch = reg.models["llama-3.2-1b"]
    wl = Workload(method="full", precision="bf16", batch_size=1, seq_len=512)
    owned = _owned({"g0": my_cards}, {"host": my_hosts, "rig": my_rigs})
    c = Constraints(max_gpus=6, deadline_s=math.inf, objective="cost", min_headroom=0, savers=False, owned=owned,
                    max_machines=max_machines)
    res = plan(arch, wl, cat, c, alternatives=0)
    from planner.estimator import estimate
    best = None
    for g in cat.gpus.values():
        for zero in (0, 1, 2, 3):
            for n in range(1, 7):
                e = estimate(arch, wl.replace(gpus=n, zero_stage=zero))
                if e.reserved_bytes + g.context_bytes > _usable(g, c.margin):
                    continue
                cost = _exhaustive_housing(g, n, platforms, max(e.cpu_ram_bytes - 5e9, 0) / n / 1e9, 5.0, 1.0,
                                           True, max_machines, {"host": my_hosts, "rig": my_rigs}, owned.gpus)
                if cost is not None:
                    best = cost if best is None else min(best, cost)
    _assert_same_optimum(res, best)
    if res.feasible:
        owned_items = [i for i in res.plan.items if i.owned]
        assert all(i.subtotal == 0 for i in owned_items)
        assert sum(i.count for i in owned_items if i.kind == "gpu") <= my_cards
        if max_machines:
            assert len(res.plan.machines) <= max_machines


@settings(max_examples=30, deadline=None)
@given(st.lists(gpu_spec, min_size=1, max_size=2), platform_spec, st.integers(500, 4000), st.integers(2, 4),
       st.integers(0, 4), st.integers(0, 2), st.sampled_from([None, 1, 2]))
def test_independent_replicas_equal_exhaustive_search_without_a_cluster_network(
        specs, platform, rig_price, replicas, my_cards, my_hosts, max_machines):
    """Serving replicas share nothing: they may share one machine or sit in separate desktops, whichever is
    cheaper, and pay no network port."""
    platforms = [platform, _rig(rig_price)]
    cat = _catalog_of(specs, platforms)
    arch = reg.models["qwen2.5-0.5b"]
    wl = Workload(method="inference", batch_size=4, seq_len=8192, new_tokens=64)
    owned = _owned({"g0": my_cards}, {"host": my_hosts})
    c = Constraints(max_gpus=4, deadline_s=math.inf, objective="cost", min_headroom=0, savers=False, owned=owned,
                    max_machines=max_machines, gpus=replicas)
    res = plan(arch, wl, cat, c, alternatives=0)
    from planner.estimator import estimate
    est = estimate(arch, wl)
    shared = est.breakdown["weights"] + est.breakdown["kv_cache"] + est.kv_slack_bytes
    overhead = est.reserved_bytes - shared
    best = None
    for g in cat.gpus.values():
        room = _usable(g, c.margin) - overhead - g.context_bytes
        if room <= 0:
            continue
        per = max(1, math.ceil(shared / room))             # cards per replica (a layer split)
        if replicas % per:
            continue
        cost = _exhaustive_housing(g, replicas, platforms, est.cpu_ram_bytes / per / 1e9, 0.0, 1.0, False,
                                   max_machines, {"host": my_hosts}, owned.gpus, step=per)
        if cost is not None:
            best = cost if best is None else min(best, cost)
    _assert_same_optimum(res, best)
    if res.feasible:
        assert not any(i.kind == "network" for i in res.plan.items)
