"""The integer program: cheapest GPUs, hosts, system RAM and interconnect that run a workload within a budget.

Memory need per GPU depends non-linearly on the number of GPUs (ZeRO shards by N), so - like SkyPilot's
optimizer - the memory side is settled before the ILP: for every GPU type and parallel strategy we compute
the smallest GPU count whose per-GPU peak fits the card. The ILP then chooses among those configurations
and buys what they need around them: hosts (slots, power), RAM (ratio to VRAM, offloaded states), NVLink
bridges and a network when more than one host is needed.

Inference splits layers across cards (pipeline, as device_map="auto" or llama.cpp do), so different card
types may be mixed: there the memory constraint is linear in the card counts and lives inside the ILP.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import pulp

from planner.architecture import Architecture
from planner.catalog import GB, GPU, Catalog, Platform
from planner.errors import InputError
from planner.estimator import Estimate, estimate
from planner.timing import (default_training_tokens, energy_kwh, inference_throughput, min_gpus_for_deadline,
                            training_throughput)
from planner.workload import Workload

STRATEGIES = [(0, "none"), (1, "none"), (2, "none"), (3, "none"), (2, "optimizer"), (3, "optimizer"),
              (3, "optimizer+params")]


@dataclass
class Constraints:
    budget: float | None = None          # in `currency`
    currency: str = "USD"
    max_gpus: int = 64
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    allow_used: bool = False
    zero: int | None = None              # force a ZeRO stage
    offload: str | None = None           # force an offload mode
    ram_ratio: float = 1.0               # system RAM >= ratio x total VRAM
    margin: float = 0.05                 # fraction of each card's memory kept free
    require_nvlink: bool = False
    min_gpus: dict[str, int] = field(default_factory=dict)   # per SKU lower bounds
    tokens: int | None = None            # training tokens (None: Chinchilla for pre-training)
    deadline_s: float | None = None      # training must finish within this
    requests: int | None = None          # inference: sequences to serve, for time and energy
    mode: str = "sequential"             # several workloads: one after another, or concurrent (own cards each)
    single_host: bool = False            # every GPU in one host (tensor parallelism)

    def validate(self, catalog: Catalog) -> None:
        for flag, v in (("--budget", self.budget), ("--ram-ratio", self.ram_ratio), ("--margin", self.margin),
                        ("--deadline", self.deadline_s)):
            if v is not None and not math.isfinite(v):
                raise InputError(f"{flag} must be a finite number, got {v}")
        if self.budget is not None and self.budget <= 0:
            raise InputError(f"--budget must be positive, got {self.budget:g}")
        if not 1 <= self.max_gpus <= 4096:
            raise InputError(f"--max-gpus must be between 1 and 4096, got {self.max_gpus}")
        if not 0 <= self.ram_ratio <= 64:
            raise InputError(f"--ram-ratio must be between 0 and 64, got {self.ram_ratio:g}")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise InputError(f"--deadline must be positive, got {self.deadline_s / 86400:g} days")
        if self.tokens is not None and self.tokens <= 0:
            raise InputError(f"--tokens must be positive, got {self.tokens}")
        if not 0 <= self.margin < 0.9:
            raise InputError(f"--margin must be a fraction in [0, 0.9), got {self.margin:g}")
        catalog.rate(self.currency)
        for flag, names in (("--include", self.include), ("--exclude", self.exclude)):
            for n in names:
                if n.lower() not in catalog.gpus:
                    import difflib
                    close = difflib.get_close_matches(n.lower(), list(catalog.gpus), n=3, cutoff=0.4)
                    hint = f"; did you mean {', '.join(close)}?" if close else "; see `plan catalog`"
                    raise InputError(f"{flag}: unknown GPU {n!r}{hint}")


@dataclass
class Job:
    """One workload of a purchase, with the amount of work that sets its time to result."""
    arch: Architecture
    workload: Workload
    name: str = ""
    tokens: int | None = None           # training tokens
    requests: int | None = None         # inference sequences


@dataclass
class Config:
    """One way to run the job on one GPU type: count, strategy and the estimate behind it."""
    gpu: GPU
    count: int
    zero: int
    offload: str
    estimate: Estimate
    need_bytes: int            # per GPU: peak + allocator slack + context
    usable_bytes: int
    ram_need_gb: float
    replicas: int = 1                                       # inference: independent copies serving in parallel
    parts: list[Job] = field(default_factory=list)          # several workloads on one purchase
    part_configs: list["Config"] = field(default_factory=list)

    @property
    def strategy(self) -> str:
        if self.parts:
            return "; ".join(f"{j.name}: {cf.strategy}" for j, cf in zip(self.parts, self.part_configs))
        if self.gpu.is_machine:
            return "single machine (unified memory)"
        if self.replicas > 1:
            per = self.count // self.replicas
            return f"{self.replicas} replicas x {per} GPU{'s, layers split' if per > 1 else ''}"
        if self.count == 1:
            return "single GPU"
        if self.estimate.peak_phase in ("prefill", "decode", "serving"):
            split = "tensor parallel over NVLink" if any("tensor parallel" in a for a in self.estimate.assumptions) \
                else "layers split (pipeline)"
            return f"{self.count} GPUs, {split}"
        s = f"{self.count} GPUs, " + ("DDP" if self.zero == 0 else f"ZeRO-{self.zero}")
        return s + ("" if self.offload == "none" else f" + {self.offload} offload to CPU")


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


def _usable(g: GPU, margin: float) -> int:
    if g.is_machine:
        return int(g.memory_bytes * g.usable_fraction * (1 - margin))
    return int(g.memory_bytes * (1 - margin))


def candidate_gpus(catalog: Catalog, wl: Workload, c: Constraints) -> tuple[list[GPU], dict[str, str]]:
    rejected: dict[str, str] = {}
    out = []
    include = {n.lower() for n in c.include}
    exclude = {n.lower() for n in c.exclude}
    for key, g in catalog.gpus.items():
        if include and key not in include:
            continue
        if key in exclude:
            rejected[g.name] = "excluded"
            continue
        if g.market == "used" and not c.allow_used and key not in include:
            rejected[g.name] = "used market (add --allow-used)"
            continue
        if wl.method not in g.supports:
            rejected[g.name] = f"catalogue marks no {wl.method} support"
            continue
        if g.is_machine and (wl.optimizer.startswith("paged") or wl.optimizer == "adamw8bit") and wl.training:
            rejected[g.name] = "bitsandbytes 8-bit/paged optimizers do not run on Apple MPS"
            continue
        if c.require_nvlink and not g.nvlink:
            rejected[g.name] = "no NVLink (--require-nvlink)"
            continue
        out.append(g)
    return out, rejected


class _NeedCache:
    """Estimates per (gpus, zero, offload), computed once: the need does not depend on the card."""

    def __init__(self, arch: Architecture, wl: Workload):
        self.arch, self.wl, self.cache = arch, wl, {}

    def __call__(self, n: int, zero: int, offload: str, context: int) -> Estimate:
        key = (n, zero, offload, context)
        if key not in self.cache:
            w = self.wl.model_copy(update={"gpus": n, "zero_stage": zero, "offload": offload})
            self.cache[key] = estimate(self.arch, w, cuda_context=context)
        return self.cache[key]


def training_configs(arch: Architecture, wl: Workload, gpus: list[GPU], c: Constraints,
                     rejected: dict[str, str]) -> list[Config]:
    need = _NeedCache(arch, wl)
    # CPU offload trades a lot of speed for memory: only when asked (--offload MODE or --offload any)
    offloads = {"none"} if c.offload is None else ({"none", "optimizer", "optimizer+params"}
                                                   if c.offload == "any" else {c.offload})
    strategies = [s for s in STRATEGIES if (c.zero is None or s[0] == c.zero) and s[1] in offloads]
    configs = []
    for g in gpus:
        usable = _usable(g, c.margin)
        best_gap = None
        found = False
        for zero, offload in strategies:
            if g.is_machine and (zero, offload) != (0, "none"):
                continue            # one machine; offloading to unified memory gains nothing
            lo = max(1, c.min_gpus.get(g.name, 1))
            if c.deadline_s is not None:
                lo = max(lo, min_gpus_for_deadline(arch, wl, g.bf16_tflops, c.tokens or default_training_tokens(arch, wl)
                                                   or 0, c.deadline_s, offload))
            hi = 1 if (g.is_machine or zero == 0) else c.max_gpus
            if zero == 0 and not g.is_machine:
                hi = max(lo, 1) if lo <= c.max_gpus else 0
            if hi < lo:
                continue
            # per-GPU need (total on the device) falls as N grows under ZeRO: binary search the smallest N
            ctx = g.context_bytes
            if need(hi, zero, offload, ctx).total_bytes > usable:
                gap = need(hi, zero, offload, ctx).total_bytes - usable
                best_gap = gap if best_gap is None else min(best_gap, gap)
                continue
            a, b = lo, hi
            while a < b:
                mid = (a + b) // 2
                if need(mid, zero, offload, ctx).total_bytes <= usable:
                    b = mid
                else:
                    a = mid + 1
            est = need(a, zero, offload, ctx)
            configs.append(Config(g, a, zero, offload, est, est.total_bytes, usable, est.cpu_ram_bytes / GB))
            found = True
        if not found:
            short = f"{best_gap / 2**30:.1f} GiB short per GPU" if best_gap is not None else \
                ("too slow for the deadline within --max-gpus" if c.deadline_s else "no strategy allowed")
            rejected[g.name] = f"does not fit even with {c.max_gpus if not g.is_machine else 1} GPU(s) " \
                               f"and the allowed strategies ({short})"
    return configs


def tensor_parallel_configs(arch: Architecture, wl: Workload, gpus: list[GPU], c: Constraints,
                            rejected: dict[str, str]) -> list[Config]:
    """Smallest tensor-parallel degree (dividing the attention heads, within one NVLink domain) that fits."""
    configs = []
    for g in gpus:
        if g.is_machine:
            rejected[g.name] = "tensor parallelism needs several GPUs"
            continue
        widths = [n for n in (1, 2, 4, 8) if n <= min(g.nvlink.width, c.max_gpus) and arch.num_heads % n == 0]
        for n in widths:
            est = estimate(arch, wl.model_copy(update={"gpus": n, "parallel": "tensor"}), cuda_context=g.context_bytes)
            if est.total_bytes <= _usable(g, c.margin):
                configs.append(Config(g, n, 0, "none", est, est.total_bytes, _usable(g, c.margin),
                                      est.cpu_ram_bytes / GB))
                break
        else:
            rejected[g.name] = f"does not fit with tensor parallelism across its {g.nvlink.width}-GPU NVLink domain"
    return configs


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
        shared, overhead, host_ram_gb = inference_need
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
        usable = {g.name: _usable(g, c.margin) - overhead - g.context_bytes for g in gpus}
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
        shared = est.breakdown["weights"] + est.breakdown["kv_cache"]
        cap = sum((_usable(by_name[k], c.margin) - inference_overhead - by_name[k].context_bytes) * v
                  for k, v in counts.items())
        per_gpu = []
        for k, v in counts.items():
            g = by_name[k]
            usable = _usable(g, c.margin)
            share = (usable - inference_overhead - g.context_bytes) / cap * shared if cap > 0 else 0
            need = int(share + inference_overhead + g.context_bytes)
            per_gpu.append({"gpu": k, "count": v, "need_bytes": need, "usable_bytes": usable,
                            "headroom_bytes": usable - need})
    if config is not None and config.parts:
        per_gpu = [{"gpu": cf.gpu.name, "count": cf.count, "job": j.name, "need_bytes": cf.need_bytes,
                    "usable_bytes": cf.usable_bytes, "headroom_bytes": cf.usable_bytes - cf.need_bytes}
                   for j, cf in zip(config.parts, config.part_configs)]
        times = [_config_throughput(j.arch, j.workload, cf, j.tokens, j.requests)
                 for j, cf in zip(config.parts, config.part_configs)]
        secs = [t.seconds for t in times if t.seconds is not None]
        total_s = (sum(secs) if c.mode == "sequential" else max(secs)) if secs else None
        from planner.timing import Throughput
        tp = Throughput(sum(t.tokens_per_s for t in times), total_s,
                        "; ".join(f"{j.name}: {t.tokens_per_s:,.0f} tokens/s" for j, t in zip(config.parts, times)))
    elif config is not None:
        tp = _config_throughput(arch, wl, config, c.tokens, c.requests)
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
    if wl.method == "full":
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
        gpus = [g for g in gpus if any(cf.gpu.name == g.name for cf in configs)]
    elif c.deadline_s is not None:
        # serving within a deadline: replicas of the cheapest layer split on one card type, enough of them
        configs = serving_configs(arch, wl, gpus, c, rejected)
        gpus = [g for g in gpus if any(cf.gpu.name == g.name for cf in configs)]
    elif wl.parallel == "tensor":
        # tensor parallelism all-reduces every layer: one card type, NVLink-connected, in one host
        c = replace(c, require_nvlink=True, single_host=True)
        gpus, more = candidate_gpus(catalog, wl, c)
        rejected.update(more)
        configs = tensor_parallel_configs(arch, wl, gpus, c, rejected)
        gpus = [g for g in gpus if any(cf.gpu.name == g.name for cf in configs)]
    else:
        base_est = estimate(arch, wl.model_copy(update={"gpus": 1}))
        shared = base_est.breakdown["weights"] + base_est.breakdown["kv_cache"]
        # every card in a layer split holds one layer's activations and slack (and, for vLLM, its
        # utilisation headroom) besides its share
        overhead = base_est.total_bytes - base_est.cuda_context_bytes - shared
        inference_need = (shared, overhead, base_est.cpu_ram_bytes / GB)
        keep = []
        for g in gpus:
            room = _usable(g, c.margin) - overhead - g.context_bytes
            if room <= 0:
                rejected[g.name] = "too small for even one layer's activations at this batch and length"
            elif g.is_machine and room < shared:
                rejected[g.name] = (f"{shared / 2**30:.1f} GiB of weights and KV cache exceed its "
                                    f"{room / 2**30:.1f} GiB usable unified memory")
            else:
                keep.append(g)
        gpus = keep
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


def _config_throughput(arch: Architecture, wl: Workload, cf: Config, tokens: int | None, requests: int | None):
    """Speed of one single-card-type configuration: data parallel for training; for inference tensor
    parallel (cards read their shards at once) or a layer split (cards take turns)."""
    if wl.training:
        return training_throughput(arch, wl, cf.gpu.bf16_tflops, cf.count, cf.offload, tokens)
    e, g = cf.estimate, cf.gpu
    if e.gpus > 1:      # tensor parallel: the estimate is per GPU, bandwidth and compute add up
        return inference_throughput(arch, wl, [(1.0, g.bf16_tflops * cf.count, g.bandwidth_gbps * cf.count)],
                                    e.breakdown["weights"] * cf.count, e.breakdown["kv_cache"] * cf.count, requests)
    one = inference_throughput(arch, wl, [(1.0, g.bf16_tflops, g.bandwidth_gbps)], e.breakdown["weights"],
                               e.breakdown["kv_cache"], requests)
    if cf.replicas == 1:
        return one
    return replace(one, tokens_per_s=one.tokens_per_s * cf.replicas,
                   seconds=None if one.seconds is None else one.seconds / cf.replicas,
                   detail=f"{cf.replicas} replicas; each {one.detail}")


def _inference_config(j: Job, g: GPU, c: Constraints) -> Config | None:
    """Smallest number of cards of one type that hold an inference job with layers split across them."""
    est = estimate(j.arch, j.workload.model_copy(update={"gpus": 1}))
    shared = est.breakdown["weights"] + est.breakdown["kv_cache"]
    overhead = est.total_bytes - est.cuda_context_bytes - shared
    usable = _usable(g, c.margin)
    room = usable - overhead - g.context_bytes
    if room <= 0:
        return None
    n = max(1, math.ceil(shared / room))
    if n > (1 if g.is_machine else c.max_gpus):
        return None
    need = int(shared / n + overhead + g.context_bytes)
    return Config(g, n, 0, "none", est, need, usable, est.cpu_ram_bytes / GB)


def serving_configs(arch: Architecture, wl: Workload, gpus: list[GPU], c: Constraints,
                    rejected: dict[str, str]) -> list[Config]:
    """Per card type: the smallest layer split that holds the model, replicated until `requests` sequences
    are served within the deadline (replicas serve independent batches, so throughput adds up)."""
    configs = []
    for g in gpus:
        one = _inference_config(Job(arch, wl, requests=c.requests), g, c)
        if one is None:
            rejected[g.name] = "cannot hold the model and its KV cache within --max-gpus"
            continue
        secs = _config_throughput(arch, wl, one, None, c.requests).seconds
        replicas = max(1, math.ceil(secs / c.deadline_s))
        if (g.is_machine and replicas > 1) or one.count * replicas > c.max_gpus:
            rejected[g.name] = f"needs {replicas} replicas to serve {c.requests:,} sequences in time"
            continue
        configs.append(replace(one, count=one.count * replicas, replicas=replicas,
                               ram_need_gb=one.ram_need_gb * replicas))
    return configs


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
                best = _inference_config(j, g, c)
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
