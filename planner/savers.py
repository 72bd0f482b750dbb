"""Memory savers practitioners turn on before buying more cards, tried by the planner the same way.

Each saver is a mechanism the estimator already models (planner/estimator/); the planner offers each card the
user's workload as given and with the savers that stack supports, and the cheaper purchase wins (ties: fewer
savers). A saver is never applied over the user's explicit choice: `--attention`, `--loss`,
`--kv-cache-dtype`, `--[no-]gradient-checkpointing`, `--framework`/`--engine`, or `--no-savers` for none.

- gradient checkpointing (training): recompute each decoder layer in backward (transformers
  `gradient_checkpointing_enable()`, TRL `gradient_checkpointing=True`); costs one more forward (timed).
- flash attention (training, CUDA/ROCm): `attn_implementation="flash_attention_2"` (or SDPA's flash backend):
  no score matrix per layer.
- fused loss (training, hf stacks): Liger's fused linear cross-entropy (TRL `use_liger_kernel=True`): no
  vocabulary-sized fp32 logits per token.
- Unsloth (LoRA/QLoRA on one CUDA card, no --framework): its kernels, fused loss and offloaded checkpoints.
- FP8 / q8_0 KV cache (serving): vLLM `--kv-cache-dtype fp8`, llama.cpp `--cache-type-k/v q8_0`.
"""
from __future__ import annotations

from planner.workload import Workload

# name -> how to turn it off (what to pass instead)
OFF = {"gradient checkpointing": "--no-gradient-checkpointing",
       "flash attention": "--attention sdpa",
       "fused loss": "--loss full",
       "Unsloth": "--framework hf",
       "fp8 KV cache": "--kv-cache-dtype bf16",
       "q8_0 KV cache": "--kv-cache-dtype f16 (llama.cpp default; here --kv-cache-dtype fp16)"}


def _explicit_gc(w: Workload) -> bool:
    return "gradient_checkpointing" in w.explicit


def variants(w: Workload, family: str, stack_explicit: bool, enabled: bool = True,
             fp8: bool = True) -> list[tuple[Workload, tuple]]:
    """(workload, savers applied) to try on one card of `family` (cuda | rocm | metal): the workload as given
    first, then with the savers its stack supports; duplicates dropped."""
    out: list[tuple[Workload, tuple]] = [(w, ())]
    if not enabled:
        return out
    if w.training:
        free: dict = {}
        names: list[str] = []
        if family in ("cuda", "rocm") and w.framework in ("hf", "hf-fsdp", "fsdp-qlora"):
            if w.attention == "auto":
                free["attention"] = "flash"
                names.append("flash attention")
            if w.loss == "auto" and w.framework in ("hf", "hf-fsdp"):
                free["loss"] = "fused"
                names.append("fused loss")
        if free:
            out.append((w.replace(**free), tuple(names)))
        if not w.gradient_checkpointing and not _explicit_gc(w):
            out.append((w.replace(**free, gradient_checkpointing=True),
                        tuple(names) + ("gradient checkpointing",)))
        if family == "cuda" and not stack_explicit and w.framework == "hf" and w.method in ("lora", "qlora") \
                and w.attention == "auto" and w.loss == "auto":
            out.append((w.replace(framework="unsloth", gradient_checkpointing=True), ("Unsloth",)))
    elif w.kv_cache_dtype == "auto":
        if w.engine == "vllm" and family in ("cuda", "rocm") and fp8:   # the estimator's FP8 cards (Ada, Hopper,
                                                                        # Blackwell, MI300): conservative
            out.append((w.replace(kv_cache_dtype="fp8"), ("fp8 KV cache",)))
        elif w.engine == "llama.cpp":
            out.append((w.replace(kv_cache_dtype="q8_0"), ("q8_0 KV cache",)))
    seen, uniq = set(), []
    for wl, names in out:
        key = wl.key()
        if key not in seen:
            seen.add(key)
            uniq.append((wl, names))
    return uniq


def describe(names: tuple) -> list[dict]:
    return [{"name": n, "off": OFF.get(n, "")} for n in names]
