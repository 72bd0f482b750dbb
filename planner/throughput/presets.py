"""Stack presets of the time model, as data: what each training stack does to step time beyond the dtypes,
kernels and losses the memory presets already name (planner/estimator/stacks.py, shared with the estimator).

Each field is a mechanism:
- dispatch_s_per_layer (and _per_adapter, _per_expert): host time to launch one decoder layer's kernels (each
  peft LoRA wrapper's, each eager MoE expert's), forward + backward, for one micro-batch. Eager PyTorch
  dispatches every op from Python; when the GPU work per op is small the step is launch-bound.
- host_overlap, comm_overlap, tp_overlap: how much of the shorter of host time / FSDP gathers / tensor-parallel
  all-reduces hides behind the GPU's compute.
- elementwise_factor: memory traffic of the pointwise ops (norms, RoPE, SwiGLU, residuals, casts) relative
  to eager PyTorch's unfused kernels (1.0). torch.compile / Triton-fused kernels read and write each tensor
  once per fused chain instead of once per op.
- gemm_scale: fraction of the card's best matmul rate (hardware.GEMM_EFFICIENCY) that the stack's matmuls of
  transformer shapes reach (tile quantisation, non-ideal shapes, small hidden sizes).

The values are fitted per family of stacks (FIT below: eager HF on the H100 runs in calibration/, FSDP and
compiled stacks on the published runs in validation/throughput-training.json) by benchmarks/throughput.py
(`--fit` prints them); tests/test_timing.py fails when a constant drifts from the fit. Each stack's preset says
which family's values it takes (`inherits`).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimePreset:
    name: str
    dispatch_s_per_layer: float
    elementwise_factor: float
    gemm_scale: float
    dispatch_s_per_adapter: float = 0.0   # peft: each LoRA-wrapped linear adds its own Python forward/backward ops
    dispatch_s_per_expert: float = 0.0    # eager MoE blocks loop over the experts that received tokens
    host_overlap: float = 1.0             # share of the shorter of host and GPU time hidden behind the longer
    comm_overlap: float = 1.0             # share of the shorter of FSDP/ZeRO-3 gathers and compute hidden
    tp_overlap: float = 0.0               # share of tensor-parallel all-reduces hidden behind the matmuls
    inherits: str = ""            # the stack whose fitted values these are, when not fitted on the stack's own runs
    source: str = ""


# Fitted values, one group per family of stacks (benchmarks/throughput.py --fit prints them; tests/test_timing.py
# fails when they drift from the fit):
# - eager: HF Trainer + peft + bitsandbytes in eager PyTorch, on the 72 H100 training runs in calibration/
# - fsdp: eager transformers models under FSDP (Answer.AI fsdp_qlora), on its published runs
# - compiled: torch.compile'd or fused-kernel stacks (torchtune, torchtitan, Megatron/NeMo), on their published runs
FIT = {
    "eager": dict(dispatch_s_per_layer=4.33e-3, dispatch_s_per_adapter=0.375e-3, dispatch_s_per_expert=0.2e-3,
                  host_overlap=0.33, gemm_scale=0.65),
    # fsdp: the fit puts the per-layer host time at the search bound (20 ms) and no overlap of the FSDP gathers
    # with compute: FSDP1's per-unit hooks and the slow-PCIe consumer rigs of those runs; treat as provisional
    "fsdp": dict(dispatch_s_per_layer=20e-3, gemm_scale=0.81, comm_overlap=0.0),
    "compiled": dict(gemm_scale=0.91, elementwise_factor=0.82),
}
# torch.compile'd models (torchtune compile: True, torchtitan --compile): Inductor fuses pointwise chains and
# launches fused kernels from C++ wrappers without Python per op: host time assumed a third of eager's.
COMPILED_DISPATCH_FACTOR = 0.3
FAMILY = {"hf": "eager", "axolotl": "eager", "deepspeed": "eager", "hf-fsdp": "fsdp", "fsdp-qlora": "fsdp",
          "litgpt": "fsdp", "torchtune": "compiled", "torchtitan": "compiled", "megatron": "compiled",
          "nemo": "compiled", "unsloth": "compiled", "mlx-lm": "compiled", "llm-foundry": "compiled",
          "meta-internal": "compiled", "llm.c": "compiled", "mlx": "compiled"}


# Megatron-Core / NeMo performance recipes overlap tensor-parallel communication with the GEMMs (Transformer
# Engine userbuffers, tp_comm_overlap=True in the NeMo/Megatron-Bridge performance configs); torchtitan's vanilla
# TP does not (its async-TP variant partly does: recorded per case, not modelled)
TP_OVERLAP_STACKS = ("megatron", "nemo")


def build_presets(fit: dict) -> dict[str, "TimePreset"]:
    """Each stack's preset from its family's fitted values (eager values fill what a family does not fit)."""
    eager = fit["eager"]
    out = {}
    for stack, fam in FAMILY.items():
        v = dict(eager, elementwise_factor=1.0)
        if fam == "fsdp":
            v.update(fit["fsdp"])
        elif fam == "compiled":
            v.update(fit["compiled"])
            v["dispatch_s_per_layer"] = eager["dispatch_s_per_layer"] * COMPILED_DISPATCH_FACTOR
            v["dispatch_s_per_adapter"] = eager["dispatch_s_per_adapter"] * COMPILED_DISPATCH_FACTOR
        if stack in TP_OVERLAP_STACKS:
            v["tp_overlap"] = 1.0
        out[stack] = TimePreset(stack, inherits=fam, source=f"fitted family '{fam}' (benchmarks/throughput.py --fit)",
                                **v)
    return out


PRESETS: dict[str, TimePreset] = build_presets(FIT)


def preset_for(stack: str) -> TimePreset:
    return PRESETS.get(stack, PRESETS["hf"])
