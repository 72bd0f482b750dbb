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
    attn_bytes: int = 0      # dtype of q/k/v/output inside the attention kernel (0: act_bytes)
    softcap: bool = False    # Gemma-2 attention logit soft-capping (tanh of the scores, saved for backward)
    bnb_saves_inputs: bool = False  # bitsandbytes < 0.43.2: every 4-bit matmul saves its input
    fused_lora: bool = False        # unsloth's fused LoRA / RMSNorm / RoPE autograd functions
    compiled: bool = False          # torch.compile: pointwise ops recomputed in backward
    lora_dropout: str = ""          # "" (p = 0), "module" (peft: one dropout per adapted module), "fused" (litgpt)
    quant_experts: bool = False     # fused MoE experts quantised too (Axolotl quantize_moe_experts)

    @property
    def attn(self) -> int:
        return self.attn_bytes or self.act_bytes


def numerics(w: Workload, gqa: bool = True, mask: bool = False, stack=None, softcap: bool = False) -> Numerics:
    """mask: transformers materialises the attention mask (sliding window shorter than the sequence);
    then it repeats K/V instead of passing enable_gqa, so SDPA's mem-efficient kernel is eligible.
    stack: the training stack's mechanisms (planner/estimator/stacks.py); None = the hf stack.
    softcap: the model soft-caps attention logits (Gemma-2), which transformers runs in eager attention."""
    if stack is None:
        from planner.estimator.stacks import STACKS
        stack = STACKS["hf"].with_workload(w)
    p = w.precision
    quant = "int8" if p == "int8" else ("nf4" if p in ("nf4", "int4") else "")
    if quant:
        # bitsandbytes computes in bf16; peft's prepare_model_for_kbit_training (QLoRA) casts every
        # non-quantised parameter (embeddings, norms, lm_head) to fp32, so the residual stream and every
        # layer output (Linear4bit casts its output back to the input dtype) become fp32.
        # Stacks without the up-cast (fsdp-qlora, torchtune, litgpt, unsloth, TRL's sharded QLoRA) keep bf16.
        upcast = w.method == "qlora" and stack.kbit_upcast
        stream = act = master = 4 if upcast else 2
        autocast = False
    elif p in ("fp16-mixed", "bf16-mixed"):
        stream, act, master, autocast = 4, 2, 4, True  # fp32 weights and residual, bf16 matmul outputs
    else:
        stream = act = master = BYTES[p]
        autocast = False
    attn_bytes = 0
    if stack.attention == "eager" or (softcap and stack.eager_for_softcap):
        kernel = "eager"
    elif stack.attention == "flash":
        # FlashAttention-2 (or SDPA's flash kernel) takes 16-bit q/k/v: transformers' flash integration casts an
        # fp32 stream (QLoRA up-cast) to the compute dtype before the kernel; no score matrix is stored
        kernel, attn_bytes = "flash", 2
    elif act == 4:
        # flash needs 16-bit inputs; the fp32-capable mem-efficient kernel rejects enable_gqa, so grouped-query
        # models fall back to the math backend (measured: Llama-3.2 GQA vs Llama-2 MHA in fp32)
        kernel = "math" if gqa and not mask else "efficient"
    else:
        kernel = "flash"
    adapter = 4 if autocast else stack.adapter_bytes
    return Numerics(master, stream, act, quant, kernel, autocast, mask=mask, adapter_bytes=adapter,
                    attn_bytes=attn_bytes, softcap=softcap,
                    bnb_saves_inputs=bool(quant) and stack.bnb_saves_inputs,
                    fused_lora=stack.fused_lora_kernels and w.method in ("lora", "qlora"), compiled=stack.compiled,
                    lora_dropout=stack.lora_dropout if w.method in ("lora", "qlora") else "",
                    quant_experts=bool(quant) and w.quantize_moe_experts)


