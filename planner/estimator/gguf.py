"""GGUF weight files (llama.cpp): ggml block sizes and the per-tensor type mix of each llama.cpp file type.

A GGUF "file type" such as Q4_K_M is not one format but a recipe: llama.cpp's quantizer
(src/llama-quant.cpp, `llama_tensor_get_type_impl`) picks a ggml type per tensor from its role (attn_v,
ffn_down, output, ...) and its layer index. `tensor_types()` reproduces those rules for the tensors of a
decoder-only Architecture so that the model buffer is summed tensor by tensor, as llama.cpp allocates it.

Block structures: ggml/src/ggml-common.h (QK_K = 256 super-blocks for the k-quants and i-quants).
"""
from __future__ import annotations

from dataclasses import dataclass

from planner.architecture import Architecture

# ggml type -> (elements per block, bytes per block), from the block_* structs in ggml-common.h
GGML_BLOCKS: dict[str, tuple[int, int]] = {
    "f32": (1, 4),
    "f16": (1, 2),
    "bf16": (1, 2),
    "q8_0": (32, 34),      # fp16 d + 32 x int8                                   8.5 bits
    "q4_0": (32, 18),      # fp16 d + 16 bytes of nibbles                         4.5 bits
    "q4_1": (32, 20),      # fp16 d, m + 16 bytes                                 5.0 bits
    "q5_0": (32, 22),      # fp16 d + 4 bytes high bits + 16 bytes                5.5 bits
    "q5_1": (32, 24),      # fp16 d, m + qh[4] + qs[16]                           6.0 bits
    "q2_k": (256, 84),     # scales[16] + qs[64] + fp16 d, dmin                   2.625 bits
    "q3_k": (256, 110),    # hmask[32] + qs[64] + scales[12] + fp16 d             3.4375 bits
    "q4_k": (256, 144),    # fp16 d, dmin + scales[12] + qs[128]                  4.5 bits
    "q5_k": (256, 176),    # fp16 d, dmin + scales[12] + qh[32] + qs[128]         5.5 bits
    "q6_k": (256, 210),    # ql[128] + qh[64] + scales[16] + fp16 d               6.5625 bits
    "iq4_xs": (256, 136),  # fp16 d + scales_h + scales_l[4] + qs[128]            4.25 bits
    "iq4_nl": (32, 18),    # fp16 d + qs[16]                                      4.5 bits
    "iq3_s": (256, 110),   # fp16 d + qs[64] + qh[8] + signs[32] + scales[4]      3.4375 bits
    "iq3_xxs": (256, 98),  # fp16 d + qs[96]                                      3.0625 bits
    "iq2_s": (256, 82),    # fp16 d + qs[64] + qh[8] + scales[8]                  2.5625 bits
    "iq2_xxs": (256, 66),  # fp16 d + qs[32 x uint16]                             2.0625 bits
    "mxfp4": (32, 17),     # E8M0 e + qs[16] (E2M1 nibbles), GGML type 39         4.25 bits
    "nvfp4": (64, 36),     # 4 x FP8 E4M3 d (one per 16) + qs[32], GGML type 40   4.5 bits
}

# llama_model_quantize_impl: the default ggml type of each file type (LLAMA_FTYPE_MOSTLY_*)
FTYPE_DEFAULT = {
    "q8_0": "q8_0", "q6_k": "q6_k", "q5_k_m": "q5_k", "q5_k_s": "q5_k", "q5_0": "q5_0", "q4_k_m": "q4_k",
    "q4_k_s": "q4_k", "q4_0": "q4_0", "iq4_xs": "iq4_xs", "q3_k_m": "q3_k", "q3_k_s": "q3_k", "q2_k": "q2_k",
    "iq3_xxs": "iq3_xxs", "iq2_xxs": "iq2_xxs",
    "mxfp4": "mxfp4",      # LLAMA_FTYPE_MOSTLY_MXFP4_MOE (38): see tensor_type
    "nvfp4": "nvfp4",      # LLAMA_FTYPE_MOSTLY_NVFP4 (39): every 2-D tensor NVFP4 "except 1d tensors"
}
# tensor_type_fallback: a row length that is not a multiple of the block size falls back to a 32-block type
_FALLBACK = {"iq2_xxs": "iq4_nl", "iq3_xxs": "iq4_nl", "iq3_s": "iq4_nl", "iq2_s": "iq4_nl", "iq4_xs": "iq4_nl",
             "q2_k": "q4_0", "q3_k": "q4_0", "q4_k": "q5_0", "q5_k": "q5_1", "q6_k": "q8_0"}
# i-quants are made with an importance matrix (llama-quantize refuses IQ2/IQ3_XXS without one); the
# classic and k-quant types are taken as quantized without one (llama-quantize's default)
_IMATRIX = ("iq4_xs", "iq3_xxs", "iq2_xxs")


def bits_per_weight(ggml_type: str) -> float:
    n, b = GGML_BLOCKS[ggml_type]
    return 8 * b / n


def tensor_bytes(ggml_type: str, rows: int, cols: int) -> int:
    """ggml_row_size(type, cols) x rows: every row is a whole number of blocks."""
    n, b = GGML_BLOCKS[ggml_type]
    return rows * (cols // n) * b


def _use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _category(name: str) -> str:
    return {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
            "kv_b_proj": "attn_kv_b", "gate_proj": "ffn_gate", "up_proj": "ffn_up",
            "down_proj": "ffn_down"}.get(name, "other")


def tensor_type(ftype: str, arch: Architecture, category: str, i_layer: int = 0) -> str:
    """llama_tensor_get_type_impl (src/llama-quant.cpp) for the tensor roles of a decoder-only model.

    category: token_embd, output, attn_q, attn_k, attn_v (and attn_kv_b), attn_output, ffn_gate, ffn_up,
    ffn_down, other. i_layer: the tensor's layer (counters i_attention_wv / i_ffn_down run over layers)."""
    t = FTYPE_DEFAULT[ftype]
    n = arch.num_layers
    gqa = arch.num_heads // max(arch.num_kv_heads, 1)
    n_exp = arch.num_experts
    imatrix = ftype in _IMATRIX
    iq2 = ftype == "iq2_xxs"
    if ftype == "mxfp4":
        # llama-quant.cpp, MXFP4_MOE: "MoE tensors -> MXFP4, other tensors -> Q8_0" (tensor->ne[2] > 1), the output
        # too; the 3-D expert tensors are typed in gguf_model (category "ffn_exps")
        return "mxfp4" if category == "ffn_exps" else "q8_0"
    if ftype == "nvfp4" and category == "token_embd":
        return "nvfp4"                                   # llama-quant.cpp: NVFP4 token_embd stays NVFP4
    if category == "output" or (arch.tie_embeddings and category == "token_embd"):
        if ftype in ("iq2_xxs", "iq3_xxs"):
            return "q5_k"
        return t if t == "q8_0" else "q6_k"
    if category == "token_embd":
        return {"iq2_xxs": "q2_k", "iq3_xxs": "iq3_s"}.get(ftype, t)
    if iq2:
        if category in ("attn_v", "attn_kv_b"):
            return "q4_k" if gqa >= 4 or n_exp >= 4 else "q2_k"
        if category == "attn_k" and n_exp == 8:
            return "q4_k"
        if category == "ffn_down":
            return "q2_k" if i_layer < n // 8 else t
        if category == "attn_output" and n_exp == 8:
            return "q5_k"
        return t
    if category in ("attn_v", "attn_kv_b"):
        if ftype == "q2_k":
            t = "q4_k" if gqa >= 4 else "q3_k"
        elif ftype == "iq3_xxs":
            t = "q4_k" if gqa >= 4 else ("iq3_xxs" if imatrix else "iq3_s")
        elif ftype == "q3_k_m":
            t = "q5_k" if i_layer < 2 else "q4_k"
        elif ftype == "iq4_xs" and gqa >= 4:
            t = "q5_k"
        elif ftype in ("q4_k_m", "q5_k_m") and _use_more_bits(i_layer, n):
            t = "q6_k"
        elif ftype == "q4_k_s" and i_layer < 4:
            t = "q5_k"
        if arch.family == "llama" and arch.num_layers == 80 and t in ("q3_k", "q4_k"):
            t = "q5_k"                                   # LLM_TYPE_70B: attn_v is 8x smaller, give it more bits
        if n_exp == 8:
            t = "q8_0"
        return t
    if category == "attn_k":
        if n_exp == 8:
            return "q8_0"
        return "iq2_s" if ftype == "iq3_xxs" else t
    if category == "attn_q":
        return "iq2_s" if ftype == "iq3_xxs" else t
    if category == "ffn_down":
        if ftype == "q2_k":
            return "q3_k"
        if ftype == "q3_k_m":
            return "q5_k" if i_layer < n // 16 else "q4_k"
        if ftype in ("q4_k_m", "q5_k_m"):
            return "q6_k" if _use_more_bits(i_layer, n) else t
        if ftype == "iq4_xs" and i_layer < n // 8 and not imatrix:
            return "q5_k"
        if ftype == "q4_k_s" and i_layer < n // 8:
            return "q5_k"
        return t
    if category == "attn_output":
        if n_exp == 8:
            if ftype in ("q2_k", "iq3_xxs", "q3_k_s", "q3_k_m", "iq4_xs", "q4_k_s", "q4_k_m"):
                return "q5_k"
            return t
        return {"q2_k": "q3_k", "iq3_xxs": "iq3_s", "q3_k_m": "q4_k"}.get(ftype, t)
    return t


def _fallback(t: str, cols: int) -> str:
    n, _ = GGML_BLOCKS[t]
    if cols % n == 0:
        return t
    t = _FALLBACK.get(t, "f16")
    return t if cols % GGML_BLOCKS[t][0] == 0 else "f16"


@dataclass(frozen=True)
class GGUFModel:
    """Bytes of a GGUF model by where llama.cpp places them."""
    token_embd: int            # always in host memory (the input layer runs get_rows on the CPU)
    output: int                # output.weight (or the duplicated token_embd when tied), plus output_norm
    output_file: int           # what the file stores for the output layer (a tied embedding is stored once)
    layers: tuple[int, ...]    # each repeating layer's tensors
    types: dict[str, int]      # ggml type -> tensor count (what llama_model_loader prints)
    experts: tuple[int, ...] = ()   # each layer's routed-expert tensors (ffn_{gate,up,down}_exps), in `layers` too

    @property
    def total(self) -> int:
        """Tensor payload of the file."""
        return self.token_embd + sum(self.layers) + self.output_file


def gguf_model(arch: Architecture, ftype: str) -> GGUFModel:
    """Every tensor of `arch` at the types llama-quantize gives it for file type `ftype`."""
    h, V = arch.hidden_size, arch.vocab_size
    types: dict[str, int] = {}

    def add(t: str, rows: int, cols: int, count: int = 1) -> int:
        t = _fallback(t, cols)
        types[t] = types.get(t, 0) + count
        return tensor_bytes(t, rows, cols) * count

    emb_type = tensor_type(ftype, arch, "token_embd")
    norm_tensors = 2 if arch.norm_has_bias else 1     # LayerNorm: weight and bias; RMSNorm: weight
    token_embd = add(emb_type, V, h)
    layers, experts = [], []
    for i in range(arch.num_layers):
        b = 0
        e = 0
        if arch.layer_is_linear_attention(i):
            # Gated DeltaNet block (llama.cpp qwen3next: ssm_in / ssm_ba / ssm_out quantised like attention; conv1d,
            # dt bias, A and the gated norm stay f32)
            for name, fin, fout in arch.linear_attention_linears():
                b += add(tensor_type(ftype, arch, "other" if name != "out_proj" else "attn_output", i), fout, fin)
            b += add("f32", arch.linear_conv_dim, arch.linear_conv_kernel)
            b += add("f32", 1, arch.linear_num_value_heads, 2) + add("f32", 1, arch.linear_value_head_dim)
        else:
            for name, fin, fout in arch.attention_linears():
                b += add(tensor_type(ftype, arch, _category(name), i), fout, fin)
        moe = arch.is_moe and i >= arch.dense_layers
        if moe:
            fe = arch.expert_intermediate_size
            for name, fin, fout in arch.mlp_linears(fe):          # ffn_*_exps: one 3-D tensor per role
                cat = "ffn_exps" if ftype == "mxfp4" else _category(name)
                e += add(tensor_type(ftype, arch, cat, i), fout * arch.num_experts, fin)
            if arch.expert_bias:                                  # gpt-oss ffn_*_exps.bias: f32
                e += add("f32", arch.num_experts, fe, 2 if arch.gated_mlp else 1) + add("f32", arch.num_experts, h)
            b += e
            b += add("f32", arch.num_experts, h)                  # ffn_gate_inp (router) is never quantized
            if arch.router_bias:
                b += add("f32", 1, arch.num_experts)              # gpt-oss ffn_gate_inp.bias, DeepSeek exp_probs_b
            if arch.shared_expert_intermediate_size:
                for name, fin, fout in arch.mlp_linears(arch.shared_expert_intermediate_size):
                    b += add(tensor_type(ftype, arch, _category(name), i), fout, fin)
        else:
            for name, fin, fout in arch.mlp_linears(arch.intermediate_size):
                b += add(tensor_type(ftype, arch, _category(name), i), fout, fin)
            if not arch.gated_mlp and arch.norm_has_bias:         # GPT-2 ffn_up.bias, ffn_down.bias
                b += add("f32", 1, arch.intermediate_size) + add("f32", 1, h)
        # 1-D tensors stay f32: norms (LayerNorm weight and bias), biases, q/k norms
        b += add("f32", 1, h, arch.norms_per_layer * norm_tensors)
        if arch.qkv_bias:
            b += add("f32", 1, arch.q_dim) + add("f32", 1, arch.kv_dim, 2)
        if arch.o_bias:
            b += add("f32", 1, h)
        if arch.attention_sinks:
            b += add("f32", 1, arch.num_heads)                    # gpt-oss attn_sinks
        if arch.qk_norm == "head":
            b += add("f32", 1, arch.head_dim, 2)
        elif arch.qk_norm == "full":
            b += add("f32", 1, arch.q_dim) + add("f32", 1, arch.kv_dim)
        if arch.is_mla:
            b += add("f32", 1, arch.q_lora_rank) if arch.q_lora_rank else 0
            b += add("f32", 1, arch.kv_lora_rank)
        layers.append(b)
        experts.append(e)
    out_norm = add("f32", 1, h, norm_tensors)
    if arch.tie_embeddings:
        # no output.weight in the file; llama.cpp loads token_embd a second time for the output layer
        # (TENSOR_DUPLICATED), so a GPU holding the output layer holds this copy
        output = token_embd + out_norm
        output_file = out_norm
    else:
        output = add(tensor_type(ftype, arch, "output"), V, h) + out_norm
        output_file = output
    if arch.learned_positions:
        # position_embd.weight, an input-layer tensor like token_embd; llama-quantize never quantises it
        # (llama-quant.cpp: "do not quantize positional embeddings"): left at the converted f16
        token_embd += add("f16", arch.max_position_embeddings, h)
    return GGUFModel(token_embd=token_embd, output=output, output_file=output_file, layers=tuple(layers),
                     types=types, experts=tuple(experts))
