"""Serving sized by load and latency: a request rate or concurrent users, prompt and output lengths, and
targets for the time to first token (TTFT) and the inter-token latency (ITL).

Targets are MEANS over the steady state (mean TTFT, mean ITL), as the time model predicts means; published
p99 figures under load run higher (queueing), so a p99 service-level objective needs a tighter mean target.

Per replica (one copy of the model on tp x pp cards of one type), as a function of the concurrent batch B
(planner/throughput/inference.py for the step times):
- ITL(B): one decode step of B sequences at the mean context (prompt + half the output), carrying on average
  B x prompt / new_tokens prompt tokens of new requests (chunked prefill inside the decode steps, vLLM V1 and
  llama-server); engines without continuous batching (HF generate(), mlx_lm.server) prefill a batch first.
- TTFT(B): the prompt in the engine's prefill chunks, each beside the B running decodes; no queueing beyond
  that (the load is sized so that a slot is free: rate below the replica's maximum).
- rate(B) = B / (TTFT + (new_tokens - 1) x ITL)  (Little's law: sequences in the system = rate x time in it).
- B is limited by the KV cache the replica's memory holds (the estimator's per-sequence cache at prompt +
  output tokens) and the engine's max_seqs (vLLM max_num_seqs = 256).
The largest B that meets both targets gives the replica's sustainable rate; the load then needs
ceil(rate / that) replicas (or ceil(users / B)). More load or tighter targets can only need more replicas.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from planner.architecture import Architecture
from planner.throughput.inference import (INFLIGHT_ENGINES, Card, decode_rate, preset, prefill_seconds, mixed_step,
                                          model_bytes)
from planner.workload import Workload


@dataclass(frozen=True)
class Load:
    rate_rps: float | None = None        # requests per second, sustained
    users: int | None = None             # concurrent streams (each always has a request in flight)
    prompt_tokens: int = 1000
    new_tokens: int = 300

    @property
    def given(self) -> bool:
        return self.rate_rps is not None or self.users is not None


@dataclass(frozen=True)
class Targets:
    ttft_s: float | None = None          # mean time to first token
    itl_s: float | None = None           # mean inter-token latency


@dataclass(frozen=True)
class OperatingPoint:
    batch: float                         # mean concurrent sequences on the replica
    ttft_s: float
    itl_s: float
    rate_rps: float
    output_tokens_per_s: float
    bound: str


def operating_point(arch: Architecture, w: Workload, card: Card, tp: int, pp: int, batch: float,
                    prompt: int, new: int) -> OperatingPoint:
    """TTFT, ITL and rate of one replica holding `batch` sequences in steady state."""
    p = preset(w.engine)
    ctx = prompt + new / 2
    b = max(batch, 1e-6)
    if p.continuous_batching:
        # prompt tokens to prefill per decode step, on average; they go in chunks of up to `chunk` tokens: a share
        # f of the steps carries a chunk (its matmuls, and an MoE's experts for all its tokens), the rest decode
        # alone. ITL is the mean step.
        mix = b * prompt / max(new, 1)
        chunk = max(1, p.prefill_chunk_tokens - b)       # vLLM: max_num_batched_tokens less the decode tokens
        if mix < chunk:
            f = mix / chunk
            r0 = decode_rate(arch, w, card, b, ctx, tp, pp)
            r1 = decode_rate(arch, w, card, b, ctx, tp, pp, prompt_tokens_per_step=chunk, prompt_len=prompt)
            itl_mean = (1 - f) * r0.itl_s + f * r1.itl_s
            r = r1 if f >= 0.5 else r0
        else:
            r = decode_rate(arch, w, card, b, ctx, tp, pp, prompt_tokens_per_step=mix, prompt_len=prompt)
            itl_mean = r.itl_s
        chunks = math.ceil(prompt / chunk)
        mb = model_bytes(arch, w)
        # the whole model at one card's rate: a layer split's stages take turns on each chunk
        one = mixed_step(mb, card, w.engine, w.precision, b, ctx, min(chunk, prompt), prompt / 2, tp)
        ttft = chunks * one.seconds
        itl = itl_mean
        bound = r.step.bound
    else:
        # static batches: the batch's prompts are prefilled, then decoded together
        ttft = prefill_seconds(arch, w, card, prompt, max(1, round(b)), tp, pp)
        r = decode_rate(arch, w, card, b, ctx, tp, pp)
        itl, bound = r.itl_s, r.step.bound
    busy = ttft + max(new - 1, 0) * itl
    rate = b / busy if busy > 0 else 0.0
    return OperatingPoint(b, ttft, itl, rate, rate * new, bound)


@dataclass(frozen=True)
class ReplicaCapacity:
    max_batch: float                    # sequences the replica holds (KV cache, engine limit)
    best: OperatingPoint | None         # the largest batch meeting the targets (None: not even one sequence)
    binding: str                        # what stops a larger batch: ttft | itl | kv-cache | max-seqs


def capacity(arch: Architecture, w: Workload, card: Card, tp: int, pp: int, load: Load, targets: Targets,
             kv_batch_limit: float) -> ReplicaCapacity:
    """The largest concurrent batch a replica holds within the targets, and its operating point there."""
    p = preset(w.engine)
    # whole sequences: the users reported and the rate they give agree
    limit = float(math.floor(max(0.0, min(float(kv_batch_limit), float(p.max_seqs))) + 1e-9))
    limit_why = "kv-cache" if kv_batch_limit <= p.max_seqs else "max-seqs"
    if limit < 1:
        return ReplicaCapacity(limit, None, "kv-cache")

    def at(b: float) -> OperatingPoint:
        return operating_point(arch, w, card, tp, pp, b, load.prompt_tokens, load.new_tokens)

    def ok(op: OperatingPoint) -> str:
        if targets.ttft_s is not None and op.ttft_s > targets.ttft_s:
            return "ttft"
        if targets.itl_s is not None and op.itl_s > targets.itl_s:
            return "itl"
        return ""

    top = at(limit)
    if not ok(top):
        return ReplicaCapacity(limit, top, limit_why)
    first = at(1.0)
    if ok(first):
        return ReplicaCapacity(limit, None, ok(first))
    lo, hi = 1, int(limit)                   # ok(lo), not ok(hi): TTFT and ITL grow with the batch
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(at(float(mid))):
            hi = mid
        else:
            lo = mid
    return ReplicaCapacity(limit, at(float(lo)), ok(top))


def at_load(arch: Architecture, w: Workload, card: Card, tp: int, pp: int, load: Load, per_replica_rate: float | None,
            per_replica_users: float | None, cap: ReplicaCapacity) -> OperatingPoint:
    """Where one replica settles under its share of the load (the smallest batch that carries the rate)."""
    def at(b: float) -> OperatingPoint:
        return operating_point(arch, w, card, tp, pp, b, load.prompt_tokens, load.new_tokens)
    top = cap.best.batch if cap.best else 1.0
    if per_replica_users is not None:
        return at(min(max(per_replica_users, 1.0), top))
    if per_replica_rate is None or at(top).rate_rps <= per_replica_rate:
        return at(top)
    lo, hi = 0.0, top
    for _ in range(40):
        mid = (lo + hi) / 2
        if at(mid).rate_rps >= per_replica_rate:
            hi = mid
        else:
            lo = mid
        if hi - lo < 0.01:
            break
    return at(max(hi, 1e-3))


def replica_at(arch: Architecture, w: Workload, card: Card, tp: int, pp: int, load: Load,
               max_seqs: int | None = None) -> OperatingPoint:
    """One replica at a published load (validation): users = the concurrency, or a rate's steady state
    (capped at the engine's max_seqs; an unbounded rate is the replica's maximum)."""
    top = max_seqs or preset(w.engine).max_seqs
    if load.users is not None:
        return operating_point(arch, w, card, tp, pp, min(load.users, top), load.prompt_tokens, load.new_tokens)
    cap = ReplicaCapacity(top, operating_point(arch, w, card, tp, pp, top, load.prompt_tokens, load.new_tokens),
                          "max-seqs")
    return at_load(arch, w, card, tp, pp, load, load.rate_rps, None, cap)


def replicas_needed(load: Load, cap: ReplicaCapacity) -> int | None:
    """Replicas that carry the load within the targets; None when one replica cannot serve even one user."""
    if cap.best is None or cap.best.rate_rps <= 0:
        return None
    if load.users is not None:
        return max(1, math.ceil(load.users / max(math.floor(cap.best.batch + 1e-9), 1)))
    if load.rate_rps is not None:
        return max(1, math.ceil(load.rate_rps / cap.best.rate_rps - 1e-9))
    return 1


def kv_batch_limit(per_seq_kv_bytes: float, room_bytes: float) -> float:
    """Sequences whose KV cache (prompt + output tokens each) fits in the room left after weights and buffers."""
    if per_seq_kv_bytes <= 0:
        return float("inf")
    return max(0.0, room_bytes / per_seq_kv_bytes)


def describe(s: dict) -> str:
    """The plain-words line: 'serves 12 req/s at 0.6 s to first token and 38 tokens/s per user'."""
    per_user = 1.0 / s["itl_s"] if s.get("itl_s") else 0.0
    split = f"{s['replicas']} replica(s)" + (f" of tensor parallel {s['tensor_parallel']}"
                                               if s.get("tensor_parallel", 1) > 1 else "")
    if s.get("pipeline_parallel", 1) > 1:
        split += f" x {s['pipeline_parallel']} pipeline stages"
    return (f"serves {s['rate_rps']:,.2f} req/s ({s['users']:,} concurrent users) at {s['ttft_s']:.2f} s to first "
            f"token and {per_user:,.0f} tokens/s per user ({s['itl_s'] * 1000:.0f} ms between tokens, mean); "
            f"{s['tokens_per_s']:,.0f} output tokens/s in all, {split}")


# ---------------------------------------------------------------------------------------------------
# Candidates for the integer program: per card type and split, the replicas the load needs

@dataclass(frozen=True)
class ServingSpec:
    """What the user asked of a serving purchase (CLI --rate/--users/--ttft/--itl, scenarios, the API)."""
    rate_rps: float | None = None
    users: int | None = None
    ttft_s: float | None = None
    itl_s: float | None = None

    @property
    def load_given(self) -> bool:
        return self.rate_rps is not None or self.users is not None

    def load(self, w: Workload) -> Load:
        return Load(self.rate_rps, self.users, w.seq_len, max(w.new_tokens, 1))

    def targets(self) -> Targets:
        return Targets(self.ttft_s, self.itl_s)


TP_DEGREES = (1, 2, 4, 8)        # vLLM tensor_parallel_size: a divisor of the heads, within one machine
EXTRA_REPLICAS = 2               # counts beyond the smallest that carries the load, for the cheapest housing


def card_link(g, tp: int, bridged: bool) -> Card:
    """The link a replica's all-reduces cross: NVLink/xGMI on a baseboard (SXM, OAM) or a bridged pair, else
    PCIe peer traffic."""
    from planner.throughput.inference import PCIE_ALLREDUCE_GBPS
    if g.nvlink and tp <= g.nvlink.width and (g.nvlink.width > 2 or bridged):
        return Card(g, "nvlink", g.nvlink.bandwidth_gbps)
    return Card(g, "pcie", PCIE_ALLREDUCE_GBPS)


def replica_shapes(arch: Architecture, wg: Workload, g, c, need, step: int, per_machine: int) -> list:
    """One replica's possible splits on this card: every tensor-parallel degree that holds the model (vLLM or
    --parallel tensor), else the smallest layer split (llama.cpp, MLX, HF)."""
    from planner.configs import Config, _host_ram, one_replica, usable_bytes
    shapes = []
    tensor = wg.engine in INFLIGHT_ENGINES or wg.parallel == "tensor"       # vLLM, TensorRT-LLM
    if tensor and not g.is_machine:
        usable = usable_bytes(g, c.margin, wg.engine, wg.gpu_memory_utilization)
        limit = g.nvlink.width if (wg.parallel == "tensor" and g.nvlink) else 8
        for n in TP_DEGREES:
            if n > min(limit, c.max_gpus, per_machine) or arch.num_heads % n:
                continue
            est = need(wg, n, 0, "none", g.context_bytes, parallel="tensor")
            if est.total_bytes <= usable:
                per_card, _ = _host_ram(est, 1)
                shapes.append(Config(g, n, 0, "none", est, est.total_bytes, usable, per_card, 0.0, replica_gpus=n,
                                     span_hosts=False, tensor_parallel=n > 1))
    if not shapes:
        one = one_replica(arch, wg, g, c, need, step, per_machine)
        if one is not None:
            shapes.append(one)
    return shapes


def kv_room_batch(cf) -> float:
    """Sequences one replica's memory holds: one (the estimate's batch) plus what each card's headroom takes
    of per-sequence KV cache (a layer split spreads each sequence's cache over its cards)."""
    kv = cf.estimate.breakdown.get("kv_cache", 0) + cf.estimate.kv_slack_bytes
    per_card = kv if cf.tensor_parallel or cf.replica_gpus == 1 else kv / cf.replica_gpus
    return 1.0 + kv_batch_limit(per_card, cf.usable_bytes - cf.need_bytes)


def split_of(cf) -> tuple[int, int]:
    """(tensor parallel, pipeline stages) of one replica."""
    if cf.tensor_parallel:
        return cf.replica_gpus, 1
    return 1, cf.replica_gpus


def serving_configs(arch: Architecture, wl: Workload, cards, catalog, c, rejected: dict[str, str], need) -> list:
    """Per card type and replica split: the replicas that carry the load within the targets (and a few more, so
    the cheapest housing of a larger count is offered too). Cards that cannot are rejected with the binding
    constraint."""
    from dataclasses import replace

    from planner.configs import _round_up, cards_per_host, nvlink_pairs, platform_takes, purchase_step
    spec: ServingSpec = c.serving
    load, targets = spec.load(wl), spec.targets()
    out = []
    for g, wg, stack, ev, savers in cards:
        wg1 = wg.replace(batch_size=1)
        bridged = nvlink_pairs(g, c)
        step = 1 if g.is_machine else purchase_step(g, catalog, bridged)
        per_machine = 1 if g.is_machine else max(
            (getattr(p, "fixed_gpus", None) or cards_per_host(g, p) for p in catalog.platforms.values()
             if platform_takes(p, g)), default=0)
        shapes = replica_shapes(arch, wg1, g, c, need, step, per_machine)
        if not shapes:
            rejected[g.name] = "cannot hold the model and one sequence's KV cache within --max-gpus"
            continue
        why = ""
        for shape in shapes:
            tp, pp = split_of(shape)
            card = card_link(g, tp, bridged)
            cap = capacity(arch, wg, card, tp, pp, load, targets, kv_room_batch(shape))
            n = replicas_needed(load, cap)
            if n is None:
                what = {"ttft": f"time to first token {targets.ttft_s} s", "itl": f"inter-token latency "
                        f"{targets.itl_s} s", "kv-cache": "KV cache for one sequence"}.get(cap.binding, cap.binding)
                why = why or f"misses the {what} even with one user per replica ({_shape_words(shape)})"
                continue
            shape_step = step if shape.replica_gpus == 1 or step == 1 else step
            counts = sorted({_round_up(k * shape.replica_gpus, shape_step) for k in range(n, n + EXTRA_REPLICAS + 1)})
            max_n = 1 if g.is_machine else c.max_gpus
            if counts[0] > max_n or (g.is_machine and n > 1):
                why = why or (f"needs {n} replicas ({counts[0]} cards) to carry the load; above --max-gpus {c.max_gpus}"
                              if not g.is_machine else f"one machine carries {cap.best.rate_rps:.2f} req/s; the load "
                              f"needs {n}")
                continue
            for count in counts:
                if count > max_n or (c.gpus is not None and count != c.gpus):
                    continue
                r = count // shape.replica_gpus
                per_rate = load.rate_rps / r if load.rate_rps is not None else None
                per_users = load.users / r if load.users is not None else None
                op = at_load(arch, wg, card, tp, pp, load, per_rate, per_users, cap)
                cf = replace(shape, count=count, replicas=r, stack=stack, evidence=ev, workload=wg, savers=savers)
                cf.serving = serving_dict(cap, op, r, tp, pp, load, spec, card)
                out.append(cf)
        if not any(cf.gpu.name == g.name for cf in out):
            rejected[g.name] = why or "no replica count within --max-gpus carries the load"
    return out


def _shape_words(cf) -> str:
    tp, pp = split_of(cf)
    if tp > 1:
        return f"tensor parallel {tp}"
    if pp > 1:
        return f"layers split over {pp} cards"
    return "one card per replica"


def serving_dict(cap: ReplicaCapacity, op: OperatingPoint, replicas: int, tp: int, pp: int, load: Load,
                 spec: ServingSpec, card: Card) -> dict:
    """plan.serving: what the purchase sustains at the targets (its maximum), and where it runs at the load."""
    best = cap.best
    users = int(math.floor(best.batch + 1e-9)) * replicas
    return {"rate_rps": round(best.rate_rps * replicas, 3), "users": users, "ttft_s": round(best.ttft_s, 4),
            "itl_s": round(best.itl_s, 5), "tokens_per_s": round(best.output_tokens_per_s * replicas, 1),
            "replicas": replicas, "tensor_parallel": tp, "pipeline_parallel": pp,
            "tokens_per_s_per_user": round(1 / best.itl_s, 1) if best.itl_s else None,
            "binding": cap.binding, "link": card.link, "bound": best.bound,
            "at_load": {"rate_rps": round(op.rate_rps * replicas, 3), "users": round(op.batch * replicas, 1),
                        "ttft_s": round(op.ttft_s, 4), "itl_s": round(op.itl_s, 5),
                        "tokens_per_s": round(op.output_tokens_per_s * replicas, 1)},
            "load": {"rate_rps": load.rate_rps, "users": load.users, "prompt_tokens": load.prompt_tokens,
                     "new_tokens": load.new_tokens},
            "targets": {"ttft_s": spec.ttft_s, "itl_s": spec.itl_s, "statistic": "mean"}}


def config_throughput(arch: Architecture, wl: Workload, cf, requests: int | None, link=None):
    """Throughput and time to serve `requests` on a configuration: at the sized load when one was given
    (cf.serving), else its static batch of wl.batch_size sequences per replica."""
    from planner.throughput import Timing as Throughput
    tp, pp = split_of(cf)
    g = cf.gpu
    if cf.serving:
        s = cf.serving
        rate = s["rate_rps"]
        secs = requests / rate if requests and rate > 0 else None
        return Throughput(s["tokens_per_s"], secs, describe(s))
    # link: planner.throughput.comm.Link of the housing (kind, achievable GB/s per GPU for collectives)
    card = Card(g, "nvlink" if link.kind == "nvlink" else "pcie", link.gbps) \
        if tp > 1 and link is not None and link.gbps > 0 else Card(g)
    op = operating_point(arch, wl, card, tp, pp, wl.batch_size, wl.seq_len, max(wl.new_tokens, 1))
    tps = op.output_tokens_per_s * cf.replicas
    rate = op.rate_rps * cf.replicas
    secs = requests / rate if requests and rate > 0 else None
    detail = (f"{wl.batch_size} sequences per replica: {op.ttft_s:.2f} s to first token, {op.itl_s * 1000:.1f} ms "
              f"between tokens ({op.bound}-bound)")
    if cf.replicas > 1:
        detail = f"{cf.replicas} replicas; each {detail}"
    return Throughput(tps, secs, detail)


CASE_STACK = {"mlx": "mlx-lm"}        # engine -> the stack name published cases use (validation/README.md)


def time_basis(cf, seconds: float | None) -> tuple[str, tuple[float, float] | None]:
    """How an inference time was obtained: the model's measured error on published decode runs of this engine on
    this card family (planner/throughput/basis.py, coverage.json), and the range that error gives."""
    from planner.throughput.basis import basis, family
    engine = cf.workload.engine if cf.workload else "transformers"
    text, f90 = basis("decode", CASE_STACK.get(engine, engine), family(cf.gpu))
    return text, ((seconds / f90, seconds * f90) if seconds else None)


def no_card_reason(rejected: dict[str, str], c) -> str:
    """Why no card serves the load: the target most cards miss (binding), and the advice that follows."""
    spec: ServingSpec = c.serving
    misses = [why for why in rejected.values() if why.startswith("misses the")]
    ttft = sum("time to first token" in w for w in misses)
    itl = sum("inter-token latency" in w for w in misses)
    if misses:
        binding = "ttft" if ttft >= itl else "itl"
        fix = ("raise --ttft or shorten --seq-len" if binding == "ttft" else
               "raise --itl, quantise (--precision fp8, awq, a GGUF type) or use a smaller model")
    else:
        binding = "load"
        fix = "raise --max-gpus, lower --rate/--users, or allow other hardware (--allow-used, --include)"
    if misses:
        return (f"no card carries the load within the targets (binding: {binding}) - "
                f"{len(misses)} card type(s) miss a latency target even with one user per replica; {fix}")
    # no card misses a target: every allowed card was refused before any latency was computed (memory, the engine)
    shown = [f"{name}: {why}" for name, why in rejected.items()
             if why != "excluded" and not why.startswith("used market")]
    more = f"; {len(shown) - 3} more" if len(shown) > 3 else ""
    return (f"no card carries the load within the targets (binding: {binding}) - no allowed card can run it"
            + (f" ({'; '.join(shown[:3])}{more})" if shown else "") + f"; {fix}")
