"""Inference time: prefill as compute, decode as bytes read per step, per engine, backend and card.

Pure functions of (architecture, workload, engine preset, card, tensor/pipeline degree, concurrent batch,
context). The engine presets (presets.py) hold what each engine reaches of the card's peaks; the mechanisms:

- A decode step reads the weights once for the whole batch - of an MoE only the experts the batch's tokens
  were routed to (expected_experts) - and each sequence's KV cache; it computes 2 FLOPs per active parameter
  and token plus attention over the context. Its time is the slower of the reads (bytes / bandwidth x engine
  efficiency) and the compute (FLOPs / format peak x engine efficiency): within one GEMM the weight tiles
  stream from memory while the tensor cores work on the tiles already loaded, so the two overlap and the step
  takes the larger (the roofline, Williams et al. 2009), not their sum. Then the engine's fixed costs: per step
  (graph launch, sampling), per layer (eager PyTorch only) and per sequence (vLLM's CPU scheduler).
- Prefill: a forward over the prompt in the engine's chunks (llama.cpp ubatches of 512, vLLM chunked prefill),
  each chunk the same roofline at M = chunk tokens: compute-bound beyond a few hundred tokens.
- Continuous batching (vLLM, llama-server): new prompts are prefilled in chunks inside the decode steps of
  the running batch (mixed_step), so in steady state every decode step carries B/new_tokens prompts' worth
  of prefill on average.
- Tensor parallel: bytes and FLOPs divide by the degree; each layer adds two all-reduces of the step's
  activations (Megatron-LM's column/row split) over the link. Pipeline (layer split): the stages run one after
  another for a batch; vLLM keeps `pp` micro-batches in flight so every stage stays busy.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from planner.architecture import Architecture
from planner.catalog import GPU
from planner.throughput.engines import ENGINES, EnginePreset
from planner.workload import FP4_FORMATS, GGUF_TYPES, Workload

# Effective link bandwidth for tensor-parallel all-reduces, GB/s per GPU (NCCL
# peer traffic through the PCIe root complex) and the small-message latency of one all-reduce. The latency is
# an assumption of the order nccl-tests report for 8-16 KiB messages (tens of microseconds on PCIe, under ten
# over NVLink), not fitted: the published set has too few tensor-parallel decode cases to pin it.
PCIE_ALLREDUCE_GBPS = 25.0
ALLREDUCE_LATENCY_S = {"nvlink": 8e-6, "pcie": 30e-6}
# llama.cpp's MMQ kernels multiply quantised weights by int8-quantised activations on the int8 tensor cores
# (ggml-cuda/mmq.cuh, mma.sync m16n8k32 s8). Dense int8 peak over the dense fp16/bf16 (fp32 accumulate) peak:
# 2x on data-centre and workstation cards (A100 312 vs 624, H100 989 vs 1979), 4x on GeForce cards, whose fp32
# accumulate runs at half rate (RTX 3090 71 vs 284, RTX 4090 165.2 vs 660.6; NVIDIA Ampere GA102 and Ada
# whitepapers).
INT8_OVER_BF16 = {"geforce": 4.0, "nvidia": 2.0}
_GEFORCE = re.compile(r"^rtx-\d{4}")
# FP4 tensor cores: NVIDIA Blackwell (sm_100 B200/B300, sm_120 RTX 50xx / RTX PRO Blackwell, sm_121 GB10 DGX Spark)
# run dense FP4 at twice their FP8 rate (B200 9 vs 4.5 PFLOPS; RTX Blackwell whitepaper FP4 = 2 x FP8 AI TOPS).
# Only NVFP4 checkpoints multiply in FP4: ModelOpt NVFP4 is W4A4 (vLLM modelopt.py quantises the activations with
# scaled_fp4_quant and calls cutlass_scaled_fp4_mm / FlashInfer on sm_100 and sm_120; elsewhere the Marlin FP4
# kernel dequantises to 16-bit). MXFP4 (gpt-oss) is weights-only: vLLM's default MoE backends (SM100_FI_MXFP4_BF16
# on Blackwell, triton/Marlin on Hopper and Ampere) multiply in bf16, its MXFP8-activation paths are opt-in
# (VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8); llama.cpp multiplies either in int8 (MMQ) like its other block types.
FP4_TENSOR_GENERATIONS = ("blackwell", "grace-blackwell")
FP4_TENSOR_ENGINES = ("vllm", "sglang", "tensorrt-llm")   # TensorRT-LLM: NVFP4 GEMMs on Blackwell's FP4 tensor cores
# Engines that batch in flight from a scheduler of their own (vLLM's V1 engine, TensorRT-LLM's in-flight batching):
# pp micro-batches in flight, explicit tensor parallelism, a serving queue behind their published figures
INFLIGHT_ENGINES = ("vllm", "tensorrt-llm")
FP4_OVER_FP8 = 2.0


# llama.cpp on CUDA multiplies float weights (F16/BF16/F32) in cuBLAS GEMMs at prompt sizes (ggml-cuda.cu
# ggml_cuda_mul_mat: no MMQ kernel for float types, cublasGemmEx / cublasGemmBatchedEx instead), not in its MMQ
# kernels: their share of the peak is cuBLAS's, which the H100 generate() measurements fit (PyTorch's matmuls are
# cuBLAS GEMMs of the same shapes), not the MMQ share fitted on quantised GGUF prompts.
CUBLAS_FLOAT_FORMATS = ("fp16", "bf16", "fp32")


def matmul_efficiency(engine: str, precision: str, be: str) -> float:
    """Share of matmul_peak_tflops the engine's prompt GEMMs reach (its preset's prefill efficiency, or cuBLAS's
    for llama.cpp's float weights on CUDA)."""
    if engine == "llama.cpp" and be == "cuda" and precision in CUBLAS_FLOAT_FORMATS:
        return preset("transformers").prefill("cuda")
    return preset(engine).prefill(be)


def has_fp4_tensor_cores(g: GPU) -> bool:
    return g.vendor == "nvidia" and g.generation in FP4_TENSOR_GENERATIONS


def backend(g: GPU) -> str:
    """The compute backend the engines use on this card: CUDA (NVIDIA), ROCm/HIP (AMD), Metal (Apple)."""
    return {"nvidia": "cuda", "amd": "rocm", "apple": "metal"}.get(g.vendor, "cuda")


def matmul_peak_tflops(g: GPU, engine: str, precision: str) -> float:
    """Dense matmul peak of the number format the engine multiplies in: the catalogue's int8 / fp16 / fp8 rate
    where it lists one (datasheets and whitepapers), else derived from its bf16 figure."""
    bf16 = g.bf16_tflops
    if g.vendor == "nvidia" and g.generation not in ("volta", "pascal"):
        if engine == "llama.cpp" and (precision in GGUF_TYPES or precision in FP4_FORMATS):
            return getattr(g, "int8_tops", None) or \
                bf16 * INT8_OVER_BF16["geforce" if _GEFORCE.match(g.name) else "nvidia"]
        if engine == "llama.cpp" and precision == "fp16":
            # f16 weights go to cuBLAS with CUBLAS_COMPUTE_16F (fp16 accumulate): GeForce runs that at twice its
            # fp32-accumulate rate (RTX 4090 330.3 vs 165.2 TFLOPS, Ada whitepaper)
            return getattr(g, "fp16_tflops", None) or (bf16 * 2 if _GEFORCE.match(g.name) else bf16)
    if precision == "nvfp4" and engine in FP4_TENSOR_ENGINES and has_fp4_tensor_cores(g):
        fp8 = getattr(g, "fp8_tflops", None) or bf16 * 2
        return getattr(g, "fp4_tflops", None) or fp8 * FP4_OVER_FP8
    if precision == "fp8" and g.fp8 and g.vendor in ("nvidia", "amd"):
        # FP8 tensor cores: twice the bf16 rate (Ada, Hopper, Blackwell; MI300X 2,615 vs 1,307)
        return getattr(g, "fp8_tflops", None) or bf16 * 2
    return bf16                      # Metal, AWQ/GPTQ and FP4 without FP4 MMA (Marlin dequantises), bf16/fp16


@dataclass(frozen=True)
class ModelBytes:
    """What one decode step of this model reads and computes, per token and per sequence."""
    weight_bytes: float          # all weights as the engine stores them (every expert), without the
                                 # input embedding table (a lookup reads one row per token)
    routed_bytes: float          # of which the routed experts (an MoE reads only those its tokens chose)
    experts: int
    experts_per_token: int
    active_flops_per_token: float  # 2 x active parameters (embedding lookup excluded)
    attn_flops_per_token_ctx: float  # attention FLOPs per token per token of context (QK^T and PV)
    kv_bytes_per_token: float    # KV cache bytes per token of context, all layers (full-attention layers)
    sliding_kv_bytes_per_token: float  # ... of the sliding-window layers (read up to the window)
    sliding_window: int
    layers: int                  # decoder layers a text token runs through
    hidden: int
    precision: str = ""          # the format served (a checkpoint's stored format where the workload left bf16)
    state_bytes_per_seq: float = 0.0  # hybrids: recurrent + conv state each sequence reads and rewrites per step


@lru_cache(maxsize=512)
def _model_bytes(arch: Architecture, engine: str, precision: str, kv_cache_dtype: str) -> ModelBytes:
    from planner.estimator import estimate, served_precision
    from planner.estimator.kv_cache import kv_dtype, kv_elements_per_token_layer, recurrent_state_bytes, sliding_layers
    from planner.estimator.weights import fp4_split_bytes
    w = Workload(method="inference", engine=engine, precision=precision, kv_cache_dtype=kv_cache_dtype,
                 batch_size=1, seq_len=16, new_tokens=0)
    est = estimate(arch, w)
    weights = float(est.breakdown["weights"])
    served = served_precision(arch, w)
    # a multimodal checkpoint's vision tower loads 16-bit (estimator/weights.py) and a text request never runs it
    vision = float(arch.extra_params) * (4 if served == "fp32" else 2)
    share = lambda n: (weights - vision) * n / max(arch.params, 1)  # noqa: E731  (same bits per weight throughout)
    embedding_lookup = 0 if arch.tie_embeddings else share(arch.vocab_size * arch.hidden_size)
    routed = share(arch.routed_expert_params) if arch.is_moe else 0.0
    # FP4 formats quantise the experts (and not the embeddings) to other bits than the average: exact split
    split = fp4_split_bytes(arch, served, engine)
    if split is not None:
        routed = split[0]
        embedding_lookup = 0 if arch.tie_embeddings else split[1]
    # rows only the lookup reads: mllama's 8 extra embedding rows, a learned position table (GPT-2 wpe)
    embedding_lookup += share(arch.extra_embedding_rows * arch.hidden_size + arch.position_params)
    # mllama: a request without an image skips the cross-attention layers (transformers MllamaTextModel.forward
    # "For text-only path we should skip cross attention layers"; vLLM mllama.py skip_cross_attention when
    # max_encoder_seq_len == 0, prefill and decode alike): their weights are not read, their FLOPs not spent
    skipped = vision + share(arch.cross_attn_params)
    _, kv_b = kv_dtype(engine, kv_cache_dtype, 2)
    per_layer = kv_elements_per_token_layer(arch, engine) * kv_b
    swa = sliding_layers(arch)
    full = arch.full_attention_layers            # the layers whose cache grows with the text and is read per token
    # QK^T and PV: 2 matmuls x 2 FLOPs x query width, per self-attention layer and context token
    attn = 4 * arch.q_dim * full
    # hybrids: each linear-attention layer reads and rewrites its fixed-size state once per step (the DeltaNet update)
    state = 2.0 * recurrent_state_bytes(arch, engine, 1, int(kv_b))
    lookup = ((arch.vocab_size * (0 if arch.tie_embeddings else 1) + arch.extra_embedding_rows) * arch.hidden_size
              + arch.position_params)
    return ModelBytes(weights - embedding_lookup - skipped, routed, arch.num_experts, arch.experts_per_token,
                      2.0 * (arch.active_params - arch.cross_attn_params - lookup),
                      attn, per_layer * (full - swa), per_layer * swa, arch.sliding_window or 0,
                      arch.num_layers - arch.cross_attn_layers, arch.hidden_size, served, state)


def model_bytes(arch: Architecture, w: Workload) -> ModelBytes:
    return _model_bytes(arch, w.engine, w.precision, w.kv_cache_dtype)


def expected_experts(experts: int, per_token: int, tokens: float) -> float:
    """Expected distinct experts a layer reads when `tokens` tokens each pick `per_token` of `experts`,
    routing taken as uniform and independent: E x (1 - (1 - k/E)^T). One token reads k; a large batch all E."""
    if experts <= 0 or tokens <= 0:
        return 0.0
    return experts * (1.0 - (1.0 - per_token / experts) ** tokens)


@dataclass(frozen=True)
class Card:
    """One card as the time model sees it (a catalogue GPU, or a whole unified-memory machine)."""
    gpu: GPU
    link: str = "pcie"                # nvlink | pcie: what tensor-parallel all-reduces cross
    link_gbps: float = PCIE_ALLREDUCE_GBPS


@dataclass(frozen=True)
class Step:
    seconds: float
    memory_s: float
    compute_s: float
    overhead_s: float
    comm_s: float
    bound: str                        # memory | compute

    def describe(self) -> str:
        return (f"{self.seconds * 1000:.1f} ms/step ({self.bound}-bound: reads {self.memory_s * 1000:.1f} ms, "
                f"compute {self.compute_s * 1000:.1f} ms, fixed {self.overhead_s * 1000:.1f} ms"
                + (f", all-reduce {self.comm_s * 1000:.1f} ms" if self.comm_s else "") + ")")


def preset(engine: str) -> EnginePreset:
    return ENGINES.get(engine, ENGINES["vllm"])


def mixed_step(mb: ModelBytes, card: Card, engine: str, precision: str, decode_seqs: float, context: float,
               prefill_tokens: float = 0.0, prefill_context: float = 0.0, tp: int = 1) -> Step:
    """One forward of the engine: `decode_seqs` sequences each adding one token at `context` tokens of cache,
    plus `prefill_tokens` prompt tokens (a chunk) attending on average to `prefill_context` tokens."""
    p = preset(engine)
    g = card.gpu
    be = backend(g)
    precision = mb.precision or precision
    tokens = decode_seqs + prefill_tokens
    dense = mb.weight_bytes - mb.routed_bytes
    routed = mb.routed_bytes * (expected_experts(mb.experts, mb.experts_per_token, tokens) / mb.experts
                                if mb.experts else 0.0)
    window = min(context, mb.sliding_window) if mb.sliding_window else context
    kv = decode_seqs * (context * mb.kv_bytes_per_token + window * mb.sliding_kv_bytes_per_token
                        + mb.state_bytes_per_seq)
    memory_s = (dense + routed + kv) / tp / (g.bandwidth_gbps * 1e9 * p.bandwidth_efficiency(be))
    flops = tokens * mb.active_flops_per_token + mb.attn_flops_per_token_ctx * (
        decode_seqs * context + prefill_tokens * prefill_context)
    compute_s = flops / tp / (matmul_peak_tflops(g, engine, precision) * 1e12 * matmul_efficiency(engine, precision, be))
    overhead = p.step_overhead(be) + (p.layer_overhead_s + p.quant_layer_overhead_s.get(precision, 0.0)) * mb.layers \
        + p.seq_overhead(be) * decode_seqs
    comm = 0.0
    if tp > 1:
        # two all-reduces per layer of tokens x hidden 16-bit activations; a ring moves 2(t-1)/t of the buffer
        buf = tokens * mb.hidden * 2
        comm = 2 * mb.layers * (ALLREDUCE_LATENCY_S.get(card.link, ALLREDUCE_LATENCY_S["pcie"])
                                + 2 * (tp - 1) / tp * buf / (card.link_gbps * 1e9))
    work = max(memory_s, compute_s)
    return Step(work + overhead + comm, memory_s, compute_s, overhead, comm,
                "memory" if memory_s >= compute_s else "compute")


def decode_step(arch: Architecture, w: Workload, card: Card, batch: float, context: float, tp: int = 1) -> Step:
    return mixed_step(model_bytes(arch, w), card, w.engine, w.precision, batch, context, tp=tp)


def prefill_seconds(arch: Architecture, w: Workload, card: Card, prompt: int, batch: int = 1, tp: int = 1,
                    pp: int = 1) -> float:
    """Time to prefill `batch` prompts of `prompt` tokens on an idle replica, in the engine's chunks. A layer
    split (pp stages) passes each chunk through the stages one after another: 1/pp of the work per stage, pp
    stages - the time of the whole model at one card's rate, so pp does not enter."""
    mb = model_bytes(arch, w)
    chunk = max(1, min(preset(w.engine).prefill_chunk_tokens, prompt * batch))
    chunks = math.ceil(prompt * batch / chunk)
    # tokens attend, on average, to half their prompt (causal): the mean over the chunks
    step = mixed_step(mb, card, w.engine, w.precision, 0, 0, chunk, prompt / 2, tp)
    last = prompt * batch - (chunks - 1) * chunk
    if last == chunk:
        return chunks * step.seconds
    tail = mixed_step(mb, card, w.engine, w.precision, 0, 0, last, prompt / 2, tp)
    return (chunks - 1) * step.seconds + tail.seconds


@dataclass(frozen=True)
class DecodeRate:
    itl_s: float                      # time between two tokens of one sequence
    tokens_per_s: float               # all sequences of the replica
    step: Step


def decode_rate(arch: Architecture, w: Workload, card: Card, batch: int, context: float, tp: int = 1,
                pp: int = 1, prompt_tokens_per_step: float = 0.0, prompt_len: int = 0) -> DecodeRate:
    """Steady-state decode of `batch` sequences on one replica of tp x pp cards. With continuous batching the
    steps also carry `prompt_tokens_per_step` of new prompts (chunked prefill). A layer split of pp stages
    reads 1/pp of the bytes per stage; the stages take turns for a batch (llama.cpp, MLX, HF), while vLLM keeps
    pp micro-batches in flight, so each stage works on batch/pp sequences at a time."""
    mb = model_bytes(arch, w)
    p = preset(w.engine)
    split = mb if pp == 1 else _scaled(mb, 1.0 / pp)
    if pp > 1 and p.continuous_batching and w.engine in INFLIGHT_ENGINES:
        micro = max(batch / pp, 1.0)
        st = mixed_step(split, card, w.engine, w.precision, micro, context, prompt_tokens_per_step / pp,
                        prompt_len / 2, tp)
        itl = st.seconds * pp
        return DecodeRate(itl, batch / itl, st)
    st = mixed_step(split, card, w.engine, w.precision, batch, context, prompt_tokens_per_step, prompt_len / 2, tp)
    itl = st.seconds * pp
    return DecodeRate(itl, batch / itl, st)


def _scaled(mb: ModelBytes, f: float) -> ModelBytes:
    from dataclasses import replace
    return replace(mb, weight_bytes=mb.weight_bytes * f, routed_bytes=mb.routed_bytes * f,
                   active_flops_per_token=mb.active_flops_per_token * f,
                   attn_flops_per_token_ctx=mb.attn_flops_per_token_ctx * f,
                   kv_bytes_per_token=mb.kv_bytes_per_token * f,
                   sliding_kv_bytes_per_token=mb.sliding_kv_bytes_per_token * f, layers=max(1, round(mb.layers * f)),
                   state_bytes_per_seq=mb.state_bytes_per_seq * f)


# ---------------------------------------------------------------------------------------------------
# Validation cases (validation/throughput-inference.json, validation/serving-cases.json)

STACK_ENGINE = {"llama.cpp": "llama.cpp", "vllm": "vllm", "sglang": "vllm", "tensorrt-llm": "tensorrt-llm",
                "mlx": "mlx", "mlx-lm": "mlx", "transformers": "transformers", "hf": "transformers"}
PRECISION_OF = {"mlx-4bit": "int4", "mlx-8bit": "int8", "4bit": "int4", "8bit": "int8", "f16": "fp16", "bf16-mixed": "bf16",
                "fp8-dynamic": "fp8", "w8a8-fp8": "fp8", "awq-int4": "awq", "gptq-int4": "gptq"}


# Published hardware the catalogue lists under another entry with the same memory bandwidth and compute (the
# memory size does not enter the time): an M2 Ultra of any memory size, AWS's A10G (600 GB/s like the A10).
HARDWARE_ALIASES = {"m2 ultra": "mac-studio-m2-ultra-192gb", "a10g": "a10"}


class CaseError(ValueError):
    """A validation case the model cannot express (unknown card, model or format)."""


def case_parts(case: dict):
    """(architecture, workload, card, tp, pp) of a published case; CaseError when it cannot be expressed."""
    from planner.catalog import load_catalog
    from planner.data import builtin_registry
    from planner.errors import InputError
    engine = STACK_ENGINE.get(str(case.get("stack", "")).lower())
    if engine is None:
        raise CaseError(f"stack {case.get('stack')!r} has no engine preset")
    cat = _catalog()
    gname = str(case.get("gpu") or "").lower()
    if not gname:
        hw = str(case.get("hardware") or "").lower()
        gname = next((name for pat, name in HARDWARE_ALIASES.items() if pat in hw), "")
    if gname not in cat.gpus:
        raise CaseError(f"gpu {case.get('gpu')!r} not catalogued")
    g = cat.gpus[gname]
    try:
        arch, _ = builtin_registry().resolve(str(case["model"]))
    except (InputError, KeyError) as e:
        raise CaseError(f"model {case.get('model')!r} is not a built-in model") from None
    prec = str(case.get("precision") or "bf16").lower()
    prec = PRECISION_OF.get(prec, prec)
    if engine == "mlx" and prec in ("q4_0", "q4_k_m"):
        prec = "int4"
    # TensorRT-LLM's published FP8/NVFP4 runs load NVIDIA ModelOpt checkpoints, whose hf_quant_config sets
    # kv_cache_quant_algo FP8, and KvCacheConfig dtype "auto" takes the checkpoint's (0.x builds: --fp8_kv_cache)
    kv = "fp8" if engine == "tensorrt-llm" and prec in ("fp8", "nvfp4") else "auto"
    try:
        w = Workload(method="inference", engine=engine, precision=prec, kv_cache_dtype=kv,
                     batch_size=max(1, int(case.get("batch_size") or case.get("concurrency") or 1)),
                     seq_len=max(1, int(case.get("seq_len") or 1)), new_tokens=int(case.get("new_tokens") or 0))
        model_bytes(arch, w)
    except Exception as e:                       # a format the engine's estimator does not take
        raise CaseError(f"workload: {str(e).splitlines()[-1] if 'validation error' not in str(e) else prec}"
                        f" not expressible") from None
    tp = int(case.get("tensor_parallel") or 1)
    pp = int(case.get("pipeline_parallel") or 1)
    gpus = int(case.get("gpus") or 1)
    if tp * pp < gpus and engine not in INFLIGHT_ENGINES:
        pp = max(pp, gpus // tp)                 # llama.cpp / MLX split layers over the cards given
    inter = str(case.get("interconnect") or "").lower()
    link = "nvlink" if ("nvlink" in inter or "nvswitch" in inter or "sxm" in inter or "infinity" in inter) else "pcie"
    gbps = g.nvlink.bandwidth_gbps if (link == "nvlink" and g.nvlink) else PCIE_ALLREDUCE_GBPS
    return arch, w, Card(g, link if gbps != PCIE_ALLREDUCE_GBPS else "pcie", gbps), tp, pp


def case_superseded(case: dict) -> str:
    """'' when a published case ran the software generation the presets stand for; else the date from which that
    generation counts (engines.CURRENT_SOFTWARE_SINCE, read against the case's `software_date`)."""
    from planner.throughput.engines import superseded_since
    g = _catalog().gpus.get(str(case.get("gpu") or "").lower())
    if g is None:
        return ""
    return superseded_since(str(case.get("stack") or "").lower(), backend(g), case.get("software_date"))


@lru_cache(maxsize=1)
def _catalog():
    from planner.catalog import load_catalog
    return load_catalog()


# Largest batch an engine schedules when a published throughput run does not state it: TensorRT-LLM's
# trtllm-build max_batch_size default (2048); vLLM and others: the preset's max_seqs.
ENGINE_MAX_BATCH = {"tensorrt-llm": 2048}


def kv_capacity_batch(arch: Architecture, w: Workload, g: GPU, tp: int, pp: int) -> float:
    """Sequences of seq_len + new_tokens whose KV cache fits beside the weights on tp x pp cards (the estimator's
    per-sequence cache and fixed needs, the engine's usable share of each card)."""
    from planner.configs import usable_bytes
    from planner.estimator import estimate
    n = tp * pp
    w1 = w.replace(batch_size=1, gpus=n, parallel="tensor" if tp > 1 else ("pipeline" if pp > 1 else "auto"))
    e = estimate(arch, w1)
    kv = e.breakdown.get("kv_cache", 0) + e.kv_slack_bytes
    room = usable_bytes(g, 0.0, w.engine, w.gpu_memory_utilization) - e.total_bytes
    if kv <= 0:
        return float(preset(w.engine).max_seqs)
    return max(0.0, 1 + room / kv)


def predict_case(case: dict) -> float:
    """The model's value of a validation case's `metric` (same unit as the published `value`)."""
    arch, w, card, tp, pp = case_parts(case)
    metric = case["metric"]
    stack = str(case.get("stack", "")).lower()
    b, prompt, new = w.batch_size, w.seq_len, w.new_tokens
    if metric == "prefill_tokens_per_s":
        return prompt * b / prefill_seconds(arch, w, card, prompt, b, tp, pp)
    if metric in ("decode_tokens_per_s", "decode_tokens_per_s_total") and not (
            case.get("rate_rps") and w.engine in INFLIGHT_ENGINES):
        # llama-bench tg runs from an empty cache (context 0..new_tokens); batched-bench and serving runs after
        # a prompt of seq_len: the mean context is the prompt plus half the output
        ctx = (prompt if prompt > 1 else 0) + max(new, 1) / 2
        r = decode_rate(arch, w, card, b, ctx, tp, pp)
        return r.tokens_per_s if metric == "decode_tokens_per_s_total" else r.tokens_per_s / b
    if metric == "ttft_s" and (w.engine not in INFLIGHT_ENGINES or (b == 1 and not case.get("rate_rps"))):
        # llama-batched-bench / static batches: the batch's prompts together; one request alone: its prompt
        return prefill_seconds(arch, w, card, prompt, b, tp, pp) + decode_step(arch, w, card, b, prompt, tp).seconds
    if metric in ("ttft_s", "itl_s", "output_tokens_per_s", "requests_per_s", "tokens_per_s", "tokens_per_s_per_gpu",
                  "decode_tokens_per_s", "decode_tokens_per_s_total"):
        if not case.get("seq_len") or not case.get("new_tokens"):
            raise CaseError("serving case without prompt and output lengths")
        from planner.serving import Load, replica_at
        rate, users = case.get("rate_rps"), case.get("concurrency")
        # data-parallel copies: cards beyond one tp x pp replica (NVIDIA's MLPerf v4.1 DGX H100 Llama 2 70B runs
        # "tensor_parallelism = 2" on 8 GPUs: four engines) share the system's request rate and clients, and add
        # their throughput
        replicas = max(1, int(case.get("gpus") or 1) // (tp * pp))
        if rate is not None:
            rate = float(rate) / replicas
        if users is not None:
            users = math.ceil(int(users) / replicas)
        cap = ENGINE_MAX_BATCH.get(stack)
        if users is None and rate is None:
            if case.get("batch_size"):
                users = cap = int(case["batch_size"])       # an offline run configured for that many sequences
            else:
                users = min(kv_capacity_batch(arch, w, card.gpu, tp, pp),
                            ENGINE_MAX_BATCH.get(stack, preset(w.engine).max_seqs))
        load = Load(rate_rps=float(rate) if rate is not None else None, users=int(users) if users else None,
                    prompt_tokens=prompt, new_tokens=max(new, 1))
        op = replica_at(arch, w, card, tp, pp, load, max_seqs=cap)
        return {"ttft_s": op.ttft_s, "itl_s": op.itl_s, "output_tokens_per_s": op.output_tokens_per_s * replicas,
                "tokens_per_s": op.output_tokens_per_s * replicas,
                "tokens_per_s_per_gpu": op.output_tokens_per_s / (tp * pp),
                "requests_per_s": op.rate_rps * replicas, "decode_tokens_per_s": 1 / op.itl_s,
                "decode_tokens_per_s_total": op.batch / op.itl_s * replicas}[metric]
    raise CaseError(f"metric {metric!r} is not an inference metric")
