"""The model's value of a published or measured figure (validation/throughput-*.json, calibration/): the case's
hardware, job and stack turned into the time model's inputs, and its `metric` computed from the prediction.
Used by benchmarks/throughput.py and the tests; the planner itself never reads these files."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from planner.throughput.comm import Link, network_link, nvlink_link, pcie_link
from planner.throughput.hardware import card_of
from planner.throughput.presets import preset_for
from planner.throughput.training import training_step
from planner.workload import Workload

ROOT = Path(__file__).resolve().parent.parent.parent
VALIDATION_DIR = ROOT / "validation"
TRAINING_CATEGORIES = ("pretrain", "train-full", "train-lora", "train-qlora")
# Stacks of published runs -> the memory preset whose dtypes, kernels and loss they share (planner/estimator/stacks.py);
# the time preset is looked up by the stack's own name first (presets.PRESETS)
MEMORY_PRESET = {"hf": "hf", "transformers": "hf", "trl": "hf", "axolotl": "axolotl", "deepspeed": "hf",
                 "llama-factory": "hf", "ms-swift": "hf", "hf-fsdp": "hf-fsdp", "fsdp-qlora": "fsdp-qlora",
                 "torchtune": "torchtune", "torchtitan": "torchtitan", "megatron": "torchtune", "nemo": "torchtune",
                 "litgpt": "litgpt", "unsloth": "unsloth", "mlx-lm": "mlx-lm", "llm.c": "torchtune",
                 "nanogpt": "torchtune"}
# llm.c (karpathy/llm.c train_gpt2.cu @f1e2ace) is hand-written CUDA, not PyTorch: cuBLASLt GEMMs with the bias in
# the epilogue, cuDNN flash attention (USE_CUDNN=1), fused residual + LayerNorm kernels, a fused classifier (softmax,
# loss and dlogits in one pass over 16-bit logits), bf16 compute with fp32 master weights, ZeRO-1, kernels launched
# from C++. By mechanism that is the compiled family (presets.FAMILY: fused pointwise chains, no per-op Python
# dispatch) with torchtune's memory preset (flash attention, bf16, a compiled 2-pass loss: closer to the fused
# classifier than torchtitan's full fp32 logits). Its cases' `compile: false` says "no torch.compile", not "unfused
# eager ops", so these stacks run at their preset's default (fused) whatever the case's compile field says.
HAND_FUSED_STACKS = ("llm.c",)


@lru_cache(maxsize=None)
def _catalog():
    from planner.catalog import load_catalog
    return load_catalog()


@lru_cache(maxsize=None)
def _registry():
    from planner.data import builtin_registry
    return builtin_registry()


def load_cases(pattern: str = "throughput-*.json", directory: Path = VALIDATION_DIR) -> list[dict]:
    out = []
    for path in sorted(directory.glob(pattern)):
        data = json.loads(path.read_text())
        for case in data.get("cases", []):
            out.append({**case, "_file": path.name})
    return out


def case_arch(case: dict):
    return _registry().resolve(case["model"])[0]


def case_workload(case: dict) -> Workload:
    """The job of a training case; fields the source does not state take the stack's defaults."""
    method = case.get("method") or {"train-full": "full", "pretrain": "pretrain", "train-lora": "lora",
                                    "train-qlora": "qlora"}[case["category"]]
    precision = case.get("precision") or None
    if precision in ("bf16", "fp16") and method in ("full", "pretrain"):
        precision = "bf16-mixed" if case.get("stack") in ("hf", "deepspeed", "axolotl") else "bf16"
    if precision in ("fp8", "fp8-mixed", "mxfp8"):
        precision = "bf16"                       # fp8 compute: see training_step(fp8=...)
    if method == "qlora" and precision in ("gptq", "awq"):
        # Qwen's finetune.py --q_lora trains LoRA adapters over the GPTQ Int4 checkpoints (auto-gptq / optimum
        # kernels); the estimator's QLoRA is a bitsandbytes base (nf4, int4, int8) and its time model dequantises
        # bitsandbytes blocks, so these runs are not scored rather than scored as nf4
        raise ValueError(f"QLoRA over {precision.upper()} weights is not modelled (QLoRA bases: bitsandbytes nf4, "
                         "int4, int8)")
    if method == "qlora" and precision not in ("nf4", "int4", "int8"):
        precision = "nf4"
    gc = case.get("gradient_checkpointing")
    ac = {"selective": "selective", True: "full", False: "none"}.get(gc, "auto")
    framework = MEMORY_PRESET.get(case.get("stack") or "hf", "hf")
    compile_ = case.get("compile") if case.get("stack") not in HAND_FUSED_STACKS else None
    return Workload(method=method, precision=precision, batch_size=max(1, int(case.get("batch_size") or 1)),
                    seq_len=int(case.get("seq_len") or 2048), grad_accum=int(case.get("grad_accum") or 1),
                    activation_checkpointing=ac, lora_rank=int(case.get("lora_rank") or 16), framework=framework,
                    compile=bool(compile_) if compile_ is not None else None)


def case_link(case: dict, card, gpus: int, nodes: int, intra_only: bool = False):
    g = _catalog().gpus.get((case.get("gpu") or "").lower())
    text = (case.get("interconnect") or "").lower()
    if gpus <= 1:
        return Link("none", 0.0)
    if g is not None and g.nvlink and ("nvlink" in text or "nvswitch" in text or "sxm" in text
                                       or g.form in ("sxm", "oam") or not text):
        intra = nvlink_link(card, g.nvlink.bandwidth_gbps)
    else:
        intra = pcie_link(card)
    if nodes > 1 and not intra_only:
        import re
        m = re.search(r"(\d+)\s*x\s*(\d+)\s*g", text) or re.search(r"(\d+)\s*g", text)
        node_gbits = (int(m.group(1)) * int(m.group(2)) if m and m.lastindex == 2 else
                      int(m.group(1)) * 8 if m else 8 * 400.0)
        return network_link(node_gbits, intra)
    return intra


def predict_training(case: dict, presets: dict | None = None) -> float:
    """The model's value of a training case's metric (presets: stack name -> TimePreset, for fitting)."""
    w = case_workload(case)                # first: a job the model cannot express says so before the model lookup
    arch = case_arch(case)
    if not case.get("gpu"):
        raise ValueError(f"no catalogued GPU for this case's hardware ({case.get('hardware') or 'not stated'})")
    g = _catalog().gpus[case["gpu"].lower()]
    card = card_of(g)
    gpus = int(case.get("gpus") or 1)
    nodes = int(case.get("nodes") or 1)
    zero = case.get("zero")
    zero = int(zero) if zero is not None else (3 if gpus > 1 and case.get("stack") in (
        "fsdp-qlora", "torchtune", "torchtitan", "hf-fsdp", "litgpt") else 0)
    tp = int(case.get("tensor_parallel") or 1)
    pp = int(case.get("pipeline_parallel") or 1)
    cp = int(case.get("context_parallel") or 1)
    dp = max(1, gpus // (tp * pp * cp))
    if case.get("global_batch_tokens") and not case.get("grad_accum"):
        # micro-batches per step and pipeline: the global batch over the data-parallel ranks' micro-batches
        m = max(1, round(float(case["global_batch_tokens"]) / (dp * w.batch_size * w.seq_len / cp)))
        w = w.replace(grad_accum=m)
    w = w.replace(gpus=gpus)
    stack = case.get("stack") or w.framework
    preset = (presets or {}).get(stack) or preset_for(stack)
    offload = case.get("offload")
    offload = offload if offload in ("optimizer", "optimizer+params") else \
        ("optimizer+params" if offload is True and zero >= 3 else "optimizer" if offload is True else "none")
    fp8 = str(case.get("precision") or "").lower() in ("fp8", "fp8-mixed", "mxfp8")
    st = training_step(arch, w, card, gpus, case_link(case, card, gpus, nodes), zero, offload, preset, fp8,
                       tp=tp, pp=pp, virtual_stages=int(case.get("virtual_stages") or 1),
                       tp_link=case_link(case, card, min(gpus, 8), 1, intra_only=True), cp=cp)
    tps = st.tokens_per_s
    metric = case["metric"]
    if metric == "tokens_per_s_per_gpu":
        return tps / gpus
    if metric == "tokens_per_s":
        return tps
    if metric == "step_time_s":
        return st.seconds
    if metric == "time_to_train_s":
        if not case.get("tokens"):
            raise ValueError("time_to_train_s without a token count")
        return float(case["tokens"]) / tps
    if metric == "mfu":
        from planner.throughput.training import model_flops_per_token
        return tps / gpus * model_flops_per_token(arch, w.seq_len) / (g.bf16_tflops * 1e12)
    raise ValueError(f"metric {metric!r} is not a training metric")
