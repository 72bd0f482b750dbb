"""Ways to run a job on one GPU type: the configurations the integer program chooses from.

Memory need per GPU depends non-linearly on the number of GPUs (ZeRO shards by N), so - like SkyPilot's
optimizer - the memory side is settled here, before the ILP: for every GPU type and parallel strategy the
smallest GPU count whose per-GPU peak (from the estimator) fits the card's usable memory, plus what a
deadline demands. Also the user's constraints and the candidate GPUs they allow.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, replace

from planner.architecture import Architecture
from planner.catalog import GB, GPU, Catalog
from planner.errors import InputError
from planner.estimator import VLLM_GPU_MEMORY_UTILIZATION, Estimate, estimate
from planner.timing import (default_training_tokens, inference_throughput, min_gpus_for_deadline,
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


def usable_bytes(g: GPU, margin: float, engine: str = "transformers") -> int:
    """Memory a job may use on one card: after the safety margin, Apple's working-set limit, and for vLLM
    its gpu_memory_utilization (vLLM refuses to start beyond that share of the card)."""
    fraction = g.usable_fraction if g.is_machine else 1.0
    if engine == "vllm":
        fraction *= VLLM_GPU_MEMORY_UTILIZATION
    return int(g.memory_bytes * fraction * (1 - margin))


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
        if wl.engine == "vllm" and g.vendor != "nvidia":
            rejected[g.name] = "vLLM is modelled for CUDA GPUs only"
            continue
        if ("full" if wl.full else wl.method) not in g.supports:
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
        usable = usable_bytes(g, c.margin)
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
            if est.total_bytes <= usable_bytes(g, c.margin):
                configs.append(Config(g, n, 0, "none", est, est.total_bytes, usable_bytes(g, c.margin),
                                      est.cpu_ram_bytes / GB))
                break
        else:
            rejected[g.name] = f"does not fit with tensor parallelism across its {g.nvlink.width}-GPU NVLink domain"
    return configs


def config_throughput(arch: Architecture, wl: Workload, cf: Config, tokens: int | None, requests: int | None):
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


def layer_split_need(est: Estimate) -> tuple[int, int]:
    """An inference estimate split over cards holding consecutive layers: (bytes divided among the cards,
    bytes every card needs besides). Weights, KV cache and the cache's fragmentation travel with each card's
    share; one layer's activations and their slack are needed on every card."""
    shared = est.breakdown["weights"] + est.breakdown["kv_cache"] + est.kv_slack_bytes
    return shared, est.reserved_bytes - shared


def layer_split_room(g: GPU, margin: float, engine: str, overhead: int) -> int:
    """Bytes of a card left for its share of a layer split (vLLM's headroom comes off usable memory)."""
    return usable_bytes(g, margin, engine) - overhead - g.context_bytes


def inference_config(j: Job, g: GPU, c: Constraints) -> Config | None:
    """Smallest number of cards of one type that hold an inference job with layers split across them."""
    est = estimate(j.arch, j.workload.model_copy(update={"gpus": 1}))
    shared, overhead = layer_split_need(est)
    usable = usable_bytes(g, c.margin, j.workload.engine)
    room = layer_split_room(g, c.margin, j.workload.engine, overhead)
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
        one = inference_config(Job(arch, wl, requests=c.requests), g, c)
        if one is None:
            rejected[g.name] = "cannot hold the model and its KV cache within --max-gpus"
            continue
        secs = config_throughput(arch, wl, one, None, c.requests).seconds
        replicas = max(1, math.ceil(secs / c.deadline_s))
        if (g.is_machine and replicas > 1) or one.count * replicas > c.max_gpus:
            rejected[g.name] = f"needs {replicas} replicas to serve {c.requests:,} sequences in time"
            continue
        configs.append(replace(one, count=one.count * replicas, replicas=replicas,
                               ram_need_gb=one.ram_need_gb * replicas))
    return configs
