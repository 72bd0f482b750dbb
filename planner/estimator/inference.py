"""Inference with transformers generate(): prefill and decode peaks, the dynamic KV cache."""
from __future__ import annotations

import math

from planner.architecture import Architecture
from planner.estimator.common import Estimate, _finish
from planner.estimator.kv_cache import recurrent_state_bytes
from planner.estimator.numerics import Numerics
from planner.estimator.weights import (
    _largest_linear_numel,
    _quant_matmul_temp,
    serving_weight_bytes,
    weight_bytes,
)
from planner.workload import Workload


def _kv_cache_bytes(arch: Architecture, batch: int, tokens: int, dtype_bytes: int) -> int:
    """K and V for every layer (GQA: kv heads only; Gemma's sliding-window layers keep at most the window)."""
    full = arch.full_attention_layers                   # hybrids: linear-attention layers keep a state instead
    per_layer_tok = arch.kv_bytes_per_token // max(full, 1) * dtype_bytes
    sliding = arch.sliding_layers if arch.uses_sliding_cache else 0
    windowed = min(tokens, arch.sliding_window) if sliding else 0
    kv = batch * per_layer_tok * ((full - sliding) * tokens + sliding * windowed)
    return kv + recurrent_state_bytes(arch, "transformers", batch, dtype_bytes)



def estimate_inference(arch: Architecture, w: Workload, nx: Numerics, cuda_context: int) -> Estimate:
    b, s, n = w.batch_size, w.seq_len, w.new_tokens
    N = w.gpus
    parallel = w.parallel
    if parallel == "auto":
        parallel = "tensor" if N > 1 and arch.num_heads % N == 0 else "pipeline"
    kv_dtype = 4 if nx.act_bytes == 4 else 2
    weights = weight_bytes(arch, nx)
    how = ""
    if w.precision == "mxfp4":          # transformers' Mxfp4HfQuantizer: the experts stay MXFP4, the rest bf16
        weights, how = serving_weight_bytes(arch, "mxfp4", "transformers")
    kv_prefill = _kv_cache_bytes(arch, b, s, kv_dtype)
    kv_final = _kv_cache_bytes(arch, b, s + max(n - 1, 0), kv_dtype)
    h, f = arch.hidden_size, arch.intermediate_size
    s_b, a_b = nx.stream_bytes, nx.act_bytes
    T = b * s
    # Prefill, at the last layer (the cache already holds every layer's K/V):
    # inputs_embeds (kept by the model's forward), the layer's input (caller's reference), the residual
    # after attention and the normed input: 4 hidden-sized tensors (transformers LlamaModel/DecoderLayer).
    hidden_live = 4 * s_b * h
    if arch.is_moe:
        # transformers 5 runs the experts as grouped matmuls over all routed tokens at once: per routed
        # token the gathered input, gate_up output, SiLU output, product and down output (measured: OLMoE)
        mlp_live = arch.experts_per_token * a_b * (2 * h + 4 * arch.expert_intermediate_size)
        if arch.shared_expert_intermediate_size:
            mlp_live = max(mlp_live, 3 * a_b * arch.shared_expert_intermediate_size + 2 * s_b * h)
        if arch.dense_layers:
            mlp_live = max(mlp_live, 3 * a_b * f)
    else:
        # gate->act (gate freed), up, act*up: three intermediate-sized tensors at once
        mlp_live = (3 if arch.gated_mlp else 2) * a_b * f
    int8_weight_temp = 0
    if nx.quant == "int8":
        # LLM.int8 (bitsandbytes MatMul8bitLt): fp16/int8 copies of the input and the int32 accumulator scale
        # with tokens; the outlier path's fp16 weight columns with the weight. Coefficients fitted on the two
        # int8 measurements (8B and 1B); treat int8 inference as +-10%.
        mlp_live += 3 * f
        int8_weight_temp = 5 * _largest_linear_numel(arch)
    heads, qd, kvd, od = arch.num_heads, arch.q_dim, arch.kv_dim, arch.attn_out_dim
    # attn_implementation="flash_attention_2" (--attention flash, 16-bit only): the kernel takes grouped K/V
    # and the sliding window itself, so neither a mask nor repeat_kv copies exist
    fa2 = w.attention == "flash" and nx.act_bytes == 2
    attn_live = (hidden_live - s_b * h) + a_b * (qd + 2 * kvd + od)
    if nx.attention_kernel == "math":
        # math SDPA materialises the (b, heads, s, s) scores and fp32 probabilities for one layer and
        # repeats K and V to all heads; its _safe_softmax (torch >= 2.5) also builds a bool
        # "row is all -inf" mask of the scores' shape (1 byte each)
        attn_live += a_b * 2 * heads * arch.head_dim + (a_b + 4 + 1) * heads * s
    elif nx.attention_kernel == "eager":
        # transformers eager_attention_forward: repeat_kv copies of K and V; scores = (q @ k^T) * scaling,
        # + causal_mask (a new tensor); then softmax(scores, dtype=float32).to(q.dtype): while the 16-bit
        # copy is made, the masked 16-bit scores (still bound to attn_weights), the fp32 softmax output and
        # the new 16-bit probabilities all exist - (2 x 16-bit + fp32) per score
        attn_live += a_b * 2 * heads * arch.head_dim + (2 * a_b + 4) * heads * s
    elif nx.mask and not fa2:
        attn_live += a_b * 2 * (heads * arch.head_dim - kvd)   # repeat_kv copies of K and V
    per_token = max(hidden_live + mlp_live, attn_live)
    if N > 1 and parallel == "tensor":
        per_token = hidden_live + (per_token - hidden_live) / N   # heads and MLP columns split; hidden replicated
    act_prefill = int(T * per_token)
    quant_temp = _quant_matmul_temp(arch, nx, T) + int8_weight_temp
    buffers = T * arch.head_dim * 2 * s_b            # RoPE cos/sin for the prompt
    if nx.attention_kernel == "eager":
        # masking_utils builds eager's mask as an additive float mask in the compute dtype: (b, 1, s, s)
        buffers += b * s * s * a_b
    elif nx.mask and not fa2:
        buffers += b * s * s                         # the (b, 1, s, s) bool sliding-window mask
    prefill = {"activations": act_prefill + buffers + quant_temp, "kv_cache": kv_prefill}
    # Decode: the cache grows by torch.cat each step, so one layer's K (then V) exists twice briefly;
    # logits of the last position only (generate sets logits_to_keep=1), cast to fp32 for sampling.
    vocab = arch.vocab_size
    cat_copy = _kv_cache_bytes(arch, b, s + n, kv_dtype) // max(arch.full_attention_layers, 1) // 2
    decode_act = b * (hidden_live + mlp_live) + b * vocab * (a_b + 4 + 4) + _quant_matmul_temp(arch, nx, b)
    decode = {"activations": decode_act + cat_copy, "kv_cache": kv_final}
    if N > 1:
        if parallel == "tensor":
            kv_share = max(arch.num_kv_heads // N, 1) / arch.num_kv_heads if not arch.is_mla else 1.0 / N
            w_gpu = int(weights / N)
        else:
            kv_share = math.ceil(arch.num_layers / N) / arch.num_layers
            # layers split evenly; the input embedding (its extra rows, a learned position table) or lm_head sits on
            # the end GPUs
            embed_in = arch.embedding_params - (0 if arch.tie_embeddings else arch.vocab_size * h)
            w_gpu = int((weights - arch.embedding_params * nx.master_bytes) * math.ceil(arch.num_layers / N)
                        / arch.num_layers) + embed_in * nx.master_bytes
        for phase in (prefill, decode):
            phase["kv_cache"] = int(phase["kv_cache"] * kv_share)
    else:
        w_gpu = weights
    pre_total = w_gpu + sum(prefill.values())
    dec_total = w_gpu + sum(decode.values())
    phase_name, phase = ("prefill", prefill) if pre_total >= dec_total else ("decode", decode)
    breakdown = {"weights": w_gpu, "gradients": 0, "optimizer_states": 0, **phase}
    peak = sum(breakdown.values())
    # Caching-allocator slack: the dynamic cache's torch.cat growth leaves freed blocks too small to
    # reuse (about 0.6 x the cache at long generations), prefill temporaries fragment ~25% (measured).
    kv_slack = int(0.6 * phase["kv_cache"] * min(1.0, n / 16))
    reserved = peak + kv_slack + int(0.25 * phase["activations"])
    assumptions = [
        f"transformers generate(): {b} prompt(s) of {s} tokens + {n} new tokens, dynamic KV cache in "
        f"{'fp32' if kv_dtype == 4 else 'bf16'}",
        f"attention: {'flash_attention_2' if fa2 else nx.attention_kernel} "
        f"({'scores never materialised' if nx.attention_kernel in ('flash', 'efficient') else 'scores materialised per layer'})",
    ]
    if nx.quant:
        assumptions.append(f"weights: bitsandbytes {nx.quant} on transformer linear layers; embeddings, "
                           "lm_head and norms stay 16-bit")
    if N > 1:
        assumptions.append(f"{N} GPUs, {parallel} parallel: weights and KV cache split, "
                           "each GPU also pays its own CUDA context")
    if arch.is_mla:
        assumptions.append("MLA KV cache as transformers stores it (decompressed per-head K/V); vLLM/SGLang "
                           "cache the latent and need far less")
    if how:
        assumptions.append(f"weights: {how} (transformers Mxfp4HfQuantizer; it dequantises to bf16 where its "
                           "triton kernels do not run)")
    est = _finish(arch, w, breakdown, peak, reserved, cuda_context, phase_name, 0, assumptions, offloaded=0)
    est.kv_slack_bytes = kv_slack
    return est


