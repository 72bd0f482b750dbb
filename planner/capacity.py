"""`plan capacity --have 2xrtx-3090 --model 70b --engine llama.cpp --precision q4_k_m [--ttft S] [--itl S]`:
what hardware the user already has can serve, without buying anything.

Answers the largest context one sequence can have on those cards, and at the workload's prompt and output
lengths (--seq-len, --new-tokens) the users served within the targets, tokens/s per user and the request rate
sustained (planner/serving.py). Exit 3 with the binding constraint when the model does not fit at all (or no
user can be served within the targets).
"""
from __future__ import annotations

from planner.errors import InputError

MAX_CONTEXT = 10_000_000            # Workload.seq_len's upper bound


def _card_and_count(owned, catalog):
    if owned.platforms and not owned.gpus:
        raise InputError("--have: name the cards or machine you have (e.g. 2xrtx-3090, mac-studio-m4-max-128gb); "
                         "a host platform alone runs nothing")
    if len(owned.gpus) != 1:
        raise InputError("--have: capacity is for one card type at a time (got "
                         f"{', '.join(owned.gpus) or 'none'}); run it once per type")
    (name, n), = owned.gpus.items()
    g = catalog.gpus[name]
    if g.is_machine and n > 1:
        raise InputError(f"--have: {n} x {name}: capacity answers for one machine (machines are not clustered)")
    return g, n


def _engine_workload(wl, g, explicit: bool):
    from planner.software import stack_for
    stack = stack_for(g.vendor, "inference", wl.framework, wl.engine, explicit)
    if isinstance(stack, str):
        raise InputError(f"--engine: {stack}")
    choice, name = stack
    return wl.replace(engine=choice), name


def shapes_for(arch, wl, g, n: int, margin: float):
    """Replica splits of `wl` that fit on `n` cards of `g`: [(shape config, replicas)]."""
    from planner.configs import Constraints, _NeedCache
    from planner.serving import replica_shapes
    c = Constraints(max_gpus=n, margin=margin)
    need = _NeedCache(arch)
    out = []
    for sh in replica_shapes(arch, wl.replace(batch_size=1), g, c, need, 1, n):
        if sh.replica_gpus <= n:
            out.append((sh, n // sh.replica_gpus))
    return out


def largest_context(arch, wl, g, n: int, margin: float) -> int:
    """The longest single sequence (prompt + output) whose weights and KV cache fit on the cards."""
    def fits(ctx: int) -> bool:
        return bool(shapes_for(arch, wl.replace(seq_len=ctx, new_tokens=0), g, n, margin))
    if not fits(1):
        return 0
    top = arch.max_position_embeddings or MAX_CONTEXT
    if fits(top):
        return top
    lo, hi = 1, top
    while hi - lo > max(16, lo // 200):           # within 0.5%: a context is never quoted closer than that
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def capacity_report(arch, wl, g, n: int, targets, margin: float = 0.05) -> dict:
    from planner.serving import Load, capacity, card_link, kv_room_batch, split_of
    load = Load(users=1, prompt_tokens=wl.seq_len, new_tokens=max(wl.new_tokens, 1))
    rep = {"cards": {g.name: n}, "engine": wl.engine, "precision": wl.precision,
           "prompt_tokens": wl.seq_len, "new_tokens": wl.new_tokens,
           "targets": {"ttft_s": targets.ttft_s, "itl_s": targets.itl_s, "statistic": "mean"},
           "max_context_tokens": largest_context(arch, wl, g, n, margin)}
    if rep["max_context_tokens"] == 0:
        rep.update(fits=False, binding="memory", reason=f"{arch.name} at {wl.precision} does not fit on {n} x "
                   f"{g.name} with {wl.engine} even for a one-token context")
        return rep
    best = None
    for sh, replicas in shapes_for(arch, wl, g, n, margin):
        tp, pp = split_of(sh)
        card = card_link(g, tp, bool(g.nvlink and g.nvlink.width == 2 and tp == 2))
        cap = capacity(arch, wl, card, tp, pp, load, targets, kv_room_batch(sh))
        users = int(cap.best.batch + 1e-9) * replicas if cap.best else 0
        row = (users, cap.best.rate_rps * replicas if cap.best else 0.0, sh, replicas, cap, tp, pp)
        if best is None or row[:2] > best[:2]:
            best = row
    if best is None:
        rep.update(fits=False, binding="memory", reason=f"one sequence of {wl.seq_len + wl.new_tokens} tokens "
                   f"does not fit on {n} x {g.name}; the largest context that fits is {rep['max_context_tokens']:,}"
                   " tokens (shorten --seq-len/--new-tokens)")
        return rep
    users, rate, sh, replicas, cap, tp, pp = best
    rep.update(replicas=replicas, tensor_parallel=tp, pipeline_parallel=pp, binding=cap.binding)
    if cap.best is None or users == 0:
        what = {"ttft": "time to first token", "itl": "inter-token latency"}.get(cap.binding, cap.binding)
        rep.update(fits=False, users=0, reason=f"the model fits, but even one user misses the {what} target")
        return rep
    b = cap.best
    rep.update(fits=True, users=users, rate_rps=round(rate, 3), ttft_s=round(b.ttft_s, 4), itl_s=round(b.itl_s, 5),
               tokens_per_s_per_user=round(1 / b.itl_s, 1), tokens_per_s=round(b.output_tokens_per_s * replicas, 1),
               bound=b.bound)
    return rep


def capacity_text(r: dict) -> str:
    have = ", ".join(f"{k} x {n}" for n, k in ((n, k) for k, n in r["cards"].items()))
    head = f"{have} with {r['stack']} serving {r['model']} ({r['precision']}):"
    ctx = f"largest context that fits: {r['max_context_tokens']:,} tokens"
    if not r.get("fits"):
        return f"{head} does not serve it. Binding constraint: {r['binding']}. {r['reason']}; {ctx}"
    split = f"{r['replicas']} replica(s)" + (f" of tensor parallel {r['tensor_parallel']}" if r["tensor_parallel"] > 1
                                             else "") + (f", layers split over {r['pipeline_parallel']} cards"
                                                         if r["pipeline_parallel"] > 1 else "")
    t = r["targets"]
    tg = ", ".join(x for x in (f"TTFT <= {t['ttft_s']:g} s" if t["ttft_s"] else "",
                               f"ITL <= {t['itl_s']:g} s" if t["itl_s"] else "") if x) or "no latency targets"
    return (f"{head}\n  {ctx}\n  at {r['prompt_tokens']:,} prompt + {r['new_tokens']:,} output tokens ({tg}, means): "
            f"{r['users']:,} concurrent users, {r['tokens_per_s_per_user']:,.0f} tokens/s per user, "
            f"{r['rate_rps']:,.2f} requests/s sustained, {r['ttft_s']:.2f} s to first token; {r['tokens_per_s']:,.0f} "
            f"output tokens/s in all ({split}; {r['binding']} limits more users)")
