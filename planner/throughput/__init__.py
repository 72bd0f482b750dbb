"""Throughput and time model: how fast a stack or engine runs a job on a card, as pure functions of
(architecture, workload, stack/engine preset, card, link). A small package of mechanisms beside the memory
estimator (planner/estimator/):

- training.py: a training step = forward + backward (+ recompute) as compute at the number format the stack
  uses, the stack's efficiency, QLoRA dequantisation, the optimizer step as bytes over bandwidth, offload
  traffic over PCIe, communication (comm.py) over the link really bought.
- comm.py: collective traffic per step (DDP/ZeRO/FSDP/tensor/pipeline) and the link it crosses.
- inference.py: prefill (compute-bound) and decode (bytes per step over bandwidth, active experts only,
  KV cache, per-token engine cost, a compute term at large batch, continuous-batching overhead) per engine.
- presets.py: training stack presets as data (efficiencies, fixed costs), each with its source.
- engines.py: inference engine presets as data, per backend (fitted by benchmarks/throughput_inference.py).

Constants are fitted over many published or measured runs by benchmarks/throughput.py (validation/throughput-*.json),
never to a single case; tests fail when a constant drifts from what the data says.
"""

from dataclasses import dataclass

from planner.throughput.comm import Link


@dataclass
class Timing:
    """A time to result and where it came from."""
    tokens_per_s: float
    seconds: float | None
    detail: str
    link: str = ""                     # none | nvlink | pcie | network | unified
    basis: str = ""
    range_s: tuple[float, float] | None = None


def time_training(arch, w, gpu, count: int, zero: int, offload: str, link: Link, tokens: int | None) -> Timing:
    """Tokens/s and time to train `tokens` for `count` cards of catalogue GPU `gpu` joined by `link`."""
    from planner.throughput.basis import basis, family
    from planner.throughput.hardware import card_of
    from planner.throughput.training import training_step

    card = card_of(gpu)
    st = training_step(arch, w.model_copy(update={"gpus": count}), card, count, link, zero, offload)
    tps = st.tokens_per_s
    seconds = tokens / tps if tokens and tps > 0 else None
    top = sorted(((v, k) for k, v in st.parts.items() if v > 0), reverse=True)[:3]
    share = ", ".join(f"{k} {v / sum(st.parts.values()):.0%}" for v, k in top)
    detail = (f"{tps / max(count, 1):,.0f} tokens/s per GPU, {st.bound}-bound; step {st.seconds:.2f} s "
              f"({share}) over {link.detail or link.kind}")
    text, f90 = basis("training", w.framework, family(gpu))
    rng = (seconds / f90, seconds * f90) if seconds else None
    return Timing(tps, seconds, detail, link.kind, text, rng)
