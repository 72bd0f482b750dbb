"""The integer program: sensible answers, honest infeasibility, and optimality against exhaustive search."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.catalog import GPU, Catalog, Platform, load_catalog
from planner.data import builtin_registry
from planner.solver import Constraints, cards_per_host, plan, usable_bytes as _usable
from planner.workload import Workload

reg = builtin_registry()
CATALOG = load_catalog()


def test_70b_qlora_is_a_few_thousand_dollars_not_a_datacentre_gpu():
    res = plan(reg.models["llama-3.1-70b"], Workload(method="qlora"), CATALOG, Constraints(budget=200_000))
    assert res.feasible
    assert res.plan.total_cost < 10_000
    need_gib = res.plan.per_gpu[0]["need_bytes"] / 2**30
    assert 35 < need_gib < 70
    assert not any(n.startswith(("h100", "h200", "a100")) for n in res.plan.gpus)


def test_budget_too_small_reports_the_binding_constraint_and_min_budget():
    res = plan(reg.models["llama-3.1-70b"], Workload(method="qlora"), CATALOG, Constraints(budget=1000))
    assert not res.feasible
    assert res.binding == "budget"
    assert res.min_budget and res.min_budget > 1000
    again = plan(reg.models["llama-3.1-70b"], Workload(method="qlora"), CATALOG,
                 Constraints(budget=res.min_budget + 1))
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
               Constraints())
    assert len(res.alternatives) == 3
    for alt in res.alternatives:
        assert alt.total_cost >= res.plan.total_cost - 1e-6
        assert set(alt.gpus) != set(res.plan.gpus)


def test_exclude_and_include():
    res = plan(reg.models["llama-3.1-8b"], Workload(), CATALOG, Constraints(include=["rtx-4090"]))
    assert set(res.plan.gpus) == {"rtx-4090"}
    res = plan(reg.models["llama-3.1-8b"], Workload(), CATALOG, Constraints(exclude=["rtx-4090"]))
    assert "rtx-4090" not in res.plan.gpus


def test_power_and_slots_force_a_bigger_host():
    # four 450 W cards do not fit a consumer desktop (2 slots) and need a workstation or server
    res = plan(reg.models["llama-3.1-70b"], Workload(), CATALOG, Constraints(include=["rtx-4090"]))
    assert res.plan.gpus["rtx-4090"] >= 6
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


def _cheapest_hosts(counts, gpus, p, ram_need_gb, ratio, max_hosts=16):
    """Exhaustive: the cheapest host count + RAM for a fixed set of cards on one platform type."""
    n = sum(counts.values())
    width = sum(gpus[k].slot_width * v for k, v in counts.items())
    tdp = sum(gpus[k].tdp_w * v for k, v in counts.items())
    vram = sum(gpus[k].memory_gb * v for k, v in counts.items())
    best = None
    for y in range(0, max_hosts + 1):
        if n > p.max_gpus * y or width > p.slot_width * y or tdp + p.base_w * y > 0.8 * p.psu_w * y:
            continue
        # per host, each card type within its own slot and power limits (spreading cards evenly)
        if any(v > cards_per_host(gpus[k], p) * y for k, v in counts.items()):
            continue
        if y > 1 and not p.multi_node:
            continue
        ram = max(ratio * vram, ram_need_gb)
        units = math.ceil(ram / p.ram_step_gb - 1e-9)
        if units * p.ram_step_gb > p.max_ram_gb * y:
            continue
        cost = y * p.price + units * p.ram_step_gb * p.ram_price_per_gb + (y * p.network_per_node if y > 1 else 0)
        best = cost if best is None else min(best, cost)
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
    c = Constraints(max_gpus=4, ram_ratio=ratio)
    res = plan(arch, wl, cat, c, alternatives=0)
    # exhaustive: every count vector up to 4 cards in all
    from planner.estimator import estimate
    est = estimate(arch, wl)
    shared = est.breakdown["weights"] + est.breakdown["kv_cache"]
    overhead = est.reserved_bytes - shared
    ram_need = est.cpu_ram_bytes / 1e9
    best = None
    names = list(cat.gpus)
    import itertools
    for combo in itertools.product(range(5), repeat=len(names)):
        if not 0 < sum(combo) <= 4:
            continue
        counts = {k: v for k, v in zip(names, combo) if v}
        room = [_usable(cat.gpus[k], c.margin) - overhead - cat.gpus[k].context_bytes for k in counts]
        if any(r <= 0 for r in room):
            continue
        if sum(r * counts[k] for r, k in zip(room, counts)) < shared:
            continue
        hosts = _cheapest_hosts(counts, cat.gpus, platform, ram_need, ratio)
        if hosts is None:
            continue
        cost = sum(cat.gpus[k].price * v for k, v in counts.items()) + hosts
        best = cost if best is None else min(best, cost)
    _assert_same_optimum(res, best)


@settings(max_examples=30, deadline=None)
@given(st.lists(gpu_spec, min_size=1, max_size=3), platform_spec)
def test_training_ilp_equals_exhaustive_search(specs, platform):
    cat = _tiny_catalog(specs, platform)
    arch = reg.models["llama-3.2-1b"]
    wl = Workload(method="full", precision="bf16", batch_size=1, seq_len=512)
    c = Constraints(max_gpus=6)
    res = plan(arch, wl, cat, c, alternatives=0)
    from planner.estimator import estimate
    best = None
    for g in cat.gpus.values():
        for zero in (0, 1, 2, 3):
            for n in range(1, 7):
                if zero == 0 and n > 1:
                    continue
                e = estimate(arch, wl.model_copy(update={"gpus": n, "zero_stage": zero}))
                if e.reserved_bytes + g.context_bytes > _usable(g, c.margin):
                    continue
                hosts = _cheapest_hosts({g.name: n}, cat.gpus, platform, e.cpu_ram_bytes / 1e9, c.ram_ratio)
                if hosts is None:
                    continue
                cost = g.price * n + hosts
                best = cost if best is None else min(best, cost)
    _assert_same_optimum(res, best)


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
    tight = plan(arch, wl, cat, Constraints(budget=budget, max_gpus=4), alternatives=0)
    loose = plan(arch, wl, cat, Constraints(budget=budget + extra, max_gpus=4), alternatives=0)
    if tight.feasible:
        assert loose.feasible and loose.plan.total_cost <= tight.plan.total_cost + 1e-6
    fewer = _tiny_catalog(specs[:-1], platform)
    small = plan(arch, wl, fewer, Constraints(max_gpus=4), alternatives=0)
    full = plan(arch, wl, cat, Constraints(max_gpus=4), alternatives=0)
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
        assert row["usable_bytes"] <= 0.9 * g.memory_bytes and row["need_bytes"] <= row["usable_bytes"]
    assert not any(CATALOG.gpus[n].is_machine for n in res.plan.gpus)     # vLLM is modelled for CUDA only
