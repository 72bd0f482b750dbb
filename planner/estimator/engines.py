"""vLLM serving: the start-up memory budget vLLM checks, per GPU.

vLLM may use gpu_memory_utilization x card (default 0.90). At start-up it loads the weights, profiles one
forward pass at max_num_batched_tokens plus a dummy sampler run over max_num_seqs sequences ("PyTorch
activation peak"), measures memory outside PyTorch ("non_torch_memory": cuBLAS workspaces, NCCL and the
custom all-reduce buffers at tensor parallel >= 2), captures CUDA graphs, and hands the rest to the paged
KV cache. The planner's question is whether all of that plus the KV cache for the requested
batch x (prompt + new tokens) fits in gpu_memory_utilization x card.

Figures from vLLM's own memory profile (vllm-project/vllm PR #10511, H100, Meta-Llama-3-8B):
  TP 1: weights 14.96 GiB, non_torch 1.79 GiB, activation peak 1.26 GiB
  TP 2: weights  7.48 GiB, non_torch 3.58 GiB, activation peak 1.26 GiB
The activation peak does not shrink with TP: it is the sampler's working set over max_num_seqs full-vocabulary
rows (logits are gathered on every rank), not the sharded MLP. These two profiles set SAMPLER_BYTES_PER_LOGIT,
VLLM_NON_TORCH_BYTES and VLLM_NCCL_BYTES; see validation/engine-cases.json.
"""
from __future__ import annotations

import math

from planner.architecture import Architecture
from planner.estimator.common import H100_CUDA_CONTEXT_BYTES, Estimate, GiB, _finish
from planner.estimator.kv_cache import kv_dtype, kv_elements_per_token_layer, sliding_layers
from planner.estimator.numerics import Numerics
from planner.estimator.weights import _quant_matmul_temp, serving_weight_bytes, stored_weights, weight_bytes
from planner.workload import SERVING_FORMATS, Workload

VLLM_GPU_MEMORY_UTILIZATION = 0.90         # CacheConfig default; the workload carries the user's value
VLLM_MAX_BATCHED_TOKENS = 8192             # V1 chunked prefill, `vllm serve` default (profiled forward size)
# default max_num_seqs: 256 (V0; V1 on cards below 70 GiB or A100). V1 `vllm serve` on >= 70 GiB cards other than
# A100 defaults to 1024 sequences and 8192 batched tokens (engine/arg_utils.py get_batch_defaults), but its
# profile skips top-k/top-p/logprobs (gpu_model_runner._dummy_sampler_run), so the sampler's working set stays of
# the same order; the estimate is card-independent and keeps 256 (or the requested batch, if larger).
VLLM_MAX_NUM_SEQS = 256
VLLM_BLOCK_TOKENS = 16                     # paged KV cache block size
# Dummy sampler over max_num_seqs x vocab: bf16 logits, fp32 logits, probabilities and log-probabilities,
# the top-k/top-p sort (fp32 values + int64 indices) and its cumulative sum: ~40 bytes per logit.
# 256 x 128256 x 40 B + the 8192-token hidden state = 1.29 GiB vs the published 1.26 GiB (PR #10511).
SAMPLER_BYTES_PER_LOGIT = 40
# non_torch_memory at TP 1 (1.79 GiB) less the CUDA context the planner counts separately (H100, measured):
# cuBLAS/cuBLASLt workspaces, attention-backend and vLLM's own buffers.
VLLM_NON_TORCH_BYTES = int(1.79 * GiB) - H100_CUDA_CONTEXT_BYTES
# tensor parallel >= 2: NCCL communicator buffers, vLLM's custom all-reduce IPC buffers (outside PyTorch):
# non_torch grew from 1.79 to 3.58 GiB going from TP 1 to TP 2 (PR #10511). Measured at TP 2 only.
VLLM_NCCL_BYTES = int((3.58 - 1.79) * GiB)
# CUDA graphs of the decode batch sizes (up to 512 captured sizes' worth of static buffers): vLLM logs
# "Graph capturing finished in N secs, took 0.3-1.0 GiB" for 7B-70B models; modelled as a constant.
VLLM_CUDA_GRAPH_BYTES = int(0.5 * GiB)


def vllm_weight_bytes(arch: Architecture, w: Workload, nx: Numerics) -> tuple[int, str]:
    p, stored = stored_weights(arch, w.precision, "vllm")
    if stored:
        return stored, f"{p} weights, exact bytes from the checkpoint"
    if p in SERVING_FORMATS or p in ("fp16", "bf16", "fp32"):
        return serving_weight_bytes(arch, p, "vllm")
    return weight_bytes(arch, nx), f"bitsandbytes {nx.quant}" if nx.quant else p


def estimate_vllm(arch: Architecture, w: Workload, nx: Numerics, cuda_context: int) -> Estimate:
    """Serving with vLLM: modelled from its memory profiler's accounting, not measured by this project."""
    b, s, n, N = w.batch_size, w.seq_len, w.new_tokens, w.gpus
    u = w.gpu_memory_utilization
    parallel = "pipeline" if (N > 1 and w.parallel == "pipeline") else ("tensor" if N > 1 else "none")
    weights, how = vllm_weight_bytes(arch, w, nx)
    # Paged KV cache: every sequence holds whole 16-token blocks
    kv_name, kv_b = kv_dtype("vllm", w.kv_cache_dtype, 4 if nx.act_bytes == 4 else 2)
    tokens = math.ceil((s + n) / VLLM_BLOCK_TOKENS) * VLLM_BLOCK_TOKENS
    per_layer = kv_elements_per_token_layer(arch, "vllm") * kv_b
    swa = sliding_layers(arch)
    window = math.ceil(min(tokens, arch.sliding_window) / VLLM_BLOCK_TOKENS) * VLLM_BLOCK_TOKENS if swa else 0
    kv = int(b * per_layer * ((arch.num_layers - swa) * tokens + swa * window))
    # Profiled activation peak: the forward pass at max_num_batched_tokens, or the dummy sampler run
    M = VLLM_MAX_BATCHED_TOKENS
    h = arch.hidden_size
    tp = N if parallel == "tensor" else 1
    if arch.is_moe:
        mlp = arch.experts_per_token * 3 * nx.act_bytes * arch.expert_intermediate_size
    else:
        mlp = 3 * nx.act_bytes * arch.intermediate_size            # gate_up output + SiluAndMul output
    forward = M * (2 * nx.stream_bytes * h + mlp // tp) + _quant_matmul_temp(arch, nx, M)
    max_num_seqs = max(VLLM_MAX_NUM_SEQS, b)     # serving b sequences at once needs --max-num-seqs >= b
    sampler = M * nx.stream_bytes * h + max_num_seqs * arch.vocab_size * SAMPLER_BYTES_PER_LOGIT
    activations = max(forward, sampler)
    if parallel == "tensor":
        weights //= N
        if arch.is_mla:
            pass                 # the MLA latent has no head dimension: every TP rank caches all of it
        else:
            kv = kv * max(arch.num_kv_heads // N, 1) // arch.num_kv_heads
    elif parallel == "pipeline":
        share = math.ceil(arch.num_layers / N) / arch.num_layers
        weights = int(weights * share) + arch.vocab_size * h * 2
        kv = int(kv * share)
    nccl = VLLM_NCCL_BYTES if N > 1 else 0
    breakdown = {"weights": weights, "gradients": 0, "optimizer_states": 0, "activations": activations,
                 "kv_cache": kv, "non_torch": VLLM_NON_TORCH_BYTES, "nccl": nccl,
                 "cuda_graphs": VLLM_CUDA_GRAPH_BYTES}
    peak = weights + activations + kv
    reserved = sum(breakdown.values())
    assumptions = [
        f"vLLM (modelled from its memory profiler and published profiles, not measured by this project): {how}",
        f"{b} sequences of {s} + {n} tokens in a paged {kv_name} KV cache ({VLLM_BLOCK_TOKENS}-token blocks)"
        + (", MLA latent cache" if arch.is_mla else "")
        + (f"; {swa} sliding-window layers keep {window} tokens" if swa else ""),
        f"activation peak profiled at max_num_batched_tokens {M} and a sampler over max_num_seqs "
        f"{max_num_seqs}; CUDA graphs ~{VLLM_CUDA_GRAPH_BYTES / GiB:.1f} GiB; non-torch "
        f"{VLLM_NON_TORCH_BYTES / GiB:.2f} GiB",
        f"the card must leave vLLM's {1 - u:.0%} headroom (gpu_memory_utilization {u:g}): the KV cache takes the "
        "rest of the budget, so this is the smallest card on which the requested batch fits",
    ]
    if N > 1:
        assumptions.append(f"{N} GPUs, {parallel} parallel: NCCL and custom all-reduce buffers "
                           f"{nccl / GiB:.2f} GiB per GPU (published at TP 2)")
    if kv_name == "fp8" or w.precision == "fp8":
        assumptions.append("FP8 needs Ada, Hopper, Blackwell or MI300 (the planner checks the card)")
    est = _finish(arch, w, breakdown, peak, reserved, cuda_context, "serving", 0, assumptions, offloaded=0)
    est.breakdown.pop("allocator_slack", None)
    # vLLM only starts when everything fits in gpu_memory_utilization x card
    est.total_bytes = int((reserved + cuda_context) / u)
    est.breakdown["utilization_headroom"] = est.total_bytes - reserved - cuda_context
    return est
