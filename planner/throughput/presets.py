"""Stack presets of the time model, as data: what each training stack does to step time beyond the dtypes,
kernels and losses the memory presets already name (planner/estimator/stacks.py, shared with the estimator).

Three numbers per stack, each a mechanism:
- dispatch_s_per_layer: host time to launch one decoder layer's kernels, forward + backward, for one
  micro-batch. Eager PyTorch dispatches every op from Python (~10-20 us each, ~100+ ops per layer over forward
  and backward); when the GPU work per op is small the step is launch-bound and time is this, not FLOPs.
- elementwise_factor: memory traffic of the pointwise ops (norms, RoPE, SwiGLU, residuals, casts) relative
  to eager PyTorch's unfused kernels (1.0). torch.compile / Triton-fused kernels read and write each tensor
  once per fused chain instead of once per op.
- gemm_scale: fraction of the card's best matmul rate (hardware.GEMM_EFFICIENCY) that the stack's matmuls of
  transformer shapes reach (tile quantisation, non-ideal shapes, small hidden sizes).

The eager-HF values are fitted on the H100 measurements in calibration/ and the published runs in
validation/throughput-*.json by benchmarks/throughput.py (`--fit` prints them); tests/test_timing.py fails when a
constant drifts from the fit. Stacks without enough published runs of their own inherit a related stack's
values and say so (`inherits`).
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
    inherits: str = ""            # the stack whose fitted values these are, when not fitted on the stack's own runs
    source: str = ""


# Fitted values (benchmarks/throughput.py --fit); see the module docstring.
EAGER_DISPATCH_S_PER_LAYER = 4.33e-3
EAGER_DISPATCH_S_PER_ADAPTER = 0.375e-3
EAGER_DISPATCH_S_PER_EXPERT = 0.21e-3
EAGER_HOST_OVERLAP = 0.33
EAGER_GEMM_SCALE = 0.65
EAGER = dict(dispatch_s_per_adapter=EAGER_DISPATCH_S_PER_ADAPTER, dispatch_s_per_expert=EAGER_DISPATCH_S_PER_EXPERT,
             host_overlap=EAGER_HOST_OVERLAP)
# torch.compile'd models (torchtune compile: True, torchtitan --compile): Inductor fuses pointwise chains
# (one read and one write per chain instead of per op: ~1/3 of the eager traffic for RMSNorm, RoPE and SwiGLU
# chains of 3-6 ops) and launches fused kernels from C++ wrappers without Python per op.
COMPILED_ELEMENTWISE_FACTOR = 0.35
COMPILED_DISPATCH_FACTOR = 0.3

PRESETS: dict[str, TimePreset] = {
    "hf": TimePreset("hf", EAGER_DISPATCH_S_PER_LAYER, 1.0, EAGER_GEMM_SCALE, **EAGER,
                     source="fitted: calibration/ H100 runs (HF Trainer loop, eager, SDPA)"),
    "hf-fsdp": TimePreset("hf-fsdp", EAGER_DISPATCH_S_PER_LAYER, 1.0, EAGER_GEMM_SCALE, **EAGER, inherits="hf"),
    "axolotl": TimePreset("axolotl", EAGER_DISPATCH_S_PER_LAYER, 1.0, EAGER_GEMM_SCALE, **EAGER, inherits="hf"),
    "fsdp-qlora": TimePreset("fsdp-qlora", EAGER_DISPATCH_S_PER_LAYER, 1.0, EAGER_GEMM_SCALE, **EAGER, inherits="hf",
                             source="eager transformers model under FSDP (Answer.AI train.py)"),
    "litgpt": TimePreset("litgpt", EAGER_DISPATCH_S_PER_LAYER, 1.0, EAGER_GEMM_SCALE, **EAGER, inherits="hf",
                         source="eager LitGPT model (no torch.compile by default)"),
    "torchtune": TimePreset("torchtune", EAGER_DISPATCH_S_PER_LAYER * COMPILED_DISPATCH_FACTOR,
                            COMPILED_ELEMENTWISE_FACTOR, EAGER_GEMM_SCALE, inherits="hf",
                            source="compile: True in the recipes of torchtune's published tables"),
    "torchtitan": TimePreset("torchtitan", EAGER_DISPATCH_S_PER_LAYER * COMPILED_DISPATCH_FACTOR,
                             COMPILED_ELEMENTWISE_FACTOR, EAGER_GEMM_SCALE, inherits="hf",
                             source="--compile.enable in torchtitan's published configurations"),
    # Unsloth: Triton kernels for RMSNorm, RoPE, SwiGLU and cross-entropy and hand-fused LoRA autograd functions
    # (unsloth/kernels/*.py): pointwise chains fused like torch.compile's
    "unsloth": TimePreset("unsloth", EAGER_DISPATCH_S_PER_LAYER * COMPILED_DISPATCH_FACTOR,
                          COMPILED_ELEMENTWISE_FACTOR, EAGER_GEMM_SCALE, inherits="hf",
                          source="unsloth/kernels: fused RMSNorm, RoPE, SwiGLU, CE and LoRA autograd"),
    # mlx-lm: MLX builds a lazy graph per step and launches Metal kernels from C++ (no Python per op)
    "mlx-lm": TimePreset("mlx-lm", EAGER_DISPATCH_S_PER_LAYER * COMPILED_DISPATCH_FACTOR, 1.0, EAGER_GEMM_SCALE,
                         inherits="hf", source="MLX lazy evaluation: kernels launched from C++"),
}


def preset_for(stack: str) -> TimePreset:
    return PRESETS.get(stack, PRESETS["hf"])
