"""Speed work must not change a single result: every cache and every faster algorithm is checked against
what it replaces (issue 20)."""
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.catalog import load_catalog
from planner.data import builtin_registry
from planner.throughput import training
from planner.throughput.comm import Link, network_link, nvlink_link, pcie_link
from planner.throughput.hardware import card_of
from planner.workload import Workload

reg = builtin_registry()
cat = load_catalog()

MODELS = ["llama-3.2-1b", "llama-3.1-8b", "mixtral-8x7b", "llama-3.1-70b"]
CARDS = ["h100-sxm", "rtx-4090", "a100-80gb-pcie", "mi300x", "mac-studio-m3-ultra-512gb", "l40s"]


def _links(card):
    return [Link("none", 0.0), nvlink_link(card, 450.0), pcie_link(card, 16), network_link(100, pcie_link(card, 8))]


@settings(max_examples=60, deadline=None)
@given(model=st.sampled_from(MODELS), gpu=st.sampled_from(CARDS),
       method=st.sampled_from(["lora", "qlora", "full", "pretrain"]), framework=st.sampled_from(["hf", "hf-fsdp", "torchtune", "unsloth"]),
       batch=st.integers(1, 16), seq=st.sampled_from([256, 2048, 8192]), rank=st.sampled_from([4, 16, 128]),
       targets=st.sampled_from(["all-linear", "attention", "q_proj,v_proj"]), ckpt=st.booleans(),
       accum=st.integers(1, 4), gpus=st.sampled_from([1, 2, 8, 64]),
       strategy=st.sampled_from([(0, "none"), (1, "none"), (3, "none"), (2, "optimizer"), (3, "optimizer+params")]),
       link=st.integers(0, 3), fp8=st.booleans())
def test_a_cached_training_step_equals_one_computed_from_scratch(model, gpu, method, framework, batch, seq, rank,
                                                                  targets, ckpt, accum, gpus, strategy, link, fp8):
    """The per-workload caches (stack and numerics, LoRA parameters, adapters, quantised weights) give exactly
    what a cold computation does, whatever GPU count, sharding and link the step then adds."""
    arch, card = reg.models[model], card_of(cat.gpus[gpu])
    w = Workload(method=method, framework=framework, batch_size=batch, seq_len=seq, lora_rank=rank,
                 lora_targets=targets, gradient_checkpointing=ckpt, grad_accum=accum, gpus=gpus)
    zero, offload = strategy
    lk = _links(card)[link]
    training.training_step(arch, w, card, 1, _links(card)[0], fp8=fp8)      # fills the caches
    warm = training.training_step(arch, w, card, gpus, lk, zero, offload, fp8=fp8)
    training._STACK_NUMERICS.clear()
    for f in (training._lora_params_of, training._quantised_weights, training._adapters):
        f.cache_clear()
    cold = training.training_step(arch, w, card, gpus, lk, zero, offload, fp8=fp8)
    assert (warm.seconds, warm.tokens, warm.parts, warm.bound) == (cold.seconds, cold.tokens, cold.parts, cold.bound)


def test_card_of_is_cached_on_the_fields_it_reads():
    g = cat.gpus["rtx-4090"]
    assert card_of(g) is card_of(g) and card_of(g) == card_of(g.replace())
    assert card_of(g.replace(bf16_tflops=100.0)).bf16_tflops == 100.0


# ---------------------------------------------------------------------------------------------------
# Candidate generation

def _all_pairs_prune(configs):
    """The all-pairs dominance pruning that configs.prune replaced (kept here as its specification)."""
    from planner.decision import HEADROOM_PREFERRED, headroom
    room = {id(cf): headroom(cf) for cf in configs}
    keep = []
    for cf in configs:
        t = cf.time_s if cf.time_s is not None else math.inf
        dominated = any(o is not cf and o.gpu.name == cf.gpu.name and o.hosting.cost_usd <= cf.hosting.cost_usd
                        and (o.time_s if o.time_s is not None else math.inf) <= t
                        and room[id(o)] >= min(room[id(cf)], HEADROOM_PREFERRED) - 1e-12
                        and (o.hosting.cost_usd, o.time_s or 0) != (cf.hosting.cost_usd, cf.time_s or 0)
                        for o in configs)
        if not dominated:
            keep.append(cf)
    seen, out = set(), []
    for cf in sorted(keep, key=lambda x: (len(x.savers), x.zero, x.offload != "none")):
        key = (cf.gpu.name, round(cf.hosting.cost_usd, 2), cf.time_s)
        if key not in seen:
            seen.add(key)
            out.append(cf)
    return out


@pytest.mark.parametrize("seed", range(300))
def test_pruning_equals_the_all_pairs_comparison_on_random_inputs(seed):
    """Pruning per card type over the no-dearer prefix keeps exactly the configurations, in the same order, that
    comparing every pair keeps: ties in cost and in time, no time (None), a time of 0 or inf, headroom on both
    sides of the preferred 10%, memory savers, several card types."""
    from types import SimpleNamespace as NS

    from planner.configs import prune
    rng = random.Random(seed)
    costs = [rng.choice([100.0, 250.5, 1000.0, 1000.004]) for _ in range(3)] + [rng.uniform(50, 5000)]
    times = [None, 0.0, math.inf, 3600.0, 7200.0, rng.uniform(1, 1e6)]
    configs = [NS(gpu=NS(name=rng.choice("abc")), hosting=NS(cost_usd=rng.choice(costs)), time_s=rng.choice(times),
                  zero=rng.choice([0, 1, 3]), offload=rng.choice(["none", "optimizer"]), part_configs=[],
                  usable_bytes=100, need_bytes=rng.choice([50, 85, 90, 95, 99]), savers=rng.choice([(), ("x",)]))
               for _ in range(rng.randint(0, 40))]
    assert [id(x) for x in prune(configs)] == [id(x) for x in _all_pairs_prune(configs)]


def test_a_sweep_of_distinct_solves_equals_planning_each_variant_alone_from_cold(tmp_path):
    """Candidates shared across variants (per card type, per housing, per micro-batch and timing) give
    exactly the rows of planning every variant on its own in a fresh state: every cache emptied first."""
    from pathlib import Path

    from planner.configs import clear_caches
    from planner.files import read_yaml
    from planner.scenario import Scenario, _constraints, _jobs, apply_overrides, expand, row_of, run_scenario
    from planner.solver import plan_jobs
    f = tmp_path / "s.yaml"
    f.write_text("""
workloads: [{name: ft, model: llama-3.1-8b, method: lora, gradient_checkpointing: true}]
constraints: {budget: 20000}
sweep:
  seq_len: [1024, 8192]
  batch_size: [1, 8]
  price_change.rtx-4090: ["-40%", "0%", "+50%"]
  lora_rank: [8, 128]
""")
    _, fast = run_scenario(str(f), workers=1)
    raw, path = read_yaml(f, "scenario"), Path(f)
    base = load_catalog()
    alone = []
    for values, variant in expand(raw, path):
        clear_caches()
        sc = Scenario.model_validate(variant)
        res = plan_jobs(_jobs(sc, path), apply_overrides(base, sc.catalog, path), _constraints(sc), alternatives=0)
        alone.append(row_of(values, res, sc.constraints.currency.upper()))
    assert fast == alone
    assert len({r["cost"] for r in fast}) > 1


def test_a_changed_price_reprices_that_card_and_rebuilds_no_memory_estimate():
    """A variant that changes one card's price re-houses that card alone (its configurations cost exactly
    count x the price change less); the memory estimates are reused."""
    from planner import configs
    from planner.solver import Constraints, candidates
    arch, wl = reg.models["llama-3.1-8b"], Workload(method="lora")
    before = candidates(arch, wl, cat, Constraints(budget=20000)).configs
    estimates = len(configs._ESTIMATES)
    g = before[0].gpu
    cheaper = cat.replace(gpus={**cat.gpus, g.name.lower(): g.replace(price=g.price / 2)})
    after = candidates(arch, wl, cheaper, Constraints(budget=20000)).configs
    assert len(configs._ESTIMATES) == estimates
    old = {cf.key: cf.hosting.cost_usd for cf in before}
    for cf in after:
        drop = cf.count * g.price / 2 if cf.gpu.name == g.name else 0.0
        if cf.key in old:
            assert math.isclose(cf.hosting.cost_usd, old[cf.key] - drop, rel_tol=1e-9)


# ---------------------------------------------------------------------------------------------------
# Start-up

def _python(code: str, env: dict | None = None):
    import os
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))


def test_json_catalogue_and_estimate_import_neither_rich_nor_the_solver():
    out = _python("import io, sys; from planner.cli import main\n"
                  "for argv in (['catalog', '--json'], ['estimate', '--model', '8b', '--method', 'lora', '--json']):\n"
                  "    main(argv, out=io.StringIO())\n"
                  "print(sorted(m for m in ('rich', 'pulp', 'highspy', 'numpy', 'planner.solver') if m in sys.modules))")
    assert out.stdout.strip() == "[]", out.stderr


def test_the_plan_command_imports_neither_pulp_nor_numpy():
    """The headline plan solves its integer program with HiGHS's native module (planner/milp.py): the highspy
    package (whose __init__ imports numpy, ~110 ms of a 0.46 s plan, issue 20) and PuLP are never imported."""
    import json
    out = _python("import sys; sys.argv = ['plan', '--model', '70b', '--method', 'qlora', '--budget', '200000',"
                  " '--json']; from planner.console import main; main()", {"PYTHONPROFILEIMPORTTIME": "1"})
    assert out.returncode == 0 and json.loads(out.stdout)["plan"]["optimality"] == "proven"
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "planner.solver" in imported and "planner.milp" in imported
    assert not {m for m in imported if m.split(".")[0] in ("pulp", "numpy", "highspy")}


def test_the_console_command_sizes_native_thread_pools_unless_the_user_did():
    from planner.console import THREAD_POOL_VARIABLES, size_thread_pools
    env = {"OPENBLAS_NUM_THREADS": "4"}
    size_thread_pools(env)
    assert env["OPENBLAS_NUM_THREADS"] == "4"
    assert all(env[v] == "1" for v in THREAD_POOL_VARIABLES if v != "OPENBLAS_NUM_THREADS")


def test_the_console_command_exits_with_the_commands_code_after_flushing_its_output():
    """os._exit skips the interpreter's tear-down, never the output: the whole JSON document arrives, and the
    exit code is the command's (2 for bad input)."""
    import json
    ok = _python("import sys; sys.argv = ['plan', 'models', '--json']; from planner.console import main; main()")
    assert ok.returncode == 0 and "llama-3.1-8b" in json.loads(ok.stdout)["models"]
    bad = _python("import sys; sys.argv = ['plan', '--model', 'nosuch']; from planner.console import main; main()")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --model")
    threads = _python("import os, sys; sys.argv = ['plan', 'models', '--json']\n"
                      "from planner import console; console.size_thread_pools(); print(os.environ['OMP_NUM_THREADS'])",
                      {"OMP_NUM_THREADS": "3"})
    assert threads.stdout.strip() == "3"


# ---------------------------------------------------------------------------------------------------
# A fleet catalogue as a --catalog file

def test_a_2040_sku_catalogue_file_is_planned_optimally_and_its_parse_is_cached(tmp_path, monkeypatch):
    """2,040 GPU SKUs x 20 platforms (benchmarks/big_catalog.py): the plan is proven optimal by the integer
    program (HiGHS reports the optimum, not a time-limited best) and the same from cold caches, and an unchanged
    file is not parsed again (its JSON is cached, like the built-in files); an edited one is."""
    import sys
    from pathlib import Path

    import planner.files as files
    from planner.configs import clear_caches
    from planner.solver import Constraints, candidates, plan
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    from big_catalog import write_big_catalog
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PLANNER_NO_CACHE", raising=False)
    path = write_big_catalog(tmp_path / "fleet.yaml")
    big = load_catalog([str(path)])
    assert (len(big.gpus), len(big.platforms)) == (2040, 20)

    def no_parse(*a, **k):
        raise AssertionError("an unchanged catalogue file was parsed again")
    monkeypatch.setattr(files, "parse_yaml", no_parse)
    assert load_catalog([str(path)]).gpus == big.gpus
    path.write_text(path.read_text().replace("price: ", "price:  ", 1))      # same data, other bytes
    with pytest.raises(AssertionError, match="parsed again"):
        load_catalog([str(path)])
    monkeypatch.undo()

    clear_caches()
    arch, wl, c = reg.models["llama-3.1-70b"], Workload(method="qlora"), Constraints(budget=200_000)
    res = plan(arch, wl, big, c)
    assert res.feasible and res.plan.optimality == "proven" and res.plan.total_cost <= 200_000
    # the integer program over every SKU proves it: the same plan as solving the cheapest-first pool alone
    clear_caches()
    again = plan(arch, wl, big, c)
    assert (again.plan.gpus, again.plan.total_cost) == (res.plan.gpus, res.plan.total_cost)


@pytest.mark.parametrize("options", [
    dict(model="8b", method="lora"),
    dict(model="70b", method="qlora"),
    dict(model="8b", method="inference", batch_size=8),
])
def test_plans_differing_only_in_what_the_solve_reads_share_candidates_and_equal_cold_plans(options):
    """Budget, currency, objective and ownership costs are read by the solve alone (configs.SOLVE_ONLY): a warm
    plan after others with different values of them is exactly the plan made from empty caches."""
    from planner import api
    from planner.configs import clear_caches

    variants = [dict(budget=3000), dict(budget=250_000, currency="EUR"), dict(objective="time", budget=90_000),
                dict(budget=40_000, years=5)]
    warm = []
    for v in variants:
        warm.append(api.plan(**options, **v, alternatives=1).model_dump(mode="json"))
    for v, w in zip(variants, warm):
        clear_caches()
        cold = api.plan(**options, **v, alternatives=1).model_dump(mode="json")
        for d in (cold, w):
            d.pop("solve_seconds", None)
        assert w == cold, v


@settings(max_examples=60, deadline=None)
@given(card=st.sampled_from(["rtx-4090", "h100-sxm", "rtx-pro-6000-blackwell", "l40s", "mi300x", "rtx-5090"]),
       count=st.sampled_from([1, 2, 3, 4, 8, 16]), per=st.floats(0, 200), fixed=st.floats(0, 200),
       ratio=st.sampled_from([0.5, 1.0, 2.0]), network=st.booleans())
def test_housing_shared_across_host_ram_needs_equals_housing_the_job_alone(card, count, per, fixed, ratio, network):
    """Housing is shared by every job whose host RAM need --ram-ratio x VRAM covers (configs._host_ram_key):
    its machines and cost are exactly those machine_options + cheapest_hosting give for the job's own need."""
    from planner.configs import (Config, Constraints, cheapest_hosting, clear_caches, housing, machine_options)
    cat = load_catalog([])
    c = Constraints(ram_ratio=ratio)
    g = cat.gpus[card]

    def config(p, f):
        # training (a cluster network between machines) or independent inference replicas (none)
        return Config(g, count, 0, "none", None, 0, 0, host_ram_per_gpu_gb=p, host_ram_fixed_gb=f,
                      replicas=1 if network else count, span_hosts=network,
                      workload=None if network else Workload(method="inference"))
    housing(config(0.0, 0.0), cat, c)             # a job needing no host RAM houses these cards first
    options, hosting, _ = housing(config(per, fixed), cat, c)
    alone = config(per, fixed)
    alone.options = machine_options(alone, cat, c)
    direct = cheapest_hosting(count, alone.options, network, None, {})
    assert [(m.platform.name, m.k, m.ram_gb, m.cost_usd) for m in options] == \
        [(m.platform.name, m.k, m.ram_gb, m.cost_usd) for m in alone.options]
    assert (hosting is None) == (direct is None)
    if hosting is not None:
        assert hosting.cost_usd == direct.cost_usd
        assert [(m.platform.name, m.k, m.ram_gb, n) for m, n in hosting.machines] == \
            [(m.platform.name, m.k, m.ram_gb, n) for m, n in direct.machines]
    clear_caches()
