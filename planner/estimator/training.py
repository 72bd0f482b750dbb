"""Training peak: the moments of a steady-state step under a training stack (planner/estimator/stacks.py) and
its sharding (DDP, DeepSpeed ZeRO, FSDP1/FSDP2) and offload modes."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from planner.architecture import Architecture
from planner.estimator.activations import (
    _norm_saved,
    selective_op_saved_bytes_per_token,
    layer_backward_temp_per_token,
    layer_saved_bytes_per_token,
)
from planner.estimator.common import Estimate, _finish
from planner.estimator.numerics import Numerics, numerics
from planner.estimator.optimizer import optimizer_bytes
from planner.estimator.stacks import Stack, resolve
from planner.estimator.weights import (
    _largest_linear_numel,
    lora_modules,
    lora_params,
    quantised_linear_bytes,
    weight_bytes,
)
from planner.workload import Workload

# Caching-allocator slack per moment: activation and logits buffers of changing sizes fragment the cache. The
# coefficient is set on the fit/out-of-memory boundary of the calibration set: values from 0.12 to 0.17 classify
# every measured training case correctly (benchmarks/accuracy.py). Predicting a fit that then runs out of memory
# is the costlier mistake, so we take the top of that range. Applied to every moment, not only the largest one.
SLACK_ACTIVATIONS = 0.17
SLACK_STATES = 0.05

# DeepSpeed ZeRO-3 defaults (deepspeed/runtime/zero/config.py): stage3_max_live_parameters = 1e9 and
# stage3_max_reuse_distance = 1e9 - a gathered parameter that will be used again within 1e9 fetched elements is
# not released, so around the forward/backward turn up to 1e9 gathered elements stay live. HF 'auto' values
# (transformers integrations/deepspeed.py): reduce_bucket_size = h^2, stage3_prefetch_bucket_size = 0.9 h^2,
# stage3_param_persistence_threshold = 10 h. ZeRO-1/2 allgather_bucket_size default 5e8 (not an HF 'auto' key).
DS_MAX_LIVE_PARAMETERS = 10**9
DS_ALLGATHER_BUCKET = 5 * 10**8

# NCCL communicators live outside PyTorch's allocator (nvidia-smi sees them, torch statistics do not): buffers of
# NCCL_BUFFSIZE (4 MiB) per protocol, peer and channel, plus NCCL's device state. Measured through PyTorch on 4 x A100
# with NVLink (NVIDIA/nccl issue #964): one process group costs 544 MiB per GPU with 2 ranks, 688 MiB with more.
NCCL_BYTES_2_RANKS = 544 * 2**20
NCCL_BYTES_MORE_RANKS = 688 * 2**20

# FSDP1 init with sync_module_states=True (torch/distributed/fsdp/_init_utils.py): each unit's parameters are moved to
# the GPU, broadcast from rank 0 in buckets of PARAM_BROADCAST_BUCKET_SIZE = 250 MiB, then flattened into a new
# FlatParameter (a copy: both exist for a moment) and sharded. The root unit (embeddings, norm, lm_head) is wrapped last,
# on top of every shard already resident.
FSDP_BROADCAST_BUCKET_BYTES = 250 * 2**20

# Liger / cut-cross-entropy fused linear cross-entropy: the chunk size is chosen so one chunk's logits hold about
# as many elements as the hidden states (liger_kernel fused_linear_cross_entropy: chunk_size =
# next_power_of_2(ceil(BT / ceil(V / H)))): an fp32 chunk of logits and its gradient, about 2 x 4 B x h per token.
FUSED_CE_BYTES_PER_HIDDEN = 8


@dataclass
class Sharded:
    """Model states per GPU under the stack's sharding, and the unsharded buffers each moment adds."""
    weights: int                 # resident parameters (shards, or everything without sharding)
    gathered_fwd: int            # unsharded parameters alive at the end of forward / during the loss
    gathered_bwd: int            # ... during a layer's backward
    grads: int                   # gradients at the end of backward (resident)
    grad_unit: int               # unsharded gradient of the unit being reduce-scattered (FSDP)
    states: int
    step_temp: int
    buckets: int                 # communication buckets inside the allocator (DDP, DeepSpeed)
    step_extra: int              # buffers only the optimizer step needs (ZeRO-1/2 all-gather bucket)
    offloaded: int               # host RAM
    grads_on_gpu: bool = True
    resident_grads: int = 0      # gradient buffers allocated once and alive in every moment (ZeRO-3 partition)
    root_unit: int = 0           # FSDP: the root unit's parameters unsharded (embeddings, final norm, lm_head)


def _unit_bytes(arch: Architecture, base_weights: int, adapters: int, emb: int) -> int:
    """One decoder layer's parameters (the FSDP wrap unit / the block DeepSpeed gathers)."""
    return (base_weights - emb) // max(arch.num_layers, 1) + adapters // max(arch.num_layers, 1)


def _shard(arch: Architecture, w: Workload, stack: Stack, nx: Numerics, base_weights: int, adapters: int,
           grad_bytes: int, opt, trainable: int, full: bool, largest: int, assumptions: list[str]) -> Sharded:
    N, Z = w.gpus, w.zero_stage
    h = arch.hidden_size
    weights, grads, states, step_temp = base_weights + adapters, grad_bytes, opt.states, opt.step_temp
    emb = arch.embedding_params * (2 if nx.quant else nx.master_bytes)
    fsdp = stack.sharding.startswith("fsdp")
    out = Sharded(weights, 0, 0, grads, 0, states, step_temp, 0, 0, 0)
    if N > 1 and Z == 0:
        if fsdp:
            assumptions.append("FSDP NO_SHARD over several GPUs: gradients all-reduced in place, no bucket copy")
        else:
            # torch DDP: the Reducer's flat buckets are a second copy of all gradients
            # (gradient_as_bucket_view=False, the default)
            out.buckets = grad_bytes
            assumptions.append("DDP (no sharding): every GPU holds the full model, gradients and optimizer; "
                               "DDP gradient buckets add one gradient copy")
        return out
    if Z == 0:
        return out
    if full and w.precision.endswith("-mixed"):
        # DeepSpeed bf16 / FSDP MixedPrecision: 16-bit params and grads for compute; the fp32 master copy and fp32
        # Adam states live in the optimizer partition (ZeRO paper: 2 + 2 + 12 bytes/param)
        opt = optimizer_bytes(w.optimizer, trainable, 4, largest, fused=stack.fused_optimizer)
        weights, grads = arch.params * 2, trainable * 2
        states, step_temp = opt.states + trainable * 4, opt.step_temp
        out.weights, out.grads = weights, grads
    unit = _unit_bytes(arch, base_weights if not (full and w.precision.endswith("-mixed")) else weights,
                       adapters, emb)
    unit_grad = grads // max(arch.num_layers, 1)
    out.states, out.step_temp = states // N, step_temp // N
    offload = w.offload
    quant_state = 0
    if nx.quant and fsdp:
        # bitsandbytes keeps each Linear4bit's quant_state (absmax, nested absmax) outside the FlatParameter:
        # every rank holds all of it; only the packed 4-bit storage shards (bnb_4bit_quant_storage=bf16)
        quant_state = sum(quantised_linear_bytes(i * o, o, nx.quant) * c - i * o * c // (2 if nx.quant == "nf4" else 1)
                          for n_, i, o, c in arch.linear_layers(include_routed_experts=False) if n_ != "router")
    if fsdp:
        kind = {"fsdp1": "FSDP (FlatParameter units)", "fsdp2": "FSDP2 (fully_shard)"}[stack.sharding]
        # Root unit: embeddings, final norm and lm_head are not in a decoder-layer unit; FSDP never reshards the
        # root after forward (backward needs it at once), so it stays unsharded through forward and backward.
        # torchtune's custom_sharded_layers gives tok_embeddings / output their own units: only the output
        # projection is gathered for the loss.
        own_units = stack.shard_embeddings or (stack.shard_embeddings_full and full)
        root = emb if not own_units else arch.vocab_size * h * (2 if nx.quant else nx.master_bytes)
        out.root_unit = emb
        if Z >= 3 or offload != "none":
            sharded = (weights - quant_state) // N + quant_state
            # the unit in use and the one prefetched (limit_all_gathers / FSDP2 implicit prefetch: two in flight)
            # at the end of forward and in the loss the decoder layers are resharded: only the root is unsharded
            out.gathered_fwd = root
            out.gathered_bwd = 2 * unit + (root if not own_units else 0)
            mode = "FULL_SHARD"
        else:
            # SHARD_GRAD_OP (and --zero 1, which FSDP does not have): parameters stay unsharded from forward to
            # the end of backward
            sharded = weights // N
            out.gathered_fwd = out.gathered_bwd = weights - weights // N
            mode = "SHARD_GRAD_OP"
        out.weights = sharded
        out.grads = grads // N
        out.grad_unit = unit_grad                    # unsharded gradient of one unit before reduce-scatter
        if stack.no_sync_accum and w.grad_accum > 1:
            # accelerate runs accumulation micro-batches under no_sync(): FSDP keeps unsharded gradients
            out.grads = grads
            assumptions.append("gradient accumulation under FSDP no_sync(): unsharded gradients kept on every GPU")
        if offload != "none":
            # FSDP CPUOffload(offload_params=True): sharded parameters AND gradients live in host RAM; the optimizer
            # steps on the CPU. The GPU holds only the gathered units (and bitsandbytes' quant states).
            out.offloaded += (out.weights - quant_state) * N + out.grads * N + out.states * N + out.step_temp * N
            out.weights = quant_state
            out.grads, out.states, out.step_temp = 0, 0, 0
            if w.grad_accum > 1 and (stack.no_sync_accum or stack.no_sync_with_offload):
                out.grads = grads                    # no_sync: unsharded gradients accumulate on the GPU
                out.offloaded -= grads // N * N
            # FSDP1 copies each unit's CPU shard to the GPU before the all-gather (flat_param._local_shard -> device)
            # (with one rank FSDP falls back to NO_SHARD: the device copy is the parameter itself)
            copy = (lambda x: x // N) if N > 1 else (lambda x: 0)
            out.gathered_fwd = root + copy(root)
            out.gathered_bwd = 2 * (unit + copy(unit)) + (0 if own_units else root + copy(root))
            out.grads_on_gpu = out.grads > 0
            assumptions.append("FSDP CPUOffload: parameters and gradients in host RAM, optimizer step on the CPU"
                               + (" (FSDP has no optimizer-only offload)" if offload == "optimizer" else ""))
        assumptions.append(f"{kind} {mode} over {N} GPU(s); root unit (embeddings, lm_head, final norm) "
                           + ("in its own units" if own_units else "unsharded during forward and backward"))
        return out
    # ---- DeepSpeed ZeRO ----
    if Z >= 2:
        out.grads = grads // N
    out.buckets = 2 * h * h * 2                      # HF 'auto' reduce bucket (h^2) + prefetch bucket (0.9 h^2), 16-bit
    if Z <= 2 and full:
        # after step() each rank all-gathers its updated 16-bit partition through allgather_bucket_size elements
        out.step_extra = min(DS_ALLGATHER_BUCKET, trainable) * 2
    if Z >= 3:
        # stage3 allocates grad_partitions_flat_buffer (16-bit, this rank's partition) at start-up: resident
        out.resident_grads = out.grads
        out.weights = weights // N
        max_live = DS_MAX_LIVE_PARAMETERS if w.zero3_max_live_parameters is None else w.zero3_max_live_parameters
        live = min(max_live, arch.params) * weights // max(arch.params, 1)   # in the stored dtype
        out.gathered_fwd = out.gathered_bwd = max(live, unit)
    if offload != "none":
        out.offloaded += out.states * N + out.step_temp * N + trainable * 4   # + fp32 grads on the host
        out.states, out.step_temp = 0, 0
        out.resident_grads = 0                       # the gradient partition buffer is pinned host memory then
        assumptions.append("optimizer states and the fp32 master copy live in host RAM; step() runs on "
                           "the CPU (DeepSpeed ZeRO-Offload)")
    if offload == "optimizer+params":
        out.offloaded += out.weights * N
        out.weights = 0
        out.gathered_fwd = out.gathered_bwd = 2 * unit
        assumptions.append("ZeRO-3 parameter offload: parameters in host RAM, gathered module by module")
    assumptions.append(f"DeepSpeed ZeRO stage {Z} over {N} GPU(s): " + {1: "optimizer states", 2: "optimizer states "
                       "and gradients", 3: "parameters, gradients and optimizer states"}[Z] + " sharded")
    return out


def _loss_bytes(arch: Architecture, w: Workload, stack: Stack, nx: Numerics, T: int) -> tuple[int, int, str]:
    """(forward, backward) bytes of the loss over the vocabulary, and a description."""
    V, h = arch.vocab_size, arch.hidden_size
    # the lm_head's output dtype: fp32 when the stream is fp32 (QLoRA up-cast, fp32 training), else 16-bit
    lb = 4 if nx.act_bytes == 4 and not nx.autocast else 2
    # Gemma-2 final_logit_softcapping: logits / cap -> tanh -> * cap; tanh saves its output for backward
    softcap = lb * T * V if arch.family == "gemma2" else 0
    if stack.loss == "fused":
        b = FUSED_CE_BYTES_PER_HIDDEN * T * h
        if w.full:
            # the lm_head's gradient is accumulated chunk by chunk in a weight-sized buffer during the forward
            # (liger fused_linear_cross_entropy_forward: grad_weight = torch.zeros_like(weight))
            b += V * h * (2 if nx.quant else nx.master_bytes)
        return b, b, "fused linear cross-entropy (no vocabulary-sized logits)"
    if stack.loss == "chunked":
        C = min(T, stack.loss_chunk_tokens or w.batch_size * math.ceil(w.seq_len / max(stack.loss_chunks, 1)))
        cb = 4 if stack.loss_upcast else 2           # dtype the cross-entropy runs in
        # 16-bit logits of every chunk stay referenced through the loss (torchtune's list of output chunks,
        # litgpt's lm_head chunks); an eager cross_entropy per chunk saves that chunk's log-softmax output
        whole = 2 * T * V + (0 if stack.loss_compiled else cb * T * V) + softcap
        if stack.loss_compiled:
            # one fused kernel per chunk: softmax recomputed from the saved log-sum-exp, 16-bit gradient written
            fwd, bwd = whole, whole + 2 * C * V
        else:
            # forward: the chunk's fp32 copy (upcast only); backward: nll's and log-softmax's gradients in the CE
            # dtype, then the 16-bit gradient of the chunk's logits
            fwd = whole + (4 * C * V if stack.loss_upcast else 0)
            bwd = whole + (2 * cb + 2) * C * V
        n = f"{stack.loss_chunk_tokens}-token chunks" if stack.loss_chunk_tokens else f"{stack.loss_chunks} chunks"
        how = "compiled" if stack.loss_compiled else ("fp32" if stack.loss_upcast else "bf16, no up-cast")
        return fwd, bwd, f"chunked cross-entropy ({n}, {how} per chunk)"
    if stack.compile_loss and stack.compiled:
        # compiled cross_entropy(pred.float()): the fused kernel saves the 16-bit logits and a log-sum-exp per token,
        # and backward writes the 16-bit gradient directly
        return 2 * T * V + softcap, 4 * T * V + softcap, "full-vocabulary cross-entropy compiled with the model"
    # transformers' ForCausalLMLoss: logits.float(); cross_entropy = log_softmax (saves its fp32 output)
    # + nll_loss. Backward creates nll's fp32 grad and log_softmax's fp32 grad while the saved output lives:
    # 3 x 4 bytes x vocab per token. Forward: 16-bit logits + fp32 copy + log_softmax output.
    fwd = T * V * ((2 + 4 + 4) if lb == 2 else (4 + 4)) + softcap
    bwd = T * V * 12 + softcap
    if stack.holds_logits:
        bwd += 4 * T * V                             # the loop still references output.logits (fp32)
    return fwd, bwd, "full-vocabulary fp32 logits (transformers ForCausalLMLoss)"


def estimate_training(arch: Architecture, w: Workload, nx: Numerics, cuda_context: int) -> Estimate:
    stack, notes = resolve(w)
    nx = numerics(w, gqa=arch.num_kv_heads < arch.num_heads, mask=nx.mask, stack=stack,
                  softcap=arch.family == "gemma2")
    b, s = w.batch_size, w.seq_len
    T = b * s
    N, Z = w.gpus, w.zero_stage
    full = w.full
    h, V = arch.hidden_size, arch.vocab_size
    if Z >= 1 and nx.autocast:
        # DeepSpeed bf16 / FSDP MixedPrecision: parameters are gathered and computed in bf16 (no autocast
        # weight cache); the fp32 master copy lives in the sharded optimizer (added in _shard)
        nx = replace(nx, autocast=False, stream_bytes=2, act_bytes=2, master_bytes=2)
    base_weights = weight_bytes(arch, nx)
    assumptions: list[str] = [f"training stack: {stack.name} - {stack.summary}"] + notes
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
    opt = optimizer_bytes(w.optimizer, trainable, state_bytes, largest, fused=stack.fused_optimizer)
    grad_bytes = trainable * (nx.master_bytes if full else nx.adapter_bytes)

    # ---- model states per GPU under DDP / ZeRO / FSDP ------------------------------------------
    sh = _shard(arch, w, stack, nx, base_weights, adapters, grad_bytes, opt, trainable, full, largest, assumptions)
    weights, grads, states, step_temp, buckets = sh.weights, sh.grads, sh.states, sh.step_temp, sh.buckets
    offloaded = sh.offloaded
    if opt.paged:
        # bitsandbytes paged optimizers allocate their states with cudaMallocManaged (outside PyTorch's allocator);
        # the driver pages a parameter's states in for its update and evicts them under pressure: host RAM backs all
        # of them, the GPU needs one parameter's worth at the step
        offloaded += states
        states = states * largest // max(trainable, 1) if trainable else 0
        assumptions.append("paged optimizer: states in unified memory backed by host RAM, paged in one parameter at "
                           "a time for the step (outside the PyTorch allocator)")

    # ---- activations --------------------------------------------------------------------------
    moe_layers = arch.moe_layers
    dense_layers = arch.num_layers - moe_layers
    per_tok_dense = layer_saved_bytes_per_token(arch, w, nx, s, moe=False) if dense_layers else 0
    per_tok_moe = layer_saved_bytes_per_token(arch, w, nx, s, moe=True) if moe_layers else 0
    layer_max = max(per_tok_dense, per_tok_moe)
    all_layers = T * (dense_layers * per_tok_dense + moe_layers * per_tok_moe)
    if nx.mask:
        all_layers += T * s                           # one (b, 1, s, s) bool mask, saved by every layer's SDPA
    eager_mask = 0
    if nx.attention_kernel == "eager":
        # eager attention always gets a materialised (b, 1, s, s) additive mask in the stream dtype (masking_utils
        # eager_mask), one per layer type (Gemma-2: full and sliding); checkpointed layers keep it as an input
        eager_mask = T * s * nx.stream_bytes * (2 if arch.sliding_layers else 1)
    final_norm = T * _norm_saved(h, nx, full)
    if full:
        final_norm += T * h * (2 if nx.autocast else nx.act_bytes)   # lm_head's saved input
    ac = w.checkpointing
    gc = ac != "none"
    L = arch.num_layers
    checkpoint_layer = T * nx.stream_bytes * h
    ac_text = "none"
    if ac == "full":
        # HF gradient checkpointing (torchtitan / torchtune full AC) saves each decoder layer's input and recomputes
        # the layer in backward
        layers_saved = L * checkpoint_layer
        ac_text = "full (per decoder layer)"
    elif ac == "selective" and w.ac_every:
        # torchtitan selective_ac_option = N (torchtune ac_option N): layers with index % N == 0 are checkpointed,
        # the others keep every saved tensor
        n_ckpt = math.ceil(L / w.ac_every)
        layers_saved = n_ckpt * checkpoint_layer + (L - n_ckpt) * all_layers // max(L, 1)
        ac_text = f"selective: every {w.ac_every}th layer checkpointed ({n_ckpt} of {L})"
    elif ac == "selective":
        per_tok_sac = max(selective_op_saved_bytes_per_token(arch, w, nx, moe=False) if dense_layers else 0,
                          selective_op_saved_bytes_per_token(arch, w, nx, moe=True) if moe_layers else 0)
        checkpoint_layer = T * per_tok_sac
        layers_saved = L * checkpoint_layer
        ac_text = "selective per op (matmul outputs, every second one recomputed; attention output saved)"
    else:
        layers_saved = all_layers
    saved = layers_saved + eager_mask
    host_activations = 0
    if stack.activation_offload:
        # unsloth's offloaded checkpointing / torchtune OffloadActivations: saved tensors are copied to host RAM
        # as they are produced and brought back one layer ahead of backward: two layers' worth stay on the GPU
        on_gpu = 2 * (checkpoint_layer if gc else T * layer_max)
        host_activations = max(saved - on_gpu, 0)
        saved = min(saved, on_gpu)
        offloaded += host_activations
    logits_fwd, logits_bwd, loss_text = _loss_bytes(arch, w, stack, nx, T)
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
    grads_gpu = grads if sh.grads_on_gpu else 0
    if stack.optimizer_in_backward and full and N == 1 and w.grad_accum == 1:
        # each parameter is stepped as soon as its gradient is accumulated, then the gradient is freed: at most the
        # largest parameter's gradient (embedding / lm_head) exists at once, and step() has no temporaries
        grads_gpu = min(grads_gpu, max(_largest_linear_numel(arch), V * h) * nx.master_bytes)
        step_temp = 0
        assumptions.append("optimizer step fused into backward (optimizer_in_bwd): one parameter's gradient at a time")
    head_grads = grads_gpu * (V * h * (1 if arch.tie_embeddings else 2) + h) // arch.params if full else 0
    if gc:
        ckpts = saved if stack.activation_offload else layers_saved
        ends = [(ckpts, head_grads), (min(checkpoint_layer, ckpts), grads_gpu)]
        checkpoints_left, grads_so_far = max(ends, key=sum)
    else:
        checkpoints_left, grads_so_far = 0, grads_gpu
    # gradients accumulated over earlier micro-batches are alive during the next forward (HF Trainer zeroes them
    # with set_to_none only after optimizer.step())
    accum_grads = grads_gpu if w.grad_accum > 1 else sh.resident_grads
    # The embedding's backward (last of all, full training) accumulates 16-bit grads in an fp32 buffer
    # of the whole table (measured: Llama-3.2-3B bf16 + SGD)
    embedding_scratch = 4 * V * h if full and nx.master_bytes < 4 else 0
    moments = {
        "forward": {"activations": saved + final_norm + autocast_fwd + merged_experts, "loss": logits_fwd,
                    "gradients": accum_grads, "gathered": sh.gathered_fwd},
        "loss backward": {"activations": saved + final_norm + autocast_bwd + merged_experts, "loss": logits_bwd,
                          "gradients": accum_grads, "gathered": sh.gathered_fwd},
        "layer backward": {"activations": layer_work + checkpoints_left,
                           "gradients": max(grads_so_far, accum_grads) + sh.grad_unit, "gathered": sh.gathered_bwd},
        "embedding backward": {"activations": embedding_scratch, "gradients": grads_gpu,
                               "gathered": sh.gathered_fwd if full else 0},
        "optimizer step": {"gradients": grads_gpu, "optimizer_temp": step_temp + sh.step_extra},
    }
    if stack.loads_full_16bit:
        # checkpoint loading: every parameter in 16-bit (gathered under FSDP) beside what stays resident
        full16 = 2 * arch.params
        load_extra = full16 if N > 1 else max(full16 - weights, 0)
        if load_extra:
            moments["checkpoint load"] = {"gathered": load_extra}
    load_default = 0
    if stack.sync_module_states and stack.sharding == "fsdp1" and N > 1 and (Z or w.offload != "none"):
        # model load: rank 0 holds the checkpoint, FSDP init broadcasts and flattens unit by unit; at the root unit
        # (wrapped last) its parameters and their flattened copy both exist beside the shards already made
        # (Answer.AI logs this moment as reserved_after_model_wrap). Those default-stream blocks stay cached for the
        # run; FSDP's all-gathers later allocate on their own stream (see below), so they cannot reuse them.
        load_default = weights + 2 * sh.root_unit + min(FSDP_BROADCAST_BUCKET_BYTES, sh.root_unit)
        assumptions.append(f"model load (FSDP init, sync_module_states): {load_default / 2**30:.2f} GiB on the GPU "
                           "while the root unit is broadcast and flattened; cached for the rest of the run")
    totals, reserved_at = {}, {}
    for name, parts in moments.items():
        st = states if name == "optimizer step" else states_at_activation_peak
        alloc = weights + st + buckets + sum(parts.values())
        act = parts.get("activations", 0) + parts.get("loss", 0)
        totals[name] = alloc
        # slack of this moment: its own activations fragment the cache, plus a share of the resident states
        reserved_at[name] = alloc + int(SLACK_ACTIVATIONS * act) + int(SLACK_STATES * (weights + st + parts.get("gathered", 0)))
        if stack.sharding.startswith("fsdp"):
            # FSDP allocates all-gather outputs on its unshard stream; the caching allocator reuses a freed block
            # only on the stream it was allocated on (PyTorch CUDA semantics, "memory management"), so that pool's
            # high-water mark (units in flight + root) stays reserved in every moment
            reserved_at[name] += max(sh.gathered_fwd, sh.gathered_bwd) - parts.get("gathered", 0)
            if load_default:
                # the default stream keeps at least what the load cached; the unshard stream's pool comes on top
                reserved_at[name] = max(reserved_at[name], int(load_default * (1 + SLACK_STATES))
                                        + max(sh.gathered_fwd, sh.gathered_bwd))
    peak_phase = max(totals, key=totals.get)
    reserved_phase = max(reserved_at, key=reserved_at.get)
    parts = moments[peak_phase]
    breakdown = {
        "weights": weights + parts.get("gathered", 0),
        "gradients": parts.get("gradients", 0),
        "optimizer_states": states if peak_phase == "optimizer step" else states_at_activation_peak,
        "activations": parts.get("activations", 0) + parts.get("loss", 0),
        "kv_cache": 0,
        "optimizer_temp": parts.get("optimizer_temp", 0),
        "buckets": buckets,
    }
    peak = sum(breakdown.values())
    reserved = max(reserved_at[reserved_phase], peak)
    if reserved_phase != peak_phase:
        assumptions.append(f"allocator: the {reserved_phase} moment reserves the most (its own slack), the "
                           f"{peak_phase} moment allocates the most")
    nccl = 0 if N == 1 else (NCCL_BYTES_2_RANKS if N == 2 else NCCL_BYTES_MORE_RANKS)
    kernel = {"flash": "flash (no score matrix)" + (", 16-bit q/k/v cast from the fp32 stream" if nx.attn_bytes == 2
                                                    and nx.act_bytes == 4 else ""),
              "efficient": "SDPA mem-efficient (no score matrix)", "math": "SDPA math backend (fp32 scores per layer)",
              "eager": "eager attention (scores saved per layer)" + (", soft-capped" if nx.softcap else "")}[
        nx.attention_kernel]
    assumptions += [
        f"{w.method} training, {w.precision}, micro-batch {b} x {s} tokens per GPU, optimizer {w.optimizer}"
        + (f", {w.grad_accum} micro-batches per step (accumulated gradients live during forward)"
           if w.grad_accum > 1 else ""),
        f"attention: {kernel}; loss: {loss_text}"
        + ("; Gemma-2 final logit soft-capping saves a tanh output" if arch.family == "gemma2" else ""),
        f"gradient checkpointing: {ac_text}",
    ]
    if stack.activation_offload:
        assumptions.append(f"activation offload: {host_activations / 2**30:.2f} GiB of saved activations in host "
                           "RAM, two layers' worth on the GPU")
    if nccl:
        assumptions.append(f"NCCL communicator {nccl / 2**30:.2f} GiB per GPU outside the PyTorch allocator "
                           "(in the device total only; measured on A100, NVIDIA/nccl#964)")
    if not full:
        assumptions.append(f"LoRA rank {w.lora_rank} on {', '.join(w.lora_targets)}: {trainable:,} trainable "
                           f"parameters, adapters in {'fp32' if nx.adapter_bytes == 4 else 'bf16'}"
                           + (" (peft autocast_adapter_dtype)" if nx.adapter_bytes == 4 else ""))
    if w.method == "qlora":
        assumptions.append("peft prepare_model_for_kbit_training: embeddings, norms and lm_head cast to fp32"
                           if stack.kbit_upcast else "no fp32 up-cast of the non-quantised weights: bf16 stream")
    if arch.is_moe:
        assumptions.append(f"MoE: all {arch.num_experts} experts resident, {arch.experts_per_token} active per token")
    est = _finish(arch, w, breakdown, peak, reserved, cuda_context, peak_phase, trainable, assumptions,
                  offloaded=offloaded, outside_allocator=nccl)
    est.load_reserved_bytes = int(load_default * (1 + SLACK_STATES))
    return est
