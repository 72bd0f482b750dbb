"""Dtypes in play, derived from method + precision: what the libraries do, not what users say."""
from __future__ import annotations

from dataclasses import dataclass

from planner.estimator.common import BYTES
from planner.workload import Workload


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


