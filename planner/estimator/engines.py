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
from planner.estimator.kv_cache import (
    hybrid_block_tokens,
    kv_dtype,
    kv_elements_per_token_layer,
    paged_cache_layers,
    recurrent_state_bytes,
    sliding_layers,
)
from planner.estimator.numerics import Numerics
from planner.estimator.weights import _quant_matmul_temp, serving_weight_bytes, stored_weights, weight_bytes
from planner.errors import InputError
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


# PP without TP: PyTorch's NCCL communicator for 2 ranks (measured on A100, NVIDIA/nccl#964; training.py)
PP_NCCL_BYTES = 544 * 2**20


def pipeline_stages(w: Workload) -> int:
    """Pipeline stages: --pipeline-parallel N, or every GPU a stage with --parallel pipeline."""
    if w.pipeline_parallel > 1:
        return min(w.pipeline_parallel, w.gpus) if w.gpus > 1 else 1
    return w.gpus if (w.gpus > 1 and w.parallel == "pipeline") else 1


def stage_layers(num_layers: int, pp: int) -> list[int]:
    """vLLM distributed/utils.py get_pp_indices: num_layers // pp per stage, the remainder added one each to the
    stages before the last ("for i in range(2, remaining_layers + 2): partitions[-i] += 1")."""
    parts = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        parts[-i] += 1
    return parts


def _pipeline_stage(arch: Architecture, weights: int, kv: int, forward: int, sampler: int, pp: int, nx: Numerics):
    """(weights, kv, activations, note) of the worst pipeline stage. vLLM's model classes build embed_tokens on the
    first rank only (and on the last when tied) and lm_head + final norm on the last (PPMissingLayer elsewhere,
    e.g. models/llama.py); each stage profiles its own forward at max_num_batched_tokens, the last also the sampler."""
    V, h, L = arch.vocab_size, arch.hidden_size, arch.num_layers
    emb_b = int(V * h * weights / max(arch.params, 1))         # the stored dtype's bytes for one vocab x h table
    head = emb_b * (1 if arch.tie_embeddings else 2)
    per_layer = max(weights - head, 0) / max(L, 1)
    parts = stage_layers(L, pp)
    kv_per_layer = kv / max(L, 1)
    first = (int(per_layer * parts[0]) + emb_b, int(kv_per_layer * parts[0]), forward)
    last = (int(per_layer * parts[-1]) + emb_b * (2 if arch.tie_embeddings else 1),
            int(kv_per_layer * parts[-1]), max(forward, sampler))
    worst = max(first, last, key=sum)
    name = "first" if worst is first else "last"
    note = (f"pipeline parallel {pp}: layers per stage {parts}; embeddings on the first stage, lm_head and the "
            f"sampler on the last (vLLM get_pp_indices / PPMissingLayer); the {name} stage is the largest")
    return worst[0], worst[1], worst[2], note


def vllm_weight_bytes(arch: Architecture, w: Workload, nx: Numerics) -> tuple[int, str]:
    p, stored = stored_weights(arch, w.precision, "vllm")
    if stored:
        return stored, f"{p} weights, exact bytes from the checkpoint"
    if p in SERVING_FORMATS or p in ("fp16", "bf16", "fp32"):
        return serving_weight_bytes(arch, p, "vllm")
    return weight_bytes(arch, nx), f"bitsandbytes {nx.quant}" if nx.quant else p


def _tensor_parallel(arch: Architecture, weights: int, kv: int, tp: int, pp: int) -> tuple[int, int, int]:
    """(weights, KV cache, communication buffers) per GPU of a tensor-parallel x pipeline-parallel replica."""
    if tp > 1:
        weights //= tp
        if not arch.is_mla:      # the MLA latent has no head dimension: every TP rank caches all of it
            kv = kv * max(arch.num_kv_heads // tp, 1) // arch.num_kv_heads
    # TP >= 2: NCCL + the engine's custom all-reduce buffers (vLLM's, published at TP 2); PP only: one NCCL
    # communicator for the stage-to-stage send/recv (no custom all-reduce), sized as PyTorch's measured 2-rank one
    return weights, kv, VLLM_NCCL_BYTES if tp > 1 else (PP_NCCL_BYTES if pp > 1 else 0)


def _served_breakdown(weights: int, activations: int, kv: int, nccl: int) -> dict:
    """A served replica's memory per GPU, with vLLM's measured non-torch and CUDA-graph sizes."""
    return {"weights": weights, "gradients": 0, "optimizer_states": 0, "activations": activations, "kv_cache": kv,
            "non_torch": VLLM_NON_TORCH_BYTES, "nccl": nccl, "cuda_graphs": VLLM_CUDA_GRAPH_BYTES}


def _paged_kv(arch: Architecture, b: int, context: int, per_layer: float, block: int,
              window_block: int) -> tuple[int, int, int, int]:
    """(tokens per sequence, sliding-window layers, tokens they keep, KV bytes) of b sequences of `context` tokens in
    a paged cache of `block`-token blocks; sliding-window layers keep the window, in `window_block`-token blocks."""
    tokens = math.ceil(context / block) * block
    swa = sliding_layers(arch)
    window = math.ceil(min(tokens, arch.sliding_window) / window_block) * window_block if swa else 0
    return tokens, swa, window, int(b * per_layer * ((paged_cache_layers(arch) - swa) * tokens + swa * window))


def _forward_bytes(arch: Architecture, nx: Numerics, tokens: int, tp: int) -> int:
    """Activation bytes of a forward pass over `tokens` tokens: the residual stream twice, the MLP's gate_up output
    and SiluAndMul output (the active experts' for an MoE) split over tp ranks, and a quantised matmul's temporary."""
    width = arch.experts_per_token * arch.expert_intermediate_size if arch.is_moe else arch.intermediate_size
    mlp = 3 * nx.act_bytes * width
    return tokens * (2 * nx.stream_bytes * arch.hidden_size + mlp // tp) + _quant_matmul_temp(arch, nx, tokens)


def estimate_vllm(arch: Architecture, w: Workload, nx: Numerics, cuda_context: int) -> Estimate:
    """Serving with vLLM: modelled from its memory profiler's accounting, not measured by this project."""
    b, s, n, N = w.batch_size, w.seq_len, w.new_tokens, w.gpus
    u = w.gpu_memory_utilization
    pp = pipeline_stages(w)
    tp = max(N // pp, 1)
    parallel = "pipeline" if pp > 1 else ("tensor" if N > 1 else "none")
    weights, how = vllm_weight_bytes(arch, w, nx)
    # Paged KV cache: every sequence holds whole 16-token blocks
    kv_name, kv_b = kv_dtype("vllm", w.kv_cache_dtype, 4 if nx.act_bytes == 4 else 2)
    block = hybrid_block_tokens(arch, kv_b) or VLLM_BLOCK_TOKENS
    per_layer = kv_elements_per_token_layer(arch, "vllm") * kv_b
    tokens, swa, window, kv = _paged_kv(arch, b, s + n, per_layer, block, VLLM_BLOCK_TOKENS)
    # hybrids: each linear-attention layer holds one page per sequence, padded to the attention page size
    state = int(b * arch.linear_attn_layers * block * per_layer) if arch.linear_attn_layers else 0
    kv += state
    # Profiled activation peak: the forward pass at max_num_batched_tokens, or the dummy sampler run
    M = VLLM_MAX_BATCHED_TOKENS
    h = arch.hidden_size
    forward = _forward_bytes(arch, nx, M, tp)
    max_num_seqs = max(VLLM_MAX_NUM_SEQS, b)     # serving b sequences at once needs --max-num-seqs >= b
    sampler = M * nx.stream_bytes * h + max_num_seqs * arch.vocab_size * SAMPLER_BYTES_PER_LOGIT
    # pipeline parallel: only the last stage runs the sampler (and holds lm_head); the worst GPU is the larger of
    # the first and the last stage
    activations = max(forward, sampler)
    stage_note = ""
    if pp > 1:
        weights, kv, activations, stage_note = _pipeline_stage(arch, weights, kv, forward, sampler, pp, nx)
    weights, kv, nccl = _tensor_parallel(arch, weights, kv, tp, pp)
    spec_w, spec_kv, spec_note = speculative_bytes(arch, w, b * tokens, kv_b, tp)
    weights += spec_w
    kv += spec_kv
    breakdown = _served_breakdown(weights, activations, kv, nccl)
    peak = weights + activations + kv
    reserved = sum(breakdown.values())
    assumptions = [
        f"vLLM (modelled from its memory profiler and published profiles, not measured by this project): {how}",
        f"{b} sequences of {s} + {n} tokens in a paged {kv_name} KV cache ({block}-token blocks)"
        + (f"; {arch.linear_attn_layers} linear-attention layers keep a {state / max(b, 1) / 2**20:.0f} MiB state per "
           f"sequence (one {block}-token page each: vLLM's hybrid allocator pads attention blocks to the mamba page)"
           if state else "")
        + (", MLA latent cache" if arch.is_mla else "")
        + (f"; {swa} sliding-window layers keep {window} tokens" if swa else "")
        + (f"; blocks span all {paged_cache_layers(arch)} layers, so the {arch.cross_attn_layers} cross-attention "
           f"layers hold a slot per text token too (text only: no image K/V)" if arch.cross_attn_layers else ""),
        f"activation peak profiled at max_num_batched_tokens {M} and a sampler over max_num_seqs "
        f"{max_num_seqs}; CUDA graphs ~{VLLM_CUDA_GRAPH_BYTES / GiB:.1f} GiB; non-torch "
        f"{VLLM_NON_TORCH_BYTES / GiB:.2f} GiB",
        f"the card must leave vLLM's {1 - u:.0%} headroom (gpu_memory_utilization {u:g}): the KV cache takes the "
        "rest of the budget, so this is the smallest card on which the requested batch fits",
    ]
    if N > 1:
        assumptions.append(f"{N} GPUs: tensor parallel {tp} x pipeline parallel {pp}; communication buffers "
                           f"{nccl / GiB:.2f} GiB per GPU" + (" (published at TP 2)" if tp > 1 else ""))
    if stage_note:
        assumptions.append(stage_note)
    if spec_note:
        assumptions.append(spec_note)
    if kv_name == "fp8" or w.precision == "fp8":
        assumptions.append("FP8 needs Ada, Hopper, Blackwell or MI300 (the planner checks the card)")
    if w.precision in FP4_NOTE:
        assumptions.append(FP4_NOTE[w.precision])
    est = _finish(arch, w, breakdown, peak, reserved, cuda_context, "serving", 0, assumptions, offloaded=0)
    est.breakdown.pop("allocator_slack", None)
    # vLLM only starts when everything fits in gpu_memory_utilization x card
    est.total_bytes = int((reserved + cuda_context) / u)
    est.breakdown["utilization_headroom"] = est.total_bytes - reserved - cuda_context
    return est


# vLLM's FP4 kernels by card (quantization/mxfp4.py backend selection, modelopt.py NVFP4, marlin_utils_fp4)
FP4_NOTE = {
    "mxfp4": "MXFP4 experts: FlashInfer (Blackwell) or triton/Marlin (Hopper, Ampere) kernels dequantise in the "
             "matmul and multiply in bf16; NVIDIA Ampere or newer, AMD MI300/MI355 (the planner checks the card)",
    "nvfp4": "NVFP4 (W4A4): FP4 tensor-core matmuls on Blackwell (CUTLASS/FlashInfer); on Ampere and Hopper the "
             "Marlin FP4 kernel dequantises to 16-bit (the planner checks the card)",
}


# ---------------------------------------------------------------------------------------------------
# Speculative decoding: the draft's weights and KV cache on every GPU of the target

def speculative_bytes(arch: Architecture, w: Workload, tokens: int, kv_bytes: float, tp: int) -> tuple[int, int, str]:
    """(weights, kv, note) a speculative decoder adds per GPU.

    mtp: the model's multi-token-prediction module (DeepSeek-V3 num_nextn_predict_layers = 1: one more decoder layer
    with an eh_proj of 2h x h and two norms; it shares embed_tokens and lm_head with the target - vLLM
    DeepSeekMTP / SGLang NEXTN), with a KV cache of its own for every token. A draft model name: that built-in model
    whole (vLLM speculative_config model=..., SGLang --speculative-draft-model-path), its KV cache for the same
    tokens, replicated on every tensor-parallel rank (vLLM draft_tensor_parallel_size must be 1 or the target's)."""
    spec = (w.speculative or "").strip()
    if not spec:
        return 0, 0, ""
    if spec.lower() == "mtp":
        if not arch.mtp_layers:
            raise InputError(f"--speculative mtp: {arch.name} ships no multi-token-prediction layers (its config has "
                             "no num_nextn_predict_layers / mtp_num_hidden_layers); name a draft model instead")
        h = arch.hidden_size
        # one MTP module: a decoder layer of the model's own kind (attention + MoE or MLP), eh_proj / fc (2h -> h) and
        # its norms; DeepSeek's also carries its own embed_tokens and shared_head (vLLM deepseek_mtp.py builds both)
        layer = arch._attention_params() + (arch._moe_params() if arch.is_moe else arch._mlp_params(
            arch.intermediate_size)) + 4 * h
        module = layer + 2 * h * h + (2 * arch.vocab_size * h if arch.family.startswith("deepseek") else 0)
        stored = (serving_weight_bytes(arch, w.precision, "vllm")[0] if w.precision in SERVING_FORMATS
                  else arch.params * (4 if w.precision == "fp32" else 2))
        weights = int(arch.mtp_layers * module * stored / max(arch.params, 1)) // tp
        kv = int(arch.mtp_layers * tokens * kv_elements_per_token_layer(arch, "vllm") * kv_bytes)
        if not arch.is_mla:
            kv = kv * max(arch.num_kv_heads // tp, 1) // arch.num_kv_heads
        return weights, kv, (f"MTP speculative decoding ({w.speculative_tokens} token(s) per step): "
                             f"{arch.mtp_layers} MTP layer(s) of the model and their KV cache, "
                             f"{(weights + kv) / GiB:.2f} GiB per GPU")
    from planner.data import builtin_registry           # the draft is a built-in model (bundled data, no network)
    try:
        draft, _ = builtin_registry().resolve(spec)
    except Exception as e:                               # noqa: BLE001 - any resolution failure is an input error
        raise InputError(f"--speculative {spec!r}: not 'mtp' and not a built-in model ({e}); use mtp or a name "
                         "from `plan models`") from None
    weights = draft.params * 2
    kv = int(tokens * kv_elements_per_token_layer(draft, "vllm") * kv_bytes * draft.num_layers)
    return weights, kv, (f"draft model {draft.name} ({w.speculative_tokens} token(s) per step): bf16 weights and its "
                         f"own KV cache, {(weights + kv) / GiB:.2f} GiB per GPU, replicated on each GPU")


# ---------------------------------------------------------------------------------------------------
# SGLang

# SGLang python/sglang/srt/server_args.py (v0.4.x): mem_fraction_static, when not given, by tensor-parallel size:
# "if self.tp_size >= 16: 0.79 elif >= 8: 0.81 elif >= 4: 0.85 elif >= 2: 0.87 else: 0.88". (From mid-2025 SGLang
# instead reserves a per-card amount, e.g. (9.5 + tp/2) GiB on 80 GB H100/A100, 0.875 at TP 1: the same order.)
SGLANG_MFS = ((16, 0.79), (8, 0.81), (4, 0.85), (2, 0.87), (1, 0.88))


def sglang_mem_fraction_static(w: Workload, tp: int) -> float:
    if w.mem_fraction_static is not None:
        return w.mem_fraction_static
    return next(f for n, f in SGLANG_MFS if tp >= n)


def estimate_sglang(arch: Architecture, w: Workload, nx: Numerics, cuda_context: int) -> Estimate:
    """Serving with SGLang (modelled from its ModelRunner, not measured by this project).

    model_runner.profile_max_num_token: after the weights load, the KV pool takes
    rest = available_gpu_memory - total_gpu_memory x (1 - mem_fraction_static), so weights + KV pool (+ the context
    and anything allocated before) may use mem_fraction_static of the card; the remaining share holds the
    activations of chunked prefill (chunked_prefill_size 8192 on >= 25 GB cards), the sampler and CUDA graphs.
    The token-level KV pool (page_size 1) stores K and V per token per layer (MLA: the latent)."""
    b, s, n, N = w.batch_size, w.seq_len, w.new_tokens, w.gpus
    pp = pipeline_stages(w)
    tp = max(N // pp, 1)
    weights, how = vllm_weight_bytes(arch, w, nx)
    kv_name, kv_b = kv_dtype("vllm", w.kv_cache_dtype, 4 if nx.act_bytes == 4 else 2)
    tokens = b * (s + n)
    swa = sliding_layers(arch)
    per_layer = kv_elements_per_token_layer(arch, "vllm") * kv_b
    kv = int(per_layer * ((paged_cache_layers(arch) - swa) * tokens + swa * min(tokens, b * arch.sliding_window)))
    # hybrids: SGLang's MambaPool holds each running request's conv and temporal state per linear-attention layer
    kv += recurrent_state_bytes(arch, "sglang", b, int(kv_b))
    h, M = arch.hidden_size, VLLM_MAX_BATCHED_TOKENS
    mlp = (arch.experts_per_token * arch.expert_intermediate_size if arch.is_moe else arch.intermediate_size)
    forward = M * (2 * nx.stream_bytes * h + 3 * nx.act_bytes * mlp // tp)
    sampler = M * nx.stream_bytes * h + max(VLLM_MAX_NUM_SEQS, b) * arch.vocab_size * SAMPLER_BYTES_PER_LOGIT
    activations = max(forward, sampler)
    stage_note = ""
    if pp > 1:
        weights, kv, activations, stage_note = _pipeline_stage(arch, weights, kv, forward, sampler, pp, nx)
    weights, kv, nccl = _tensor_parallel(arch, weights, kv, tp, pp)
    spec_w, spec_kv, spec_note = speculative_bytes(arch, w, tokens, kv_b, tp)
    weights += spec_w
    kv += spec_kv
    mfs = sglang_mem_fraction_static(w, tp)
    breakdown = _served_breakdown(weights, activations, kv, nccl)
    peak = weights + activations + kv
    reserved = sum(breakdown.values())
    assumptions = [
        f"SGLang (modelled from its ModelRunner memory pool, not measured by this project): {how}",
        f"{b} sequences of {s} + {n} tokens in a token-level {kv_name} KV pool"
        + (", MLA latent" if arch.is_mla else "")
        + (f"; the pool spans all {paged_cache_layers(arch)} layers, the {arch.cross_attn_layers} cross-attention "
           f"layers' slots included (text only: no image K/V)" if arch.cross_attn_layers else ""),
        f"mem_fraction_static {mfs:g}: weights + KV pool within {mfs:.0%} of the card; the rest holds chunked-prefill "
        f"activations ({M} tokens), the sampler and CUDA graphs",
    ] + ([spec_note] if spec_note else []) + ([stage_note] if stage_note else [])
    if N > 1:
        assumptions.append(f"{N} GPUs: tensor parallel {tp} x pipeline parallel {pp}")
    est = _finish(arch, w, breakdown, peak, reserved, cuda_context, "serving", 0, assumptions, offloaded=0)
    est.breakdown.pop("allocator_slack", None)
    # the card must hold the static pool within mem_fraction_static, and everything outside it in the rest
    est.total_bytes = int(max((weights + kv + cuda_context) / mfs, reserved + cuda_context))
    est.breakdown["utilization_headroom"] = est.total_bytes - reserved - cuda_context
    return est


# ---------------------------------------------------------------------------------------------------
# TensorRT-LLM

# KvCacheConfig.free_gpu_memory_fraction default 0.9: "TensorRT-LLM tries to allocate 90% of free GPU memory (after
# loading weights) for KV cache" (NVIDIA/TensorRT-LLM docs/source/examples/kvcacheconfig.md); a fraction of the memory
# still FREE once the engine is loaded, not of the card (vLLM's gpu_memory_utilization is a share of the whole card)
TRTLLM_KV_FREE_FRACTION = 0.90
# BuildConfig / LLM API max_num_tokens default 8192: the most tokens one forward takes, the shape TensorRT sizes the
# activation buffers for ("TensorRT pre-computes the activation tensors memory requirement at build time ... by using
# the max tensor shape", docs/source/reference/memory.md; the PyTorch backend profiles a forward of that size)
TRTLLM_MAX_NUM_TOKENS = 8192
TRTLLM_BLOCK_TOKENS = 32                   # KV cache tokens_per_block default (paged blocks of 32 tokens)


def estimate_trtllm(arch: Architecture, w: Workload, nx: Numerics, cuda_context: int) -> Estimate:
    """Serving with TensorRT-LLM (modelled from its documented memory accounting, not measured by this project).

    docs/source/reference/memory.md: weights (at the engine's precision, 1/tp per rank), activation buffers sized at
    build time for max_num_tokens, and I/O tensors, of which the KV cache is the large one. After the engine and its
    buffers load, the KV cache manager takes free_gpu_memory_fraction (0.9) of the memory then free. The requested
    cache fits when kv <= 0.9 x (card - everything loaded before it), so the card needed is that fixed part plus
    kv / 0.9: the headroom left is 10% of the free memory, not 10% of the card."""
    b, s, n, N = w.batch_size, w.seq_len, w.new_tokens, w.gpus
    pp = pipeline_stages(w)
    tp = max(N // pp, 1)
    weights, how = vllm_weight_bytes(arch, w, nx)        # the checkpoint's bytes at the served precision
    kv_name, kv_b = kv_dtype("tensorrt-llm", w.kv_cache_dtype, 4 if nx.act_bytes == 4 else 2)
    per_layer = kv_elements_per_token_layer(arch, "vllm") * kv_b               # MLA: the latent, as vLLM
    # whole 32-token blocks per sequence
    tokens, swa, window, kv = _paged_kv(arch, b, s + n, per_layer, TRTLLM_BLOCK_TOKENS, TRTLLM_BLOCK_TOKENS)
    kv += recurrent_state_bytes(arch, "vllm", b, int(kv_b))
    # activation buffers for a max_num_tokens forward (the same tensors as vLLM's profiled forward) and the fp32
    # logits of one generation step's sequences
    M = TRTLLM_MAX_NUM_TOKENS
    forward = _forward_bytes(arch, nx, M, tp)
    logits = b * arch.vocab_size * 4
    activations = forward + logits
    stage_note = ""
    if pp > 1:
        weights, kv, activations, stage_note = _pipeline_stage(arch, weights, kv, forward, forward + logits, pp, nx)
    # cuBLAS/cuBLASLt workspaces and the runtime's own buffers: of vLLM's measured non-torch order (not measured for
    # TensorRT-LLM); TP >= 2: NCCL + TensorRT-LLM's custom all-reduce workspace, of vLLM's measured order
    weights, kv, nccl = _tensor_parallel(arch, weights, kv, tp, pp)
    f = TRTLLM_KV_FREE_FRACTION
    breakdown = _served_breakdown(weights, activations, kv, nccl)
    peak = weights + activations + kv
    reserved = sum(breakdown.values())
    assumptions = [
        f"TensorRT-LLM (modelled from its documented memory accounting, not measured by this project): {how}",
        f"{b} sequences of {s} + {n} tokens in a paged {kv_name} KV cache ({TRTLLM_BLOCK_TOKENS}-token blocks)"
        + (", MLA latent cache" if arch.is_mla else "") + (f"; {swa} sliding-window layers keep {window} tokens"
                                                           if swa else ""),
        f"activation buffers sized for max_num_tokens {M} plus fp32 logits of the {b} sequences; workspaces "
        f"{VLLM_NON_TORCH_BYTES / GiB:.2f} GiB and CUDA graphs ~{VLLM_CUDA_GRAPH_BYTES / GiB:.1f} GiB (vLLM's order)",
        f"free_gpu_memory_fraction {f:g}: the KV cache may take {f:.0%} of the memory free after the weights and "
        f"buffers load, so the card must leave {1 - f:.0%} of that free memory unused beside the requested cache",
    ]
    if N > 1:
        assumptions.append(f"{N} GPUs: tensor parallel {tp} x pipeline parallel {pp}; communication buffers "
                           f"{nccl / GiB:.2f} GiB per GPU")
    if stage_note:
        assumptions.append(stage_note.replace("vLLM get_pp_indices / PPMissingLayer", "modelled as vLLM's split"))
    if kv_name == "fp8" or w.precision == "fp8":
        assumptions.append("FP8 needs Ada, Hopper or Blackwell (the planner checks the card)")
    est = _finish(arch, w, breakdown, peak, reserved, cuda_context, "serving", 0, assumptions, offloaded=0)
    est.breakdown.pop("allocator_slack", None)
    fixed = reserved - kv + cuda_context                 # everything loaded before the KV cache manager sizes its pool
    est.total_bytes = int(fixed + kv / f)
    est.breakdown["free_memory_headroom"] = est.total_bytes - reserved - cuda_context
    return est
