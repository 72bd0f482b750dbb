"""Peak GPU memory of an LLM workload, per GPU, from the mechanisms PyTorch and the HF stack really use.

A pure function of (Architecture, Workload): no I/O. Every term names the tensors it stands for and the
library behaviour behind it. The reference behaviour is what `calibration/measure.py` runs: transformers
(SDPA attention, dynamic KV cache), torch.optim, peft LoRA, bitsandbytes quantisation; validated against
the measurements in `calibration/` (see benchmarks/accuracy.py).

Training peak = the largest of four moments in a steady-state step (optimizer states already exist):
  forward end   weights + states + saved activations + the loss's forward buffers
  loss backward weights + states + saved activations + 12 bytes x vocab per token (see _logits_backward)
  layer backward weights + states + all gradients + one layer's activations and gradient temporaries
  optimizer step weights + states + all gradients + the optimizer's temporaries
Inference peak = max(prefill at the last layer, decode at the last step).

Other training stacks (torchtune, LitGPT, unsloth, Answer.AI fsdp_qlora, accelerate FSDP) are presets of
mechanisms in stacks.py, chosen by Workload.framework; the hf preset is the measured behaviour above.

Modules, one mechanism family each: numerics (dtypes), weights (+ LoRA), optimizer, activations, training,
stacks (training-stack presets), inference (transformers generate), engines (vLLM), llamacpp (llama.cpp /
Ollama, GGUF), mlx (mlx-lm generate and LoRA training), gguf (GGUF block sizes and type mixes), kv_cache (cache
dtypes per engine), common (units, the Estimate result).
"""
from __future__ import annotations

from planner.architecture import Architecture
from planner.errors import InputError
from planner.estimator.common import (
    CHECKPOINT_SHARD_BYTES,
    DEFAULT_CUDA_CONTEXT_BYTES,
    HOST_PROCESS_BYTES,
    Estimate,
    GiB,
)
from planner.estimator.engines import VLLM_GPU_MEMORY_UTILIZATION, estimate_sglang, estimate_vllm
from planner.estimator.inference import estimate_inference
from planner.estimator.llamacpp import estimate_llamacpp
from planner.estimator.mlx import estimate_mlx_inference, estimate_mlx_training
from planner.estimator.numerics import Numerics, numerics
from planner.estimator.training import estimate_training
from planner.estimator.weights import lora_params, weight_bytes
from planner.workload import SERVING_FORMATS, Workload

__all__ = ["Estimate", "estimate", "numerics", "Numerics", "weight_bytes", "lora_params", "GiB",
           "VLLM_GPU_MEMORY_UTILIZATION", "DEFAULT_CUDA_CONTEXT_BYTES", "HOST_PROCESS_BYTES", "CHECKPOINT_SHARD_BYTES"]


def estimate(arch: Architecture, w: Workload, cuda_context: int = DEFAULT_CUDA_CONTEXT_BYTES) -> Estimate:
    """Peak memory per GPU and host RAM for running workload `w` on model `arch`."""
    # masking_utils skips the mask only when kv_length < sliding_window (strict)
    mask = bool(arch.sliding_window) and w.seq_len >= arch.sliding_window
    if w.training and w.framework == "mlx-lm":
        return estimate_mlx_training(arch, w)
    if w.engine == "llama.cpp":
        return estimate_llamacpp(arch, w, cuda_context)
    if w.engine == "mlx":
        return estimate_mlx_inference(arch, w)
    # serving formats compute in 16-bit: their dtypes are those of a bf16 model
    nw = w.replace(precision="bf16") if w.precision in SERVING_FORMATS else w
    nx = numerics(nw, gqa=arch.num_kv_heads < arch.num_heads, mask=mask)
    if w.training:
        return estimate_training(arch, w, nx, cuda_context)
    if w.engine == "vllm":
        return estimate_vllm(arch, w, nx, cuda_context)
    if w.engine == "sglang":
        return estimate_sglang(arch, w, nx, cuda_context)
    if w.speculative:
        raise InputError("--speculative is modelled for --engine vllm and --engine sglang")
    if w.precision in SERVING_FORMATS:
        raise InputError(f"--precision {w.precision} is a serving format: use --engine vllm (fp8, awq, gptq) or "
                         "--engine llama.cpp (GGUF types); transformers generate() is modelled for "
                         "fp32/fp16/bf16 and bitsandbytes int8/nf4")
    return estimate_inference(arch, w, nx, cuda_context)
