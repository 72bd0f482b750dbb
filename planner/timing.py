"""Job sizes, the inference decode model and energy. Training time is planner/throughput/ (training.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from planner.architecture import Architecture
# the job (how much work) lives in planner/job.py; re-exported here for callers of the older names
from planner.job import (CHINCHILLA_TOKENS_PER_PARAM, DEFAULT_EPOCHS, DEFAULT_EXAMPLES, DEFAULT_REQUESTS,  # noqa: F401
                         JobSize, default_training_tokens, job_size)
from planner.workload import Workload

# Prefill (one forward over the prompt) is a large matmul workload: assumed, not measured separately.
PREFILL_MFU = 0.40
# Decode step = bytes read / (bandwidth x efficiency) + per-layer launch overhead of eager PyTorch
# (fitted on the HF generate() cases: Llama-2-7B at batch 1 and 16 pins both terms).
DECODE_BANDWIDTH_EFFICIENCY = 0.49
DECODE_OVERHEAD_S_PER_LAYER = 0.77e-3
VLLM_DECODE_BANDWIDTH_EFFICIENCY = 0.70
# bitsandbytes dequantisation per layer and step (medians of the nf4 and int8 generate() cases; rough)
QUANT_DECODE_OVERHEAD_S_PER_LAYER = {"nf4": 1.2e-3, "int4": 1.2e-3, "int8": 4.5e-3}


def forward_flops_per_token(arch: Architecture, seq_len: int) -> float:
    """2 FLOPs per active parameter plus causal attention (QK^T and PV over half the context on average)."""
    attn = 2 * arch.num_layers * seq_len * arch.num_heads * arch.head_dim
    return 2 * arch.active_params + attn


@dataclass
class Throughput:
    tokens_per_s: float
    seconds: float | None           # time to result (None when no amount of work is known)
    detail: str




def inference_throughput(arch: Architecture, w: Workload, stages: list[tuple[float, float, float]],
                         weight_bytes: int, kv_bytes: int, requests: int | None = None) -> Throughput:
    """Generated tokens per second for a batch of w.batch_size sequences.

    stages: (fraction of the layers, bf16 TFLOPS, bandwidth GB/s) per card. Layers split across cards run
    one after another for a single batch, so their times add up (more cards hold more, not faster)."""
    fwd = forward_flops_per_token(arch, w.seq_len) * w.batch_size * w.seq_len
    step_bytes = weight_bytes + kv_bytes / 2          # the cache is half full on average over the generation
    overhead = arch.num_layers * (DECODE_OVERHEAD_S_PER_LAYER + QUANT_DECODE_OVERHEAD_S_PER_LAYER.get(w.precision, 0))
    efficiency = DECODE_BANDWIDTH_EFFICIENCY
    if w.engine == "vllm":
        # CUDA graphs remove the per-layer launch overhead; paged attention reads ~70% of peak bandwidth
        # (assumed, not measured here)
        overhead, efficiency = 0.0, VLLM_DECODE_BANDWIDTH_EFFICIENCY
    prefill_s = sum(frac * fwd / (tflops * 1e12 * PREFILL_MFU) for frac, tflops, _ in stages)
    step_s = sum(frac * step_bytes / (bw * 1e9 * efficiency) for frac, _, bw in stages) + overhead
    batch_s = prefill_s + step_s * w.new_tokens
    tps = w.batch_size * w.new_tokens / batch_s if batch_s > 0 else 0.0
    secs = batch_s * (requests / w.batch_size) if requests else None
    return Throughput(tps, secs, f"prefill {prefill_s:.2f} s, decode {step_s * 1000:.1f} ms/step for "
                                 f"{w.batch_size} sequences")


def energy_kwh(power_w: float, seconds: float | None) -> float | None:
    return None if seconds is None else power_w * seconds / 3.6e6
