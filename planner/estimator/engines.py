"""Serving engines other than transformers: vLLM (modelled from its documented budget)."""
from __future__ import annotations

import math

from planner.architecture import Architecture
from planner.estimator.common import Estimate, GiB, _finish
from planner.estimator.inference import _kv_cache_bytes
from planner.estimator.numerics import Numerics
from planner.estimator.weights import _quant_matmul_temp, weight_bytes
from planner.workload import Workload

# the KV cache is paged in 16-token blocks; CUDA graphs and non-torch allocations take a few hundred MB.
VLLM_GPU_MEMORY_UTILIZATION = 0.90
VLLM_MAX_BATCHED_TOKENS = 8192
VLLM_BLOCK_TOKENS = 16
VLLM_GRAPHS_AND_NON_TORCH_BYTES = int(0.65 * GiB)


def estimate_vllm(arch: Architecture, w: Workload, nx: Numerics, cuda_context: int) -> Estimate:
    """Serving with vLLM: modelled from its documented budget, not measured by this project."""
    b, s, n, N = w.batch_size, w.seq_len, w.new_tokens, w.gpus
    kv_dtype = 2
    blocks = math.ceil((s + n) / VLLM_BLOCK_TOKENS) * VLLM_BLOCK_TOKENS
    if arch.is_mla:   # vLLM caches MLA's compressed latent plus the rope key, not per-head K/V
        kv = b * blocks * arch.num_layers * (arch.kv_lora_rank + arch.qk_rope_head_dim) * kv_dtype
    else:
        kv = _kv_cache_bytes(arch, b, blocks, kv_dtype)
    per_token = 3 * nx.stream_bytes * arch.hidden_size + (
        arch.experts_per_token * nx.act_bytes * (2 * arch.hidden_size + 4 * arch.expert_intermediate_size)
        if arch.is_moe else 3 * nx.act_bytes * arch.intermediate_size)
    chunk = min(b * s, VLLM_MAX_BATCHED_TOKENS)
    activations = chunk * per_token + b * arch.vocab_size * 4 + _quant_matmul_temp(arch, nx, chunk)
    weights = weight_bytes(arch, nx)
    if N > 1:       # tensor parallel (vLLM's default for several GPUs)
        weights //= N
        kv = kv * max(arch.num_kv_heads // N, 1) // arch.num_kv_heads if not arch.is_mla else kv // N
        activations = chunk * 3 * nx.stream_bytes * arch.hidden_size + (activations - chunk * 3 * nx.stream_bytes
                                                                          * arch.hidden_size) // N
    breakdown = {"weights": weights, "gradients": 0, "optimizer_states": 0, "activations": activations,
                 "kv_cache": kv}
    peak = sum(breakdown.values())
    reserved = peak + VLLM_GRAPHS_AND_NON_TORCH_BYTES
    est = _finish(arch, w, breakdown, peak, reserved, cuda_context, "serving", 0, [
        f"vLLM (modelled, not measured): {b} sequences of {s} + {n} tokens in a paged KV cache "
        f"({VLLM_BLOCK_TOKENS}-token blocks), chunked prefill of {VLLM_MAX_BATCHED_TOKENS} tokens, CUDA graphs",
        f"the card must leave vLLM's {1 - VLLM_GPU_MEMORY_UTILIZATION:.0%} headroom "
        f"(gpu_memory_utilization {VLLM_GPU_MEMORY_UTILIZATION})"] + (
        [f"{N} GPUs, tensor parallel"] if N > 1 else []), offloaded=0)
    # vLLM only starts when everything fits in gpu_memory_utilization x card
    est.total_bytes = int(est.total_bytes / VLLM_GPU_MEMORY_UTILIZATION)
    est.breakdown["utilization_headroom"] = est.total_bytes - reserved - cuda_context
    return est


