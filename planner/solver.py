"""The integer program: which configuration to run and which machines to buy for it, within the budget and
the deadline, and the cost-time frontier around that choice.

Candidates come from planner/configs.py: configurations (card type, count, strategy, stack, per-card memory
need, time on the cards' link) and, per configuration, buildable machines (platform + k cards + RAM, each
within its slots, power, cooling and RAM limits). The ILP picks one configuration and how many of each machine
house exactly its cards; more than one machine buys a network port per machine and only on platforms that may
be clustered. Objective: cost (ties: less power, then the simpler strategy), or time within the budget.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

from planner.architecture import Architecture
from planner.catalog import Catalog
from planner.configs import (Config, Constraints, Job, Machine, _NeedCache, candidate_gpus, cards_per_host,
                             inference_configs, job_for, one_replica, platform_notes, prune, settle, settled_configs,
                             simplest_first, training_configs, usable_bytes)
from planner.errors import InputError
from planner.estimator import Estimate
from planner import decision as rule
from planner.milp import INF, Program
from planner import milp
from planner.job import JobSize
from planner.savers import describe as describe_savers
from planner.job import energy_kwh
from planner.workload import Workload

__all__ = ["Constraints", "Job", "Config", "Item", "Plan", "Result", "plan", "plan_jobs", "usable_bytes",
           "cards_per_host"]

SOLVER_TIME_LIMIT_S = 20
FRONTIER_POINTS = 8
_UNSOLVED = object()            # a memo entry not computed yet (None means solved: no plan)
ILP_CANDIDATES = 12             # configurations offered to one solve, best first by the objective


@dataclass
class Item:
    kind: str          # gpu | host | ram | bridge | network | machine
    name: str
    count: int
    unit_price: float  # in the plan's currency
    owned: bool = False  # the user has it (--have): costs nothing, listed so the bill of materials is whole

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
    per_gpu: list[dict]                # per card type: need vs usable memory
    estimate: Estimate
    config: Config | None = None
    machines: list[dict] = field(default_factory=list)
    stack: str = ""
    evidence: str = ""
    tokens_per_s: float = 0.0
    time_s: float | None = None          # time to result for the stated job
    energy_kwh: float | None = None
    energy_cost: float | None = None     # in `currency`
    time_detail: str = ""
    rent: dict | None = None
    optimality: str = "proven"           # proven | time limit (best found, not proven cheapest)
    link: str = ""                       # the link the time's communication crossed
    time_basis: str = ""                 # how the time was obtained, with the model's measured error
    time_range_s: tuple[float, float] | None = None
    serving: dict | None = None          # inference sized for a load (planner/serving.py)
    cost_per_mtok: dict | None = None    # buy / rent / hosted APIs per million output tokens (planner/tco.py)
    tco: dict | None = None              # the ownership assumptions behind `buy`

    def to_dict(self) -> dict:
        return {
            "stack": self.stack, "evidence": self.evidence,
            "tokens_per_s": round(self.tokens_per_s, 1), "time_s": self.time_s,
            "time_range_s": None if self.time_range_s is None else [round(x, 1) for x in self.time_range_s],
            "time_basis": self.time_basis, "link": self.link,
            "time_days": None if self.time_s is None else round(self.time_s / 86400, 3),
            "energy_kwh": None if self.energy_kwh is None else round(self.energy_kwh, 1),
            "energy_cost": None if self.energy_cost is None else round(self.energy_cost, 2),
            "items": [{"kind": i.kind, "name": i.name, "count": i.count, "unit_price": round(i.unit_price, 2),
                       "subtotal": round(i.subtotal, 2), "owned": i.owned} for i in self.items],
            "total_cost": round(self.total_cost, 2), "currency": self.currency, "strategy": self.strategy,
            "gpus": self.gpus, "hosts": self.hosts, "machines": self.machines, "ram_gb": self.ram_gb,
            "vram_gb": round(self.vram_gb, 1), "power_w": round(self.power_w), "memory": self.per_gpu,
            "rent": self.rent, "optimality": self.optimality,
            "savers": list(self.config.savers) if self.config else [],
            "savers_off": {d["name"]: d["off"] for d in describe_savers(self.config.savers)} if self.config else {},
            "serving": self.serving, "cost_per_mtok": self.cost_per_mtok, "tco": self.tco,
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
    frontier: list[Plan] = field(default_factory=list)       # cost ascending, time strictly descending
    job: JobSize | None = None
    deadline_s: float | None = None
    objective: str = "cost"
    decision: dict = field(default_factory=dict)             # {rule, text}: how the plan was picked, in words
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Solver:
    """The MILP solver of a plan: HiGHS in-process (planner/milp.py) and its time limit in seconds."""
    name: str = "HiGHS"
    time_limit: float = SOLVER_TIME_LIMIT_S


def pick_solver(time_limit: float = SOLVER_TIME_LIMIT_S) -> Solver:
    """HiGHS, in-process through highspy's native module; an InputError when highspy is missing."""
    try:
        milp.highs()
    except ImportError:
        raise InputError("no MILP solver available: pip install highspy") from None
    return Solver("HiGHS", time_limit)


def _useful_machines(cf: Config) -> list[Machine]:
    """The machines offered to the ILP for one configuration: those of its cheapest housing. That housing is
    exact (configs.cheapest_hosting searches every multiset of buildable machines) and the configurations
    share nothing, so no other machine can be in an optimal purchase (tests check it by exhaustive search)."""
    return [m for m, _ in cf.hosting.machines]


@dataclass
class _Model:
    prog: Program
    x: dict            # config index -> its binary column
    m: dict            # (config index, machine index) -> its integer column
    machines: dict     # config index -> list[Machine]
    values: list[float] = field(default_factory=list)    # the solution by column, once solved
    infeasible: bool = False                              # proven to have no solution


def build_model(configs: list[Config], budget_usd: float | None, deadline_s: float | None,
                banned: frozenset[str] = frozenset(), max_time_s: float | None = None,
                objective: str = "cost", max_machines: int | None = None) -> _Model:
    """min cost (or time) s.t. one configuration; exactly its cards in whole machines; several machines only
    on clusterable platforms, each then paying its network port (not for independent replicas); owned hosts
    at most as many as the user has and owned cards free; at most `max_machines` machines; cost within the
    budget; time within the deadline (and `max_time_s`, for the frontier)."""
    prog = Program()
    x, m, machines = {}, {}, {}
    cost, power, time_terms, simpler = [], [], [], []
    for i, cf in enumerate(configs):
        t = cf.time_s if cf.time_s is not None else 0.0
        allowed = cf.gpu.name not in banned and (deadline_s is None or t <= deadline_s) \
            and (max_time_s is None or t <= max_time_s)
        x[i] = prog.add_var(f"cfg_{i}", 0, 1 if allowed else 0)
        opts = machines[i] = _useful_machines(cf)
        used = dict(cf.hosting.machines)
        for j, o in enumerate(opts):
            # an owned host: no more of it than the cheapest housing uses, which is within what the user has
            m[i, j] = prog.add_var(f"m_{i}_{j}", 0, used[o] if o.owned else cf.count // o.k)
            cost.append((m[i, j], o.cost_usd))
            power.append((m[i, j], o.power_w))
        if cf.hosting.discount_usd:
            cost.append((x[i], -cf.hosting.discount_usd))         # the cards the user owns
        if max_machines is not None:
            prog.add_row([(m[i, j], 1) for j in range(len(opts))], up=max_machines)
        # exactly the configuration's cards, housed in whole machines
        prog.add_row([(m[i, j], o.k) for j, o in enumerate(opts)] + [(x[i], -cf.count)], 0, 0)
        if cf.needs_network and sum(cf.count // o.k for o in opts) > 1:
            # more than one machine: all clusterable, each paying a network port (multi = 1)
            multi = prog.add_var(f"multi_{i}", 0, 1)
            big = cf.count
            prog.add_row([(m[i, j], 1) for j in range(len(opts))] + [(x[i], -1), (multi, -big)], up=0)
            for j, o in enumerate(opts):
                if not o.multi_node:
                    prog.add_row([(m[i, j], 1), (multi, big)], up=big)
            net = prog.add_var(f"net_{i}", 0, INF, integer=False)
            net_big = sum(o.network_usd for o in opts) * big + 1
            prog.add_row([(net, 1)] + [(m[i, j], -o.network_usd) for j, o in enumerate(opts)]
                         + [(multi, -net_big)], low=-net_big)
            cost.append((net, 1.0))
        time_terms.append((x[i], t))
        simpler.append((x[i], (cf.zero + 2 * (cf.offload != "none")) * 1e-2))
    prog.add_row([(v, 1) for v in x.values()], 1, 1)                  # one configuration
    if budget_usd is not None:
        prog.add_row(cost, up=budget_limit(budget_usd))
    if objective == "time":
        # fastest first; among equally fast, the cheapest (costs are below 1e9 USD, times above 1 ms)
        prog.add_cost(time_terms + [(v, 1e-9 * c) for v, c in cost])
    else:
        # tie-breaks well below one dollar: less power, then the simpler strategy
        prog.add_cost(cost + [(v, 1e-3 * w) for v, w in power] + simpler)
    return _Model(prog, x, m, machines)


# Solutions of integer programs already solved, shared by a sweep's variants (scenario.py turns it on): keyed by
# every number build_model reads, so an identical key is an identical program and HiGHS returns the same
# solution. Only proven optima and infeasibility are kept (a time-limited search may end elsewhere). Bounded.
_SHARED_SOLVES: dict | None = None


def share_solves(memo: dict | None) -> None:
    """Share integer-program solutions between plans in this process (a dict), or stop (None)."""
    global _SHARED_SOLVES
    _SHARED_SOLVES = memo


def _program_key(pool: list[Config], budget, dl, max_time, objective, max_machines, solver) -> tuple:
    """Everything build_model reads (extend it with anything build_model comes to read)."""
    def machines(cf):
        used = dict(cf.hosting.machines)
        return tuple((o.k, o.cost_usd, o.power_w, o.multi_node, o.network_usd, o.owned, used.get(o, 0))
                     for o in _useful_machines(cf))
    return (solver.name, solver.time_limit, budget, dl, max_time, objective, max_machines, tuple(
        (cf.gpu.name, cf.count, cf.zero, cf.offload, cf.time_s, cf.needs_network, cf.hosting.discount_usd,
         machines(cf)) for cf in pool))


def _solved(pool: list[Config], budget, dl, max_time, objective, max_machines, solver) -> tuple | None:
    """(optimality, chosen configuration's index, machines of each kind) or None (no solution)."""
    key = _program_key(pool, budget, dl, max_time, objective, max_machines, solver)
    hit = _SHARED_SOLVES.get(key, _UNSOLVED)
    if hit is not _UNSOLVED:
        return hit
    m = build_model(pool, budget, dl, frozenset(), max_time, objective, max_machines)
    status = _solve(m, solver)
    hit = None
    if status:
        i = next(i for i, v in m.x.items() if _val(m, v) > 0.5)
        hit = (status, i, [int(round(_val(m, m.m[i, j]))) for j in range(len(m.machines[i]))])
    if status == "proven" or m.infeasible:
        if len(_SHARED_SOLVES) >= 100_000:
            _SHARED_SOLVES.clear()
        _SHARED_SOLVES[key] = hit
    return hit


def _solve(model: _Model, solver: Solver) -> str | None:
    """'proven' (optimal), 'time limit' (a solution, not proven cheapest) or None (no solution)."""
    prog = model.prog
    # HiGHS is given the columns in the order PuLP gave them before (names sorted as text: cfg_0, cfg_1,
    # cfg_10, ..., m_0_0, ...), so that where purchases tie exactly it picks the same one as before
    got = prog.solve(solver.time_limit, order=sorted(range(len(prog.names)), key=prog.names.__getitem__))
    model.values, model.infeasible = got.values, got.status == "infeasible"
    chosen = [i for i, v in model.x.items() if _val(model, v) > 0.5]
    if got.status not in ("optimal", "feasible") or len(chosen) != 1:
        return None
    return "proven" if got.status == "optimal" else "time limit"


def _val(model: _Model, column: int) -> float:
    """A column's value in the model's solution (0 without one)."""
    return model.values[column] if model.values else 0.0


def _extract(model: _Model, configs: list[Config], catalog: Catalog, c: Constraints, optimality: str) -> Plan:
    i = next(i for i, v in model.x.items() if _val(model, v) > 0.5)
    used = [(o, int(round(_val(model, model.m[i, j])))) for j, o in enumerate(model.machines[i])]
    return plan_of(configs[i], [(o, n) for o, n in used if n > 0], catalog, c, optimality)


def plan_of(cf: Config, used: list[tuple[Machine, int]], catalog: Catalog, c: Constraints,
            optimality: str = "proven") -> Plan:
    """The purchase: bill of materials, machines, memory rows, time, energy and rent of one configuration."""
    rate = catalog.rate(c.currency)
    g = cf.gpu
    n_machines = sum(n for _, n in used)
    items: list[Item] = []
    hosts: dict[str, int] = {}
    machines: list[dict] = []
    ram_gb = 0
    mine = min(cf.count, (c.owned.gpus if c.owned else {}).get(g.name.lower(), 0))
    if g.is_machine:
        if mine:
            items.append(Item("machine", g.name, 1, 0.0, owned=True))
        else:
            items.append(Item("machine", g.name, 1, catalog.gpu_price_usd(g) * rate))
        machines.append({"platform": g.name, "gpus": {g.name: 1}, "ram_gb": int(g.memory_gb), "power_w": g.tdp_w,
                         "owned": bool(mine)})
        ram_gb = int(g.memory_gb)
    else:
        if mine:
            items.append(Item("gpu", g.name, mine, 0.0, owned=True))
        if cf.count > mine:
            items.append(Item("gpu", g.name, cf.count - mine, catalog.gpu_price_usd(g) * rate))
        owned_hosts: dict[str, int] = {}
        for o, n in used:
            p = o.platform
            hosts[p.name] = hosts.get(p.name, 0) + n
            if o.owned:
                owned_hosts[p.name] = owned_hosts.get(p.name, 0) + n
            ram_gb += o.ram_gb * n
            machines += [{"platform": p.name, "gpus": {g.name: o.k}, "ram_gb": o.ram_gb, "power_w": o.power_w,
                          "owned": o.owned}] * n
        for pname, n in hosts.items():
            p = catalog.platforms[pname.lower()]
            have = owned_hosts.get(pname, 0)
            if have:
                items.append(Item("host", pname, have, 0.0, owned=True))
            if n > have:
                items.append(Item("host", pname, n - have, catalog.to_usd(p.price, p.currency) * rate))
        for o, n in used:
            if o.ram_gb and o.owned:
                items.append(Item("ram", f"ram {o.ram_gb} GB per machine ({o.platform.name}; owned: assumed "
                                  "present, buy what is missing)", n, 0.0, owned=True))
            elif o.ram_gb:
                items.append(Item("ram", f"ram {o.ram_gb} GB per machine ({o.platform.name}, "
                                  f"{o.ram_usd / o.ram_gb * rate:,.2f} {c.currency.upper()}/GB)", n, o.ram_usd * rate))
            if o.bridges:
                items.append(Item("bridge", f"nvlink-bridge ({g.name})", o.bridges * n, o.bridge_usd * rate))
        if n_machines > 1 and cf.needs_network:
            for o, n in used:
                items.append(Item("network", f"network per node ({o.platform.name})", n, o.network_usd * rate))
    merged: dict[tuple, Item] = {}
    for it in items:                 # machines of one platform with different card counts share RAM and ports
        key = (it.kind, it.name, round(it.unit_price, 6), it.owned)
        if key in merged:
            merged[key].count += it.count
        else:
            merged[key] = Item(it.kind, it.name, it.count, it.unit_price, it.owned)
    items = list(merged.values())
    total = sum(it.subtotal for it in items)
    power = sum(mc["power_w"] for mc in machines)
    kwh = energy_kwh(power, cf.time_s)
    per_gpu = [{"gpu": g.name, "count": cf.count, "need_bytes": cf.need_bytes, "usable_bytes": cf.usable_bytes,
                "headroom_bytes": cf.usable_bytes - cf.need_bytes}]
    if cf.parts:
        per_gpu = [{"gpu": pc.gpu.name, "count": pc.count, "job": j.name, "need_bytes": pc.need_bytes,
                    "usable_bytes": pc.usable_bytes, "headroom_bytes": pc.usable_bytes - pc.need_bytes}
                   for j, pc in zip(cf.parts, cf.part_configs)]
    vram = g.memory_gb * cf.count
    p = Plan(items, total, c.currency.upper(), cf.strategy, {g.name: cf.count}, hosts, ram_gb, vram, power, per_gpu,
             platform_notes(cf.estimate, g), cf, machines, cf.stack, cf.evidence, tokens_per_s=cf.tokens_per_s, time_s=cf.time_s,
             energy_kwh=kwh, energy_cost=None if kwh is None else kwh * catalog.electricity_usd_per_kwh * rate,
             time_detail=cf.time_detail, optimality=optimality, link=cf.link, time_basis=cf.time_basis,
             time_range_s=cf.time_range_s)
    p.rent = rent_comparison(cf, p, catalog, c)
    from planner.tco import costs
    p.serving = cf.serving
    p.cost_per_mtok, p.tco = costs(p, cf, catalog, c, cf.estimate.model)
    return p


def rent_comparison(cf: Config, p: Plan, catalog: Catalog, c: Constraints) -> dict | None:
    """What renting the same cards for the job would cost, and after how many hours buying is cheaper."""
    cheapest = getattr(catalog, "cheapest_rental", None)
    r = cheapest(cf.gpu.name) if cheapest else None
    if r is None:
        return None
    rate = catalog.rate(c.currency)
    hourly = r.usd_per_gpu_hour * cf.count * rate
    # owning also pays for power: buying wins once rent saved exceeds the purchase price
    power_hourly = p.power_w / 1000 * catalog.electricity_usd_per_kwh * rate
    saving = hourly - power_hourly
    job_h = None if p.time_s is None else p.time_s / 3600
    return {"provider": r.provider, "as_of": r.as_of, "source": r.source,
            "usd_per_gpu_hour": r.usd_per_gpu_hour, "hourly_cost": round(hourly, 2),
            "job_cost": None if job_h is None else round(hourly * job_h, 2),
            "breakeven_hours": round(p.total_cost / saving, 1) if saving > 0 else None,
            "currency": c.currency.upper(), "gpu": cf.gpu.name, "count": cf.count, "same_cards": True}


# ---------------------------------------------------------------------------------------------------

def memory_advice(wl: Workload, c: Constraints) -> str:
    """What would make a workload that fits no card fit: the changes that cut memory the most first."""
    tips = []
    if wl.training and not wl.gradient_checkpointing:
        tips.append("add --gradient-checkpointing")
    if wl.full:
        tips.append("use --method lora or qlora")
    elif wl.method == "lora":
        tips.append("use --method qlora")
    if wl.training and c.offload is None and not c.force_offload:
        tips.append("allow CPU offload (--offload any)")
    if wl.method == "qlora" and wl.framework != "fsdp-qlora":
        tips.append("Answer.AI's recipe for 70B on two 24 GB cards: --framework fsdp-qlora --force-offload "
                    "optimizer+params (slow)")
    if wl.batch_size > 1:
        tips.append("lower --batch-size")
    if wl.seq_len > 2048:
        tips.append("shorten --seq-len")
    if wl.method == "inference" and wl.precision in ("bf16", "fp16", "fp32"):
        tips.append("quantise (--precision fp8, int8, nf4 or a GGUF type)")
    if wl.method == "inference" and wl.engine == "transformers":
        tips.append("serve with --engine vllm (tensor parallel, several machines)")
    if c.max_gpus < 4096:
        tips.append(f"raise --max-gpus (now {c.max_gpus})")
    if c.include or c.exclude or not c.allow_used:
        tips.append("widen the catalogue (--include/--exclude/--allow-used)")
    return "; ".join(tips) if tips else "the model is too large for every catalogued GPU"


def _configs_for(arch: Architecture, wl: Workload, catalog: Catalog, c: Constraints, job: JobSize,
                 rejected: dict[str, str], bound_usd: float = math.inf) -> list[Config]:
    if wl.method == "inference" and wl.parallel == "tensor":
        # tensor parallelism all-reduces every layer: one card type in one NVLink domain, bridged, one host
        c = replace(c, require_nvlink=True)
    cards, more = candidate_gpus(catalog, wl, c, arch)
    rejected.update(more)
    make = training_configs if wl.training else inference_configs
    # housed, timed, above the headroom floor and pruned per card type, shared across plans (configs.py); prune
    # compares within a card type only, so what remains is to order them as prune does across card types
    return simplest_first(settled_configs(arch, wl, cards, catalog, c, job, rejected, _NeedCache(arch), make,
                                          bound_usd))


@dataclass
class Candidates:
    """Everything the decision needs that does not depend on the budget, the deadline or the objective: a
    sweep over those re-uses it (scenario.py). Bounded candidates (`widen` set) hold only the configurations a
    budget can buy; widen() gives them all, for the answers that look past the budget (what the cheapest plan
    costs when nothing fits, renting cards dearer than the budget)."""
    configs: list[Config]
    rejected: dict[str, str]
    job: JobSize | None
    empty_reason: str = ""
    memo: dict = field(default_factory=dict)     # solves already done on these candidates (see _search.best)
    widen: object = None                         # () -> unbounded Candidates, for bounded ones


def budget_limit(budget_usd: float | None) -> float:
    """The most a purchase within the budget (USD) may cost: the budget and a rounding tolerance. Every test of
    "within the budget" reads it, so bounded candidates (configs.settled_configs) and the solve agree exactly."""
    return math.inf if budget_usd is None else budget_usd * (1 + 1e-9) + 1e-6


def budget_bound_usd(catalog: Catalog, c: Constraints) -> float:
    """The dearest housing the constraints' budget can buy, in USD (inf without a budget)."""
    return budget_limit(None if c.budget is None else catalog.to_usd(c.budget, c.currency))


def candidates(arch: Architecture, wl: Workload, catalog: Catalog, c: Constraints,
               bounded: bool = False) -> Candidates:
    """bounded: only configurations within the budget are timed (configs.settled_configs); decide widens them
    when it needs the rest, so the result is the same either way (tests/test_solver_bound.py)."""
    c.validate(catalog)
    job = job_for(arch, wl, c)
    rejected: dict[str, str] = {}
    bound = budget_bound_usd(catalog, c) if bounded else math.inf
    configs = _configs_for(arch, wl, catalog, c, job, rejected, bound)
    widen = None if bound == math.inf else (lambda: candidates(arch, wl, catalog, c))
    if not configs and c.serving is not None and c.serving.load_given:
        from planner.serving import no_card_reason
        return Candidates(configs, rejected, job, no_card_reason(rejected, c), widen=widen)
    return Candidates(configs, rejected, job, "" if configs else
                      "no GPU in the catalogue can run this workload: " + memory_advice(wl, c), widen=widen)


def decide(cands: Candidates, catalog: Catalog, c: Constraints, alternatives: int = 3,
           frontier: bool = True) -> Result:
    """The recommended purchase within the budget and deadline, the frontier (frontier=False: left empty, for a
    sweep's rows, which do not show it), and the alternatives."""
    t0 = time.perf_counter()
    if cands.widen is not None and not cands.configs:
        return decide(cands.widen(), catalog, c, alternatives, frontier)
    result = Result(False, None, [], rejected=dict(cands.rejected), job=cands.job, deadline_s=c.deadline,
                    objective=c.objective)
    if not cands.configs:
        result.reason, result.binding = cands.empty_reason, "memory"
        if cands.empty_reason.startswith("no card carries the load"):
            result.binding = cands.empty_reason.split("binding: ", 1)[1].split(")", 1)[0]
        result.solve_seconds = time.perf_counter() - t0
        return result
    everything = (lambda: cands.widen().configs) if cands.widen is not None else None
    result = _search(catalog, c, cands.configs, alternatives, result, t0, cands.memo, everything, frontier)
    if cands.widen is not None and not result.feasible:                # why it does not fit looks past the budget
        return decide(cands.widen(), catalog, c, alternatives, frontier)
    return result


def plan(arch: Architecture, wl: Workload, catalog: Catalog, c: Constraints, alternatives: int = 3) -> Result:
    """The recommended purchase, the cost-time frontier, alternatives with other cards, and why others lost."""
    t0 = time.perf_counter()
    res = decide(candidates(arch, wl, catalog, c, bounded=True), catalog, c, alternatives)
    res.solve_seconds = time.perf_counter() - t0
    return res


def _search(catalog: Catalog, c: Constraints, configs: list[Config], alternatives: int, result: Result,
            t0: float, memo: dict | None = None, everything=None, frontier: bool = True) -> Result:
    """Solve; when infeasible, say which constraint binds; else add the frontier and the alternatives.
    everything: () -> every configuration, when `configs` holds only those within the budget."""
    solver = pick_solver()
    result.solver = solver.name
    budget_usd = catalog.to_usd(c.budget, c.currency) if c.budget is not None else None
    deadline = c.deadline

    memo = {} if memo is None else memo
    currency = c.currency.upper()
    ilp_objective = "time" if c.objective == "time" else "cost"
    floor = c.min_headroom
    # the headroom floor: plans that leave less of a card free are never recommended, listed or compared
    low = [cf for cf in configs if not rule.above_floor(cf, floor)]
    configs = _above_floor(configs, floor)
    for cf in low:
        if not any(o.gpu.name == cf.gpu.name for o in configs):
            result.rejected[cf.gpu.name] = (f"fits with only {max(rule.headroom(cf), 0):.1%} of its memory free, "
                                            f"below the {floor:.0%} headroom floor (--min-headroom to lower it)")
    if not configs:
        result.binding = "memory"
        result.reason = (f"every plan that fits leaves less than {floor:.0%} of a card's memory free; "
                         "lower --min-headroom to accept it (risky: the memory model's error is a few %)")
        result.solve_seconds = time.perf_counter() - t0
        return result

    def best(budget=budget_usd, dl=deadline, banned=frozenset(), max_time=None, objective=ilp_objective):
        key = (currency, floor, budget, dl, banned, max_time, objective)
        if key not in memo:
            free = memo.get((currency, floor, None, dl, banned, max_time, objective), _UNSOLVED)
            if objective == "cost" and budget is not None and free is not _UNSOLVED and \
                    (free is None or catalog.to_usd(free.total_cost, currency) <= budget_limit(budget)):
                memo[key] = free      # the cheapest plan without a budget fits it: it is the optimum with it
            else:
                memo[key] = solve(budget, dl, banned, max_time, objective)
        return memo[key]

    def solve(budget, dl, banned, max_time, objective):
        # Only configurations that can be feasible (a housing within the budget, a time within the deadline),
        # and of those the few best by the objective: each configuration's cheapest housing is exact
        # (configs.cheapest_hosting), so the optimum is provably among them; the ILP settles the rest.
        pool = [cf for cf in configs if cf.gpu.name not in banned
                and cf.hosting.cost_usd <= budget_limit(budget)
                and (dl is None or (cf.time_s or 0) <= dl) and (max_time is None or (cf.time_s or 0) <= max_time)]
        if not pool:
            return None
        order = (lambda cf: (cf.time_s or 0, cf.hosting.cost_usd)) if objective == "time" else \
            (lambda cf: cf.hosting.cost_usd)
        pool = sorted(pool, key=order)[:ILP_CANDIDATES]
        if _SHARED_SOLVES is not None:          # a sweep: an identical program is solved once (see _solved)
            hit = _solved(pool, budget, dl, max_time, objective, c.max_machines, solver)
            if hit is None:
                return None
            status, i, counts = hit
            return plan_of(pool[i], [(o, n) for o, n in zip(_useful_machines(pool[i]), counts) if n > 0], catalog,
                           c, status)
        m = build_model(pool, budget, dl, frozenset(), max_time, objective, c.max_machines)
        status = _solve(m, solver)
        return _extract(m, pool, catalog, c, status) if status else None

    def frontier_plans(chosen: Plan | None, shown=()) -> list[Plan]:
        if not frontier:
            return []
        return [plan_of(cf, cf.hosting.machines, catalog, c)
                for cf in frontier_configs(configs, budget_usd, chosen.config if chosen else None, shown)]

    def within(cf, dl=deadline):
        return cf.hosting.cost_usd <= budget_limit(budget_usd) and \
            (dl is None or (cf.time_s or 0) <= dl)

    by_rule = c.objective == "auto" and deadline is None
    if by_rule:
        picked, why = rule.pick([cf for cf in configs if within(cf)], cost=lambda cf: cf.hosting.cost_usd,
                                value=lambda cf: cf.hosting.value_usd)
        chosen = None if picked is None else plan_of(picked, picked.hosting.machines, catalog, c)
    else:
        chosen = best()
    if chosen is None:
        cheapest_any = best(budget=None, dl=None, objective="cost")
        within_budget = best(dl=None, objective="time") if budget_usd is not None else None
        if cheapest_any is None:
            result.binding = "hosts"
            result.reason = ("no combination of machines can carry the GPUs this needs within --max-gpus "
                             f"{c.max_gpus}; raise --max-gpus or allow other hardware")
        elif deadline is not None and (within_budget is not None or budget_usd is None):
            fastest = within_budget or best(budget=None, dl=None, objective="time")
            result.binding = "deadline"
            dl_needed = best(budget=None, objective="cost")
            took = "" if fastest is None or fastest.time_s is None else \
                f": the fastest takes {fastest.time_s / 86400:.1f} days"
            result.reason = (f"nothing within the budget finishes the {result.job.describe()} within "
                             f"{deadline / 86400:g} days{took}"
                             + (f"; meeting the deadline costs {dl_needed.total_cost:,.0f} {dl_needed.currency}"
                                if dl_needed else "") + " (raise --budget or --deadline, or --deadline none)")
            if dl_needed is not None:
                result.min_budget = dl_needed.total_cost
                result.alternatives = [dl_needed]
            elif fastest is not None:
                result.alternatives = [fastest]
        else:
            relaxed = best(budget=None)
            if relaxed is not None:
                result.binding, result.min_budget = "budget", relaxed.total_cost
                result.reason = (f"the budget of {c.budget:,.0f} {c.currency.upper()} is too small: the cheapest "
                                 f"plan that fits costs {relaxed.total_cost:,.0f} {relaxed.currency}")
                result.alternatives = [relaxed]
            else:
                result.binding = "deadline"
                result.reason = "no catalogued hardware finishes the job within the deadline at any budget"
        result.frontier = frontier_plans(None)
        result.solve_seconds = time.perf_counter() - t0
        return result
    result.feasible, result.plan = True, chosen
    if chosen.cost_per_mtok is not None and chosen.cost_per_mtok.get("rent") is None:
        from planner.tco import rent_instead
        # no offer for these cards: the cheapest rentable ones, at any price
        rent_instead(chosen, _above_floor(everything(), floor) if everything else configs, catalog, c)
    # Alternatives: the best configuration of each other card type under the same budget, deadline and
    # objective. Each configuration's housing cost is already exact, so these need no further solve.
    ok = [cf for cf in configs if within(cf)]
    key = (lambda cf: ((cf.time_s or 0), cf.hosting.cost_usd)) if c.objective == "time" else \
        (lambda cf: (round(cf.hosting.cost_usd, 6), cf.zero + 2 * (cf.offload != "none")))
    per_type: dict[str, Config] = {}
    for cf in sorted(ok, key=key):
        per_type.setdefault(cf.gpu.name, cf)
    others = [cf for name, cf in per_type.items() if name != chosen.config.gpu.name]
    picks = others[:alternatives]
    # ... and always the best plan of the other family (whole unified-memory machine vs discrete GPUs)
    mine = chosen.config.gpu.is_machine
    if alternatives and picks and all(cf.gpu.is_machine == mine for cf in picks):
        other = next((cf for cf in others if cf.gpu.is_machine != mine), None)
        if other is not None:
            picks = picks[:max(alternatives - 1, 0)] + [other]
    result.alternatives = [plan_of(cf, cf.hosting.machines, catalog, c) for cf in picks]
    result.frontier = frontier_plans(chosen, picks)
    within_budget = [cf for cf in configs if within(cf, None)]
    if chosen.rent is None or chosen.rent.get("job_cost") is not None:
        cheapest_rent = cheapest_rental_of(within_budget or configs, catalog, c)
        if chosen.rent is None:
            chosen.rent = cheapest_rent
        elif cheapest_rent and cheapest_rent["job_cost"] is not None and \
                cheapest_rent["job_cost"] < chosen.rent["job_cost"] - 0.5:
            chosen.rent["cheapest"] = cheapest_rent
    result.decision = _decision(result, chosen, within_budget, c, why if by_rule else "", catalog.rate(c.currency))
    hr = rule.headroom(chosen.config)
    if hr < rule.HEADROOM_FLOOR:
        result.warnings.append(f"only {hr:.1%} of the fullest card's memory stays free (below "
                               f"{rule.HEADROOM_FLOOR:.0%}): a longer sequence, a library update or fragmentation "
                               "can run it out of memory")
    result.solve_seconds = time.perf_counter() - t0
    return result


def _above_floor(configs: list[Config], floor: float) -> list[Config]:
    return [cf for cf in configs if rule.above_floor(cf, floor)]


def _decision(result: Result, chosen: Plan, pool: list[Config], c: Constraints, why: str, rate: float) -> dict:
    """The rule that picked the plan and, in words, what it picked, why, and the cheapest and fastest plans
    the budget allows."""
    from planner.render import describe_plan, human_time, money
    floor = c.min_headroom
    if c.objective == "time":
        text_rule = rule.RULE_TIME.format(floor=floor)
    elif result.deadline_s is not None:
        text_rule = rule.RULE_DEADLINE.format(floor=floor)
    elif c.objective == "cost":
        text_rule = rule.RULE_COST.format(floor=floor)
    else:
        text_rule = rule.RULE
    def say(cf: Config) -> str:
        return f"{describe_plan_cf(cf)} at {money(cf.hosting.cost_usd * rate, chosen.currency)}, " \
               f"{human_time(cf.time_s)}, {rule.headroom(cf):.0%} headroom"

    text = (f"Recommended {describe_plan(chosen)} for {money(chosen.total_cost, chosen.currency)}, "
            f"{human_time(chosen.time_s)}, {rule.headroom(chosen.config):.0%} memory headroom")
    if chosen.config.savers:
        text += " with " + ", ".join(chosen.config.savers)
    if c.owned:
        mine = [f"{i.count} x {i.name}" for i in chosen.items if i.owned and i.kind != "ram"]
        text += f"; uses what you have: {', '.join(mine)}" if mine else "; uses none of what you have"
    if why:
        text += f" ({why})"
    text += "."
    if pool:
        cheapest = min(pool, key=lambda cf: (cf.hosting.cost_usd, cf.time_s or math.inf))
        fastest = min(pool, key=lambda cf: (cf.time_s or math.inf, cf.hosting.cost_usd))
        if cheapest.key != chosen.config.key:
            text += f" Cheapest: {say(cheapest)}."
        if fastest.key != chosen.config.key:
            text += f" Fastest{' within the budget' if c.budget is not None else ''}: {say(fastest)}."
    return {"rule": text_rule, "text": text}


def describe_plan_cf(cf: Config) -> str:
    return f"{cf.count} x {cf.gpu.name} ({cf.strategy})"


def cheapest_rental_of(configs: list[Config], catalog: Catalog, c: Constraints) -> dict | None:
    """The cheapest way to rent cards that run the job, over every card type with a rental offer."""
    best = None
    for cf in configs:
        r = catalog.cheapest_rental(cf.gpu.name)
        if r is None or cf.time_s is None:
            continue
        job_usd = r.usd_per_gpu_hour * cf.count * cf.time_s / 3600
        if best is None or job_usd < best[0]:
            best = (job_usd, cf, r)
    if best is None:
        return None
    job_usd, cf, r = best
    rate = catalog.rate(c.currency)
    return {"provider": r.provider, "as_of": r.as_of, "source": r.source, "usd_per_gpu_hour": r.usd_per_gpu_hour,
            "hourly_cost": round(r.usd_per_gpu_hour * cf.count * rate, 2), "job_cost": round(job_usd * rate, 2),
            "breakeven_hours": None, "currency": c.currency.upper(), "gpu": cf.gpu.name, "count": cf.count,
            "same_cards": False}


def frontier_configs(configs: list[Config], budget_usd: float | None, chosen: Config | None,
                     shown=()) -> list[Config]:
    """Pareto-optimal purchases within the budget, ignoring the deadline: cost ascending, time strictly
    descending. At most FRONTIER_POINTS of them, spread evenly in log-time, always with the cheapest, the
    fastest, the recommended one and, for every configuration listed elsewhere (`shown`: the alternatives), the
    frontier point that is it or beats it."""
    pts = sorted((cf for cf in configs if cf.time_s is not None
                  and cf.hosting.cost_usd <= budget_limit(budget_usd)),
                 key=lambda cf: (cf.hosting.cost_usd, cf.time_s))
    pareto: list[Config] = []
    for cf in pts:
        if not pareto or cf.time_s < pareto[-1].time_s * (1 - 1e-9):
            pareto.append(cf)
    if len(pareto) <= FRONTIER_POINTS:
        return pareto
    keep = {0, len(pareto) - 1}
    if chosen is not None:
        keep |= {i for i, cf in enumerate(pareto) if cf.key == chosen.key}
    for cf in shown:
        # an alternative on the frontier is listed there; one off it, with the frontier point that beats it
        beats = [i for i, p in enumerate(pareto) if p.hosting.cost_usd <= cf.hosting.cost_usd * (1 + 1e-9) + 1e-6
                 and p.time_s <= (cf.time_s if cf.time_s is not None else math.inf)]
        if beats:
            keep.add(min(beats, key=lambda i: (pareto[i].hosting.cost_usd, -pareto[i].time_s)))
    lo, hi = math.log(pareto[-1].time_s), math.log(pareto[0].time_s)
    for k in range(1, FRONTIER_POINTS - 1):
        target = hi - (hi - lo) * k / (FRONTIER_POINTS - 1)
        keep.add(min(range(len(pareto)), key=lambda i: abs(math.log(pareto[i].time_s) - target)))
    return [pareto[i] for i in sorted(keep)]


# ---------------------------------------------------------------------------------------------------
# Several workloads on one purchase

def plan_jobs(jobs: list[Job], catalog: Catalog, c: Constraints, alternatives: int = 0) -> Result:
    """One purchase for several workloads (see candidates_for_jobs)."""
    t0 = time.perf_counter()
    res = decide(candidates_for_jobs(jobs, catalog, c), catalog, job_constraints(jobs, c), alternatives)
    res.solve_seconds = time.perf_counter() - t0
    return res


def job_constraints(jobs: list[Job], c: Constraints) -> Constraints:
    """A single job's own token or request count takes the place of the constraints' default."""
    if len(jobs) != 1:
        return c
    j = jobs[0]
    return replace(c, tokens=j.tokens if j.tokens is not None else c.tokens,
                   requests=j.requests if j.requests is not None else c.requests)


def candidates_for_jobs(jobs: list[Job], catalog: Catalog, c: Constraints, bounded: bool = False) -> Candidates:
    """sequential: the cards must hold each job in turn (count = max); concurrent: each job runs on its own
    cards of the chosen type at the same time (count = sum). bounded: as candidates() (one job only)."""
    c = job_constraints(jobs, c)
    if len(jobs) == 1:
        return candidates(jobs[0].arch, jobs[0].workload, catalog, c, bounded)
    c.validate(catalog)
    rejected: dict[str, str] = {}
    per_job: list[dict[str, Config]] = []
    sizes = []
    for j in jobs:
        cj = replace(c, tokens=j.tokens, requests=j.requests)
        size = job_for(j.arch, j.workload, cj)
        sizes.append(size)
        cards, rej = candidate_gpus(catalog, j.workload, cj, j.arch)
        rejected.update(rej)
        need = _NeedCache(j.arch)
        if j.workload.training:
            raw = training_configs(j.arch, j.workload, cards, catalog, cj, rejected, need)
        else:
            raw = [one_replica(j.arch, wg, g, cj, need) for g, wg, _, _, _ in cards]
            raw = [replace(cf, stack=st, evidence=ev, workload=wg, savers=sv) if cf else None
                   for cf, (g, wg, st, ev, sv) in zip(raw, cards)]
        smallest: dict[str, Config] = {}
        for cf in raw:
            if cf is not None and (cf.gpu.name not in smallest or cf.count < smallest[cf.gpu.name].count):
                smallest[cf.gpu.name] = cf
        per_job.append(smallest)
    names = set.intersection(*(set(d) for d in per_job)) if per_job else set()
    configs = []
    for name in sorted(names):
        parts = [d[name] for d in per_job]
        g = parts[0].gpu
        for j, pc, size in zip(jobs, parts, sizes):
            settle(j.arch, size, pc, catalog, c)
        if c.mode == "concurrent":
            count = sum(p.count for p in parts)
            per_card = max(p.host_ram_per_gpu_gb for p in parts)
        else:
            count = max(p.count for p in parts)
            per_card = max(p.host_ram_per_gpu_gb * p.count for p in parts) / count
        if g.is_machine and count > 1:
            rejected[g.name] = "the jobs together need more than one machine"
            continue
        tight = min(parts, key=lambda p: p.usable_bytes - p.need_bytes)
        times = [p.time_s for p in parts if p.time_s is not None]
        cf = Config(g, count, max(p.zero for p in parts), tight.offload, tight.estimate, tight.need_bytes,
                    tight.usable_bytes, per_card, max(p.host_ram_fixed_gb for p in parts), stack=parts[0].stack,
                    evidence=parts[0].evidence, workload=parts[0].workload, parts=list(jobs), part_configs=parts,
                    span_hosts=all(p.span_hosts for p in parts), replica_gpus=1)
        cf.tokens_per_s = sum(p.tokens_per_s for p in parts)
        cf.time_s = (sum(times) if c.mode == "sequential" else max(times)) if times else None
        cf.time_detail = "; ".join(f"{j.name}: {p.tokens_per_s:,.0f} tokens/s" for j, p in zip(jobs, parts))
        if settle(jobs[0].arch, sizes[0], cf, catalog, c) is None:
            rejected[g.name] = f"no catalogued machine can house {count} of them"
            continue
        configs.append(cf)
    return Candidates(prune(configs), rejected, sizes[0],
                      "" if configs else "no GPU type can run every workload of the scenario")

