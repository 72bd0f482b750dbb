"""The integer program: cheapest GPUs, hosts, system RAM and interconnect that run a workload within a budget.

The memory side is settled before the ILP (planner/configs.py: per GPU type and strategy, the smallest GPU
count that fits). The ILP chooses among those configurations and buys what they need around them: hosts
(slots, power), RAM (ratio to VRAM, offloaded states), NVLink bridges and a network when more than one host
is needed.

Inference splits layers across cards (pipeline, as device_map="auto" or llama.cpp do), so different card
types may be mixed: there the memory constraint is linear in the card counts and lives inside the ILP.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import pulp

from planner.architecture import Architecture
from planner.catalog import GB, GPU, Catalog, Platform
from planner.configs import (Config, Constraints, Job, candidate_gpus, config_throughput, inference_config,
                             layer_split_need, layer_split_room, serving_configs, tensor_parallel_configs,
                             training_configs, usable_bytes)
from planner.errors import InputError
from planner.estimator import Estimate, estimate
from planner.timing import Throughput, energy_kwh, inference_throughput
from planner.workload import Workload

__all__ = ["Constraints", "Job", "Config", "Item", "Plan", "Result", "plan", "plan_jobs", "usable_bytes",
           "cards_per_host"]


@dataclass
class Item:
    kind: str          # gpu | host | ram | bridge | network
    name: str
    count: int
    unit_price: float  # in the plan's currency

    @property
    def subtotal(self) -> float:
        return self.unit_price * self.count


@dataclass
class Plan:
    items: list[Item]
    total_cost: float
    currency: str
    strategy: str
    gpus: dict[str, int]
    hosts: dict[str, int]
    ram_gb: int
    vram_gb: float
    power_w: float
    per_gpu: list[dict]                # per GPU type: need vs usable memory
    estimate: Estimate
    config: Config | None = None
    tokens_per_s: float = 0.0
    time_s: float | None = None          # time to result (training tokens / inference requests)
    energy_kwh: float | None = None
    energy_cost: float | None = None     # in `currency`
    time_detail: str = ""

    def to_dict(self) -> dict:
        return {
            "tokens_per_s": round(self.tokens_per_s, 1), "time_s": self.time_s,
            "time_days": None if self.time_s is None else round(self.time_s / 86400, 3),
            "energy_kwh": None if self.energy_kwh is None else round(self.energy_kwh, 1),
            "energy_cost": None if self.energy_cost is None else round(self.energy_cost, 2),
            "items": [{"kind": i.kind, "name": i.name, "count": i.count, "unit_price": round(i.unit_price, 2),
                       "subtotal": round(i.subtotal, 2)} for i in self.items],
            "total_cost": round(self.total_cost, 2), "currency": self.currency, "strategy": self.strategy,
            "gpus": self.gpus, "hosts": self.hosts, "ram_gb": self.ram_gb, "vram_gb": round(self.vram_gb, 1),
            "power_w": round(self.power_w), "memory": self.per_gpu,
        }


@dataclass
class Result:
    feasible: bool
    plan: Plan | None
    alternatives: list[Plan]
    reason: str = ""
    binding: str = ""
    min_budget: float | None = None
    solve_seconds: float = 0.0
    rejected: dict[str, str] = field(default_factory=dict)   # GPU -> why it cannot run the job
    solver: str = ""


# ---------------------------------------------------------------------------------------------------

def pick_solver(msg: bool = False, time_limit: float = 20):
    """In-process HiGHS when highspy is installed, else CBC (bundled with PuLP 2.x/3.x or on PATH)."""
    highs = pulp.HiGHS(msg=msg, timeLimit=time_limit)
    if highs.available():
        return highs
    cbc = pulp.COIN_CMD(msg=msg, timeLimit=time_limit)
    if cbc.available():
        return cbc
    legacy = getattr(pulp, "PULP_CBC_CMD", None)
    if legacy is not None and legacy(msg=msg).available():
        return legacy(msg=msg, timeLimit=time_limit)
    raise InputError("no MILP solver available: pip install highspy (or pulp[cbc])")


# ---------------------------------------------------------------------------------------------------

@dataclass
class _Model:
    prob: pulp.LpProblem
    n: dict            # GPU name -> LpAffineExpression (count)
    used: dict         # GPU name -> binary
    x: dict            # config index -> binary (training)
    y: dict            # platform -> int
    r: dict            # platform -> int (RAM units)
    a: dict            # (gpu, platform) -> int
    net: dict
    cost: pulp.LpAffineExpression
    power: pulp.LpAffineExpression
    ram_gb: pulp.LpAffineExpression


def build_model(catalog: Catalog, c: Constraints, gpus: list[GPU], configs: list[Config] | None,
                inference_need: tuple[int, int, float] | None, budget_usd: float | None) -> _Model:
    """configs: training (one configuration is chosen).
    inference_need: (bytes shared across a layer split, bytes every card needs besides, host RAM GB)."""
    prob = pulp.LpProblem("hardware_plan", pulp.LpMinimize)
    platforms: list[Platform] = list(catalog.platforms.values())
    M = c.max_gpus
    n, used, x = {}, {}, {}
    cost_terms, power_terms = [], []
    ram_need_terms = []
    mem_terms = []
    nvidia = [g for g in gpus if not g.is_machine]
    macs = [g for g in gpus if g.is_machine]
    for g in gpus:
        used[g.name] = _var(prob, f"use_{_id(g.name)}", 0, 1, "Binary")
    if configs is not None:
        for i, cf in enumerate(configs):
            x[i] = _var(prob, f"cfg_{i}", 0, 1, "Binary")
        prob += pulp.lpSum(x.values()) == 1, "one_configuration"
        for g in gpus:
            n[g.name] = pulp.lpSum(cf.count * x[i] for i, cf in enumerate(configs) if cf.gpu.name == g.name)
            prob += used[g.name] == pulp.lpSum(x[i] for i, cf in enumerate(configs) if cf.gpu.name == g.name)
        ram_need_terms.append(pulp.lpSum(cf.ram_need_gb * x[i] for i, cf in enumerate(configs)))
    else:
        shared, overhead, host_ram_gb, engine = inference_need
        for g in nvidia:
            lo = c.min_gpus.get(g.name, 0)
            step = g.nvlink.width if (c.require_nvlink and g.nvlink and g.nvlink.width == 2) else 1
            k = _var(prob, f"k_{_id(g.name)}", 0, M // step, "Integer")
            n[g.name] = step * k
            prob += n[g.name] <= M * used[g.name]
            prob += n[g.name] >= used[g.name]
            if lo:
                prob += n[g.name] >= lo * used[g.name]
        for g in macs:
            n[g.name] = used[g.name]
        usable = {g.name: layer_split_room(g, c.margin, engine, overhead) for g in gpus}
        mem_terms = [usable[g.name] / GB * n[g.name] for g in gpus if usable[g.name] > 0]
        for g in gpus:
            if usable[g.name] <= 0:
                prob += used[g.name] == 0
        prob += pulp.lpSum(mem_terms) >= shared / GB, "memory"
        prob += pulp.lpSum(n[g.name] for g in nvidia) <= M, "max_gpus"
        ram_need_terms.append(host_ram_gb)
    # Apple machines are whole systems: at most one, and nothing else beside it
    if macs:
        prob += pulp.lpSum(used[g.name] for g in macs) <= 1, "one_mac"
        for g in nvidia:
            prob += n[g.name] <= M * (1 - pulp.lpSum(used[m.name] for m in macs))
    # Hosts
    y, r, a, net = {}, {}, {}, {}
    multi = _var(prob, "multi_node", 0, 1, "Binary")
    for p in platforms:
        pid = _id(p.name)
        y[p.name] = _var(prob, f"hosts_{pid}", 0, M, "Integer")
        r[p.name] = _var(prob, f"ram_{pid}", 0, None, "Integer")
        net[p.name] = _var(prob, f"net_{pid}", 0, None, "Integer")
        placed = []
        for g in nvidia:
            per_host = cards_per_host(g, p)
            if g.form in p.forms and per_host > 0:
                a[g.name, p.name] = _var(prob, f"a_{_id(g.name)}_{pid}", 0, M, "Integer")
                placed.append(g)
                # per host: no more of this card than its slots and power allow (exact for one card type)
                prob += a[g.name, p.name] <= per_host * y[p.name], f"cap_{_id(g.name)}_{pid}"
        prob += pulp.lpSum(a[g.name, p.name] for g in placed) <= p.max_gpus * y[p.name], f"gpus_per_{pid}"
        prob += pulp.lpSum(g.slot_width * a[g.name, p.name] for g in placed) <= p.slot_width * y[p.name], \
            f"slots_{pid}"
        prob += pulp.lpSum(g.tdp_w * a[g.name, p.name] for g in placed) + p.base_w * y[p.name] \
            <= 0.8 * p.psu_w * y[p.name], f"power_{pid}"
        prob += r[p.name] * p.ram_step_gb <= p.max_ram_gb * y[p.name], f"max_ram_{pid}"
        prob += net[p.name] >= y[p.name] - M * (1 - multi), f"network_{pid}"
        if not p.multi_node:
            prob += y[p.name] <= M * (1 - multi), f"single_node_{pid}"
        cost_terms += [catalog.to_usd(p.price, p.currency) * y[p.name],
                       p.ram_price_per_gb * p.ram_step_gb * r[p.name],
                       p.network_per_node * net[p.name]]
        power_terms += [p.base_w * y[p.name]] + [g.tdp_w * a[g.name, p.name] for g in placed]
    prob += pulp.lpSum(y.values()) <= 1 + M * multi, "multi_node"
    if c.single_host:
        prob += multi == 0, "single_host"
    for g in nvidia:
        prob += pulp.lpSum(v for (gn, _), v in a.items() if gn == g.name) == n[g.name], f"place_{_id(g.name)}"
        cost_terms.append(catalog.gpu_price_usd(g) * n[g.name])
        if c.require_nvlink and g.nvlink and g.nvlink.width == 2 and g.nvlink.bridge_price:
            cost_terms.append(g.nvlink.bridge_price / 2 * n[g.name])       # one bridge per pair
    for g in macs:
        cost_terms.append(catalog.gpu_price_usd(g) * used[g.name])
        power_terms.append(g.tdp_w * used[g.name])
    # System RAM: ratio to VRAM (NVIDIA hosts) and what the job keeps in host memory
    ram_gb = pulp.lpSum(p.ram_step_gb * r[p.name] for p in platforms)
    vram_gb = pulp.lpSum(g.memory_gb * n[g.name] for g in nvidia)
    prob += ram_gb >= c.ram_ratio * vram_gb, "ram_ratio"
    mac_used = pulp.lpSum(used[g.name] for g in macs) if macs else 0
    need_terms = pulp.lpSum(ram_need_terms) if ram_need_terms else 0
    prob += ram_gb >= need_terms - 1e6 * mac_used, "ram_need"
    cost = pulp.lpSum(cost_terms)
    power = pulp.lpSum(power_terms)
    if budget_usd is not None:
        prob += cost <= budget_usd, "budget"
    # tie-breaks (well below one dollar): less power, then the simpler strategy (lower ZeRO stage, no offload)
    simpler = pulp.lpSum((cf.zero + 2 * (cf.offload != "none")) * 1e-2 * x[i] for i, cf in enumerate(configs)) \
        if configs is not None else 0
    prob += cost + 1e-3 * power + simpler
    return _Model(prob, n, used, x, y, r, a, net, cost, power, ram_gb)


def cards_per_host(g: GPU, p: Platform) -> int:
    """How many cards of one type a host of this platform takes: slots, slot width and 80% of the PSU."""
    by_power = int((0.8 * p.psu_w - p.base_w) // g.tdp_w)
    return max(0, min(p.max_gpus, p.slot_width // g.slot_width, by_power))


def _var(prob: pulp.LpProblem, name: str, low=0, up=None, cat="Integer"):
    """A variable attached to prob: PuLP >= 3.3.1 and 4.x spell it prob.add_variable, older PuLP LpVariable."""
    if hasattr(prob, "add_variable"):
        return prob.add_variable(name, lowBound=low, upBound=up, cat=cat)
    return pulp.LpVariable(name, lowBound=low, upBound=up, cat=cat)


def _id(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def _solve(model: _Model, solver) -> bool:
    model.prob.solve(solver)
    return pulp.LpStatus[model.prob.status] == "Optimal"


def _val(v) -> float:
    x = pulp.value(v)
    return 0.0 if x is None else float(x)


def _extract(model: _Model, catalog: Catalog, arch: Architecture, wl: Workload, c: Constraints, gpus: list[GPU],
             configs: list[Config] | None, base_est: Estimate | None, inference_overhead: int) -> Plan:
    rate = catalog.rate(c.currency)
    items: list[Item] = []
    counts = {g.name: int(round(_val(model.n[g.name]))) for g in gpus}
    counts = {k: v for k, v in counts.items() if v > 0}
    by_name = {g.name: g for g in gpus}
    for name, k in counts.items():
        g = by_name[name]
        items.append(Item("gpu", name, k, catalog.gpu_price_usd(g) * rate))
        if c.require_nvlink and g.nvlink and g.nvlink.width == 2 and g.nvlink.bridge_price and k >= 2:
            items.append(Item("bridge", f"nvlink-bridge ({name})", k // 2, g.nvlink.bridge_price * rate))
    hosts, ram_gb = {}, 0
    for p in catalog.platforms.values():
        h = int(round(_val(model.y[p.name])))
        if h:
            hosts[p.name] = h
            items.append(Item("host", p.name, h, catalog.to_usd(p.price, p.currency) * rate))
        units = int(round(_val(model.r[p.name])))
        if units:
            ram_gb += units * p.ram_step_gb
            items.append(Item("ram", f"ram {p.ram_step_gb} GB ({p.name})", units,
                              p.ram_price_per_gb * p.ram_step_gb * rate))
        nn = int(round(_val(model.net[p.name])))
        if nn:
            items.append(Item("network", f"network per node ({p.name})", nn, p.network_per_node * rate))
    config = None
    if configs is not None:
        config = next(cf for i, cf in enumerate(configs) if _val(model.x[i]) > 0.5)
        est = config.estimate
        strategy = config.strategy
        per_gpu = [{"gpu": config.gpu.name, "count": config.count, "need_bytes": config.need_bytes,
                    "usable_bytes": config.usable_bytes,
                    "headroom_bytes": config.usable_bytes - config.need_bytes}]
    else:
        est = base_est
        if any(by_name[k].is_machine for k in counts):
            est = estimate(arch, wl.model_copy(update={"gpus": 1}), cuda_context=0)
        total_cards = sum(counts.values())
        strategy = "single GPU" if total_cards == 1 else f"{total_cards} GPUs, layers split (pipeline)"
        if any(by_name[k].is_machine for k in counts):
            strategy = "single machine (unified memory)"
        shared, _ = layer_split_need(est)
        room = {k: layer_split_room(by_name[k], c.margin, wl.engine, inference_overhead) for k in counts}
        cap = sum(room[k] * v for k, v in counts.items())
        per_gpu = []
        for k, v in counts.items():
            g = by_name[k]
            usable = usable_bytes(g, c.margin, wl.engine)
            share = room[k] / cap * shared if cap > 0 else 0
            need = int(share + inference_overhead + g.context_bytes)
            per_gpu.append({"gpu": k, "count": v, "need_bytes": need, "usable_bytes": usable,
                            "headroom_bytes": usable - need})
    if config is not None and config.parts:
        per_gpu = [{"gpu": cf.gpu.name, "count": cf.count, "job": j.name, "need_bytes": cf.need_bytes,
                    "usable_bytes": cf.usable_bytes, "headroom_bytes": cf.usable_bytes - cf.need_bytes}
                   for j, cf in zip(config.parts, config.part_configs)]
        times = [config_throughput(j.arch, j.workload, cf, j.tokens, j.requests)
                 for j, cf in zip(config.parts, config.part_configs)]
        secs = [t.seconds for t in times if t.seconds is not None]
        total_s = (sum(secs) if c.mode == "sequential" else max(secs)) if secs else None
        tp = Throughput(sum(t.tokens_per_s for t in times), total_s,
                        "; ".join(f"{j.name}: {t.tokens_per_s:,.0f} tokens/s" for j, t in zip(config.parts, times)))
    elif config is not None:
        tp = config_throughput(arch, wl, config, c.tokens, c.requests)
    else:
        cap_total = sum(r["usable_bytes"] * r["count"] for r in per_gpu) or 1
        stages = [(r["usable_bytes"] * r["count"] / cap_total, by_name[r["gpu"]].bf16_tflops,
                   by_name[r["gpu"]].bandwidth_gbps) for r in per_gpu]
        tp = inference_throughput(arch, wl, stages, est.breakdown["weights"], est.breakdown["kv_cache"],
                                  c.requests)
    vram = sum(by_name[k].memory_gb * v for k, v in counts.items())
    if any(by_name[k].is_machine for k in counts):
        ram_gb = int(sum(by_name[k].memory_gb for k in counts))
    total = sum(i.subtotal for i in items)
    power = _val(model.power)
    kwh = energy_kwh(power, tp.seconds)
    return Plan(items, total, c.currency.upper(), strategy, counts, hosts, ram_gb, vram, power, per_gpu, est, config,
                tokens_per_s=tp.tokens_per_s, time_s=tp.seconds, energy_kwh=kwh,
                energy_cost=None if kwh is None else kwh * catalog.electricity_usd_per_kwh * rate,
                time_detail=tp.detail)


def memory_advice(wl: Workload, c: Constraints) -> str:
    """What would make a workload that fits no card fit: the changes that cut memory the most first."""
    tips = []
    if wl.training and not wl.gradient_checkpointing:
        tips.append("add --gradient-checkpointing")
    if wl.full:
        tips.append("use --method lora or qlora")
    elif wl.method == "lora":
        tips.append("use --method qlora")
    if wl.training and c.offload is None:
        tips.append("allow CPU offload (--offload any)")
    if wl.batch_size > 1:
        tips.append("lower --batch-size")
    if wl.seq_len > 2048:
        tips.append("shorten --seq-len")
    if wl.method == "inference" and wl.precision in ("bf16", "fp16", "fp32"):
        tips.append("quantise (--precision int8 or nf4)")
    if c.max_gpus < 4096:
        tips.append(f"raise --max-gpus (now {c.max_gpus})")
    if c.include or c.exclude or not c.allow_used:
        tips.append("widen the catalogue (--include/--exclude/--allow-used)")
    return "; ".join(tips) if tips else "the model is too large for every catalogued GPU"


def plan(arch: Architecture, wl: Workload, catalog: Catalog, c: Constraints, alternatives: int = 3) -> Result:
    """Cheapest hardware for the workload; alternatives are the next cheapest with different GPU types."""
    c.validate(catalog)
    if c.deadline_s is not None and not wl.training and not c.requests:
        raise InputError("--deadline for inference needs --requests (how many sequences to serve in that time)")
    t0 = time.perf_counter()
    gpus, rejected = candidate_gpus(catalog, wl, c)
    budget_usd = catalog.to_usd(c.budget, c.currency) if c.budget is not None else None
    configs = None
    base_est = None
    overhead = 0
    inference_need = None
    if wl.training:
        configs = training_configs(arch, wl, gpus, c, rejected)
    elif c.deadline_s is not None:
        # serving within a deadline: replicas of the cheapest layer split on one card type, enough of them
        configs = serving_configs(arch, wl, gpus, c, rejected)
    elif wl.parallel == "tensor":
        # tensor parallelism all-reduces every layer: one card type, NVLink-connected, in one host
        c = replace(c, require_nvlink=True, single_host=True)
        gpus, more = candidate_gpus(catalog, wl, c)
        rejected.update(more)
        configs = tensor_parallel_configs(arch, wl, gpus, c, rejected)
    else:
        base_est = estimate(arch, wl.model_copy(update={"gpus": 1}))
        shared, overhead = layer_split_need(base_est)
        inference_need = (shared, overhead, base_est.cpu_ram_bytes / GB, wl.engine)
        keep = []
        for g in gpus:
            room = layer_split_room(g, c.margin, wl.engine, overhead)
            if room <= 0:
                rejected[g.name] = "too small for even one layer's activations at this batch and length"
            elif g.is_machine and room < shared:
                rejected[g.name] = (f"{shared / 2**30:.1f} GiB of weights and KV cache exceed its "
                                    f"{room / 2**30:.1f} GiB usable unified memory")
            else:
                keep.append(g)
        gpus = keep
    if configs is not None:
        gpus = [g for g in gpus if any(cf.gpu.name == g.name for cf in configs)]
    result = Result(False, None, [], rejected=rejected, solver="")
    if not gpus:
        result.reason = "no GPU in the catalogue can run this workload: " + memory_advice(wl, c)
        result.binding = "memory"
        result.solve_seconds = time.perf_counter() - t0
        return result
    return _search(catalog, arch, wl, c, gpus, configs, inference_need, base_est, overhead, budget_usd,
                   alternatives, result, t0)


def _search(catalog: Catalog, arch: Architecture, wl: Workload, c: Constraints, gpus: list[GPU],
            configs: list[Config] | None, inference_need, base_est: Estimate | None, overhead: int,
            budget_usd: float | None, alternatives: int, result: Result, t0: float) -> Result:
    """Solve; when infeasible, say which constraint binds; else add the next-cheapest alternatives."""
    solver = pick_solver()
    result.solver = solver.name

    def best_plan(budget, cuts=(), banned=frozenset()) -> Plan | None:
        m = build_model(catalog, c, gpus, configs, inference_need, budget)
        for used_set in cuts:                     # no-good cuts: not this set of GPU types again
            m.prob += pulp.lpSum(m.used[gname] for gname in used_set) <= len(used_set) - 1
        for gname in banned:
            m.prob += m.used[gname] == 0
        return _extract(m, catalog, arch, wl, c, gpus, configs, base_est, overhead) if _solve(m, solver) else None

    best = best_plan(budget_usd)
    if best is None:
        # Which constraint binds? Drop the budget and try again.
        relaxed = best_plan(None) if budget_usd is not None else None
        if relaxed is not None:
            result.binding, result.min_budget = "budget", relaxed.total_cost
            result.reason = (f"the budget of {c.budget:,.0f} {c.currency.upper()} is too small: the cheapest "
                             f"plan that fits costs {relaxed.total_cost:,.0f} {relaxed.currency}")
            result.alternatives = [relaxed]
        else:
            result.binding = "hosts"
            result.reason = ("no combination of hosts can carry the GPUs this needs within --max-gpus "
                             f"{c.max_gpus}; raise --max-gpus or allow other hardware")
        result.solve_seconds = time.perf_counter() - t0
        return result
    result.feasible, result.plan = True, best
    cuts = [set(best.gpus)]
    for _ in range(alternatives):
        alt = best_plan(budget_usd, cuts)
        if alt is None:
            break
        result.alternatives.append(alt)
        cuts.append(set(alt.gpus))
    # ... and always show the cheapest plan of the other family (Apple machine vs discrete GPUs)
    if alternatives:
        is_mac = lambda p: any(g.is_machine for g in gpus if g.name in p.gpus)  # noqa: E731
        if all(is_mac(p) == is_mac(best) for p in result.alternatives):
            other = best_plan(budget_usd, banned={g.name for g in gpus if g.is_machine == is_mac(best)})
            if other is not None:
                result.alternatives = result.alternatives[:max(alternatives - 1, 0)] + [other]
    result.solve_seconds = time.perf_counter() - t0
    return result


def plan_jobs(jobs: list[Job], catalog: Catalog, c: Constraints, alternatives: int = 0) -> Result:
    """One purchase for several workloads. sequential: the cards must hold each job in turn (count = max);
    concurrent: each job runs on its own cards of the chosen type at the same time (count = sum).
    Mixed card types are used for single inference jobs only (plan())."""
    if len(jobs) == 1:
        j = jobs[0]
        cj = replace(c, tokens=j.tokens if j.tokens is not None else c.tokens,
                     requests=j.requests if j.requests is not None else c.requests)
        return plan(j.arch, j.workload, catalog, cj, alternatives)
    c.validate(catalog)
    t0 = time.perf_counter()
    rejected: dict[str, str] = {}
    candidates = None
    for j in jobs:
        gs, rej = candidate_gpus(catalog, j.workload, c)
        rejected.update(rej)
        names = {g.name for g in gs}
        candidates = names if candidates is None else candidates & names
    gpus = [g for g in catalog.gpus.values() if g.name in (candidates or set())]
    configs = []
    for g in gpus:
        parts = []
        for j in jobs:
            if j.workload.training:
                cj = replace(c, tokens=j.tokens, deadline_s=c.deadline_s)
                options = training_configs(j.arch, j.workload, [g], cj, {})
                best = min(options, key=lambda cf: (cf.count, cf.zero, cf.offload != "none"), default=None)
            else:
                best = inference_config(j, g, c)
            if best is None:
                rejected[g.name] = f"cannot run {j.name or j.arch.name}"
                break
            parts.append(best)
        else:
            if c.mode == "concurrent":
                count, ram = sum(p.count for p in parts), sum(p.ram_need_gb for p in parts)
            else:
                count, ram = max(p.count for p in parts), max(p.ram_need_gb for p in parts)
            if g.is_machine and count > 1:
                rejected[g.name] = "the jobs together need more than one machine"
                continue
            if count > c.max_gpus:
                rejected[g.name] = f"needs {count} GPUs, more than --max-gpus {c.max_gpus}"
                continue
            tight = min(parts, key=lambda p: p.usable_bytes - p.need_bytes)
            configs.append(Config(g, count, max(p.zero for p in parts), tight.offload, tight.estimate,
                                  tight.need_bytes, tight.usable_bytes, ram, parts=list(jobs), part_configs=parts))
    result = Result(False, None, [], rejected=rejected)
    if not configs:
        result.reason, result.binding = "no GPU type can run every workload of the scenario", "memory"
        result.solve_seconds = time.perf_counter() - t0
        return result
    gpus = [g for g in gpus if any(cf.gpu.name == g.name for cf in configs)]
    budget_usd = catalog.to_usd(c.budget, c.currency) if c.budget is not None else None
    head = jobs[0]
    return _search(catalog, head.arch, head.workload, c, gpus, configs, None, None, 0, budget_usd, alternatives,
                   result, t0)
