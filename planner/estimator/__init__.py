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
from planner.estimator.engines import VLLM_GPU_MEMORY_UTILIZATION, estimate_sglang, estimate_trtllm, estimate_vllm
from planner.estimator.inference import estimate_inference
from planner.estimator.llamacpp import estimate_llamacpp
from planner.estimator.mlx import estimate_mlx_inference, estimate_mlx_training
from planner.estimator.numerics import Numerics, numerics
from planner.estimator.training import estimate_training
from planner.estimator.weights import lora_params, weight_bytes
from planner.workload import SERVING_FORMATS, Workload

__all__ = ["Estimate", "estimate", "numerics", "Numerics", "weight_bytes", "lora_params", "GiB",
           "VLLM_GPU_MEMORY_UTILIZATION", "DEFAULT_CUDA_CONTEXT_BYTES", "HOST_PROCESS_BYTES", "CHECKPOINT_SHARD_BYTES"]


# Engines that load each FP4 format: vLLM and SGLang (Mxfp4Config; ModelOpt NVFP4), llama.cpp (GGUF types MXFP4 39
# and NVFP4 40), transformers (Mxfp4HfQuantizer; no NVFP4 loader), TensorRT-LLM (ModelOpt NVFP4, gpt-oss MXFP4 MoE);
# MLX's affine int4/int8 only
FP4_ENGINES = {"mxfp4": ("vllm", "sglang", "tensorrt-llm", "llama.cpp", "transformers"),
               "nvfp4": ("vllm", "sglang", "tensorrt-llm", "llama.cpp")}


def fp4_refusal(arch: Architecture, w: Workload) -> str | None:
    """Why no engine runs this FP4 combination (None: one does)."""
    p = w.precision
    if p not in FP4_ENGINES:
        return None
    if w.engine not in FP4_ENGINES[p]:
        return (f"--precision {p} is not loaded by --engine {w.engine}: use --engine "
                f"{' or '.join(FP4_ENGINES[p])}")
    if p == "mxfp4" and not arch.is_moe and w.engine != "llama.cpp":
        return (f"--precision mxfp4 quantises MoE experts only (gpt-oss checkpoints; vLLM's Mxfp4Config keeps linear "
                f"layers 16-bit) and {arch.name} has none: use nvfp4, awq, fp8 or a GGUF type")
    return None


def model_refusal(arch: Architecture, w: Workload) -> str | None:
    """Why the engine has no loader for this architecture (None: it has one). llama.cpp never took mllama (Llama
    3.2 Vision's cross-attention layers): ggml-org/llama.cpp#9643 closed without it; Ollama runs it in an engine of
    its own."""
    if arch.cross_attn_layers and w.engine == "llama.cpp":
        return ("llama.cpp has no loader for Llama 3.2 Vision's cross-attention layers (mllama; llama.cpp issue #9643 "
                "closed without it): use --engine vllm, sglang or transformers")
    return None


def fp4_card_refusal(g, w: Workload) -> str | None:
    """Why this card cannot serve the FP4 format with this engine (None: it can). vLLM/SGLang: Marlin's FP4 kernels
    dequantise on NVIDIA Ampere and newer (marlin_utils_fp4 is_fp4_marlin_supported: sm_80+), Blackwell multiplies
    natively; AMD runs gpt-oss's MXFP4 on MI300/MI325 (triton) and MI355X (CDNA4 MXFP4), not NVFP4 (an NVIDIA format).
    transformers' Mxfp4HfQuantizer needs CUDA compute capability 7.5+. llama.cpp: its MXFP4/NVFP4 types have CPU and
    GPU kernels on every backend it builds for."""
    p = w.precision
    if p not in FP4_ENGINES or w.engine == "llama.cpp":
        return None
    vendor, gen = getattr(g, "vendor", ""), getattr(g, "generation", "") or ""
    if vendor == "nvidia" and (gen not in ("volta", "pascal", "turing") or (gen == "turing" and w.engine == "transformers")):
        return None
    if vendor == "amd" and p == "mxfp4" and gen in ("cdna3", "cdna4") and w.engine != "transformers":
        return None
    if w.engine == "transformers":
        return (f"{p} weights need an NVIDIA card of compute capability 7.5+ under transformers (elsewhere it "
                "dequantises them to bf16); use --engine llama.cpp")
    return (f"{p} weights need an NVIDIA Ampere or newer card under {w.engine}"
            + (" (or AMD MI300/MI355 for mxfp4)" if p == "mxfp4" else ""))


def served_precision(arch: Architecture, w: Workload) -> str:
    """The weight format the engine serves: a checkpoint published in an FP4 format (gpt-oss: MXFP4 experts) is
    served as stored when --precision is left at the inference default (bf16), by the engines that load it."""
    fmt = getattr(arch, "stored_format", "") or ""
    if not w.training and w.precision == "bf16" and fmt in FP4_ENGINES and w.engine in FP4_ENGINES[fmt]:
        return fmt
    return w.precision


def estimate(arch: Architecture, w: Workload, cuda_context: int = DEFAULT_CUDA_CONTEXT_BYTES) -> Estimate:
    """Peak memory per GPU and host RAM for running workload `w` on model `arch`."""
    p = served_precision(arch, w)
    if p != w.precision:
        w = w.replace(precision=p)
    why = fp4_refusal(arch, w) or model_refusal(arch, w)
    if why:
        raise InputError(why)
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
    if w.engine == "tensorrt-llm":
        return estimate_trtllm(arch, w, nx, cuda_context)
    if w.precision in SERVING_FORMATS and w.precision != "mxfp4":
        raise InputError(f"--precision {w.precision} is a serving format: use --engine vllm (fp8, awq, gptq) or "
                         "--engine llama.cpp (GGUF types); transformers generate() is modelled for "
                         "fp32/fp16/bf16 and bitsandbytes int8/nf4")
    return estimate_inference(arch, w, nx, cuda_context)
