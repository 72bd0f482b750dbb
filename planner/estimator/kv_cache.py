"""KV-cache element sizes and per-token widths, as each serving engine stores the cache.

Dtypes (bytes per cached element):
  fp32 4, fp16/bf16 2
  fp8   1       vLLM --kv-cache-dtype fp8 (e4m3/e5m2; per-tensor scales, negligible)
  q8_0  34/32   llama.cpp -ctk/-ctv q8_0: block_q8_0 = fp16 scale + 32 int8 (ggml-common.h)
  q4_0  18/32   llama.cpp -ctk/-ctv q4_0: block_q4_0 = fp16 scale + 16 bytes of nibbles
MLX's QuantizedKVCache (mlx_lm/models/cache.py, --kv-bits 8|4, group 64) packs `bits` per element plus a
16-bit scale and bias per 64 elements: 8.5 and 4.5 bits, the same sizes as q8_0 / q4_0 to within 1%.
"""
from __future__ import annotations

from planner.architecture import Architecture
from planner.errors import InputError

KV_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
MLX_KV_BYTES = {"q8_0": (8 + 32 / 64) / 8, "q4_0": (4 + 32 / 64) / 8}

# What each engine can store (an unsupported choice is an input error, not a silent substitution)
ENGINE_KV_DTYPES = {
    "transformers": ("fp32", "fp16", "bf16"),
    "vllm": ("fp16", "bf16", "fp8"),                   # fp8 = fp8_e4m3 / fp8_e5m2
    "sglang": ("fp16", "bf16", "fp8"),                 # --kv-cache-dtype fp8_e5m2 / fp8_e4m3
    "tensorrt-llm": ("fp16", "bf16", "fp8"),           # KvCacheConfig dtype "fp8" (FP8 KV cache quantisation)
    "llama.cpp": ("fp32", "fp16", "bf16", "q8_0", "q4_0"),
    "mlx": ("fp32", "fp16", "bf16", "q8_0", "q4_0"),   # q8_0 / q4_0 stand for --kv-bits 8 / 4
}


def kv_dtype(engine: str, requested: str, compute_bytes: int = 2) -> tuple[str, float]:
    """(name, bytes per element) of the KV cache; auto = the engine's default (llama.cpp: f16; vLLM, MLX
    and transformers: the model's compute dtype)."""
    if requested == "auto":
        if engine == "llama.cpp":
            return "fp16", 2.0
        return ("fp32", 4.0) if compute_bytes == 4 else ("bf16", 2.0)
    if requested not in ENGINE_KV_DTYPES[engine]:
        raise InputError(f"--kv-cache-dtype {requested} is not available with --engine {engine}; "
                         f"choose one of {', '.join(ENGINE_KV_DTYPES[engine])} (or auto)")
    if engine == "mlx" and requested in MLX_KV_BYTES:
        return requested, MLX_KV_BYTES[requested]
    return requested, KV_BYTES[requested]


def kv_elements_per_token_layer(arch: Architecture, engine: str) -> int:
    """K plus V elements cached per token in one full-attention layer.

    MLA (DeepSeek-V2/V3): vLLM/SGLang and llama.cpp cache the compressed latent; vLLM stores
    kv_lora_rank + rope dims once (V is read from the same latent), llama.cpp keeps K = latent + rope and
    V = latent (src/llama-model.cpp n_embd_head_k_mla / n_embd_head_v_mla). transformers caches the
    decompressed per-head K and V (Architecture.kv_bytes_per_token)."""
    if arch.is_mla:
        if engine == "vllm":
            return arch.kv_lora_rank + arch.qk_rope_head_dim
        if engine == "llama.cpp":
            return 2 * arch.kv_lora_rank + arch.qk_rope_head_dim
        return arch.kv_bytes_per_token // arch.num_layers
    return 2 * arch.kv_dim


def paged_cache_layers(arch: Architecture) -> int:
    """Layers that hold a cache slot for every text token in vLLM's and SGLang's pools: the self-attention layers and
    mllama's cross-attention layers too. vLLM (the V0 engine, which serves mllama as an encoder-decoder model) sizes a
    block over every attention layer (worker/cache_engine.py get_cache_block_size: num_attention_layers = the text
    config's num_hidden_layers, x block_size x (K + V)) and gives each layer's cache the same blocks; SGLang's
    MHATokenToKVPool has layer_num = num_hidden_layers buffers of the pool's size. The cross-attention layers' slots
    at text positions stay unused; the image tokens' K/V take slots of their own (not modelled: no images)."""
    return arch.full_attention_layers + arch.cross_attn_layers


def sliding_layers(arch: Architecture) -> int:
    """Layers whose cache only needs the window (Gemma 2/3 declare them per layer; vLLM's hybrid
    allocator, llama.cpp's iSWA cache and transformers all keep only the window there)."""
    return arch.sliding_layers if arch.uses_sliding_cache else 0


def recurrent_state_bytes(arch: Architecture, engine: str, sequences: int, compute_bytes: int = 2) -> int:
    """Hybrid models: the fixed-size state of every linear-attention (Gated DeltaNet) layer, per sequence, that takes
    the place of their KV cache (Architecture.recurrent_state_elements). Dtypes as each engine keeps them:
      vLLM / SGLang  mamba_ssm_cache_dtype and the conv state "auto": the model dtype
      transformers   torch_chunk_gated_delta_rule computes in float32 and returns last_recurrent_state in float32;
                     the conv state is kept in the model dtype (Qwen3NextDynamicCache)
      llama.cpp      llama_memory_recurrent allocates its r (conv) and s (state) tensors as GGML_TYPE_F32"""
    rec, conv = arch.recurrent_state_elements
    if not rec:
        return 0
    if engine == "llama.cpp":
        rec_b, conv_b = 4, 4
    elif engine == "transformers":
        rec_b, conv_b = 4, compute_bytes
    else:
        rec_b, conv_b = compute_bytes, compute_bytes
    return int(sequences * arch.linear_attn_layers * (rec * rec_b + conv * conv_b))


def hybrid_block_tokens(arch: Architecture, kv_bytes: float, alignment: int = 16) -> int:
    """vLLM's hybrid allocator gives attention and mamba layers pages of one size: the attention block grows to
    alignment x cdiv(mamba_page, alignment x attention page per token) tokens (config.py
    HybridAttentionMambaModelConfig.verify_and_update_config, "Setting attention block size to ... tokens to ensure
    that attention page size is >= mamba page size"); 0 for non-hybrids."""
    rec, conv = arch.recurrent_state_elements
    if not rec:
        return 0
    mamba_page = (rec + conv) * kv_bytes
    per_token = kv_elements_per_token_layer(arch, "vllm") * kv_bytes
    return alignment * -(-int(mamba_page) // int(alignment * per_token))
