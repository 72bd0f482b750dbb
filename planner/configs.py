"""Candidates for the integer program, generated apart from the solve (as SkyPilot's optimizer does).

1. Configurations: per card type, the software stack that runs the method there, and for each GPU count worth
   considering (the smallest that fits, more for speed, what a deadline demands) the strategy (ZeRO/FSDP
   stage, offload, tensor or layer split, replicas) and the estimator's per-card need. Memory need depends
   non-linearly on the GPU count, so it is settled here, not inside the ILP.
2. Machines: per configuration, every buildable machine - a platform with k cards that its slots, power
   (80% of the PSU), cooling and RAM allow, RAM sized per machine (ratio to the machine's VRAM and what the
   job keeps in host memory there) - and the cheapest way to house exactly the configuration's cards
   (an exact unbounded-knapsack search). Machines that can never be in an optimal purchase are pruned.
3. Time and rent per configuration on that housing: compute, communication over the link the cards use,
   and the catalogue's rental price for the same cards.
"""
from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from planner.architecture import Architecture
from planner.catalog import GB, GPU, Catalog, Platform
from planner.errors import InputError
from planner.estimator import (CHECKPOINT_SHARD_BYTES, VLLM_GPU_MEMORY_UTILIZATION, Estimate, estimate,
                               fp4_card_refusal, model_refusal, served_precision)
from planner.job import JobSize, job_size
from planner.memo import per_object
from planner.owned import Owned
from planner.savers import variants as saver_variants
from planner.software import FRAMEWORK_NAMES, evidence, family_of, stack_for, stack_note
from planner.throughput import time_training
from planner.throughput.comm import DEFAULT_NODE_NETWORK_GBITS, Link, network_link, nvlink_link, pcie_link
from planner.throughput.hardware import card_of
from planner.throughput.training import min_gpus_for_deadline
from planner.workload import FP4_FORMATS, Workload

STRATEGIES = [(0, "none"), (1, "none"), (2, "none"), (3, "none"), (2, "optimizer"), (3, "optimizer"),
              (3, "optimizer+params")]
# GPU counts tried beyond the smallest that fits, for the cost-time frontier (data-parallel speed-ups)
SPEEDUP_FACTORS = (2, 4, 8, 16, 32, 64)
# Inference replicas tried for the frontier (independent copies serving in parallel)
REPLICA_COUNTS = (1, 2, 4, 8, 16, 32)


@dataclass
class Constraints:
    budget: float | None = None          # in `currency`
    currency: str = "USD"
    max_gpus: int = 64
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    allow_used: bool = False
    zero: int | None = None              # force a ZeRO stage
    offload: str | None = None           # CPU offload allowed besides none: optimizer | optimizer+params | any
    force_offload: str | None = None     # only this offload
    ram_ratio: float = 1.0               # system RAM >= ratio x VRAM, per machine
    margin: float = 0.05                 # fraction of each card's memory kept free
    require_nvlink: bool = False
    min_gpus: dict[str, int] = field(default_factory=dict)   # per SKU lower bounds
    tokens: int | None = None            # training tokens (None: the default job)
    examples: int | None = None          # fine-tuning examples (default job: 10,000)
    epochs: float | None = None          # fine-tuning epochs (default job: 3)
    tokens_per_example: int | None = None  # fine-tuning: mean tokens per example (default: planner/job.py)
    deadline_s: float | None = None      # None or inf: no deadline (the decision rule picks, planner/decision.py)
    requests: int | None = None          # inference: sequences to serve (default job: 10,000)
    # auto: the stated decision rule (planner/decision.py), or the cheapest meeting a deadline when one is given;
    # cost: the cheapest (meeting the deadline); time: the fastest within the budget
    objective: str = "auto"
    min_headroom: float = 0.05           # never recommend a plan leaving less of a card's usable memory free
    mode: str = "sequential"             # several workloads: one after another, or concurrent (own cards each)
    stack_explicit: bool = False         # the user named --framework / --engine: no per-family default
    savers: bool = True                  # try memory savers before more cards (planner/savers.py); --no-savers
    owned: Owned = field(default_factory=Owned)   # --have: cards, hosts and machines the user has (cost 0)
    max_machines: int | None = None      # --max-machines: at most this many machines (1 = "a box")
    gpus: int | None = None              # plan for exactly this many GPUs (a recipe's count); None: any
    serving: object | None = None        # planner.serving.ServingSpec: load and latency targets (--rate/--users)
    tco: object | None = None            # planner.tco.TcoAssumptions: ownership costs (--years, --pue, ...)

    @property
    def deadline(self) -> float | None:
        """Seconds the job may take: the user's, or None (no deadline: there is no hidden default)."""
        if self.deadline_s is None or math.isinf(self.deadline_s):
            return None
        return self.deadline_s

    def validate(self, catalog: Catalog) -> None:
        for flag, v in (("--budget", self.budget), ("--ram-ratio", self.ram_ratio), ("--margin", self.margin)):
            if v is not None and not math.isfinite(v):
                raise InputError(f"{flag} must be a finite number, got {v}")
        if self.budget is not None and self.budget <= 0:
            raise InputError(f"--budget must be positive, got {self.budget:g}")
        if not 1 <= self.max_gpus <= 4096:
            raise InputError(f"--max-gpus must be between 1 and 4096, got {self.max_gpus}")
        if self.gpus is not None and not 1 <= self.gpus <= self.max_gpus:
            raise InputError(f"--gpus must be between 1 and --max-gpus ({self.max_gpus}), got {self.gpus}")
        if not 0 <= self.ram_ratio <= 64:
            raise InputError(f"--ram-ratio must be between 0 and 64, got {self.ram_ratio:g}")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise InputError(f"--deadline must be positive, got {self.deadline_s / 86400:g} days")
        if self.tokens is not None and self.tokens <= 0:
            raise InputError(f"--tokens must be positive, got {self.tokens}")
        if self.epochs is not None and not (0 < self.epochs <= 1000):
            raise InputError(f"--epochs must be in (0, 1000], got {self.epochs:g}")
        if self.max_machines is not None and not 1 <= self.max_machines <= 4096:
            raise InputError(f"--max-machines must be between 1 and 4096, got {self.max_machines}")
        if not 0 <= self.min_headroom < 0.9:
            raise InputError(f"--min-headroom must be a fraction in [0, 0.9), got {self.min_headroom:g}")
        if self.tokens_per_example is not None and self.tokens_per_example <= 0:
            raise InputError(f"--tokens-per-example must be positive, got {self.tokens_per_example}")
        if not 0 <= self.margin < 0.9:
            raise InputError(f"--margin must be a fraction in [0, 0.9), got {self.margin:g}")
        catalog.rate(self.currency)
        for flag, names in (("--include", self.include), ("--exclude", self.exclude)):
            for n in names:
                if n.lower() not in catalog.gpus:
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


@dataclass(frozen=True, eq=False)       # identity: machines are compared as the same option object
class Machine:
    """One buildable machine: a platform carrying k cards of one type (or a whole unified-memory machine)."""
    platform: Platform | None           # None: the card is the machine (Mac, DGX Spark, Ryzen AI Max)
    gpu: GPU
    k: int
    ram_gb: int
    cost_usd: float                     # host + cards + RAM + bridges, without the network
    power_w: float
    bridges: int = 0
    network_usd: float = 0.0            # added when the purchase has more than one machine
    ram_usd: float = 0.0                # the machine's RAM (part of cost_usd)
    bridge_usd: float = 0.0             # one NVLink bridge
    owned: bool = False                 # the user's own host (--have): host and RAM cost nothing
    owned_usd: float = 0.0              # what the owned host and RAM would cost new (for comparisons)

    @property
    def name(self) -> str:
        return self.gpu.name if self.platform is None else self.platform.name

    @property
    def multi_node(self) -> bool:
        return self.platform is not None and self.platform.multi_node


@dataclass
class Hosting:
    machines: list[tuple[Machine, int]]     # (machine, how many of it)
    cost_usd: float                         # what the user pays: owned cards and hosts cost nothing
    discount_usd: float = 0.0               # owned cards of the configuration (constant per configuration)
    owned_usd: float = 0.0                  # what the owned cards and hosts used would cost new
    network: bool = True                    # several machines pay a cluster network (not independent replicas)

    @property
    def value_usd(self) -> float:
        """The hardware's worth, owned parts included: what speed-for-price comparisons weigh."""
        return self.cost_usd + self.owned_usd

    @property
    def count(self) -> int:
        return sum(n for _, n in self.machines)


@dataclass
class Config:
    """One way to run the job on one card type: count, strategy, stack and the estimate behind it."""
    gpu: GPU
    count: int
    zero: int
    offload: str
    estimate: Estimate
    need_bytes: int            # per GPU: peak + allocator slack + context (layer splits: the fullest card)
    usable_bytes: int
    host_ram_per_gpu_gb: float = 0.0    # host RAM the job needs per card (processes, offloaded state)
    host_ram_fixed_gb: float = 0.0      # and once per machine (a checkpoint shard while loading)
    replicas: int = 1                   # inference: independent copies serving in parallel
    replica_gpus: int = 1               # cards per replica
    span_hosts: bool = True             # a replica may span machines (training, vLLM pipeline) or not
    tensor_parallel: bool = False
    stack: str = ""
    evidence: str = ""
    savers: tuple = ()                  # memory savers applied over the user's workload (planner/savers.py)
    workload: Workload | None = None
    parts: list[Job] = field(default_factory=list)          # several workloads on one purchase
    part_configs: list["Config"] = field(default_factory=list)
    # filled once the housing is known
    hosting: Hosting | None = None
    options: list[Machine] = field(default_factory=list)
    tokens_per_s: float = 0.0
    time_s: float | None = None
    time_detail: str = ""
    link: str = ""                      # what the time's communication crossed: none, nvlink, pcie, network, unified
    time_basis: str = ""                # how the time was obtained (planner/throughput/basis.py)
    time_range_s: tuple[float, float] | None = None
    serving: dict | None = None         # sized for a load (planner/serving.py): plan.serving

    @property
    def strategy(self) -> str:
        if self.parts:
            return "; ".join(f"{j.name}: {cf.strategy}" for j, cf in zip(self.parts, self.part_configs))
        if self.gpu.is_machine:
            return "single machine (unified memory)"
        if self.replicas > 1:
            per = self.replica_gpus
            split = "" if per == 1 else (", tensor parallel" if self.tensor_parallel else ", layers split")
            return f"{self.replicas} replicas x {per} GPU{'s' if per > 1 else ''}{split}"
        offload = "" if self.offload == "none" else f" + {self.offload} offloaded to CPU RAM"
        if self.estimate.peak_phase in ("prefill", "decode", "serving") or self.tensor_parallel:
            if self.count == 1:
                return "single GPU"
            split = "tensor parallel" if self.tensor_parallel else "layers split (pipeline)"
            return f"{self.count} GPUs, {split}"
        if self.count == 1:
            return "single GPU" + (f" (ZeRO-{self.zero}{offload})" if offload else "")
        s = f"{self.count} GPUs, " + ("DDP" if self.zero == 0 else f"ZeRO-{self.zero}/FSDP")
        return s + offload

    @property
    def needs_network(self) -> bool:
        """Several machines need a cluster network for training and for a replica split across hosts;
        independent replicas (each inside one machine) share nothing and need none."""
        wls = [j.workload for j in self.parts] if self.parts else [self.workload]
        return any(w is None or w.training for w in wls) or (self.span_hosts and self.replica_gpus > 1) \
            or (self.span_hosts and self.replicas == 1)

    @property
    def key(self) -> tuple:
        return (self.gpu.name, self.count, self.zero, self.offload, self.replicas, self.savers)


# Engines that split a replica by tensor parallelism (--tp) within a host, as vLLM does
TP_ENGINES = ("vllm", "sglang", "tensorrt-llm")


def usable_bytes(g: GPU, margin: float, engine: str = "transformers", utilization: float | None = None) -> int:
    """Memory a job may use on one card: after the safety margin and a unified machine's GPU working-set limit.
    vLLM's gpu_memory_utilization is not taken off here: the vLLM estimate already counts the share it leaves
    free (`utilization_headroom`, estimator/engines.py), and taking it twice bought a second card."""
    fraction = g.usable_fraction if g.is_machine else 1.0
    return int(g.memory_bytes * fraction * (1 - margin))


def vllm_share(engine: str, utilization: float | None) -> float:
    """The share of a card vLLM may fill (gpu_memory_utilization), 1 for other engines."""
    if engine != "vllm":
        return 1.0
    return utilization if utilization is not None else VLLM_GPU_MEMORY_UTILIZATION


def platform_notes(est: Estimate, g: GPU) -> Estimate:
    """The estimator writes one note for every card without a CUDA context ("Apple unified memory ... MPS");
    say what the machine really is: Apple Metal, or AMD ROCm on a unified-memory APU."""
    if g.vendor == "apple" or g.context_bytes:
        return est
    fixed = [("unified memory (AMD ROCm on an APU): the GPU's share of the pool is set by the driver "
              f"({g.usable_fraction:.0%} here); HIP context not counted (not measured)")
             if a.startswith("Apple unified memory") else a for a in est.assumptions]
    return replace(est, assumptions=fixed)


def cards_per_host(g: GPU, p: Platform) -> int:
    """How many cards of one type a host of this platform takes: slots, slot width and 80% of the PSU."""
    by_power = int((0.8 * p.psu_w - p.base_w) // g.tdp_w)
    return max(0, min(p.max_gpus, p.slot_width // g.slot_width, by_power))


def platform_takes(p: Platform, g: GPU) -> bool:
    """Form factor, an explicit list of cards (HGX baseboards), and cooling: a passively cooled card needs a
    chassis that pushes air through it."""
    if g.form not in p.forms:
        return False
    allowed = getattr(p, "gpus", None)
    if allowed and g.name.lower() not in {n.lower() for n in allowed}:
        return False
    if getattr(g, "cooling", "active") == "passive" and not getattr(p, "passive_cooling", g.form == "sxm"):
        return False
    return True


_BASEBOARDS: dict[tuple[int, int], tuple] = {}     # (card, platforms) ids -> (card, platforms, baseboard or None)


def purchase_step(g: GPU, catalog: Catalog, pairs: bool) -> int:
    """Cards come in baseboards of a fixed size (HGX, OAM) or, bridged with 2-way NVLink, in pairs."""
    key = (id(g), id(catalog.platforms))
    hit = _BASEBOARDS.get(key)
    if hit is None or hit[0] is not g or hit[1] is not catalog.platforms:     # once per card and platform list
        fixed = [getattr(p, "fixed_gpus", None) for p in catalog.platforms.values() if platform_takes(p, g)]
        if len(_BASEBOARDS) >= 16_384:
            _BASEBOARDS.clear()
        hit = _BASEBOARDS[key] = (g, catalog.platforms, min(fixed) if fixed and all(fixed) else None)
    if hit[2] is not None:
        return hit[2]
    return 2 if pairs else 1


def nvlink_pairs(g: GPU, c: Constraints) -> bool:
    return bool(c.require_nvlink and g.nvlink and g.nvlink.width == 2)


# ---------------------------------------------------------------------------------------------------
# Which cards, with which stack

_CANDIDATE_CARDS: dict[tuple, tuple] = {}
_CARD_KEYS: dict[int, tuple] = {}


def candidate_gpus(catalog: Catalog, wl: Workload, c: Constraints, arch: Architecture | None = None
                   ) -> tuple[list[tuple[GPU, Workload, str, str, tuple]], dict[str, str]]:
    """Cards the user allows and a stack runs the method on: (card, workload under that card's stack, stack
    name, evidence, memory savers applied), and why the others are out. arch: the model, whose published format
    (gpt-oss: MXFP4) vLLM and SGLang serve when --precision is left at its default.

    Kept per (architecture, workload and its explicit fields, constraints, platforms, rates, every card without
    its price): no card's price is read here, so a sweep variant that changes one only swaps that card's object
    into the entries. An entry whose card is the same object is the same tuple each time (settled_configs keys it
    once)."""
    cards = list(catalog.gpus.values())
    # the workload's value and which fields the user chose (a saver is never applied over a choice: savers.variants)
    key = (arch, _key_of(wl, frozen), wl.explicit, _constraints_key(c), _catalog_key(catalog), tuple(catalog.gpus),
           tuple(per_object(_CARD_KEYS, g, _price_free_value) for g in cards))
    hit = _CANDIDATE_CARDS.get(key)
    if hit is None:
        out, rejected = _candidate_gpus(catalog, wl, c, arch)
        index = {id(g): i for i, g in enumerate(cards)}
        hit = ([(index[id(e[0])], e) for e in out], rejected)
        if len(_CANDIDATE_CARDS) >= 4096:
            _CANDIDATE_CARDS.clear()
        _CANDIDATE_CARDS[key] = hit
    entries = []
    for n, (i, e) in enumerate(hit[0]):
        if e[0] is not cards[i]:                 # the same card at another price: its own entry, kept from now on
            e = (cards[i],) + e[1:]
            hit[0][n] = (i, e)
        entries.append(e)
    return entries, dict(hit[1])


def _price_free_value(g: GPU) -> tuple:
    """A card's value key without its price (candidate_gpus reads every other field)."""
    return _token(tuple((k, frozen(v)) for k, v in g.__dict__.items() if k != "price"))


def _candidate_gpus(catalog: Catalog, wl: Workload, c: Constraints, arch: Architecture | None
                    ) -> tuple[list[tuple[GPU, Workload, str, str, tuple]], dict[str, str]]:
    rejected: dict[str, str] = {}
    out = []
    stacked: dict[str, Workload] = {}
    include = {n.lower() for n in c.include}
    exclude = {n.lower() for n in c.exclude}
    for key, g in catalog.gpus.items():
        if include and key not in include:
            continue
        if key in exclude:
            rejected[g.name] = "excluded"
            continue
        if g.market == "used" and not c.allow_used and key not in include and key not in c.owned.gpus:
            rejected[g.name] = "used market (add --allow-used)"
            continue
        if ("full" if wl.full else wl.method) not in g.supports:
            rejected[g.name] = f"catalogue marks no {wl.method} support"
            continue
        if c.require_nvlink and not g.nvlink:
            rejected[g.name] = "no NVLink (--require-nvlink)"
            continue
        # a non-default stack in the workload is the user's choice too (the API's callers pass no flag)
        explicit = c.stack_explicit or wl.framework != "hf" or wl.engine != "transformers"
        stack = stack_for(g.vendor, wl.method, wl.framework, wl.engine, explicit, g.generation)
        if isinstance(stack, str):
            rejected[g.name] = stack
            continue
        choice, name = stack
        update = {"engine": choice} if wl.method == "inference" else {"framework": choice}
        wg = stacked.get(choice)
        if wg is None:                      # one workload per stack, shared by the cards that run it
            wg = stacked[choice] = wl.replace(**update)
        fam = family_of(g.vendor).name
        if g.vendor == "apple" and wl.training and (wl.optimizer.startswith("paged") or wl.optimizer == "adamw8bit"):
            rejected[g.name] = "bitsandbytes 8-bit/paged optimizers do not run on Apple silicon"
            continue
        if wl.precision == "fp8" and not getattr(g, "fp8", False):
            rejected[g.name] = "no FP8 tensor cores (needs Ada, Hopper, Blackwell or MI300)"
            continue
        served = wl.precision
        if arch is not None and wg.engine in TP_ENGINES + ("transformers",):
            # vLLM/SGLang have no dequantising fallback; transformers dequantises MXFP4 to bf16 where its kernels do
            # not run, which the estimate (MXFP4 bytes) does not model: such cards are refused rather than mis-sized
            served = served_precision(arch, wg)
        fp4_why = fp4_card_refusal(g, wg.replace(precision=served)) if served in FP4_FORMATS else None
        if fp4_why:
            rejected[g.name] = fp4_why
            continue
        load_why = model_refusal(arch, wg) if arch is not None else None
        if load_why:
            rejected[g.name] = load_why
            continue
        if not any(platform_takes(p, g) for p in catalog.platforms.values()) and not g.is_machine:
            rejected[g.name] = "no catalogued platform can house it (form factor or cooling)"
            continue
        for wv, savers in saver_variants(wg, fam, explicit, c.savers, fp8=bool(getattr(g, "fp8", False))):
            if wv.framework != wg.framework:          # a saver that is a stack of its own (Unsloth)
                if isinstance(stack_for(g.vendor, wl.method, wv.framework, None, True), str):
                    continue
                out.append((g, wv, f"{FRAMEWORK_NAMES[wv.framework]} ({family_of(g.vendor).label})",
                            evidence(wv.framework, g.vendor), savers))
            else:
                note = stack_note(choice, g.generation)
                if note and (wl.method in ("lora", "qlora") or choice != "mlx-lm"):
                    name_here = f"{name}; {note}"
                else:
                    name_here = name
                out.append((g, wv, name_here, evidence(choice, g.vendor), savers))
    return out, rejected


# Estimates shared by every plan in this process (sweeps re-plan the same workloads under other prices and
# budgets): the estimator is a pure function, so a result is reused for equal inputs. Bounded.
_ESTIMATES: dict[tuple, Estimate] = {}
_ESTIMATES_MAX = 200_000


class _NeedCache:
    """Estimates per (workload, gpus, zero, offload, context): the need does not depend on the card's price."""

    def __init__(self, arch: Architecture):
        self.arch, self.keys, self.local, self.fits = arch, {}, {}, {}

    def __call__(self, wl: Workload, n: int, zero: int, offload: str, context: int, **extra) -> Estimate:
        local = (self._key(wl), n, zero, offload, context, tuple(sorted(extra.items())))
        est = self.local.get(local)         # this plan's own look-ups: no hashing of the architecture
        if est is None:
            key = (self.arch,) + local
            est = _ESTIMATES.get(key)
            if est is None:
                w = wl.replace(gpus=n, zero_stage=zero, offload=offload, **extra)
                est = estimate(self.arch, w, cuda_context=context)
                if len(_ESTIMATES) >= _ESTIMATES_MAX:
                    _ESTIMATES.clear()
                _ESTIMATES[key] = est
            self.local[local] = est
        return est

    def _key(self, wl: Workload) -> tuple:
        """The workload's value key, computed once per workload object in this plan."""
        wkey = self.keys.get(id(wl))
        if wkey is None or wkey[0] is not wl:
            wkey = self.keys[id(wl)] = (wl, wl.key())
        return wkey[1]

    def smallest_fit(self, wl: Workload, zero: int, offload: str, context: int, usable: int, lo: int,
                     hi: int) -> int | None:
        """The smallest count in [lo, hi] whose per-GPU need is within `usable`, None when not even hi's is: a
        binary search, valid because the need does not grow with the count (ZeRO/FSDP shard more; lo == hi
        otherwise). Kept per plan: cards with the same usable memory (every 24 GB card, every 80 GB one) ask the
        same question."""
        key = (self._key(wl), zero, offload, context, usable, lo, hi)
        hit = self.fits.get(key, _UNASKED)
        if hit is _UNASKED:
            if self(wl, hi, zero, offload, context).total_bytes > usable:
                hit = None
            else:
                a, b = lo, hi
                while a < b:
                    mid = (a + b) // 2
                    a, b = (a, mid) if self(wl, mid, zero, offload, context).total_bytes <= usable else (mid + 1, b)
                hit = a
            self.fits[key] = hit
        return hit


_UNASKED = object()


def _host_ram(est: Estimate, n: int) -> tuple[float, float]:
    """Host RAM per card and per machine: processes and offloaded state scale with cards, the checkpoint
    shard being loaded is once per machine."""
    per_card = max(est.cpu_ram_bytes - CHECKPOINT_SHARD_BYTES, 0) / n / GB
    return per_card, CHECKPOINT_SHARD_BYTES / GB


# ---------------------------------------------------------------------------------------------------
# Training

def training_configs(arch: Architecture, wl: Workload, cards, catalog: Catalog, c: Constraints,
                     rejected: dict[str, str], need: _NeedCache | None = None) -> list[Config]:
    """Per card: the smallest GPU count that fits under each allowed strategy, and larger counts for speed."""
    need = need or _NeedCache(arch)
    if c.force_offload:
        offloads = {c.force_offload}
    elif c.offload is None:
        offloads = {"none"}                       # CPU offload trades a lot of speed: only when allowed
    else:
        offloads = {"none", "optimizer", "optimizer+params"} if c.offload == "any" else {"none", c.offload}
    strategies = [s for s in STRATEGIES if (c.zero is None or s[0] == c.zero) and s[1] in offloads]
    deadline_tokens = job_for(arch, wl, c).tokens if c.deadline is not None else None
    configs = []
    for g, wg, stack, ev, savers in cards:
        usable = usable_bytes(g, c.margin)
        ctx = g.context_bytes
        step = 1 if g.is_machine else purchase_step(g, catalog, nvlink_pairs(g, c))
        max_n = 1 if g.is_machine else c.max_gpus
        lo = max(1, c.min_gpus.get(g.name, 1))
        gaps: list[int] = []

        def smallest_of(zero: int, offload: str) -> int | None:
            """The smallest count at which the strategy fits (within --gpus), None if none does."""
            # DDP keeps everything on every GPU: if one card holds the job, any number does. ZeRO/FSDP shard, so
            # the per-GPU need falls as N grows: the smallest N that fits (need.smallest_fit, a binary search).
            top = 1 if zero == 0 else max_n
            n = need.smallest_fit(wg, zero, offload, ctx, usable, 1 if zero == 0 else lo, top)
            if n is None:
                gaps.append(need(wg, top, zero, offload, ctx).total_bytes - usable)
            elif c.gpus is not None and (c.gpus > 1 if g.is_machine else n > c.gpus):
                return None
            return n

        # simplest first; one machine: offloading to unified memory gains nothing
        ordered = sorted((s for s in allowed_strategies(wg, strategies) if not g.is_machine or s == (0, "none")),
                         key=lambda s: (s[1] != "none", s[0]))
        smallest: dict[tuple[int, str], int | None] = {}
        for s in ordered:
            smallest[s] = smallest_of(*s)
            if smallest[s] == 1:
                # no count is smaller: the rest are searched only if a count needs them (below)
                break
        found = [n for n in smallest.values() if n is not None]
        if not found:
            short = f"{min(gaps) / 2**30:.1f} GiB short per GPU" if gaps else \
                ("does not fit at --gpus" if c.gpus else "no strategy allowed")
            rejected[g.name] = (f"does not fit even with {max_n} GPU(s) and the allowed strategies ({short})")
            continue
        # For each GPU count worth buying, the simplest strategy that fits at that count
        base = min(found)
        counts = {_round_up(max(base, lo), step)} | {_round_up(base * f, step) for f in SPEEDUP_FACTORS}
        if deadline_tokens and not g.is_machine:
            # the smallest count that meets the deadline at compute speed (communication is timed in settle)
            counts.add(_round_up(max(base, min_gpus_for_deadline(arch, wg, card_of(g), deadline_tokens,
                                                                 c.deadline)), step))
        mine = c.owned.gpus.get(g.name.lower(), 0)
        if mine and not g.is_machine and mine >= base:
            counts.add(_round_up(mine, step))    # exactly the cards the user has
        alone = base == 1 and lo <= 1 and step == 2 and nvlink_pairs(g, c) and purchase_step(g, catalog, False) == 1
        if alone:
            counts.add(1)                         # a card that holds the job alone needs no NVLink partner
        counts = sorted(counts)
        if c.gpus is not None:
            counts = [c.gpus] if c.gpus % step == 0 or g.is_machine or (alone and c.gpus == 1) else []
        for n in counts:
            if n > max_n:
                break
            for zero, offload in ordered:
                if (zero, offload) not in smallest:
                    smallest[zero, offload] = smallest_of(zero, offload)
                least = smallest[zero, offload]
                if least is not None and n >= least:
                    est = need(wg, n, zero, offload, ctx)
                    if est.total_bytes > usable:
                        continue
                    per_card, fixed = _host_ram(est, n)
                    configs.append(Config(g, n, zero, offload, est, est.total_bytes, usable, per_card, fixed,
                                          stack=stack, evidence=ev, workload=wg, savers=savers))
                    break
    return configs


def allowed_strategies(wg: Workload, strategies: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """What the stack can run: Unsloth documents one GPU or DDP (accelerate/torchrun data parallel), not
    DeepSpeed ZeRO or FSDP sharding (docs.unsloth.ai 'Multi-GPU Training with Unsloth'), so only ZeRO-0."""
    if wg.framework == "unsloth":
        return [s for s in strategies if s == (0, "none")]
    return strategies


def _round_up(n: int, step: int) -> int:
    return max(step, math.ceil(n / step) * step)


# ---------------------------------------------------------------------------------------------------
# Inference

def layer_split_need(est: Estimate) -> tuple[int, int]:
    """An inference estimate split over cards holding consecutive layers: (bytes divided among the cards,
    bytes every card needs besides). Weights, KV cache and the cache's fragmentation travel with each card's
    share; one layer's activations and their slack are needed on every card."""
    shared = est.breakdown["weights"] + est.breakdown["kv_cache"] + est.kv_slack_bytes
    return shared, est.reserved_bytes - shared


def layer_split_room(g: GPU, margin: float, engine: str, overhead: int, utilization: float | None = None) -> int:
    """Bytes of a card left for its share of a layer split (the split's parts exclude vLLM's headroom, so it
    comes off the card here)."""
    return int(usable_bytes(g, margin) * vllm_share(engine, utilization)) - overhead - g.context_bytes


def one_replica(arch: Architecture, wg: Workload, g: GPU, c: Constraints, need: _NeedCache,
                step: int = 1, per_machine: int = 8) -> Config | None:
    """Smallest number of cards of one type that hold one copy of the model: tensor parallel for vLLM and
    `--parallel tensor` (a divisor of the heads, within one host), else layers split across cards."""
    usable = usable_bytes(g, c.margin, wg.engine, wg.gpu_memory_utilization)
    tensor = wg.engine in TP_ENGINES or wg.parallel == "tensor"     # SGLang, TensorRT-LLM: --tp like vLLM
    if tensor and not g.is_machine:
        limit = g.nvlink.width if (wg.parallel == "tensor" and g.nvlink) else 8
        for n in (1, 2, 4, 8):
            if n > min(limit, c.max_gpus, per_machine) or arch.num_heads % n:
                continue                          # tensor parallelism stays inside one machine
            est = need(wg, n, 0, "none", g.context_bytes, parallel="tensor")
            if est.total_bytes <= usable:
                per_card, _ = _host_ram(est, 1)
                return Config(g, n, 0, "none", est, est.total_bytes, usable, per_card, 0.0, replica_gpus=n,
                              span_hosts=False, tensor_parallel=n > 1)
        if wg.parallel == "tensor" or wg.engine not in TP_ENGINES:
            return None
        # vLLM beyond one host: pipeline stages of 8-way tensor parallel (modelled as a layer split of TP=8)
    est = need(wg, 1, 0, "none", g.context_bytes, parallel="pipeline")
    shared, overhead = layer_split_need(est)
    room = layer_split_room(g, c.margin, wg.engine, overhead, wg.gpu_memory_utilization)
    if room <= 0:
        return None
    n = max(1, math.ceil(shared / room))
    if n > 1 and step > 1:
        n = _round_up(n, step)                    # baseboards and NVLink pairs come whole
    if n > (1 if g.is_machine else c.max_gpus):
        return None
    need_bytes = int((shared / n + overhead + g.context_bytes) / vllm_share(wg.engine, wg.gpu_memory_utilization))
    per_card = est.cpu_ram_bytes / n / GB
    return Config(g, n, 0, "none", est, need_bytes, usable, per_card, 0.0, replica_gpus=n,
                  span_hosts=wg.engine == "vllm")


def inference_configs(arch: Architecture, wl: Workload, cards, catalog: Catalog, c: Constraints,
                      rejected: dict[str, str], need: _NeedCache | None = None) -> list[Config]:
    """Per card: one replica, and more replicas for speed (each serves its own batches). With a load and
    latency targets (--rate/--users): the replicas and split that carry it (planner/serving.py)."""
    need = need or _NeedCache(arch)
    if c.serving is not None and c.serving.load_given:
        from planner.serving import serving_configs
        return serving_configs(arch, wl, cards, catalog, c, rejected, need)
    configs = []
    for g, wg, stack, ev, savers in cards:
        step = 1 if g.is_machine else purchase_step(g, catalog, nvlink_pairs(g, c))
        per_machine = 1 if g.is_machine else max(
            (getattr(p, "fixed_gpus", None) or cards_per_host(g, p) for p in catalog.platforms.values()
             if platform_takes(p, g)), default=0)
        one = one_replica(arch, wg, g, c, need, step, per_machine)
        if one is None:
            rejected[g.name] = ("does not fit within one NVLink domain" if wg.parallel == "tensor" else
                                "cannot hold the model and its KV cache within --max-gpus")
            continue
        if one.replica_gpus == 1 and nvlink_pairs(g, c):
            step = 1                                # one card that holds the model needs no partner
        mine = c.owned.gpus.get(g.name.lower(), 0) // one.replica_gpus
        wanted = {mine} if mine > 0 else set()
        if c.gpus is not None and c.gpus % one.replica_gpus == 0:
            wanted.add(c.gpus // one.replica_gpus)     # --gpus 3: three replicas, not only powers of two
        for r in sorted(set(REPLICA_COUNTS) | wanted):
            n = _round_up(one.replica_gpus * r, step) if not g.is_machine else 1
            if n > (1 if g.is_machine else c.max_gpus) or (g.is_machine and r > 1):
                break
            r_eff = n // one.replica_gpus
            if c.gpus is not None and n != c.gpus:
                continue
            configs.append(replace(one, count=n, replicas=r_eff, host_ram_per_gpu_gb=one.host_ram_per_gpu_gb,
                                   stack=stack, evidence=ev, workload=wg, savers=savers))
    return configs


# ---------------------------------------------------------------------------------------------------
# Machines and housing

def machine_options(cf: Config, catalog: Catalog, c: Constraints) -> list[Machine]:
    """Every buildable machine for this configuration's cards (per-machine slots, power, cooling and RAM)."""
    g = cf.gpu
    if g.is_machine:
        return [Machine(None, g, 1, int(g.memory_gb), catalog.gpu_price_usd(g), g.tdp_w)]
    pairs = nvlink_pairs(g, c) and cf.count > 1
    owned_hosts = c.owned.platforms if c.owned else {}
    out = []
    # loop invariants, each the same expression as in the loop it left (prices are bit-for-bit the same)
    card_usd = catalog.gpu_price_usd(g)
    bridge_usd = catalog.to_usd(g.nvlink.bridge_price, g.currency) if g.nvlink else 0.0
    for p in catalog.platforms.values():
        if not platform_takes(p, g):
            continue
        cap = cards_per_host(g, p)
        fixed = getattr(p, "fixed_gpus", None)
        ks = [fixed] if fixed else range(1, min(cap, cf.count) + 1)
        rate = catalog.rate(p.currency)
        host_usd, network_usd = p.price / rate, p.network_per_node / rate      # Catalog.to_usd
        owned_host = owned_hosts.get(p.name.lower())
        for k in ks:
            if k > cap or k > cf.count or k < getattr(p, "min_gpus", 1):
                continue
            if pairs and k % 2:
                continue                          # a bridge joins two cards in the same machine
            if not cf.span_hosts and k % cf.replica_gpus:
                continue                          # a replica stays inside one machine
            ram_need = max(c.ram_ratio * k * g.memory_gb, k * cf.host_ram_per_gpu_gb + cf.host_ram_fixed_gb)
            units = max(0, math.ceil(ram_need / p.ram_step_gb - 1e-9))
            ram = units * p.ram_step_gb
            if ram > p.max_ram_gb:
                continue
            bridges = k // 2 if pairs else 0
            # every price in USD: the platform's (host, RAM, network port) in its currency, a bridge in the card's
            ram_usd = ram * p.ram_price_per_gb / rate
            cost = host_usd + k * card_usd + ram_usd + bridges * bridge_usd
            out.append(Machine(p, g, k, ram, cost, p.base_w + k * g.tdp_w, bridges, network_usd, ram_usd, bridge_usd))
            if owned_host:
                mine_usd = host_usd + ram_usd
                out.append(replace(out[-1], cost_usd=cost - mine_usd, owned=True, owned_usd=mine_usd))
    return out


def cheapest_hosting(count: int, options: list[Machine], network: bool = True, max_machines: int | None = None,
                     owned_hosts: dict[str, int] | None = None) -> Hosting | None:
    """Exactly `count` cards in the cheapest set of machines. Exact, by exhaustion of the owned hosts used
    (at most as many of each platform as the user has) and an unbounded knapsack over the machines bought.

    One machine pays no network. Several: with `network` (training, a replica across hosts) every machine must
    be clusterable and pays its port; without (independent replicas) any machines, no network.
    `max_machines` bounds the machines (1: "a box")."""
    owned_hosts = owned_hosts or {}
    cap = min(max_machines or count, count)
    bought = [o for o in options if not o.owned]
    owned = [o for o in options if o.owned and owned_hosts.get(o.platform.name.lower(), 0) > 0]
    inf = float("inf")

    def extra(o: Machine) -> float:
        return o.network_usd if network else 0.0

    multi = [o for o in bought if o.multi_node or not network]
    # cost[m][n]: n cards in exactly m bought machines of the multi-machine kind, each paying its port
    rows = cap if max_machines is not None else 1
    cost = [[inf] * (count + 1) for _ in range(rows + 1)]
    pick: list[list[Machine | None]] = [[None] * (count + 1) for _ in range(rows + 1)]
    if max_machines is not None:
        cost[0][0] = 0.0
        for m in range(1, rows + 1):
            for n in range(1, count + 1):
                for o in multi:
                    if o.k <= n and cost[m - 1][n - o.k] + o.cost_usd + extra(o) < cost[m][n]:
                        cost[m][n], pick[m][n] = cost[m - 1][n - o.k] + o.cost_usd + extra(o), o
    else:
        cost[0][0] = 0.0                          # row 0: any number of machines
        row, picks = cost[0], pick[0]
        terms = [(o, o.k, o.cost_usd, extra(o)) for o in multi]    # the same sums, without attribute look-ups
        for n in range(1, count + 1):
            best_n, best_o = row[n], None
            for o, k, machine_usd, port_usd in terms:
                if k <= n:
                    v = row[n - k] + machine_usd + port_usd
                    if v < best_n:
                        best_n, best_o = v, o
            if best_o is not None:
                row[n], picks[n] = best_n, best_o

    def bought_best(n: int, most: int) -> tuple[float, list[Machine]]:
        """The cheapest n cards in 1..most bought machines (the multi-machine kind), and those machines."""
        if n == 0:
            return 0.0, []
        if max_machines is None:
            if cost[0][n] == inf:
                return inf, []
            out = []
            while n:
                out.append(pick[0][n])
                n -= pick[0][n].k
            return sum(o.cost_usd + extra(o) for o in out), out
        best_m = min(range(1, min(most, rows) + 1), key=lambda m: cost[m][n], default=None)
        if best_m is None or cost[best_m][n] == inf:
            return inf, []
        out, m = [], best_m
        while n:
            o = pick[m][n]
            out.append(o)
            n, m = n - o.k, m - 1
        return sum(o.cost_usd + extra(o) for o in out), out

    def owned_sets():
        """Every multiset of owned machines within what the user has, as (machines, cards)."""
        by_platform: dict[str, list[Machine]] = {}
        for o in owned:
            by_platform.setdefault(o.platform.name.lower(), []).append(o)
        sets = [([], 0)]
        for name, opts in by_platform.items():
            limit = min(owned_hosts[name], cap, count)
            grown = []
            for ms, cards in sets:
                for t in range(0, limit + 1):
                    for combo in itertools.combinations_with_replacement(opts, t):
                        total = cards + sum(o.k for o in combo)
                        if total <= count and len(ms) + t <= cap:
                            grown.append((ms + list(combo), total))
            sets = grown
        return sets

    best: tuple[float, list[Machine]] | None = None
    for o in bought:                              # one bought machine: no network
        if o.k == count and (best is None or o.cost_usd < best[0] - 1e-9):
            best = (o.cost_usd, [o])
    for ms, cards in owned_sets():
        rest = count - cards
        if not ms:
            if rest:
                c_b, picked = bought_best(rest, cap)
                if len(picked) > 1 and c_b < inf and (best is None or c_b < best[0] - 1e-9):
                    best = (c_b, picked)
            continue
        if rest == 0 and len(ms) == 1:
            c_o = ms[0].cost_usd
            if best is None or c_o < best[0] - 1e-9:
                best = (c_o, list(ms))
            continue
        if network and not all(o.multi_node for o in ms):
            continue                              # several machines, one of them not clusterable
        c_o = sum(o.cost_usd + extra(o) for o in ms)
        c_b, picked = bought_best(rest, cap - len(ms)) if rest else (0.0, [])
        if c_b < inf and (best is None or c_o + c_b < best[0] - 1e-9):
            best = (c_o + c_b, list(ms) + picked)
    if best is None:
        return None
    counts: dict[Machine, int] = {}
    for o in best[1]:
        counts[o] = counts.get(o, 0) + 1
    owned_usd = sum(o.owned_usd * n for o, n in counts.items())
    return Hosting(list(counts.items()), best[0], owned_usd=owned_usd, network=network and len(best[1]) > 1)


def house(cf: Config, catalog: Catalog, c: Constraints) -> Hosting | None:
    """The cheapest housing of the configuration's cards, less the cards the user owns."""
    owned = c.owned or Owned()
    h = cheapest_hosting(cf.count, cf.options, cf.needs_network, c.max_machines, owned.platforms)
    if h is None:
        return None
    mine = min(cf.count, owned.gpus.get(cf.gpu.name.lower(), 0))
    if mine:
        h.discount_usd = mine * catalog.gpu_price_usd(cf.gpu)
        h.cost_usd -= h.discount_usd
        h.owned_usd += h.discount_usd
    return h


# ---------------------------------------------------------------------------------------------------
# Shared candidates. Machine options and housing depend only on the card, the count, the RAM each machine
# needs, the platforms, the exchange rates and the constraints: computed once per such key and shared by every
# configuration and every sweep variant with it. Keys hold values (not object identities), so a changed price
# is a different key and nothing stale is ever returned. Bounded; clear_caches() empties every cache.

_CACHE_MAX = 50_000
_HOUSING: dict[tuple, list] = {}          # key -> [options, hosting, link or None until asked]
_CARD_CONFIGS: dict[tuple, "_CardConfigs"] = {}
_FROZEN: dict[int, tuple[object, tuple]] = {}      # id -> (object, its value key) for catalogues and constraints


def frozen(v) -> object:
    """A hashable value of a pydantic model, dataclass, list or dict (for cache keys)."""
    d = getattr(v, "__dict__", None)
    if d is not None and not isinstance(v, type):
        values = tuple(d.values())
        try:
            hash(values)                    # flat models (workloads, job sizes): their values as they are
            return (type(v).__name__,) + values
        except TypeError:
            return (type(v).__name__,) + tuple((k, frozen(x)) for k, x in d.items())
    if isinstance(v, (list, tuple)):
        return tuple(frozen(x) for x in v)
    if isinstance(v, dict):
        return tuple((k, frozen(x)) for k, x in v.items())
    if isinstance(v, (set, frozenset)):
        return frozenset(frozen(x) for x in v)
    return v


def _key_of(obj, make, memo: dict | None = None) -> tuple:
    """The value key of a catalogue or constraints object, computed once per object while it lives (the
    object is held, so its id is not reused). One memo per kind of key."""
    return per_object(_FROZEN if memo is None else memo, obj, lambda o: _token(make(o)))


_TOKENS: dict = {}                      # value key -> a small number standing for it in cache keys
_NEXT_TOKEN = itertools.count()         # never reused: a token forgotten with _TOKENS cannot come back meaning another


def _token(key) -> tuple:
    """A cheap stand-in for a large value key (platforms, constraints, cards): equal keys get the same token, so
    cache keys hash a few numbers instead of nested tuples of every field."""
    t = _TOKENS.get(key)
    if t is None:
        if len(_TOKENS) >= 100_000:
            _TOKENS.clear()
        t = _TOKENS[key] = ("token", next(_NEXT_TOKEN))
    return t


def _catalog_key(catalog: Catalog) -> tuple:
    """What housing reads of a catalogue: its platforms and exchange rates (a sweep variant's catalogue is new,
    its platforms usually the same objects: their key is kept per object)."""
    return _key_of(catalog, lambda cat: (_key_of(cat.platforms, frozen, _PLATFORMS), frozen(cat.rates)))


_PLATFORMS: dict[int, tuple] = {}


# Constraints only the solve reads (planner/solver.py, planner/tco.py), never candidate generation: left out of
# the candidate caches' keys, so plans that differ only in them (a budget sweep, a web client's budgets) share
# configurations, housing and times. tests/test_speed.py checks a warm plan equals a cold one across them.
SOLVE_ONLY = frozenset({"budget", "currency", "objective", "tco"})
_CONSTRAINTS: dict[int, tuple] = {}


def _constraints_key(c: Constraints) -> tuple:
    return _key_of(c, lambda c: tuple((k, frozen(v)) for k, v in c.__dict__.items() if k not in SOLVE_ONLY),
                   _CONSTRAINTS)


def _host_ram_key(cf: Config, c: Constraints) -> tuple | None:
    """The job's host RAM need as housing sees it: None when --ram-ratio x VRAM covers it in every machine size,
    so machine_options sizes RAM by the ratio alone and every workload on these cards shares one housing.
    machine_options takes max(ratio x k x memory, k x per-card + fixed) for k <= count cards; with per + fixed
    <= ratio x memory (both >= 0), k x per + fixed <= k x (per + fixed) <= ratio x k x memory for every k >= 1
    (the 1e-9 margin keeps float rounding, ~1e-16 relative, on the safe side)."""
    per, fixed = cf.host_ram_per_gpu_gb, cf.host_ram_fixed_gb
    if per >= 0 and fixed >= 0 and per + fixed <= c.ram_ratio * cf.gpu.memory_gb * (1 - 1e-9):
        return None
    return per, fixed


def housing(cf: Config, catalog: Catalog, c: Constraints, keys: tuple | None = None) -> list:
    """[machine_options, house, link] of a configuration, shared by every configuration with the same card,
    count, per-machine RAM need, replica shape, network need, platforms, rates and constraints (owned hardware
    and --max-machines included: the constraints' whole value is in the key). house() is applied once, before
    the result is shared. keys: housing_keys(cf.gpu, catalog, c), when the caller houses many of one card."""
    card, cat, cons = keys or housing_keys(cf.gpu, catalog, c)
    key = (card, cf.count, cf.span_hosts, cf.replica_gpus, _host_ram_key(cf, c), cf.needs_network, cat, cons)
    hit = _HOUSING.get(key)
    if hit is None:
        hit = _priced_housing(cf, catalog, c, key[1:]) if not (c.owned or c.max_machines or cf.gpu.is_machine) \
            else None
        if hit is None:
            cf.options = machine_options(cf, catalog, c)
            hit = [cf.options, house(cf, catalog, c), None]
        if len(_HOUSING) >= _CACHE_MAX:
            _HOUSING.clear()
        _HOUSING[key] = hit
    return hit


def housing_keys(g: GPU, catalog: Catalog, c: Constraints) -> tuple:
    """The parts of housing's key that are the card's, the catalogue's and the constraints'."""
    return _key_of(g, frozen), _catalog_key(catalog), _constraints_key(c)


# Housing without owned hardware or a machine limit does not depend on the card's price: every housing of
# count cards pays count x the price. So the knapsack runs once per price-free key (the card without its name
# and price, which platforms take it, and the rest of housing's key) on the machines priced without the card,
# and each SKU of that card - a regional price list, a sweep's price change - only prices the machines chosen:
# host + k x price + RAM + bridges, summed as cheapest_hosting sums them. The template's choice is checked
# against cheapest_hosting itself (at price 0) when it is made; a mismatch keeps the direct path for that key.
_TEMPLATES: dict[tuple, tuple | None] = {}
_PRICE_FREE: dict[int, tuple] = {}      # id(card) -> (card, catalogue, its price-free key)


def _price_free_key(g: GPU, catalog: Catalog) -> tuple:
    """A card as housing sees it, without its name and price: its other fields and which platforms take it."""
    hit = _PRICE_FREE.get(id(g))
    if hit is not None and hit[0] is g and hit[1] is catalog:
        return hit[2]
    if len(_PRICE_FREE) >= 16_384:
        _PRICE_FREE.clear()
    fields = tuple((k, frozen(v)) for k, v in g.__dict__.items() if k not in ("name", "price"))
    key = _token(fields + (tuple(platform_takes(p, g) for p in catalog.platforms.values()),))
    _PRICE_FREE[id(g)] = (g, catalog, key)
    return key


def _template(cf: Config, catalog: Catalog, c: Constraints) -> tuple | None:
    """(machines at card price 0, their host prices, the single machine's index or None, the knapsack's chain
    of indices, network), or None when this replica of the knapsack disagrees with cheapest_hosting."""
    free_cf = _copy(cf)
    free_cf.gpu = cf.gpu.replace(price=0.0)
    opts = machine_options(free_cf, catalog, c)
    network = cf.needs_network
    extra = (lambda o: o.network_usd) if network else (lambda o: 0.0)
    count, inf = cf.count, float("inf")
    best_cost, single = None, None
    for i, o in enumerate(opts):               # as cheapest_hosting: one bought machine, no network
        if o.k == count and (best_cost is None or o.cost_usd < best_cost - 1e-9):
            best_cost, single = o.cost_usd, i
    multi = [i for i, o in enumerate(opts) if o.multi_node or not network]
    row, pick = [0.0] + [inf] * count, [None] * (count + 1)
    for n in range(1, count + 1):
        for i in multi:
            o = opts[i]
            if o.k <= n and row[n - o.k] + o.cost_usd + extra(o) < row[n]:
                row[n], pick[n] = row[n - o.k] + o.cost_usd + extra(o), i
    chain: list[int] = []
    if row[count] < inf:
        n = count
        while n:
            chain.append(pick[n])
            n -= opts[pick[n]].k
        c_b = sum(opts[i].cost_usd + extra(opts[i]) for i in chain)
        if len(chain) > 1 and (best_cost is None or c_b < best_cost - 1e-9):
            single = None
        else:
            chain = []
    # the replica must choose what cheapest_hosting chooses
    h = cheapest_hosting(count, opts, network, None, {})
    mine = [(opts[single], 1)] if single is not None else \
        list({id(opts[i]): (opts[i], chain.count(i)) for i in chain}.values())
    if (h is None) != (not mine) or (h is not None and [(id(o), n) for o, n in h.machines] !=
                                     [(id(o), n) for o, n in mine]):
        return None
    hosts = [o.platform.price / catalog.rate(o.platform.currency) for o in opts]     # Catalog.to_usd, as there
    return opts, hosts, single, chain, network


def _priced_housing(cf: Config, catalog: Catalog, c: Constraints, rest: tuple) -> list | None:
    g = cf.gpu
    tkey = (_price_free_key(g, catalog),) + rest
    if tkey not in _TEMPLATES:
        if len(_TEMPLATES) >= _CACHE_MAX:
            _TEMPLATES.clear()
        _TEMPLATES[tkey] = _template(cf, catalog, c)
    template = _TEMPLATES[tkey]
    if template is None:
        return None
    free, hosts, single, chain, network = template
    options = _PricedOptions(g, catalog.gpu_price_usd(g), free, hosts)
    if single is not None:
        o = options[single]
        return [options, Hosting([(o, 1)], o.cost_usd, owned_usd=0.0, network=False), None]
    if not chain:
        return [options, None, None]
    picked = [options[i] for i in chain]
    cost = sum(o.cost_usd + (o.network_usd if network else 0.0) for o in picked)
    counts: dict[Machine, int] = {}
    for o in picked:
        counts[o] = counts.get(o, 0) + 1
    owned_usd = sum(o.owned_usd * n for o, n in counts.items())
    return [options, Hosting(list(counts.items()), cost, owned_usd=owned_usd, network=network and len(picked) > 1),
            None]


class _PricedOptions(Sequence):
    """A SKU's machine options (machine_options), each made when first read: a plan reads only its housing's
    machines, so a fleet catalogue's thousands of SKUs never build the rest. Each costs what machine_options
    computes: host + k x the card's price + RAM + bridges."""

    def __init__(self, g: GPU, card_usd: float, free: list[Machine], hosts: list[float]):
        self._g, self._card_usd, self._free, self._hosts, self._made = g, card_usd, free, hosts, {}

    def __len__(self) -> int:
        return len(self._free)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self._free))[i]
        m = self._made.get(i)
        if m is None:
            o = self._free[i]
            cost = self._hosts[i] + o.k * self._card_usd + o.ram_usd + o.bridges * o.bridge_usd
            m = self._made[i] = Machine(o.platform, self._g, o.k, o.ram_gb, cost, o.power_w, o.bridges,
                                        o.network_usd, o.ram_usd, o.bridge_usd)
        return m

    def __eq__(self, other) -> bool:
        return list(self) == list(other)


def _housed_link(cf: Config, housed: list) -> Link:
    """link_of the configuration on its housing, computed once per housing key (it reads only the card, the
    count and the machines)."""
    if housed[2] is None:
        housed[2] = link_of(cf, housed[1])
    return housed[2]


def settled_configs(arch: Architecture, wl: Workload, cards, catalog: Catalog, c: Constraints, job: JobSize,
                    rejected: dict[str, str], need: "_NeedCache", make, bound_usd: float = math.inf) -> list[Config]:
    """Every card's configurations (make: training_configs or inference_configs), housed, timed, above the
    headroom floor and pruned (prune compares within a card type only), in card order; cards without any are
    named in `rejected` (why make refused them, then machines that cannot house them, then the headroom floor,
    as planning them together does). A card's configurations depend only on (architecture, workload, card,
    stack, platforms, rates, constraints, job): kept per such key, so a sweep variant that changes one card's
    price recomputes that card alone (copies are returned: callers may annotate them).

    bound_usd: only configurations whose housing costs at most this are timed and returned (the budget, in USD
    with the solver's tolerance): one dearer can never be bought within the budget, and it cannot change which
    cheaper ones survive pruning, since only a configuration no dearer can dominate another (see prune). Every
    configuration is still built, and housed as far as `rejected` needs (_CardConfigs), so it is the same at any
    bound; one left unhoused or untimed is done when a later plan's bound reaches it (solver.candidates widens
    the bound when the budget binds)."""
    settled: list[Config] = []
    unhoused: dict[str, str] = {}
    low: dict[str, str] = {}
    base = (arch, _key_of(wl, frozen), _catalog_key(catalog), _constraints_key(c), frozen(job), make.__name__)
    groups: list[list] = []                 # a card's entries (one per stack or memory-saver variant), in order
    for entry in cards:
        if groups and groups[-1][0][0] is entry[0]:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    for group in groups:
        g = group[0][0]
        key = base + (_key_of(g, frozen),) + tuple(per_object(_ENTRY_KEYS, e, _entry_key) for e in group)
        hit = _CARD_CONFIGS.get(key)
        if hit is None:
            rej: dict[str, str] = {}
            hit = _CardConfigs(make(arch, wl, group, catalog, c, rej, need), rej, catalog, c, bound_usd)
            if len(_CARD_CONFIGS) >= _CACHE_MAX:
                _CARD_CONFIGS.clear()
            _CARD_CONFIGS[key] = hit
        rejected.update(hit.rejected)
        if hit.why:
            unhoused[g.name] = hit.why
        if hit.floor:
            low[g.name] = hit.floor
        settled += [_copy(cf) for cf in hit.within(bound_usd, arch, job, catalog, c)]
    rejected.update(unhoused)
    rejected.update(low)
    return settled


_ENTRY_KEYS: dict[int, tuple] = {}


def _entry_key(entry: tuple) -> tuple:
    """A candidate_gpus entry's key without its card: the workload, stack, evidence and savers."""
    return (_key_of(entry[1], frozen),) + tuple(frozen(x) for x in entry[2:])


class _CardConfigs:
    """One card's configurations in the order make built them, each housed and timed when a bound first reaches
    it; why the card has none; and per cost bound the timed, pruned configurations within it.

    A configuration of n cards costs at least n x the card's price (every machine pays host + k x price + RAM +
    bridges, all >= 0; tests/test_solver_bound.py checks it), so one whose cards alone exceed the bound is not
    housed. Which cards have no housing, or none above the headroom floor, is what `rejected` says; it is exact
    because the configurations within the bound are housed first and, unless one of them is housed and above the
    floor (then the card has both, at any bound), every other one is housed too."""
    __slots__ = ("items", "rejected", "why", "floor", "pruned")
    PENDING = "pending"

    def __init__(self, configs: list[Config], rejected: dict[str, str], catalog: Catalog, c: Constraints,
                 bound_usd: float):
        from planner.decision import above_floor, headroom
        self.rejected, self.pruned = rejected, {}
        # [config, its least possible cost, housing entry | None (no machine houses it) | PENDING, timed]
        per_card: dict[int, float] = {}                 # one card type per entry, read once
        for cf in configs:
            if id(cf.gpu) not in per_card:
                per_card[id(cf.gpu)] = _least_card_usd(cf.gpu, catalog, c)
        self.items = [[cf, cf.count * per_card[id(cf.gpu)], self.PENDING, False] for cf in configs]
        safe = lambda cf: above_floor(cf, c.min_headroom)       # noqa: E731
        self._house(lambda least: least <= bound_usd, catalog, c)
        if not any(h is not None and h is not self.PENDING and safe(cf) for cf, _, h, _ in self.items):
            self._house(lambda least: True, catalog, c)
        housed = [cf for cf, _, h, _ in self.items if h is not None and h is not self.PENDING]
        self.why = None if housed or not configs else \
            (f"no catalogued machine can house {next(cf.count for cf, _, h, _ in self.items if h is None)} of "
             "them (slots, power, cooling, RAM or a replica wider than one machine)")
        # below the headroom floor a plan is never recommended: such configurations are dropped (within)
        self.floor = None
        if housed and not any(safe(cf) for cf in housed):
            cf = next(cf for cf in reversed(housed) if not safe(cf))
            self.floor = (f"fits with only {max(headroom(cf), 0):.1%} of its memory free, below "
                          f"the {c.min_headroom:.0%} headroom floor (--min-headroom to lower it)")

    def _house(self, reach, catalog: Catalog, c: Constraints) -> None:
        keys: dict[int, tuple] = {}
        for item in self.items:
            if item[2] is self.PENDING and reach(item[1]):
                g = item[0].gpu
                if id(g) not in keys:
                    keys[id(g)] = housing_keys(g, catalog, c)
                item[2] = house_config(item[0], catalog, c, keys[id(g)])

    def within(self, bound_usd: float, arch: Architecture, job: JobSize, catalog: Catalog,
               c: Constraints) -> list[Config]:
        hit = self.pruned.get(bound_usd)
        if hit is None:
            from planner.decision import above_floor
            self._house(lambda least: least <= bound_usd, catalog, c)
            mine = []
            for item in self.items:
                cf, _, housed, timed = item
                if housed is None or housed is self.PENDING or cf.hosting.cost_usd > bound_usd \
                        or not above_floor(cf, c.min_headroom):
                    continue
                if not timed:
                    time_config(arch, job, cf, housed)
                    item[3] = True
                mine.append(cf)
            hit = prune(mine)
            if len(self.pruned) >= 16:               # a web client's many budgets: bounded
                self.pruned.clear()
            self.pruned[bound_usd] = hit
        return hit


def _least_card_usd(g: GPU, catalog: Catalog, c: Constraints) -> float:
    """What a configuration costs at least per card of it: the card's price (0 when the user owns some of them, or
    for a whole machine, whose housing this does not reason about)."""
    if g.is_machine or c.owned.gpus.get(g.name.lower(), 0):
        return 0.0
    return catalog.gpu_price_usd(g)


def _copy(cf: Config) -> Config:
    """A shallow copy of a configuration (copy.copy's result, without its generic machinery)."""
    out = Config.__new__(Config)
    out.__dict__.update(cf.__dict__)
    return out


def clear_caches() -> None:
    """Forget every shared candidate, estimate and micro-batch (tests compare cold and warm results)."""
    import planner.throughput as throughput
    from planner.throughput import hardware, training
    throughput._TIMINGS.clear()
    throughput._WORKLOAD_KEYS.clear()
    throughput._GPU_KEYS.clear()
    hardware._BY_OBJECT.clear()
    _HOUSING.clear()
    _TEMPLATES.clear()
    _PRICE_FREE.clear()
    _PLATFORMS.clear()
    _CONSTRAINTS.clear()
    _TOKENS.clear()
    _CARD_CONFIGS.clear()
    _CANDIDATE_CARDS.clear()
    _CARD_KEYS.clear()
    _BASEBOARDS.clear()
    _ENTRY_KEYS.clear()
    _FROZEN.clear()
    _ESTIMATES.clear()
    training._STACK_NUMERICS.clear()
    training._MICRO.clear()
    training._CARD_KEYS.clear()


def link_of(cf: Config, hosting: Hosting) -> Link:
    """The slowest link the configuration's collectives cross, as bought: NVLink only on baseboards and on
    bridged pairs, PCIe (peer-to-peer, or staged through host memory on GeForce cards) otherwise, and the
    machines' network when there are several."""
    g = cf.gpu
    card = card_of(g)
    if g.is_machine:
        return Link("unified", 0.0, "unified memory")
    machine = hosting.machines[0][0]
    baseboard = bool(g.nvlink) and g.nvlink.width > 2 and g.form in ("sxm", "oam")
    bridged = bool(g.nvlink) and all(m.bridges * 2 >= m.k for m, _ in hosting.machines) and machine.k <= 2
    if cf.count <= 1:
        intra = Link("none", 0.0, "one GPU")
    elif baseboard or bridged:
        intra = nvlink_link(card, g.nvlink.bandwidth_gbps)
    else:
        lanes = min(getattr(m.platform, "pcie_lanes_per_gpu", None) or 16 for m, _ in hosting.machines)
        intra = pcie_link(card, lanes)
    if hosting.count > 1:
        gbits = min(_node_network_gbits(m) for m, _ in hosting.machines)
        return network_link(gbits, intra)
    return intra


def _node_network_gbits(m: Machine) -> float:
    """A machine's network bandwidth: per-GPU NICs (HGX rails) times its cards, else its one port."""
    p = m.platform
    per_gpu = getattr(p, "nic_gbps_per_gpu", None)
    if per_gpu:
        return per_gpu * m.k
    return getattr(p, "network_gbps", None) or DEFAULT_NODE_NETWORK_GBITS


def settle(arch: Architecture, job: JobSize, cf: Config, catalog: Catalog, c: Constraints) -> Config | None:
    """House the configuration and time the job on that housing; None when no machine can house it."""
    housed = house_config(cf, catalog, c)
    if housed is None:
        return None
    return time_config(arch, job, cf, housed)


def house_config(cf: Config, catalog: Catalog, c: Constraints, keys: tuple | None = None) -> list | None:
    """The configuration's cheapest housing set on it (cf.options, cf.hosting); None when nothing houses it.
    Returns housing()'s shared entry, which time_config reads the link from."""
    housed = housing(cf, catalog, c, keys)
    cf.options, cf.hosting = housed[0], housed[1]
    return None if cf.hosting is None else housed


def time_config(arch: Architecture, job: JobSize, cf: Config, housed: list) -> Config:
    """The job timed on the configuration as housed (tokens/s, seconds, the link crossed, the basis)."""
    wl = cf.workload
    if cf.parts:
        return cf
    if wl.training:
        link = _housed_link(cf, housed)
        t = time_training(arch, wl, cf.gpu, cf.count, cf.zero, cf.offload, link, job.tokens)
        cf.tokens_per_s, cf.time_s, cf.time_detail = t.tokens_per_s, t.seconds, t.detail
        cf.link, cf.time_basis, cf.time_range_s = t.link, t.basis, t.range_s
    else:
        from planner.serving import time_basis
        tp = replica_throughput(arch, wl, cf, job.requests)
        cf.tokens_per_s, cf.time_s, cf.time_detail = tp.tokens_per_s, tp.seconds, tp.detail
        cf.time_basis, cf.time_range_s = time_basis(cf, tp.seconds)
    return cf


def replica_throughput(arch: Architecture, wl: Workload, cf: Config, requests: int | None):
    """Tensor-parallel cards read their shards at once; a layer split's cards take turns; replicas add up
    (planner/throughput/inference.py through planner/serving.py)."""
    from planner.serving import config_throughput
    link = link_of(cf, cf.hosting) if cf.hosting else None
    if link is not None:
        cf.link = link.kind if (cf.replica_gpus > 1 or cf.gpu.is_machine) else "none"
    return config_throughput(arch, wl, cf, requests, link)


def simplest_first(configs: list[Config]) -> list[Config]:
    """Configurations in prune's order: fewest memory savers, then the lowest ZeRO stage, then no offload (stable)."""
    return sorted(configs, key=lambda x: (len(x.savers), x.zero, x.offload != "none"))


def prune(configs: list[Config]) -> list[Config]:
    """Drop configurations another of the same card type beats on both cost and time: they can never be the
    cheapest plan within a deadline, the fastest within a budget, or a card type's best alternative."""
    from planner.decision import HEADROOM_PREFERRED, headroom
    room = {id(cf): headroom(cf) for cf in configs}
    # Only another of the same card, no dearer, can dominate: per card type, sorted by cost, each configuration
    # is compared with the prefix that costs no more (not with every configuration of every card: a fleet
    # catalogue's thousands of SKUs made that quadratic). tests/test_speed.py checks it equals all pairs.
    by_card: dict[str, list[Config]] = {}
    for cf in configs:
        by_card.setdefault(cf.gpu.name, []).append(cf)
    dominated: set[int] = set()
    for group in by_card.values():
        group = sorted(group, key=lambda x: x.hosting.cost_usd)
        end = 0
        for cf in group:
            cost = cf.hosting.cost_usd
            while end < len(group) and group[end].hosting.cost_usd <= cost:
                end += 1
            t = cf.time_s if cf.time_s is not None else math.inf
            # dominated: another of the same card no dearer, no slower, and at least as safe (headroom up to the
            # 10% the decision rule prefers)
            if any(o is not cf and (o.time_s if o.time_s is not None else math.inf) <= t
                   and room[id(o)] >= min(room[id(cf)], HEADROOM_PREFERRED) - 1e-12
                   and (o.hosting.cost_usd, o.time_s or 0) != (cost, cf.time_s or 0)
                   for o in group[:end]):
                dominated.add(id(cf))
    keep = [cf for cf in configs if id(cf) not in dominated]
    # identical (cost, time) duplicates: keep the simplest strategy
    seen, out = set(), []
    for cf in simplest_first(keep):
        key = (cf.gpu.name, round(cf.hosting.cost_usd, 2), cf.time_s)
        if key not in seen:
            seen.add(key)
            out.append(cf)
    return out


def job_for(arch: Architecture, wl: Workload, c: Constraints) -> JobSize:
    return job_size(arch, wl, c.tokens, c.examples, c.epochs, c.requests, c.tokens_per_example)
