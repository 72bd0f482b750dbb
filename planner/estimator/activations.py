"""Activations saved for backward and the working set of one layer's backward, per token."""
from __future__ import annotations

from planner.architecture import Architecture
from planner.estimator.numerics import Numerics
from planner.workload import ALL_LINEAR, Workload

# ---------------------------------------------------------------------------------------------------
# Activations saved for backward, bytes per token per transformer layer

def _norm_saved(h: int, nx: Numerics, weight_trainable: bool) -> int:
    """HF RMSNorm: x.to(fp32); x * rsqrt(mean(x^2)); weight * y.to(input dtype)."""
    saved = 4 * h                                   # fp32 input saved by pow() and the multiply
    if weight_trainable:                            # weight * y saves y for the weight's gradient
        saved += h * (4 if nx.stream_bytes == 4 else 2)
    return saved


def _module_input_saved(dim: int, dtype_bytes: int, consumers: tuple[str, ...], full: bool,
                        targets: tuple[str, ...], nx: Numerics) -> int:
    """Bytes saved for the input of a group of linear layers that read the same tensor.

    Full training: the trainable linear saves its input once (shared). LoRA: the frozen base saves
    nothing; each peft adapter casts the input to its own dtype (a separate copy per module when the
    dtypes differ) and lora_A saves it."""
    if full:
        return dim * dtype_bytes
    hit = [c for c in consumers if c in targets]
    if not hit:
        return 0
    if nx.lora_dropout:
        # lora_B(lora_A(dropout(x))) with p > 0: each adapter (peft: per module; litgpt: per fused linear) saves its
        # own dropped-out input in the adapter dtype plus the dropout's bool mask
        copies = len(hit) if nx.lora_dropout == "module" else 1
        return dim * (nx.adapter_bytes + 1) * copies
    if nx.autocast:
        return dim * 2 * len(hit)                   # autocast re-casts the input for every adapter
    if nx.adapter_bytes == dtype_bytes:
        return dim * dtype_bytes                    # no cast: one shared tensor
    return dim * nx.adapter_bytes * len(hit)


def layer_saved_bytes_per_token(arch: Architecture, w: Workload, nx: Numerics, kv_len: int, moe: bool) -> int:
    """Activations one decoder layer saves for backward, per token (no checkpointing)."""
    h, a_b, s_b = arch.hidden_size, nx.act_bytes, nx.stream_bytes
    full = w.full
    tg = w.lora_targets
    qd, kvd, od = arch.q_dim, arch.kv_dim, arch.attn_out_dim
    heads = arch.num_heads
    if nx.fused_lora and not moe and not full and nx.attention_kernel == "flash":
        # unsloth: each RMSNorm saves its 16-bit input and 1/rms (fp32 per token) and its output is the X the
        # fused LoRA_QKV / LoRA_MLP functions save; flash saves q, k, v, out, lse; LoRA_W (o_proj) saves its
        # input; LoRA_MLP saves the gate and up outputs (e, g)
        f = arch.intermediate_size
        return (arch.norms_per_layer * (2 * 2 * h + 4) + nx.attn * (qd + 2 * kvd + od) + 4 * heads + 2 * od
                + (2 * a_b * f if arch.gated_mlp else a_b * f))
    in_dtype = 2 if nx.autocast else a_b            # dtype linears see (autocast casts fp32 inputs to bf16)
    norm_in = s_b if not nx.autocast else 4
    n_norms = arch.norms_per_layer
    total = n_norms * _norm_saved(h, nx, full)
    # Inputs of the attention projections and of the MLP's first projections (the norms' outputs)
    total += _module_input_saved(h, in_dtype if full else norm_in, ("q_proj", "k_proj", "v_proj"), full, tg, nx)
    # Attention core
    if nx.attention_kernel in ("flash", "efficient"):
        # SDPA flash / mem-efficient save q, k, v, the output and an fp32 log-sum-exp per head; FlashAttention-2
        # on an fp32 stream saves the 16-bit copies transformers casts q/k/v to (nx.attn)
        kv_saved = heads * arch.head_dim if nx.mask else kvd     # repeat_kv when a mask is materialised
        total += nx.attn * (qd + 2 * kv_saved + od) + 4 * heads
    elif nx.attention_kernel == "math":
        # math SDPA: scaled q, k and v repeated to all heads (enable_gqa), softmax probabilities (fp32)
        total += a_b * (qd + arch.num_heads * arch.head_dim + od) + a_b * heads * kv_len
    else:
        # eager: repeat_kv copies, fp32 softmax output and its 16-bit copy (both saved); Gemma-2's soft-capping
        # (scores / cap -> tanh -> * cap, eager_attention_forward) also saves the tanh output
        total += a_b * (qd + arch.num_heads * arch.head_dim + od) + (4 + a_b) * heads * kv_len
        if nx.softcap:
            total += a_b * heads * kv_len
    if arch.qk_norm != "none":
        total += (4 + a_b) * (qd + kvd)             # q/k RMSNorm inputs (fp32) and outputs
    total += _module_input_saved(od, a_b, ("o_proj",), full, tg, nx)  # attention output, transposed copy
    # MLP inputs (post-attention norm output)
    total += _module_input_saved(h, in_dtype if full else norm_in, ("gate_proj", "up_proj"), full, tg, nx)
    if moe:
        k, fe = arch.experts_per_token, arch.expert_intermediate_size
        # each routed token: gathered input copy, gate/act/up outputs, product, weighted output
        total += k * (a_b * h + 3 * a_b * fe + a_b * h)
        total += k * _module_input_saved(fe, a_b, ("down_proj",), full, tg, nx)
        total += 2 * 4 * arch.num_experts            # router logits and softmax in fp32
        if arch.shared_expert_intermediate_size:
            fs = arch.shared_expert_intermediate_size
            total += 3 * a_b * fs + _module_input_saved(fs, a_b, ("down_proj",), full, tg, nx)
    elif nx.compiled and arch.gated_mlp:
        # compiled SwiGLU: gate and up outputs saved; SiLU and the product (down_proj's input) recomputed
        total += 2 * a_b * arch.intermediate_size
    else:
        f = arch.intermediate_size
        if arch.gated_mlp:
            total += 3 * a_b * f                     # gate output (SiLU input), SiLU output, up output
        else:
            total += a_b * f                         # GELU input
        total += _module_input_saved(f, a_b, ("down_proj",), full, tg, nx)  # product = down_proj input
    if nx.bnb_saves_inputs and not full:
        # old bitsandbytes MatMul4Bit saved its (16-bit) input even for a frozen weight; where LoRA already saves
        # the same tensor (same dtype) nothing is added, otherwise the input is an extra saved tensor
        for dim, group in ((h, ("q_proj", "k_proj", "v_proj")), (od, ("o_proj",)), (h, ("gate_proj", "up_proj")),
                           (arch.intermediate_size if not moe else 0, ("down_proj",))):
            if not any(t in tg for t in group) or nx.adapter_bytes != 2 or s_b != 2:
                total += 2 * dim
    if not full:                                     # lora_A outputs (rank-sized, adapter dtype), saved by lora_B
        n_mods = sum(1 for m in ALL_LINEAR if m in tg)
        total += nx.adapter_bytes * w.lora_rank * n_mods
    return total


def layer_backward_temp_per_token(arch: Architecture, nx: Numerics, kv_len: int) -> int:
    """Gradient temporaries while one layer runs backward (MLP grads, attention-score grads, hidden grads)."""
    f = max(arch.intermediate_size if not arch.is_moe else arch.expert_intermediate_size * arch.experts_per_token, 1)
    mlp = 3 * nx.act_bytes * f
    hidden = 2 * 4 * arch.hidden_size
    if nx.fused_lora and not arch.is_moe:
        # unsloth LoRA_MLP.backward: one new (T, f) tensor (DW), then e, g and X overwritten in place; 16-bit
        # hidden gradients
        mlp, hidden = nx.act_bytes * f, 2 * 2 * arch.hidden_size
    attn = 2 * 4 * arch.num_heads * kv_len if nx.attention_kernel in ("math", "eager") else 0
    if nx.attention_kernel == "math":
        # aten _safe_softmax (the math backend's softmax): self.eq(-inf) keeps a bool score-sized tensor alive
        # while the where() result is written, on top of the scores and the softmax output
        attn += arch.num_heads * kv_len
    return max(mlp, attn) + hidden




def selective_op_saved_bytes_per_token(arch: Architecture, w: Workload, nx: Numerics, moe: bool) -> int:
    """Per-op selective checkpointing (torchtitan _apply_ac_to_transformer_block, selective_ac_option "op"; torchtune
    apply_selective_activation_checkpointing is the same policy): a decoder layer keeps its input (the checkpoint)
    and the outputs of the ops in _save_list - every odd-numbered aten.mm in forward order ("Only save every other
    mm": wq, wv, w1, w2 of a Llama block are saved, wk, wo, w3 recomputed) and the attention kernel's output and
    log-sum-exp. Norms, RoPE, SiLU and the SwiGLU product are recomputed in backward. LoRA's small matmuls also
    count as mm in the alternation; only the base projections' outputs are sized here, the rank-sized ones added."""
    h, a_b = arch.hidden_size, nx.act_bytes
    widths = [arch.q_dim, arch.kv_dim, arch.kv_dim, h]                             # q, k, v, o outputs
    if moe:
        k, fe = arch.experts_per_token, arch.expert_intermediate_size
        widths += [k * fe, k * fe, k * h]                                          # routed gate, up, down outputs
    elif arch.gated_mlp:
        widths += [arch.intermediate_size, arch.intermediate_size, h]              # w1 (gate), w3 (up), w2 (down)
    else:
        widths += [arch.intermediate_size, h]
    mm_saved = sum(widths[0::2])                                                   # 1st, 3rd, 5th, ... mm
    attention = nx.attn * arch.attn_out_dim + 4 * arch.num_heads                   # SDPA output + fp32 lse
    lora = 0 if w.full else nx.adapter_bytes * w.lora_rank * sum(1 for m in ALL_LINEAR if m in w.lora_targets)
    return nx.stream_bytes * h + a_b * mm_saved + attention + lora
