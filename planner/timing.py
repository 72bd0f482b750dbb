"""Time to result, throughput and energy: FLOPs over achieved compute, bytes over achieved bandwidth.

Utilisation factors are calibrated on the measured tokens/s in calibration/ (H100, PyTorch eager,
transformers 5) by benchmarks/throughput.py, which prints the same medians; tests/test_timing.py fails
if these constants drift from what the data says. They describe that stack: compiled or fused kernels
(Megatron, vLLM, Unsloth) run faster, so times here are conservative.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from planner.architecture import Architecture
# the job (how much work) lives in planner/job.py; re-exported here for callers of the older names
from planner.job import (CHINCHILLA_TOKENS_PER_PARAM, DEFAULT_EPOCHS, DEFAULT_EXAMPLES, DEFAULT_REQUESTS,  # noqa: F401
                         JobSize, default_training_tokens, job_size)
from planner.workload import Workload

# Model FLOPs utilisation (achieved / dense bf16 peak) for steps of >= 4096 tokens, medians per method
# (benchmarks/throughput.py): full bf16/mixed, LoRA bf16, QLoRA nf4 (dequantisation costs time).
MFU = {"pretrain": 0.32, "full": 0.32, "lora": 0.20, "qlora": 0.08}
# fp32 without TF32 runs on CUDA cores: the H100's 67 fp32 TFLOPS over its 989 bf16 TFLOPS
FP32_RATE = 67 / 989
# Prefill (one forward over the prompt) is a large matmul workload: assumed, not measured separately.
PREFILL_MFU = 0.40
# Decode step = bytes read / (bandwidth x efficiency) + per-layer launch overhead of eager PyTorch
# (fitted on the HF generate() cases: Llama-2-7B at batch 1 and 16 pins both terms).
DECODE_BANDWIDTH_EFFICIENCY = 0.49
DECODE_OVERHEAD_S_PER_LAYER = 0.77e-3
VLLM_DECODE_BANDWIDTH_EFFICIENCY = 0.70
# bitsandbytes dequantisation per layer and step (medians of the nf4 and int8 generate() cases; rough)
QUANT_DECODE_OVERHEAD_S_PER_LAYER = {"nf4": 1.2e-3, "int4": 1.2e-3, "int8": 4.5e-3}
# Data-parallel scaling and offload slow-downs (assumed; typical ZeRO reports)
SCALING_EFFICIENCY = 0.9
OFFLOAD_SLOWDOWN = {"none": 1.0, "optimizer": 0.7, "optimizer+params": 0.4}
# Effective link bandwidths (GB/s per GPU) for gradient and parameter traffic: PCIe 4.0/5.0 x16 peer traffic
# through the root complex reaches ~25 GB/s in NCCL tests; networks carry their line rate / 8 at ~90%.
PCIE_GBPS = 25.0
NETWORK_EFFICIENCY = 0.9


def forward_flops_per_token(arch: Architecture, seq_len: int) -> float:
    """2 FLOPs per active parameter plus causal attention (QK^T and PV over half the context on average)."""
    attn = 2 * arch.num_layers * seq_len * arch.num_heads * arch.head_dim
    return 2 * arch.active_params + attn


def training_flops_per_token(arch: Architecture, w: Workload) -> float:
    """Full: forward + backward (2x) = 3 forwards (the 6*N rule). LoRA/QLoRA: the frozen base still runs
    forward and the backward for activation gradients, but computes no weight gradients: 2 forwards.
    Gradient checkpointing recomputes the forward: +1."""
    passes = 3 if w.full else 2
    if w.gradient_checkpointing:
        passes += 1
    return passes * forward_flops_per_token(arch, w.seq_len)


def comm_bytes_per_step(arch: Architecture, w: Workload, trainable: int, weight_bytes_total: int,
                        zero: int) -> float:
    """Bytes each GPU sends per optimizer step (ring collectives move ~2x the buffer; ZeRO paper section 7):
    DDP and ZeRO-1/2 reduce the gradients once per step; ZeRO-3/FSDP also all-gather the parameters in
    forward and backward of every micro-batch."""
    grads = 2.0 * trainable * 2                              # bf16 gradients, all-reduce = reduce-scatter + gather
    if zero >= 3:
        return grads + 2.0 * weight_bytes_total * w.grad_accum
    return grads


def comm_seconds(bytes_per_gpu: float, gpus: int, link_gbps: float) -> float:
    """Ring collective time: (N-1)/N of the traffic crosses the slowest link."""
    if gpus <= 1 or link_gbps <= 0:
        return 0.0
    return bytes_per_gpu * (gpus - 1) / gpus / (link_gbps * 1e9)


@dataclass
class Throughput:
    tokens_per_s: float
    seconds: float | None           # time to result (None when no amount of work is known)
    detail: str


def training_throughput(arch: Architecture, w: Workload, tflops_per_gpu: float, gpus: int, offload: str = "none",
                        tokens: int | None = None, comm_s_per_step: float = 0.0, link: str = "") -> Throughput:
    """Compute-bound rate, slowed to the communication time of a step where that is longer (communication
    overlaps compute in DDP buckets and ZeRO prefetch, so the slower of the two sets the pace)."""
    rate = tflops_per_gpu * 1e12 * MFU[w.method] * (FP32_RATE if w.precision == "fp32" else 1.0)
    rate *= gpus * (SCALING_EFFICIENCY if gpus > 1 else 1.0) * OFFLOAD_SLOWDOWN.get(offload, 1.0)
    tps = rate / training_flops_per_token(arch, w)
    detail = (f"{training_flops_per_token(arch, w) / 1e9:,.1f} GFLOP/token at {MFU[w.method]:.0%} utilisation of "
              f"{tflops_per_gpu:g} TFLOPS x {gpus}")
    if comm_s_per_step > 0:
        step_tokens = w.batch_size * w.seq_len * w.grad_accum * gpus
        compute_s = step_tokens / tps
        if comm_s_per_step > compute_s:
            tps = step_tokens / comm_s_per_step
            detail += f"; communication-bound over {link} ({comm_s_per_step:.2f} s per step vs {compute_s:.2f} s compute)"
        else:
            detail += f"; communication over {link} hidden behind compute ({comm_s_per_step:.2f} s per step)"
    tokens = tokens if tokens is not None else default_training_tokens(arch, w)
    secs = tokens / tps if tokens else None
    return Throughput(tps, secs, detail)


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


def min_gpus_for_deadline(arch: Architecture, w: Workload, tflops_per_gpu: float, tokens: int, deadline_s: float,
                          offload: str = "none") -> int:
    """Smallest data-parallel GPU count that trains `tokens` within `deadline_s`."""
    one = training_throughput(arch, w, tflops_per_gpu, 1, offload, tokens)
    if one.seconds is None or one.seconds <= deadline_s:
        return 1
    return max(2, math.ceil(one.seconds / (deadline_s * SCALING_EFFICIENCY)))


def energy_kwh(power_w: float, seconds: float | None) -> float | None:
    return None if seconds is None else power_w * seconds / 3.6e6
