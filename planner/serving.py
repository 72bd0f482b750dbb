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
from planner.throughput.inference import Card, decode_rate, preset, prefill_seconds, mixed_step, model_bytes
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
        mix = b * prompt / max(new, 1)                   # prompt tokens prefilled per decode step, on average
        r = decode_rate(arch, w, card, b, ctx, tp, pp, prompt_tokens_per_step=mix, prompt_len=prompt)
        chunk = max(1, p.prefill_chunk_tokens - b)       # vLLM: max_num_batched_tokens less the decode tokens
        chunks = math.ceil(prompt / chunk)
        mb = model_bytes(arch, w)
        one = mixed_step(mb, card, w.engine, w.precision, b, ctx, min(chunk, prompt), prompt / 2, tp)
        ttft = chunks * one.seconds * pp
        itl = r.itl_s
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
    limit = max(0.0, min(float(kv_batch_limit), float(p.max_seqs)))
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
    lo, hi = 1.0, limit                      # ok(lo), not ok(hi): TTFT and ITL grow with the batch
    for _ in range(40):
        mid = (lo + hi) / 2
        if ok(at(mid)):
            hi = mid
        else:
            lo = mid
        if hi - lo < 0.01:
            break
    return ReplicaCapacity(limit, at(lo), ok(top))


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


def replica_at(arch: Architecture, w: Workload, card: Card, tp: int, pp: int, load: Load) -> OperatingPoint:
    """One replica at a published load (validation): users = the concurrency, or a rate's steady state
    (capped at the engine's max_seqs; an unbounded rate is the replica's maximum)."""
    p = preset(w.engine)
    if load.users is not None:
        return operating_point(arch, w, card, tp, pp, min(load.users, p.max_seqs), load.prompt_tokens,
                               load.new_tokens)
    cap = ReplicaCapacity(p.max_seqs, operating_point(arch, w, card, tp, pp, p.max_seqs, load.prompt_tokens,
                                                      load.new_tokens), "max-seqs")
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
