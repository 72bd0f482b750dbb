"""Training peak: four moments of a steady-state step under DDP, ZeRO/FSDP and CPU offload."""
from __future__ import annotations

from dataclasses import replace

from planner.architecture import Architecture
from planner.estimator.activations import (
    _norm_saved,
    layer_backward_temp_per_token,
    layer_saved_bytes_per_token,
)
from planner.estimator.common import Estimate, _finish
from planner.estimator.numerics import Numerics
from planner.estimator.optimizer import optimizer_bytes
from planner.estimator.weights import (
    _largest_linear_numel,
    lora_modules,
    lora_params,
    weight_bytes,
)
from planner.workload import Workload


def estimate_training(arch: Architecture, w: Workload, nx: Numerics, cuda_context: int) -> Estimate:
    b, s = w.batch_size, w.seq_len
    T = b * s
    N, Z = w.gpus, w.zero_stage
    full = w.full
    h, V = arch.hidden_size, arch.vocab_size
    if Z >= 1 and nx.autocast:
        # DeepSpeed bf16 / FSDP MixedPrecision: parameters are gathered and computed in bf16 (no autocast
        # weight cache); the fp32 master copy lives in the sharded optimizer (added below)
        nx = replace(nx, autocast=False, stream_bytes=2, act_bytes=2, master_bytes=2)
    base_weights = weight_bytes(arch, nx)
    assumptions: list[str] = []
    if full:
        trainable = arch.params
        state_bytes = nx.master_bytes                 # torch.optim states follow the param dtype
        largest = max(_largest_linear_numel(arch), V * h)
        adapters = 0
    else:
        trainable = lora_params(arch, w.lora_rank, w.lora_targets)
        state_bytes = nx.adapter_bytes
        largest = max(w.lora_rank * max(i, o) for _, i, o, _ in lora_modules(arch, w.lora_targets)) \
            if trainable else 0
        adapters = trainable * nx.adapter_bytes
    opt = optimizer_bytes(w.optimizer, trainable, state_bytes, largest)
    grad_bytes = trainable * (nx.master_bytes if full else nx.adapter_bytes)

    # ---- model states per GPU under ZeRO / FSDP -----------------------------------------------
    weights, grads, states, step_temp = base_weights + adapters, grad_bytes, opt.states, opt.step_temp
    offloaded = 0
    buckets = 0
    if N > 1 and Z == 0:
        # torch DDP: the Reducer's flat buckets are a second copy of all gradients
        # (gradient_as_bucket_view=False, the default)
        buckets = grad_bytes
        assumptions.append("DDP (no sharding): every GPU holds the full model, gradients and optimizer; "
                           "DDP gradient buckets add one gradient copy")
    if Z >= 1:
        if full and w.precision.endswith("-mixed"):
            # DeepSpeed/FSDP mixed precision: 16-bit params and grads on GPU; the fp32 master copy and fp32
            # Adam states live in the optimizer partition (ZeRO paper: 2 + 2 + 12 bytes/param)
            opt = optimizer_bytes(w.optimizer, trainable, 4, largest)
            weights, grads = arch.params * 2, trainable * 2
            states, step_temp = opt.states + trainable * 4, opt.step_temp
        shard = max(N, 1)
        states //= shard
        step_temp //= shard
        if Z >= 2:
            grads //= shard
        if Z >= 3:
            largest_layer = (weights // arch.num_layers)
            weights = weights // shard + 2 * largest_layer     # gathered layer + prefetched next layer
        buckets = 2 * h * h * 2                                # HF 'auto' reduce/allgather buckets (h^2 each)
        if w.offload != "none":
            offloaded += states * shard + step_temp * shard + trainable * 4   # + fp32 grads on the host
            states, step_temp = 0, 0
            assumptions.append("optimizer states and the fp32 master copy live in host RAM; step() runs on "
                               "the CPU (DeepSpeed ZeRO-Offload)")
        if w.offload == "optimizer+params":
            offloaded += weights * shard
            weights = 2 * (weights // max(arch.num_layers, 1))
        assumptions.append(f"ZeRO stage {Z} over {N} GPU(s): " + {1: "optimizer states", 2: "optimizer states "
                           "and gradients", 3: "parameters, gradients and optimizer states"}[Z] + " sharded")
    if opt.paged:
        assumptions.append("paged optimizer: states page out to host RAM under memory pressure, so they are "
                           "not counted at the activation peak")

    # ---- activations --------------------------------------------------------------------------
    moe_layers = arch.moe_layers
    dense_layers = arch.num_layers - moe_layers
    per_tok_dense = layer_saved_bytes_per_token(arch, w, nx, s, moe=False) if dense_layers else 0
    per_tok_moe = layer_saved_bytes_per_token(arch, w, nx, s, moe=True) if moe_layers else 0
    layer_max = max(per_tok_dense, per_tok_moe)
    all_layers = T * (dense_layers * per_tok_dense + moe_layers * per_tok_moe)
    if nx.mask:
        all_layers += T * s                           # one (b, 1, s, s) bool mask, saved by every layer's SDPA
    final_norm = T * _norm_saved(h, nx, full)
    if full:
        final_norm += T * h * (2 if nx.autocast else nx.act_bytes)   # lm_head's saved input
    gc = w.gradient_checkpointing
    # HF gradient checkpointing saves each decoder layer's input and recomputes the layer in backward
    saved = T * arch.num_layers * nx.stream_bytes * h if gc else all_layers
    # transformers' ForCausalLMLoss: logits.float(); cross_entropy = log_softmax (saves its fp32 output)
    # + nll_loss. Backward creates nll's fp32 grad and log_softmax's fp32 grad while the saved output lives:
    # 3 x 4 bytes x vocab per token. Forward: 16-bit logits + fp32 copy + log_softmax output.
    logits_fwd = T * V * ((2 + 4 + 4) if nx.act_bytes == 2 or nx.autocast else (4 + 4))
    logits_bwd = T * V * 12
    # autocast's weight cache: a bf16 copy of every weight used under autocast, alive until the context
    # exits (end of forward) and kept by the matmuls' saved tensors until their backward
    # (full training: cached casts of leaf weights); frozen LoRA bases are not cached but their bf16 casts
    # are saved by the matmuls all the same (measured: LoRA bf16-mixed)
    autocast_fwd = autocast_bwd = 0
    if nx.autocast:
        linear_numel = sum(i * o * c for n_, i, o, c in arch.linear_layers() if n_ != "router")
        casts = 2 * (linear_numel + V * h) + (0 if full else 2 * trainable)
        lm_head_cast = 2 * V * h
        autocast_fwd = casts if (full or not gc) else lm_head_cast
        autocast_bwd = lm_head_cast if gc else casts
    # peft on transformers 5's fused 3-D expert weights (ParamWrapper) materialises W + B@A for every MoE
    # layer in the forward pass, in the base weights' dtype, and the expert matmuls save it (measured: OLMoE
    # LoRA, 16 x 0.8 GB)
    merged_experts_per_layer = 0
    if not full and arch.is_moe and any(t in w.lora_targets for t in ("gate_proj", "up_proj", "down_proj")):
        merged_experts_per_layer = nx.master_bytes * arch.num_experts * arch._mlp_params(arch.expert_intermediate_size)
    merged_experts = merged_experts_per_layer * (1 if gc else moe_layers)
    states_at_activation_peak = 0 if opt.paged else states

    # Backward through the layers, last to first: layer l's saved tensors (or checkpoint) are freed as the
    # gradients of its weights appear, so the sum is largest at one end - all checkpoints with only the
    # output layers' gradients, or all gradients with one layer left - plus one layer's working set.
    layer_work = T * (layer_max + layer_backward_temp_per_token(arch, nx, s)) + merged_experts_per_layer
    head_grads = grads * (V * h * (1 if arch.tie_embeddings else 2) + h) // arch.params if full else 0
    checkpoint_layer = T * nx.stream_bytes * h
    if gc:
        ends = [(arch.num_layers * checkpoint_layer, head_grads), (checkpoint_layer, grads)]
        checkpoints_left, grads_so_far = max(ends, key=sum)
    else:
        checkpoints_left, grads_so_far = 0, grads
    # The embedding's backward (last of all, full training) accumulates 16-bit grads in an fp32 buffer
    # of the whole table (measured: Llama-3.2-3B bf16 + SGD)
    embedding_scratch = 4 * V * h if full and nx.master_bytes < 4 else 0
    phases = {
        "forward": {"activations": saved + final_norm + autocast_fwd + merged_experts, "loss": logits_fwd},
        "loss backward": {"activations": saved + final_norm + autocast_bwd + merged_experts, "loss": logits_bwd},
        "layer backward": {"activations": layer_work + checkpoints_left, "gradients": grads_so_far},
        "embedding backward": {"activations": embedding_scratch, "gradients": grads},
        "optimizer step": {"gradients": grads, "optimizer_temp": step_temp},
    }
    totals = {}
    for name, parts in phases.items():
        st = states if name == "optimizer step" else states_at_activation_peak
        totals[name] = weights + st + buckets + sum(parts.values())
    peak_phase = max(totals, key=totals.get)
    parts = phases[peak_phase]
    breakdown = {
        "weights": weights,
        "gradients": parts.get("gradients", 0),
        "optimizer_states": states if peak_phase == "optimizer step" else states_at_activation_peak,
        "activations": parts.get("activations", 0) + parts.get("loss", 0),
        "kv_cache": 0,
        "optimizer_temp": parts.get("optimizer_temp", 0),
        "buckets": buckets,
    }
    peak = sum(breakdown.values())
    act_part = parts.get("activations", 0) + parts.get("loss", 0)
    # Caching-allocator slack: activation and logits buffers of changing sizes fragment the cache. The
    # coefficient is set on the fit/out-of-memory boundary of the calibration set: values from 0.12 to 0.17
    # classify every measured training case correctly (benchmarks/accuracy.py). Predicting a fit that then
    # runs out of memory is the costlier mistake, so we take the top of that range.
    reserved = peak + int(0.17 * act_part) + int(0.05 * (weights + states))
    kernel = {"flash": "SDPA flash (no score matrix)", "efficient": "SDPA mem-efficient (no score matrix)", "math": "SDPA math backend (fp32 scores per layer)",
              "eager": "eager attention (scores saved per layer)"}[nx.attention_kernel]
    assumptions += [
        f"{w.method} training, {w.precision}, micro-batch {b} x {s} tokens per GPU, optimizer {w.optimizer}",
        f"attention: {kernel}; loss on full-vocabulary fp32 logits (transformers ForCausalLMLoss)",
        "gradient checkpointing: per decoder layer" if gc else "no gradient checkpointing",
    ]
    if not full:
        assumptions.append(f"LoRA rank {w.lora_rank} on {', '.join(w.lora_targets)}: {trainable:,} trainable "
                           "parameters, adapters in fp32 (peft autocast_adapter_dtype)")
    if w.method == "qlora":
        assumptions.append("peft prepare_model_for_kbit_training: embeddings, norms and lm_head cast to fp32")
    if arch.is_moe:
        assumptions.append(f"MoE: all {arch.num_experts} experts resident, {arch.experts_per_token} active per token")
    return _finish(arch, w, breakdown, peak, reserved, cuda_context, peak_phase, trainable, assumptions,
                   offloaded=offloaded)


