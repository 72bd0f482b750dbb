"""Optimizer states and the temporaries of step()."""
from __future__ import annotations

import math
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------------
# Optimizer state

@dataclass(frozen=True)
class OptimizerBytes:
    states: int       # persistent states
    step_temp: int    # temporaries alive during step()
    paged: bool = False


def optimizer_bytes(name: str, trainable: int, state_dtype_bytes: int, largest_param: int,
                    fused: bool = False) -> OptimizerBytes:
    """fused: torch.optim.AdamW(fused=True) - one multi-tensor kernel updates in place (no temporary list)."""
    paged = name.startswith("paged_")
    base = name.removeprefix("paged_")
    if base == "adamw" and fused:
        return OptimizerBytes(2 * trainable * state_dtype_bytes, 0, paged)
    if base == "adamw":
        # torch.optim.AdamW (foreach=True on CUDA): exp_avg + exp_avg_sq in the param dtype, and
        # _foreach_sqrt(exp_avg_sq) materialises one more state-sized list during step()
        return OptimizerBytes(2 * trainable * state_dtype_bytes, trainable * state_dtype_bytes, paged)
    if base == "adamw8bit":
        # bitsandbytes blockwise 8-bit Adam: two uint8 states + an fp32 absmax per 256-block each;
        # the update is one fused kernel per tensor (no model-sized temporary)
        return OptimizerBytes(2 * trainable + 2 * 4 * math.ceil(trainable / 256), 0, paged)
    if base == "sgd":
        # torch.optim.SGD(momentum=0.9): one momentum buffer; foreach updates are in place
        return OptimizerBytes(trainable * state_dtype_bytes, 0, paged)
    if base == "adafactor":
        # transformers Adafactor (beta1=None): factored row/column second moments (negligible); one tensor at
        # a time it holds the fp32 update and `-update * lr`, plus fp32 copies of grad and param if 16-bit
        return OptimizerBytes(0, (8 + (8 if state_dtype_bytes < 4 else 0)) * largest_param, paged)
    raise ValueError(name)


