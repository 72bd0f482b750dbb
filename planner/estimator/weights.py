"""Weights as loaded (16-bit, bitsandbytes int8/nf4) and the LoRA adapters peft adds."""
from __future__ import annotations

import math

from planner.architecture import Architecture
from planner.estimator.numerics import Numerics

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
    """Bytes of the model's parameters as loaded (before any LoRA adapters). A multimodal checkpoint's vision
    tower and projector (Architecture.extra_params) load beside the language model, in 16-bit (or the float
    dtype), and are not trained."""
    extra = int(getattr(arch, "extra_params", 0) or 0) * (nx.master_bytes if not nx.quant else 2)
    if not nx.quant:
        return arch.params * nx.master_bytes + extra
    linear_numel = 0
    quant_bytes = 0
    # Axolotl's quantize_moe_experts (monkeypatch moe_quant: patch_moe_quantization_on_load) quantises the fused
    # 3-D expert parameters as they load; plain transformers + bitsandbytes leaves them 16-bit
    for _, i, o, count in arch.linear_layers(include_routed_experts=nx.quant_experts):
        if _ == "router":
            continue                                # bitsandbytes skips MoE routers (tiny, kept in bf16)
        linear_numel += i * o * count
        quant_bytes += quantised_linear_bytes(i * o, o, nx.quant) * count
    # embeddings, lm_head, norms, biases, routers and fused MoE experts stay 16-bit (fp32 after QLoRA prep)
    rest = arch.params - linear_numel
    return quant_bytes + rest * nx.master_bytes + extra


# ---------------------------------------------------------------------------------------------------
# LoRA

_LORA_ALIASES = {"q_a_proj": "q_proj", "q_b_proj": "q_proj", "kv_a_proj_with_mqa": "k_proj", "kv_b_proj": "v_proj"}
_LORA_MODULES: dict[tuple, tuple] = {}     # (architecture, targets) -> modules: an estimate reads them twice


def lora_modules(arch: Architecture, targets: tuple[str, ...]) -> tuple[tuple[str, int, int, int], ...]:
    """(name, in, out, count) of the linear layers LoRA wraps; all-linear wraps experts too (peft)."""
    key = (arch, targets)
    hit = _LORA_MODULES.get(key)
    if hit is None:
        hit = tuple((name, i, o, count) for name, i, o, count in arch.linear_layers()
                    if name != "router" and _LORA_ALIASES.get(name, name) in targets)
        if len(_LORA_MODULES) >= 4096:
            _LORA_MODULES.clear()
        _LORA_MODULES[key] = hit
    return hit


def lora_params(arch: Architecture, rank: int, targets: tuple[str, ...]) -> int:
    return sum(rank * (i + o) * count for _, i, o, count in lora_modules(arch, targets))



def _largest_linear_numel(arch: Architecture) -> int:
    return max(i * o for n, i, o, _ in arch.linear_layers() if n != "router")


def _quant_matmul_temp(arch: Architecture, nx: Numerics, tokens: int) -> int:
    """Transient memory of a quantised matmul on more than one token."""
    if nx.quant == "nf4" and tokens > 1:
        # bnb matmul_4bit dequantises the whole weight to bf16 unless the input is a single token (gemv)
        return 2 * _largest_linear_numel(arch)
    return 0




# ---------------------------------------------------------------------------------------------------
# Serving weight formats (vLLM, llama.cpp, MLX): bytes as the checkpoint stores them and the engine loads them

def _all_linears(arch: Architecture) -> list[tuple[str, int, int, int]]:
    """Every quantizable matmul weight (routed experts included; routers excluded) as (name, in, out, count)."""
    return [(n, i, o, c) for n, i, o, c in arch.linear_layers(include_routed_experts=True) if n != "router"]


def fp8_linear_bytes(numel: int, in_f: int, out_f: int, block_scales: bool) -> int:
    """FP8 (e4m3) weight: 1 byte per weight plus fp32 scales. llm-compressor / vLLM FP8 checkpoints carry one
    scale per output channel (or per tensor); DeepSeek-V3 ships 128x128 block scales (weight_scale_inv)."""
    if block_scales:
        return numel + 4 * math.ceil(in_f / 128) * math.ceil(out_f / 128)
    return numel + 4 * out_f


def int4_group_linear_bytes(numel: int, in_f: int, out_f: int, fmt: str, group: int = 128) -> int:
    """AWQ (AutoAWQ GEMM) / GPTQ (AutoGPTQ) 4-bit: int32-packed nibbles, and per group of 128 input rows an
    fp16 scale and a 4-bit zero point for every output column (qzeros packed 8 per int32); GPTQ also stores
    g_idx, one int32 per input row. 4 + 16/128 + 4/128 = 4.16 bits per weight (plus 32/out_f for GPTQ)."""
    groups = math.ceil(in_f / group)
    b = numel // 2 + groups * out_f * 2 + groups * out_f // 2
    if fmt == "gptq":
        b += 4 * in_f
    return b


def mlx_linear_bytes(numel: int, bits: int, group: int = 64) -> int:
    """MLX affine quantisation (mx.quantize, mlx_lm convert -q): `bits` per weight packed in uint32, plus a
    16-bit scale and bias per group of 64: 4.5 bits per weight at 4-bit, 8.5 at 8-bit."""
    return numel * bits // 8 + 2 * 2 * math.ceil(numel / group)


MLX_BITS = {"int4": 4, "nf4": 4, "int8": 8}

# 4-bit floating point (E2M1) with a shared scale per block of consecutive weights along the input dimension:
# - MXFP4 (OCP Microscaling Formats v1.0, section 5.3): one E8M0 (8-bit power-of-two) scale per 32 values,
#   32 x 4 + 8 = 136 bits per block = 4.25 bits per weight (gpt-oss *_blocks uint8 [.., in/32, 16] + *_scales uint8
#   [.., in/32]; ggml block_mxfp4 { e; qs[16] }: 17 bytes per 32)
# - NVFP4 (NVIDIA ModelOpt, vLLM modelopt.py ModelOptNvFp4LinearMethod): one FP8 E4M3 scale per 16 values
#   (weight_scale) plus one fp32 per tensor (weight_scale_2) and the activation's fp32 input_scale:
#   16 x 4 + 8 = 72 bits per 16 = 4.5 bits per weight (ggml block_nvfp4: 64 values in 36 bytes, the same 4.5)
FP4_BLOCK = {"mxfp4": (32, 1), "nvfp4": (16, 1)}          # (values per scale, scale bytes)
FP4_TENSOR_BYTES = {"mxfp4": 0, "nvfp4": 8}               # NVFP4: weight_scale_2 + input_scale, fp32 each


def fp4_linear_bytes(numel: int, fmt: str) -> int:
    """Bytes of one FP4 weight tensor: packed nibbles, the block scales and NVFP4's per-tensor scales."""
    block, scale = FP4_BLOCK[fmt]
    return numel // 2 + scale * math.ceil(numel / block) + FP4_TENSOR_BYTES[fmt]


def fp4_bits_per_weight(fmt: str) -> float:
    block, scale = FP4_BLOCK[fmt]
    return 4 + 8 * scale / block


def fp4_quantised_linears(arch: Architecture, fmt: str) -> list[tuple[str, int, int, int]]:
    """The matmul weights an FP4 checkpoint stores in FP4, as (name, in, out, count); everything else stays 16-bit.

    mxfp4: the MoE experts only. gpt-oss's quantization_config keeps self_attn, the router, embed_tokens and lm_head
    in bf16 (modules_to_not_convert), and vLLM's Mxfp4Config gives every LinearBase an UnquantizedLinearMethod and
    only FusedMoE the Mxfp4MoEMethod (vllm/model_executor/layers/quantization/mxfp4.py); transformers' Mxfp4HfQuantizer
    replaces only GptOssExperts. A dense model has no such weights.
    nvfp4: every linear layer of the decoder (attention, MLP, routed and shared experts); ModelOpt's exclude_modules
    keeps lm_head and MoE routers (mlp.gate) 16-bit, and embeddings are not linear layers."""
    if fmt == "mxfp4":
        if not arch.is_moe:
            return []
        n = arch.moe_layers * arch.num_experts
        return [(name, i, o, n) for name, i, o in arch.mlp_linears(arch.expert_intermediate_size)]
    return _all_linears(arch)


def serving_weight_bytes(arch: Architecture, precision: str, engine: str) -> tuple[int, str]:
    """Weight bytes of `arch` in a serving format, and a one-line description with its source.

    Float precisions are 2 or 4 bytes per parameter. GGUF types are summed tensor by tensor (see gguf.py).
    Non-matmul parameters (embeddings, lm_head, norms, biases) stay 16-bit in FP8/AWQ/GPTQ checkpoints;
    MLX quantises the embedding and an untied lm_head too (every module with to_quantized whose last
    dimension divides by the group size: mlx_lm.utils.quantize_model)."""
    from planner.estimator.gguf import FTYPE_DEFAULT, gguf_model
    p = precision
    extra = int(getattr(arch, "extra_params", 0) or 0)         # vision tower etc.: kept 16-bit
    if p in ("fp32",):
        return (arch.params + extra) * 4, "fp32 weights"
    if p in ("fp16", "bf16", "fp16-mixed", "bf16-mixed"):
        return (arch.params + extra) * 2, f"{p} weights"
    linears = _all_linears(arch)
    linear_numel = sum(i * o * c for _, i, o, c in linears)
    rest = arch.params - linear_numel
    if p in FP4_BLOCK and engine != "llama.cpp":
        quantised = fp4_quantised_linears(arch, p)
        q_numel = sum(i * o * c for _, i, o, c in quantised)
        q = sum(fp4_linear_bytes(i * o, p) * c for _, i, o, c in quantised)
        which = ("MoE experts" if p == "mxfp4" else "linear layers (attention, MLP, experts)")
        rest16 = "attention, router, embeddings, lm_head" if p == "mxfp4" else "embeddings, lm_head, routers, norms"
        return q + 2 * (arch.params - q_numel + extra), (
            f"{p.upper()} {which}: E2M1 + {'E8M0 scale per 32' if p == 'mxfp4' else 'FP8 E4M3 scale per 16'} "
            f"({fp4_bits_per_weight(p):g} bits per weight); {rest16} 16-bit")
    if p in FTYPE_DEFAULT:
        m = gguf_model(arch, p)
        types = ", ".join(f"{n} {t}" for t, n in sorted(m.types.items(), key=lambda kv: -kv[1]))
        return m.total + 2 * extra, (f"GGUF {p.upper()}: tensors {types} (llama.cpp llama_tensor_get_type rules, "
                                     "ggml block sizes)")
    if p == "fp8":
        block = arch.family == "deepseek_v3"
        q = sum(fp8_linear_bytes(i * o, i, o, block) * c for _, i, o, c in linears)
        how = "128x128 block fp32 scales (DeepSeek-V3 checkpoint)" if block else "per-channel fp32 scales"
        return q + 2 * (rest + extra), f"FP8 e4m3 linear weights, {how}; embeddings and lm_head 16-bit"
    if p in ("awq", "gptq"):
        q = sum(int4_group_linear_bytes(i * o, i, o, p) * c for _, i, o, c in linears)
        return q + 2 * (rest + extra), (f"{p.upper()} 4-bit, group 128 (fp16 scales, 4-bit zeros): ~4.16 bits per "
                                        "weight; embeddings, lm_head and norms 16-bit")
    if engine == "mlx" and p in MLX_BITS:
        bits = MLX_BITS[p]
        q = sum(mlx_linear_bytes(i * o, bits) * c for _, i, o, c in linears)
        emb = arch.embedding_params          # nn.Embedding (wte, a learned wpe) has to_quantized too
        q += mlx_linear_bytes(emb, bits) if arch.hidden_size % 64 == 0 else 2 * emb
        other = arch.params - linear_numel - emb
        return q + 2 * (other + extra), (f"MLX {bits}-bit affine, group 64, bf16 scale + bias per group "
                                         f"({bits + 0.5} bits per weight; embeddings quantised too)")
    raise ValueError(p)


def fp4_split_bytes(arch: Architecture, precision: str, engine: str) -> tuple[float, float] | None:
    """(routed-expert bytes, input-embedding bytes) of a model in an FP4 format, whose experts and embeddings are
    not at the model's average bits per weight (gpt-oss on vLLM: experts 4.25 bits, embeddings 16); None for other
    formats. llama.cpp: the GGUF's ffn_*_exps tensors and token_embd (MXFP4_MOE: MXFP4 experts, Q8_0 token_embd)."""
    if precision not in FP4_BLOCK:
        return None
    if engine == "llama.cpp":
        from planner.estimator.gguf import gguf_model
        m = gguf_model(arch, precision)
        return float(sum(m.experts)), float(m.token_embd)
    routed = 0.0
    if arch.is_moe:
        n = arch.moe_layers * arch.num_experts
        f = arch.expert_intermediate_size
        routed = float(sum(fp4_linear_bytes(i * o, precision) * n for _, i, o in arch.mlp_linears(f)))
        if arch.expert_bias:                     # bf16 biases beside the FP4 blocks
            routed += 2.0 * n * ((2 * f if arch.gated_mlp else f) + arch.hidden_size)
    return routed, 2.0 * arch.vocab_size * arch.hidden_size


def stored_weights(arch: Architecture, precision: str, engine: str) -> tuple[str, int]:
    """(format to model, exact stored bytes or 0) from what the checkpoint's headers say.

    Architecture.stored_weight_bytes / stored_format (read from a GGUF's tensor infos or safetensors headers, or a
    built-in's stored_format: gpt-oss ships MXFP4 experts) are used when the requested precision is the stored
    format, or when the precision is left at the inference default (bf16): an engine serves a checkpoint as it is
    stored (a GGUF file, an FP8, AWQ or MXFP4 checkpoint, an MLX 4-bit conversion). Without exact bytes the stored
    format's bytes are computed."""
    from planner.estimator.gguf import FTYPE_DEFAULT
    stored = int(getattr(arch, "stored_weight_bytes", 0) or 0)
    fmt = str(getattr(arch, "stored_format", "") or "").lower()
    if not stored and not fmt:
        return precision, 0
    fmt = {"mlx-4bit": "int4", "mlx-8bit": "int8", "4bit": "int4", "8bit": "int8", "f16": "fp16",
           "float16": "fp16", "bfloat16": "bf16"}.get(fmt, fmt)
    # "vllm" stands for the engines sized as vLLM loads weights (vLLM, SGLang, TensorRT-LLM: engines.vllm_weight_bytes)
    loadable = {"vllm": ("fp8", "awq", "gptq", "mxfp4", "nvfp4", "bf16", "fp16", "fp32"),
                "llama.cpp": tuple(FTYPE_DEFAULT) + ("bf16", "fp16", "fp32"),
                "mlx": ("int4", "int8", "bf16", "fp16", "fp32")}.get(engine, ("bf16", "fp16", "fp32"))
    if fmt == precision or (not fmt and precision in ("bf16", "fp16")):
        return precision, stored
    if precision == "bf16" and fmt in loadable:
        return fmt, stored
    return precision, 0
