"""Peak GPU memory of an LLM workload, per GPU, from the mechanisms PyTorch and the HF stack really use.

A pure function of (Architecture, Workload): no I/O. Every term names the tensors it stands for and the
library behaviour behind it. The reference behaviour is what `calibration/measure.py` runs: transformers
(SDPA attention, dynamic KV cache), torch.optim, peft LoRA, bitsandbytes quantisation; validated against
the measurements in `calibration/` (see benchmarks/accuracy.py).

Training peak = the largest of four moments in a steady-state step (optimizer states already exist):
  forward end   weights + states + saved activations + the loss's forward buffers
  loss backward weights + states + saved activations + 12 bytes x vocab per token (see _logits_backward)
  layer backward weights + states + all gradients + one layer's activations and gradient temporaries
  optimizer step weights + states + all gradients + the optimizer's temporaries
Inference peak = max(prefill at the last layer, decode at the last step).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from planner.architecture import Architecture
from planner.workload import ALL_LINEAR, Workload

GiB = 1 << 30
# CUDA context + kernels loaded by torch 2.11/cu13 on an H100 (calibration/h100-measurements.json).
H100_CUDA_CONTEXT_BYTES = 1_152_188_416
DEFAULT_CUDA_CONTEXT_BYTES = H100_CUDA_CONTEXT_BYTES
# Per-process host memory of a torch + CUDA + transformers process (RSS of the measuring script, order of).
HOST_PROCESS_BYTES = 4 * GiB
# Hugging Face checkpoints are sharded at 5 GB; loading holds about one shard in host RAM.
CHECKPOINT_SHARD_BYTES = 5 * 10**9

BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "fp16-mixed": 2, "bf16-mixed": 2}


@dataclass(frozen=True)
class Numerics:
    """Dtypes in play, derived from method + precision (what the libraries do, not what users say)."""
    master_bytes: int        # bytes per trainable/base float parameter as stored (fp32 master for AMP)
    stream_bytes: int        # residual stream (hidden states between layers)
    act_bytes: int           # outputs of linear layers
    quant: str               # "" | "int8" | "nf4"
    attention_kernel: str    # flash (linear memory) | math (materialises scores) | eager
    autocast: bool           # torch.autocast bf16 over fp32 weights
    mask: bool = False       # a (b, 1, s, s) bool attention mask exists and K/V are repeated to all heads
    adapter_bytes: int = 4   # peft keeps LoRA adapters in fp32 (autocast_adapter_dtype=True)


def numerics(w: Workload, gqa: bool = True, mask: bool = False) -> Numerics:
    """mask: transformers materialises the attention mask (sliding window shorter than the sequence);
    then it repeats K/V instead of passing enable_gqa, so SDPA's mem-efficient kernel is eligible."""
    p = w.precision
    quant = "int8" if p == "int8" else ("nf4" if p in ("nf4", "int4") else "")
    if quant:
        # bitsandbytes computes in bf16; peft's prepare_model_for_kbit_training (QLoRA) casts every
        # non-quantised parameter (embeddings, norms, lm_head) to fp32, so the residual stream and every
        # layer output (Linear4bit casts its output back to the input dtype) become fp32.
        if w.method == "qlora":
            stream, act = 4, 4
        else:
            stream, act = 2, 2
        master = 4 if w.method == "qlora" else 2
        autocast = False
    elif p in ("fp16-mixed", "bf16-mixed"):
        stream, act, master, autocast = 4, 2, 4, True  # fp32 weights and residual, bf16 matmul outputs
    else:
        stream = act = master = BYTES[p]
        autocast = False
    if w.attention == "eager":
        kernel = "eager"
    elif act == 4:
        # flash needs 16-bit inputs; the fp32-capable mem-efficient kernel rejects enable_gqa, so grouped-query
        # models fall back to the math backend (measured: Llama-3.2 GQA vs Llama-2 MHA in fp32)
        kernel = "math" if gqa and not mask else "efficient"
    else:
        kernel = "flash"
    return Numerics(master, stream, act, quant, kernel, autocast, mask=mask)


# ---------------------------------------------------------------------------------------------------
# Weights

def quantised_linear_bytes(numel: int, out_features: int, quant: str) -> int:
    if quant == "nf4":
        # 4-bit packed + one uint8 absmax per 64-block + fp32 absmax per 256 absmaxes (double quantisation,
        # QLoRA paper section 3: 4.127 bits per weight)
        return numel // 2 + math.ceil(numel / 64) + 4 * math.ceil(numel / (64 * 256))
    if quant == "int8":
        return numel + 4 * out_features            # LLM.int8: int8 weight + one fp32 scale per output row (SCB)
    raise ValueError(quant)


def weight_bytes(arch: Architecture, nx: Numerics) -> int:
    """Bytes of the model's parameters as loaded (before any LoRA adapters)."""
    if not nx.quant:
        return arch.params * nx.master_bytes
    linear_numel = 0
    quant_bytes = 0
    for _, i, o, count in arch.linear_layers(include_routed_experts=False):
        if _ == "router":
            continue                                # bitsandbytes skips MoE routers (tiny, kept in bf16)
        linear_numel += i * o * count
        quant_bytes += quantised_linear_bytes(i * o, o, nx.quant) * count
    # embeddings, lm_head, norms, biases, routers and fused MoE experts stay 16-bit (fp32 after QLoRA prep)
    rest = arch.params - linear_numel
    return quant_bytes + rest * nx.master_bytes


# ---------------------------------------------------------------------------------------------------
# LoRA

def lora_modules(arch: Architecture, targets: tuple[str, ...]) -> list[tuple[str, int, int, int]]:
    """(name, in, out, count) of the linear layers LoRA wraps; all-linear wraps experts too (peft)."""
    aliases = {"q_a_proj": "q_proj", "q_b_proj": "q_proj", "kv_a_proj_with_mqa": "k_proj", "kv_b_proj": "v_proj"}
    out = []
    for name, i, o, count in arch.linear_layers():
        if name == "router":
            continue
        if aliases.get(name, name) in targets:
            out.append((name, i, o, count))
    return out


def lora_params(arch: Architecture, rank: int, targets: tuple[str, ...]) -> int:
    return sum(rank * (i + o) * count for _, i, o, count in lora_modules(arch, targets))


# ---------------------------------------------------------------------------------------------------
# Optimizer state

@dataclass(frozen=True)
class OptimizerBytes:
    states: int       # persistent states
    step_temp: int    # temporaries alive during step()
    paged: bool = False


def optimizer_bytes(name: str, trainable: int, state_dtype_bytes: int, largest_param: int) -> OptimizerBytes:
    paged = name.startswith("paged_")
    base = name.removeprefix("paged_")
    if base == "adamw":
        # torch.optim.AdamW (foreach=True on CUDA): exp_avg + exp_avg_sq in the param dtype, and
        # _foreach_sqrt(exp_avg_sq) materialises one more state-sized list during step()
        return OptimizerBytes(2 * trainable * state_dtype_bytes, trainable * state_dtype_bytes, paged)
    if base == "adamw8bit":
        # bitsandbytes blockwise 8-bit Adam: two uint8 states + an fp32 absmax per 256-block each;
        # the update is one fused kernel per tensor (no model-sized temporary)
        return OptimizerBytes(2 * trainable + 2 * 4 * math.ceil(trainable / 256), 0, paged)
    if base == "sgd":
        # torch.optim.SGD(momentum=0.9): one momentum buffer; foreach updates are in place
        return OptimizerBytes(trainable * state_dtype_bytes, 0, paged)
    if base == "adafactor":
        # transformers Adafactor (beta1=None): factored row/column second moments (negligible); one tensor at
        # a time it holds the fp32 update and `-update * lr`, plus fp32 copies of grad and param if 16-bit
        return OptimizerBytes(0, (8 + (8 if state_dtype_bytes < 4 else 0)) * largest_param, paged)
    raise ValueError(name)


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
    if nx.autocast:
        return dim * 2 * len(hit)                   # autocast re-casts the input for every adapter
    if nx.adapter_bytes == dtype_bytes:
        return dim * dtype_bytes                    # no cast: one shared tensor
    return dim * nx.adapter_bytes * len(hit)


def layer_saved_bytes_per_token(arch: Architecture, w: Workload, nx: Numerics, kv_len: int, moe: bool) -> int:
    """Activations one decoder layer saves for backward, per token (no checkpointing)."""
    h, a_b, s_b = arch.hidden_size, nx.act_bytes, nx.stream_bytes
    full = w.method == "full"
    tg = w.lora_targets
    qd, kvd, od = arch.q_dim, arch.kv_dim, arch.attn_out_dim
    heads = arch.num_heads
    in_dtype = 2 if nx.autocast else a_b            # dtype linears see (autocast casts fp32 inputs to bf16)
    norm_in = s_b if not nx.autocast else 4
    n_norms = arch.norms_per_layer
    total = n_norms * _norm_saved(h, nx, full)
    # Inputs of the attention projections and of the MLP's first projections (the norms' outputs)
    total += _module_input_saved(h, in_dtype if full else norm_in, ("q_proj", "k_proj", "v_proj"), full, tg, nx)
    # Attention core
    if nx.attention_kernel in ("flash", "efficient"):
        # SDPA flash / mem-efficient save q, k, v, the output and an fp32 log-sum-exp per head
        kv_saved = heads * arch.head_dim if nx.mask else kvd     # repeat_kv when a mask is materialised
        total += a_b * (qd + 2 * kv_saved + od) + 4 * heads
    elif nx.attention_kernel == "math":
        # math SDPA: scaled q, k and v repeated to all heads (enable_gqa), softmax probabilities (fp32)
        total += a_b * (qd + arch.num_heads * arch.head_dim + od) + a_b * heads * kv_len
    else:
        # eager: repeat_kv copies, fp32 softmax output and its 16-bit copy (both saved)
        total += a_b * (qd + arch.num_heads * arch.head_dim + od) + (4 + a_b) * heads * kv_len
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
    else:
        f = arch.intermediate_size
        if arch.gated_mlp:
            total += 3 * a_b * f                     # gate output (SiLU input), SiLU output, up output
        else:
            total += a_b * f                         # GELU input
        total += _module_input_saved(f, a_b, ("down_proj",), full, tg, nx)  # product = down_proj input
    if not full:                                     # lora_A outputs (rank-sized, adapter dtype), saved by lora_B
        n_mods = sum(1 for m in ALL_LINEAR if m in tg)
        total += nx.adapter_bytes * w.lora_rank * n_mods
    return total


def layer_backward_temp_per_token(arch: Architecture, nx: Numerics, kv_len: int) -> int:
    """Gradient temporaries while one layer runs backward (MLP grads, attention-score grads, hidden grads)."""
    f = max(arch.intermediate_size if not arch.is_moe else arch.expert_intermediate_size * arch.experts_per_token, 1)
    mlp = 3 * nx.act_bytes * f
    attn = 2 * 4 * arch.num_heads * kv_len if nx.attention_kernel in ("math", "eager") else 0
    return max(mlp, attn) + 2 * 4 * arch.hidden_size


# ---------------------------------------------------------------------------------------------------
# Result

@dataclass
class Estimate:
    model: str
    params: int
    trainable_params: int
    breakdown: dict[str, int]            # bytes per component at the peak, per GPU
    peak_allocated_bytes: int            # torch.cuda.max_memory_allocated at the peak, per GPU
    reserved_bytes: int                  # + caching-allocator slack (torch.cuda.max_memory_reserved)
    cuda_context_bytes: int
    total_bytes: int                     # what nvidia-smi shows at the peak, per GPU
    cpu_ram_bytes: int                   # host RAM the job needs (all processes on one node)
    peak_phase: str
    gpus: int
    assumptions: list[str] = field(default_factory=list)
    kv_slack_bytes: int = 0              # part of the allocator slack that grows with the KV cache (inference)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "params": self.params, "trainable_params": self.trainable_params,
            "gpus": self.gpus, "peak_phase": self.peak_phase,
            "peak_allocated_bytes": self.peak_allocated_bytes, "reserved_bytes": self.reserved_bytes,
            "cuda_context_bytes": self.cuda_context_bytes, "total_bytes": self.total_bytes,
            "total_gib": round(self.total_bytes / GiB, 2), "cpu_ram_bytes": self.cpu_ram_bytes,
            "breakdown": dict(self.breakdown), "assumptions": list(self.assumptions),
        }


def _kv_cache_bytes(arch: Architecture, batch: int, tokens: int, dtype_bytes: int) -> int:
    """K and V for every layer (GQA: kv heads only; Gemma's sliding-window layers keep at most the window)."""
    per_layer_tok = arch.kv_bytes_per_token // arch.num_layers * dtype_bytes
    sliding = arch.sliding_layers if arch.uses_sliding_cache else 0
    windowed = min(tokens, arch.sliding_window) if sliding else 0
    return batch * per_layer_tok * ((arch.num_layers - sliding) * tokens + sliding * windowed)


def _largest_linear_numel(arch: Architecture) -> int:
    return max(i * o for n, i, o, _ in arch.linear_layers() if n != "router")


def _quant_matmul_temp(arch: Architecture, nx: Numerics, tokens: int) -> int:
    """Transient memory of a quantised matmul on more than one token."""
    if nx.quant == "nf4" and tokens > 1:
        # bnb matmul_4bit dequantises the whole weight to bf16 unless the input is a single token (gemv)
        return 2 * _largest_linear_numel(arch)
    return 0


def estimate_inference(arch: Architecture, w: Workload, nx: Numerics, cuda_context: int) -> Estimate:
    b, s, n = w.batch_size, w.seq_len, w.new_tokens
    N = w.gpus
    parallel = w.parallel
    if parallel == "auto":
        parallel = "tensor" if N > 1 and arch.num_heads % N == 0 else "pipeline"
    kv_dtype = 4 if nx.act_bytes == 4 else 2
    weights = weight_bytes(arch, nx)
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
    attn_live = (hidden_live - s_b * h) + a_b * (qd + 2 * kvd + od)
    if nx.attention_kernel in ("math", "eager"):
        # math/eager attention materialise the (b, heads, s, s) scores and probabilities for one layer,
        # and repeat K and V to all heads; math SDPA's _safe_softmax (torch >= 2.5) also builds a bool
        # "row is all -inf" mask of the scores' shape (1 byte each)
        attn_live += a_b * 2 * heads * arch.head_dim + (a_b + 4 + (nx.attention_kernel == "math")) * heads * s
    elif nx.mask:
        attn_live += a_b * 2 * (heads * arch.head_dim - kvd)   # repeat_kv copies of K and V
    per_token = max(hidden_live + mlp_live, attn_live)
    if N > 1 and parallel == "tensor":
        per_token = hidden_live + (per_token - hidden_live) / N   # heads and MLP columns split; hidden replicated
    act_prefill = int(T * per_token)
    quant_temp = _quant_matmul_temp(arch, nx, T) + int8_weight_temp
    buffers = T * arch.head_dim * 2 * s_b            # RoPE cos/sin for the prompt
    buffers += b * s * s if nx.mask else 0           # the (b, 1, s, s) bool sliding-window mask
    prefill = {"activations": act_prefill + buffers + quant_temp, "kv_cache": kv_prefill}
    # Decode: the cache grows by torch.cat each step, so one layer's K (then V) exists twice briefly;
    # logits of the last position only (generate sets logits_to_keep=1), cast to fp32 for sampling.
    vocab = arch.vocab_size
    cat_copy = _kv_cache_bytes(arch, b, s + n, kv_dtype) // arch.num_layers // 2
    decode_act = b * (hidden_live + mlp_live) + b * vocab * (a_b + 4 + 4) + _quant_matmul_temp(arch, nx, b)
    decode = {"activations": decode_act + cat_copy, "kv_cache": kv_final}
    if N > 1:
        if parallel == "tensor":
            kv_share = max(arch.num_kv_heads // N, 1) / arch.num_kv_heads if not arch.is_mla else 1.0 / N
            w_gpu = int(weights / N)
        else:
            kv_share = math.ceil(arch.num_layers / N) / arch.num_layers
            # layers split evenly; the embedding or lm_head sits on the end GPUs
            w_gpu = int((weights - arch.vocab_size * h * nx.master_bytes * (1 if arch.tie_embeddings else 2))
                        * math.ceil(arch.num_layers / N) / arch.num_layers) + arch.vocab_size * h * nx.master_bytes
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
        f"attention: {nx.attention_kernel} ({'scores never materialised' if nx.attention_kernel == 'flash' else 'scores materialised per layer'})",
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
    est = _finish(arch, w, breakdown, peak, reserved, cuda_context, phase_name, 0, assumptions, offloaded=0)
    est.kv_slack_bytes = kv_slack
    return est


def estimate_training(arch: Architecture, w: Workload, nx: Numerics, cuda_context: int) -> Estimate:
    b, s = w.batch_size, w.seq_len
    T = b * s
    N, Z = w.gpus, w.zero_stage
    full = w.method == "full"
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


def _finish(arch, w, breakdown, peak, reserved, cuda_context, phase, trainable, assumptions, offloaded) -> Estimate:
    N = w.gpus
    # Host RAM: one process per GPU, one checkpoint shard while loading, and whatever is offloaded
    cpu_ram = N * HOST_PROCESS_BYTES + CHECKPOINT_SHARD_BYTES + offloaded
    breakdown = {k: int(v) for k, v in breakdown.items()}
    breakdown["allocator_slack"] = int(reserved - peak)
    breakdown["cuda_context"] = cuda_context
    if cuda_context:
        assumptions.append(f"CUDA context {cuda_context / GiB:.2f} GiB per GPU (torch 2.11 / CUDA 13 on H100, measured)")
    else:
        assumptions.append("Apple unified memory: no CUDA context, Metal's working-set limit instead; the memory "
                           "model assumes PyTorch on MPS allocates like CUDA (not measured; MLX differs)")
    return Estimate(model=arch.name, params=arch.params, trainable_params=trainable, breakdown=breakdown,
                    peak_allocated_bytes=int(peak), reserved_bytes=int(reserved), cuda_context_bytes=cuda_context,
                    total_bytes=int(reserved + cuda_context), cpu_ram_bytes=int(cpu_ram), peak_phase=phase,
                    gpus=N, assumptions=assumptions)


# vLLM's documented memory budget (docs.vllm.ai CacheConfig; shared/reference/estimators.md 8.1): it may use
# gpu_memory_utilization of the card; activations are profiled at max_num_batched_tokens (chunked prefill);
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


def estimate(arch: Architecture, w: Workload, cuda_context: int = DEFAULT_CUDA_CONTEXT_BYTES) -> Estimate:
    """Peak memory per GPU and host RAM for running workload `w` on model `arch`."""
    # masking_utils skips the mask only when kv_length < sliding_window (strict)
    mask = bool(arch.sliding_window) and w.seq_len >= arch.sliding_window
    nx = numerics(w, gqa=arch.num_kv_heads < arch.num_heads, mask=mask)
    if w.training:
        return estimate_training(arch, w, nx, cuda_context)
    if w.engine == "vllm":
        return estimate_vllm(arch, w, nx, cuda_context)
    return estimate_inference(arch, w, nx, cuda_context)
