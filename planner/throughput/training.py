"""One training step on one card type, as the sum of its mechanisms.

Per micro-batch of T = batch x seq tokens on each GPU:
  matmuls     forward 2 FLOPs per weight per token; backward 2x that for trained weights (input and weight
              gradients), 1x for frozen ones (input gradients only: LoRA/QLoRA's base); full activation
              checkpointing recomputes the decoder layers' forward. Each at the rate of its dtype: 16-bit tensor
              cores, or CUDA-core fp32 where the stack keeps fp32 (fp32 training, QLoRA's up-cast lm_head,
              peft's fp32 adapters).
  attention   causal QK^T and PV: forward 2 x b x s^2 x heads x head_dim per layer, backward 2.5x (Dao 2023,
              FlashAttention-2: 5 matmuls vs 2), at the kernel's rate (flash; the math backend in fp32 also
              writes the score matrix).
  pointwise   norms, RoPE, SwiGLU, residuals and casts as bytes over bandwidth (op count of transformers'
              Llama layer; the stack's fusion scales it); the loss's fp32 logits likewise.
  dequant     QLoRA: bitsandbytes dequantises every 4-bit weight to 16-bit before each use (forward, backward,
              recompute): 0.5 bytes read + 2 written per weight per use.
  host        eager PyTorch's per-op launch time; the GPU runs asynchronously, so a micro-batch takes the
              larger of GPU time and host time.
Per optimizer step: the optimizer's bytes over bandwidth (or CPU Adam over host memory when offloaded), and
communication (comm.py) over the link really bought, overlapped with compute as DDP buckets and FSDP/ZeRO
prefetch do.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

from planner.architecture import Architecture
from planner.memo import per_object
from planner.throughput.comm import Link, data_parallel_bytes
from planner.throughput.hardware import Card
from planner.throughput.presets import COMPILED_DISPATCH_FACTOR, FIT, TimePreset, preset_for
from planner.workload import Workload

# FlashAttention-2 backward / forward FLOPs (Dao 2023, section 3.1.2: 5 matmuls backward vs 2 forward)
ATTN_BACKWARD_RATIO = 2.5
# Pointwise bytes per token per decoder layer in eager transformers (LlamaDecoderLayer forward, bf16 stream):
# 2 x LlamaRMSNorm (upcast to fp32, pow, mean, rsqrt-mul, downcast, weight-mul: ~26 bytes x hidden each),
# 2 residual adds (6 bytes x hidden each), attention output transpose/reshape (4 x hidden), RoPE on q and k
# (rotate_half cat + 2 muls + add: ~10 bytes per element) and SwiGLU (act(gate) then x up: 10 bytes x
# intermediate). Backward touches each about twice.
NORM_BYTES, RESIDUAL_BYTES, RESHAPE_BYTES, ROPE_BYTES, SWIGLU_BYTES = 26, 6, 4, 10, 10
POINTWISE_BACKWARD_RATIO = 2.0
# transformers' ForCausalLMLoss: logits upcast to fp32, log-softmax, NLL, and in backward the fp32 gradient
# and its downcast: ~6 passes over a vocab x tokens fp32 tensor. Chunked losses make the same passes chunk by
# chunk (compiled chunks fuse them: 2); a fused linear-cross-entropy writes no logits at all.
LOSS_PASSES = {"full": 6, "chunked": 6, "chunked-compiled": 2, "fused": 0}
# bitsandbytes dequantize_4bit: reads the packed 4-bit weight and its absmax, writes the 16-bit weight
NF4_DEQUANT_BYTES_PER_WEIGHT = 0.5 + 2.0
INT8_DEQUANT_BYTES_PER_WEIGHT = 1.0 + 2.0 + 2.0   # LLM.int8: int8 weights, fp16 copy, outlier matmul traffic
# Optimizer step bytes per trainable parameter: torch AdamW (foreach) reads param, grad, exp_avg, exp_avg_sq
# (4 B each in fp32) and writes param and both states, plus foreach temporaries; bitsandbytes 8-bit states
# are 1 B each; SGD with momentum reads param, grad, buffer and writes two.
OPTIMIZER_BYTES = {"adamw": 36, "paged_adamw": 36, "adamw8bit": 18, "paged_adamw8bit": 18, "adafactor": 20,
                   "sgd": 20}
# DeepSpeed CPU Adam over host memory: the same ~28 bytes per parameter at the host's achievable memory rate;
# a 2-socket server reaches ~100+ GB/s, a desktop ~50; assumed 40 GB/s effective for the AVX step (ZeRO-Offload,
# Ren et al. 2021, reports CPU-Adam 6x faster than PyTorch's CPU Adam but not a bytes rate: assumed).
CPU_ADAM_BYTES_PER_S = 40e9
CPU_ADAM_BYTES_PER_PARAM = 28


@dataclass
class StepTime:
    seconds: float                  # one optimizer step
    tokens: int                     # tokens of that step over all GPUs
    parts: dict[str, float] = field(default_factory=dict)   # seconds per mechanism, per step
    bound: str = "compute"          # compute | host | communication | offload

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


@lru_cache(maxsize=4096)
def _lora_params_of(arch: Architecture, rank: int, targets: tuple[str, ...]) -> int:
    return sum(rank * (i + o) * n for name, i, o, n in arch.linear_layers(include_routed_experts=False)
               if name in targets)


def _lora_params(arch: Architecture, w: Workload) -> int:
    return _lora_params_of(arch, w.lora_rank, tuple(w.lora_targets))


@lru_cache(maxsize=256)
def _quantised_weights(arch: Architecture) -> int:
    """Weights bitsandbytes quantises: the decoder layers' nn.Linear (not embeddings, lm_head or the fused
    3-D routed experts of transformers 5 MoE blocks; see Architecture.routed_expert_params)."""
    return sum(i * o * n for _, i, o, n in arch.linear_layers(include_routed_experts=False))


@lru_cache(maxsize=4096)
def _adapters(arch: Architecture, targets: tuple[str, ...]) -> int:
    """peft LoRA wrappers in the model: one per targeted linear layer."""
    return sum(n for name, _, _, n in arch.linear_layers(include_routed_experts=False) if name in targets)


# The stack and number formats of (architecture, workload): training_step is called once per configuration of
# a plan with the same ones. Keyed by the workload's field values and the stack preset (a replaced STACKS entry,
# as tests do, is a new key); bounded.
_STACK_NUMERICS: dict[tuple, tuple] = {}
_STACK_NUMERICS_MAX = 16_384


def _stack_numerics(arch: Architecture, w: Workload):
    from planner.estimator.numerics import numerics
    from planner.estimator.stacks import STACKS, resolve

    from planner.throughput import _WORKLOAD_KEYS, _workload_key
    key = (arch, per_object(_WORKLOAD_KEYS, w, _workload_key), STACKS.get(w.framework))   # resolve/numerics: not w.gpus
    hit = _STACK_NUMERICS.get(key)
    if hit is None:
        stack, _ = resolve(w)
        mask = bool(arch.sliding_window) and w.seq_len >= arch.sliding_window
        nx = numerics(w, gqa=arch.num_kv_heads < arch.num_heads, mask=mask, stack=stack)
        if len(_STACK_NUMERICS) >= _STACK_NUMERICS_MAX:
            _STACK_NUMERICS.clear()
        hit = _STACK_NUMERICS[key] = (stack, nx)
    return hit


# The micro-batch's compute and host time does not depend on the GPU count, the strategy or the link: a plan
# times every count and strategy of a card with the same (architecture, workload, card, preset), so it is kept
# per such key (the workload per object, the card by its physical fields). Bounded.
_MICRO: dict[tuple, "_Micro"] = {}
_MICRO_MAX = 65_536
_CARD_KEYS: dict[int, tuple] = {}


@dataclass(frozen=True)
class _Micro:
    """One micro-batch on one GPU, before tensor-parallel and data-parallel communication."""
    nx: object
    preset: TimePreset
    T: int
    frozen: bool
    fp32_all: bool
    t_gemm: float
    t_lora: float
    t_attn: float
    t_pointwise: float
    t_loss: float
    t_dequant: float
    mp: int
    gpu_mb: float
    host_mb: float
    micro: float


def _micro_batch(arch: Architecture, w: Workload, card: Card, preset: TimePreset, fp8: bool, tp: int, pp: int,
                 cp: int) -> _Micro:
    from planner.throughput import _WORKLOAD_KEYS, _workload_key
    from planner.throughput.hardware import physical
    key = (arch, per_object(_WORKLOAD_KEYS, w, _workload_key), per_object(_CARD_KEYS, card, physical), preset, fp8, tp, pp,
           cp)
    hit = _MICRO.get(key)
    if hit is None:
        if len(_MICRO) >= _MICRO_MAX:
            _MICRO.clear()
        hit = _MICRO[key] = _compute_micro_batch(arch, w, card, preset, fp8, tp, pp, cp)
    return hit


def _compute_micro_batch(arch: Architecture, w: Workload, card: Card, preset: TimePreset, fp8: bool, tp: int,
                         pp: int, cp: int) -> _Micro:
    stack, nx = _stack_numerics(arch, w)
    b, s, L, h = w.batch_size, w.seq_len, arch.num_layers, arch.hidden_size
    T = b * s
    frozen = not w.full
    # what backward recomputes: full checkpointing the whole decoder layer; torchtitan's per-op selective policy
    # every second matmul and the pointwise ops (the attention output is saved); every-N-th-layer AC a 1/N share
    ckpt = w.checkpointing
    if ckpt == "full":
        re_mm = re_pw = re_attn = 1.0
    elif ckpt == "selective" and w.ac_every:
        re_mm = re_pw = re_attn = 1.0 / w.ac_every
    elif ckpt == "selective":
        re_mm, re_pw, re_attn = 0.5, 1.0, 0.0
    else:
        re_mm = re_pw = re_attn = 0.0
    recompute = ckpt != "none"
    # torch.compile on or off against the preset's family (--compile / --no-compile, or the stack's default)
    if stack.compiled and preset.inherits in ("eager", "fsdp"):
        preset = replace(preset, elementwise_factor=FIT["compiled"]["elementwise_factor"],
                         dispatch_s_per_layer=preset.dispatch_s_per_layer * COMPILED_DISPATCH_FACTOR)
    elif not stack.compiled and preset.inherits == "compiled" and w.compile is False:
        preset = replace(preset, elementwise_factor=1.0,
                         dispatch_s_per_layer=preset.dispatch_s_per_layer / COMPILED_DISPATCH_FACTOR)
    fp32_all = w.precision == "fp32"
    # 16-bit matmul rate, fp32 CUDA-core rate
    r16 = card.gemm_flops * preset.gemm_scale
    r32 = card.fp32_flops
    fast = r32 if fp32_all else r16
    body_rate = card.fp8_flops * preset.gemm_scale if fp8 and not fp32_all else fast

    # -- matmuls ------------------------------------------------------------------------------------------
    head = arch.vocab_size * h                                   # lm_head (tied or not, it runs once)
    # decoder layers: all but the embeddings, a learned position table (a lookup, no matmul) and the final norm
    body = arch.active_params - arch.embedding_params - h
    body = max(body, 0)
    passes_body = 1 + (1 if frozen else 2) + re_mm
    passes_head = 1 + (1 if frozen else 2)
    head_rate = r32 if (fp32_all or nx.stream_bytes == 4 and not nx.autocast) else r16   # up-cast lm_head
    t_gemm = 2 * T * body * passes_body / body_rate + 2 * T * head * passes_head / head_rate
    t_lora = 0.0
    if w.method in ("lora", "qlora"):
        lp = _lora_params(arch, w)
        lora_rate = r32 if nx.adapter_bytes == 4 else fast       # peft fp32 adapters run fp32 matmuls
        t_lora = 2 * T * lp * (1 + 2 + re_mm) / lora_rate

    # -- attention ---------------------------------------------------------------------------------------
    attn_fwd = 2 * b * s * s * arch.num_heads * arch.head_dim * L          # causal: half of 4 b s^2 d
    attn_passes = 1 + ATTN_BACKWARD_RATIO + re_attn
    if nx.attention_kernel == "flash" and not fp32_all:
        t_attn = attn_fwd * attn_passes / card.flash_flops
    else:
        # math / eager / fp32 efficient kernels: batched matmuls at the dtype's rate; math and eager also
        # write and re-read the (b, heads, s, s) score matrix (softmax in and out, backward twice)
        rate = r32 if nx.attn == 4 else r16
        t_attn = attn_fwd * attn_passes / rate
        if nx.attention_kernel in ("math", "eager"):
            score_bytes = b * arch.num_heads * s * s * nx.attn * L
            t_attn += score_bytes * (4 + 6 + 4 * re_attn) / card.bytes_per_s

    # -- pointwise and loss --------------------------------------------------------------------------------
    sb, ab = nx.stream_bytes / 2, nx.act_bytes / 2
    # a learned position table (GPT-2 wpe) is added once to the embeddings: no rotary op on q and k in the layers;
    # a plain MLP's activation (GPT-2 GELU) is charged as SwiGLU's (eager gelu_new is more ops, a fused one fewer)
    rope = 0 if arch.learned_positions else ROPE_BYTES * (arch.q_dim + arch.kv_dim) * ab
    per_token_layer = ((2 * NORM_BYTES + 2 * RESIDUAL_BYTES + RESHAPE_BYTES) * h * sb + rope
                       + SWIGLU_BYTES * arch.intermediate_size * ab)
    pw_passes = 1 + POINTWISE_BACKWARD_RATIO + re_pw
    t_pointwise = T * L * per_token_layer * pw_passes * preset.elementwise_factor / card.bytes_per_s
    loss = stack.loss + ("-compiled" if stack.loss == "chunked" and stack.loss_compiled else "")
    t_loss = T * arch.vocab_size * 4 * LOSS_PASSES.get(loss, 6) / card.bytes_per_s

    # -- QLoRA dequantisation ----------------------------------------------------------------------------
    t_dequant = 0.0
    if nx.quant:
        per_weight = NF4_DEQUANT_BYTES_PER_WEIGHT if nx.quant == "nf4" else INT8_DEQUANT_BYTES_PER_WEIGHT
        t_dequant = _quantised_weights(arch) * per_weight * passes_body / card.bytes_per_s

    mp = max(1, tp) * max(1, pp)            # ranks that split the weights
    gpu_mb = (t_gemm + t_lora + t_attn + t_pointwise + t_loss + t_dequant) / (mp * max(1, cp))
    # -- host launch time: Python dispatch of every op of a layer, of peft's LoRA wrappers, and of eager MoE
    # blocks' loop over the experts that received tokens ------------------------------------------------
    adapters = _adapters(arch, tuple(w.lora_targets)) if w.method in ("lora", "qlora") else 0
    expert_calls = min(arch.num_experts, T * arch.experts_per_token) * arch.moe_layers if arch.is_moe else 0
    host_mb = (preset.dispatch_s_per_layer * L + preset.dispatch_s_per_adapter * adapters
               + preset.dispatch_s_per_expert * expert_calls) * (1.3 if recompute else 1.0) / max(1, pp)
    micro = max(gpu_mb, host_mb) + (1 - preset.host_overlap) * min(gpu_mb, host_mb)
    return _Micro(nx, preset, T, frozen, fp32_all, t_gemm, t_lora, t_attn, t_pointwise, t_loss, t_dequant, mp,
                  gpu_mb, host_mb, micro)


def training_step(arch: Architecture, w: Workload, card: Card, gpus: int, link: Link, zero: int = 0,
                  offload: str = "none", preset: TimePreset | None = None, fp8: bool = False,
                  tp: int = 1, pp: int = 1, virtual_stages: int = 1, tp_link: Link | None = None,
                  cp: int = 1) -> StepTime:
    """Seconds of one optimizer step of `w` (micro-batch w.batch_size per GPU, w.grad_accum micro-batches)
    on `gpus` cards joined by `link`. fp8: the decoder layers' linears run FP8 matmuls (Transformer Engine,
    torchao float8) while attention, lm_head and pointwise ops stay 16-bit.
    tp, pp: Megatron-style tensor parallel (each layer's matmuls, heads and, with sequence parallel, pointwise
    work split over tp GPUs, 4 activation all-reduces per layer per micro-batch over `tp_link`) and pipeline
    stages (layers split over pp GPUs; the 1F1B bubble (pp-1)/(virtual_stages x micro-batches), Narayanan et al.
    2021, section 2.2); cp: context parallel (each sequence's tokens and attention split over cp GPUs; the ring
    exchange of K/V overlaps attention and is not charged); the remaining gpus / (tp x pp x cp) ranks are data
    parallel over `link`."""
    m = _micro_batch(arch, w, card, preset or preset_for(w.framework), fp8, tp, pp, cp)
    nx, preset, T, frozen, fp32_all, mp = m.nx, m.preset, m.T, m.frozen, m.fp32_all, m.mp
    t_gemm, t_lora, t_attn, t_pointwise, t_loss, t_dequant = m.t_gemm, m.t_lora, m.t_attn, m.t_pointwise, m.t_loss, \
        m.t_dequant
    gpu_mb, host_mb, micro = m.gpu_mb, m.host_mb, m.micro
    L, h = arch.num_layers, arch.hidden_size
    bound = "host" if host_mb > gpu_mb else "compute"
    if tp > 1:
        # two all-reduces of the (tokens x hidden) 16-bit activations in forward, two in backward, per layer of
        # the stage; they sit between dependent matmuls, so they add to the micro-batch
        tp_bytes = 4 * (L / max(1, pp)) * 2 * (tp - 1) / tp * T / max(1, cp) * h * 2
        tp_s = (tp_link or link).seconds(tp_bytes)
        micro += tp_s - preset.tp_overlap * min(tp_s, gpu_mb)

    # -- communication -----------------------------------------------------------------------------------
    trainable = _lora_params(arch, w) if w.method in ("lora", "qlora") else arch.params
    grad_bytes = trainable * (4 if (nx.autocast or frozen and nx.adapter_bytes == 4 or fp32_all) else 2)
    param_bytes = trainable * 2
    weight_bytes = arch.params * (0.5 if nx.quant == "nf4" else 1 if nx.quant == "int8" else nx.master_bytes
                                  if not nx.autocast else 2)
    dp = max(1, gpus // (mp * max(1, cp)))
    shard = dp if zero >= 1 else 1
    # gradients are reduced over the data- and context-parallel ranks that hold the same weight shard
    step_bytes, mb_bytes = data_parallel_bytes(zero, dp * max(1, cp), grad_bytes / mp, param_bytes / mp,
                                               weight_bytes / mp, w.grad_accum)
    comm_mb = link.seconds(mb_bytes)
    # FSDP/ZeRO-3 prefetch overlaps the gathers with the micro-batch's compute; DDP buckets overlap the
    # all-reduce with the last micro-batch's backward (about two thirds of it)
    mb_time = max(micro, comm_mb) + (1 - preset.comm_overlap) * min(micro, comm_mb)
    comm_step = link.seconds(step_bytes)
    exposed_step = max(0.0, comm_step - micro * 2 / 3) if zero == 0 else comm_step
    if comm_mb > micro or exposed_step > micro / 2:
        bound = "communication"

    # -- optimizer and offload ---------------------------------------------------------------------------
    opt_bytes = OPTIMIZER_BYTES.get(w.optimizer, 36) * trainable / shard / mp
    t_opt = opt_bytes / card.bytes_per_s
    t_offload = 0.0
    if offload in ("optimizer", "optimizer+params"):
        # gradients down, updated 16-bit parameters up over PCIe, and the step on the CPU
        t_opt = trainable / shard * CPU_ADAM_BYTES_PER_PARAM / CPU_ADAM_BYTES_PER_S
        t_offload += trainable / shard * (grad_bytes / trainable + 2) / (card.host_link_gbps * 1e9)
    if offload == "optimizer+params":
        # parameters streamed host -> GPU for forward and backward of every micro-batch, prefetched one unit
        # ahead: only what compute does not hide is exposed
        stream = weight_bytes / max(gpus, 1) * 2 / (card.host_link_gbps * 1e9)
        exposed = max(0.0, stream - micro)
        mb_time += exposed
        if exposed > 0:
            bound = "offload"

    bubble = (pp - 1) / (max(1, virtual_stages) * w.grad_accum) if pp > 1 else 0.0
    seconds = mb_time * w.grad_accum * (1 + bubble) + exposed_step + t_opt + t_offload
    parts = {"matmul": t_gemm * w.grad_accum, "lora": t_lora * w.grad_accum, "attention": t_attn * w.grad_accum,
             "pointwise": t_pointwise * w.grad_accum, "loss": t_loss * w.grad_accum,
             "dequantise": t_dequant * w.grad_accum, "host": host_mb * w.grad_accum,
             "communication": (comm_mb * w.grad_accum + comm_step), "optimizer": t_opt, "offload": t_offload}
    return StepTime(seconds, T * w.grad_accum * dp, parts, bound)


def model_flops_per_token(arch: Architecture, seq_len: int) -> float:
    """Model FLOPs per trained token as MFU is usually reported: 6 x active parameters plus attention,
    12 x layers x hidden x sequence (Chowdhery et al. 2022, PaLM, appendix B)."""
    return 6 * arch.active_params + 12 * arch.num_layers * arch.hidden_size * seq_len


def min_gpus_for_deadline(arch: Architecture, w: Workload, card: Card, tokens: int, deadline_s: float) -> int:
    """Smallest data-parallel GPU count whose compute alone trains `tokens` within `deadline_s` (communication
    is timed once the machines and their link are known)."""
    import math
    one = training_step(arch, w, card, 1, Link("none", 0.0))
    seconds = tokens / one.tokens_per_s if one.tokens_per_s > 0 else math.inf
    if seconds <= deadline_s:
        return 1
    return max(2, math.ceil(seconds / deadline_s))
