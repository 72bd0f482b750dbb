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



def _largest_linear_numel(arch: Architecture) -> int:
    return max(i * o for n, i, o, _ in arch.linear_layers() if n != "router")


def _quant_matmul_temp(arch: Architecture, nx: Numerics, tokens: int) -> int:
    """Transient memory of a quantised matmul on more than one token."""
    if nx.quant == "nf4" and tokens > 1:
        # bnb matmul_4bit dequantises the whole weight to bf16 unless the input is a single token (gemv)
        return 2 * _largest_linear_numel(arch)
    return 0


