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

from planner.memo import per_object
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


# Timings already computed, keyed by everything time_training reads (the card without its name or price):
# the configurations of a card's regional price variants, and a sweep's variants, share them. Bounded.
_TIMINGS: dict[tuple, Timing] = {}
_TIMINGS_MAX = 100_000
# Per object, while it lives (the object is held, so its id is not reused): a workload's key without `gpus`
# (training_step takes the count as an argument and reads neither w.gpus nor anything derived from it), and a
# catalogue GPU's (physical card, family). A plan times every count of a configuration with the same objects.
_WORKLOAD_KEYS: dict[int, tuple] = {}
_GPU_KEYS: dict[int, tuple] = {}


def _workload_key(w) -> tuple:
    return tuple(v for k, v in w.__dict__.items() if k != "gpus")


def _gpu_key(gpu) -> tuple:
    from planner.throughput.basis import family
    from planner.throughput.hardware import card_of, physical
    card = card_of(gpu)
    return card, physical(card), family(gpu)


def time_training(arch, w, gpu, count: int, zero: int, offload: str, link: Link, tokens: int | None) -> Timing:
    """Tokens/s and time to train `tokens` for `count` cards of catalogue GPU `gpu` joined by `link`."""
    from planner.estimator.stacks import STACKS
    from planner.throughput.presets import preset_for

    card, physical_card, fam = per_object(_GPU_KEYS, gpu, _gpu_key)
    key = (arch, per_object(_WORKLOAD_KEYS, w, _workload_key), physical_card, count, zero, offload, link, tokens, fam,
           STACKS.get(w.framework), preset_for(w.framework))
    t = _TIMINGS.get(key)
    if t is None:
        if len(_TIMINGS) >= _TIMINGS_MAX:
            _TIMINGS.clear()
        t = _TIMINGS[key] = _time_training(arch, w, gpu, card, count, zero, offload, link, tokens, fam)
    return t


def _time_training(arch, w, gpu, card, count: int, zero: int, offload: str, link: Link, tokens: int | None,
                   fam: str) -> Timing:
    from planner.throughput.basis import basis
    from planner.throughput.training import training_step

    st = training_step(arch, w, card, count, link, zero, offload)      # the count is an argument, not w.gpus
    tps = st.tokens_per_s
    seconds = tokens / tps if tokens and tps > 0 else None
    top = sorted(((v, k) for k, v in st.parts.items() if v > 0), reverse=True)[:3]
    share = ", ".join(f"{k} {v / sum(st.parts.values()):.0%}" for v, k in top)
    detail = (f"{tps / max(count, 1):,.0f} tokens/s per GPU, {st.bound}-bound; step {st.seconds:.2f} s "
              f"({share}) over {link.detail or link.kind}")
    text, f90 = basis("training", w.framework, fam)
    rng = (seconds / f90, seconds * f90) if seconds else None
    return Timing(tps, seconds, detail, link.kind, text, rng)
