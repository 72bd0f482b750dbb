"""Which software stacks run on which hardware family, for which methods (late 2026), as data.

A plan is only as good as the stack that runs on it: the planner recommends a card only when a stack for the
requested method runs there, and estimates memory and time with that stack's model. When the user names no
`--framework` / `--engine`, each family uses its usual stack (CUDA: HF Trainer + peft + bitsandbytes and
transformers generate(); Apple Metal: mlx-lm and MLX; ROCm: the HF stack on PyTorch ROCm).
"""
from __future__ import annotations

from dataclasses import dataclass

# Display names of the training stacks (--framework) and serving engines (--engine)
FRAMEWORK_NAMES = {"hf": "transformers+peft+bitsandbytes", "hf-fsdp": "transformers+peft+accelerate FSDP",
                   "fsdp-qlora": "Answer.AI fsdp_qlora", "torchtune": "torchtune", "litgpt": "LitGPT",
                   "unsloth": "Unsloth", "mlx-lm": "mlx-lm", "torchtitan": "torchtitan", "axolotl": "Axolotl"}
ENGINE_NAMES = {"transformers": "transformers generate()", "vllm": "vLLM", "llama.cpp": "llama.cpp", "mlx": "mlx-lm",
                "sglang": "SGLang", "tensorrt-llm": "TensorRT-LLM"}

# How far each (stack, family) memory model is checked: measured on our own H100 runs, checked against
# published figures of that stack (validation/), or modelled from its code and documentation only.
EVIDENCE = {("hf", "cuda"): "memory measured (121 H100 runs, calibration/)",
            ("transformers", "cuda"): "memory measured (H100 runs, calibration/)"}


@dataclass(frozen=True)
class Family:
    name: str                          # cuda | rocm | metal | xpu
    label: str                         # as users say it: CUDA, ROCm, Metal
    frameworks: dict[str, tuple[str, ...]]   # training stack -> methods it runs here
    engines: tuple[str, ...]           # serving engines that run here
    default_framework: str
    default_engine: str
    note: str = ""


TRAIN_ALL = ("pretrain", "full", "lora", "qlora")

FAMILIES = {
    # NVIDIA CUDA (discrete cards, HGX, DGX Spark): every stack the planner models
    "cuda": Family("cuda", "CUDA",
                   {"hf": TRAIN_ALL, "hf-fsdp": TRAIN_ALL, "fsdp-qlora": ("lora", "qlora"),
                    "torchtune": TRAIN_ALL, "litgpt": TRAIN_ALL, "unsloth": ("full", "lora", "qlora"),
                    "torchtitan": ("pretrain", "full"), "axolotl": TRAIN_ALL},
                   ("transformers", "vllm", "llama.cpp", "sglang", "tensorrt-llm"), "hf", "transformers"),
    # AMD ROCm (Instinct, Radeon, Ryzen AI Max): PyTorch, vLLM and llama.cpp run; bitsandbytes has a ROCm
    # backend (multi-backend since 0.44) but no paged optimizers are assumed; Unsloth and fsdp_qlora are CUDA-first
    "rocm": Family("rocm", "ROCm",
                   {"hf": TRAIN_ALL, "hf-fsdp": TRAIN_ALL, "torchtune": TRAIN_ALL, "litgpt": TRAIN_ALL,
                    "torchtitan": ("pretrain", "full"), "axolotl": TRAIN_ALL},
                   ("transformers", "vllm", "llama.cpp"), "hf", "transformers",
                   "ROCm stacks are modelled as their CUDA equivalents; not measured"),
    # Apple Metal: MLX (mlx-lm LoRA/QLoRA/full fine-tuning and serving) and llama.cpp; PyTorch MPS runs HF
    # LoRA and full training without bitsandbytes kernels or 8-bit/paged optimizers
    "metal": Family("metal", "Metal",
                    {"mlx-lm": ("full", "lora", "qlora"), "hf": ("full", "lora")},
                    ("mlx", "llama.cpp", "transformers"), "mlx-lm", "mlx",
                    "MLX and llama.cpp on Apple silicon are modelled from their code, not measured"),
    # Intel Arc / Arc Pro (Xe2 Battlemage): llama.cpp runs through its SYCL (oneAPI) and Vulkan backends;
    # ggml-org/llama.cpp docs/backend/SYCL.md: "primarily designed for Intel GPUs", verified devices "Arc 770, 730M,
    # Arc A750, B580" (the B580 is the B60's BMG-G21 die), multi-GPU "--split-mode: [none|layer]". Serving only. PyTorch XPU + peft training on
    # Arc is not planned: no measured or documented LoRA/QLoRA run on Battlemage was found (bitsandbytes' XPU
    # backend is partial), so the catalogue marks Intel cards `supports: [inference]`.
    "xpu": Family("xpu", "Intel XPU", {}, ("llama.cpp",), "hf", "llama.cpp",
                  "llama.cpp SYCL/Vulkan on Intel Arc is modelled as its CUDA equivalent; not measured"),
}


# Where a stack runs within a family, per card generation (the catalogue's `generation`), as the stacks document:
# vLLM on ROCm: "GPU: MI200s (gfx90a), MI300 (gfx942), MI350 (gfx950), Radeon RX 7900 series (gfx1100/1101),
# Radeon RX 9000 series (gfx1200/1201), Ryzen AI MAX / AI 300 Series (gfx1151/1150)" and "Ryzen AI MAX / AI 300
# Series requires ROCm 7.0.2 or above" (docs.vllm.ai/en/v0.14.0/getting_started/installation/gpu/);
# vLLM on CUDA: "compute capability 7.5 or higher (e.g., T4, RTX20xx, A100, L4, H100, B200 ...)" (docs.vllm.ai
# latest, v0.31), so Volta (7.0) is out.
VLLM_ROCM_GENERATIONS = {"cdna2", "cdna3", "cdna4", "rdna3", "rdna4", "strix-halo"}
VLLM_CUDA_EXCLUDED = {"volta": "vLLM needs CUDA compute capability 7.5 or higher (docs.vllm.ai, v0.31); Volta is 7.0"}
# TensorRT-LLM: "NVIDIA Blackwell: B200, GB200, B300, GB300, DGX Spark; Hopper: H100, H200, GH200; Ada Lovelace: L20,
# L40/L40S; Ampere: A100" (NVIDIA/TensorRT-LLM docs/source/supported-hardware.md); NVIDIA only (it is CUDA/TensorRT)
TRTLLM_GENERATIONS = {"ampere", "ada", "hopper", "blackwell", "grace-blackwell"}
STACK_NOTES = {("vllm", "strix-halo"): "vLLM on Ryzen AI Max (gfx1151) needs ROCm 7.0.2 or later (vLLM docs)",
               ("mlx-lm", ""): "mlx-lm LoRA trains the last 16 blocks by default (--num-layers 16); memory and "
                               "the job assume that recipe, not full-depth LoRA (--num-layers -1 costs more)"}


def family_of(vendor: str) -> Family:
    return FAMILIES[{"apple": "metal", "amd": "rocm", "intel": "xpu"}.get(vendor, "cuda")]


def card_refuses(choice: str, vendor: str, generation: str) -> str:
    """Why a stack that runs on the family does not run on this card generation ('' when it does)."""
    fam = family_of(vendor).name
    if choice == "vllm" and fam == "rocm" and generation and generation not in VLLM_ROCM_GENERATIONS:
        return f"vLLM does not support {generation} GPUs on ROCm (its documented list: gfx90a, gfx942, gfx950, " \
               "gfx1100/1101, gfx1200/1201, gfx1150/1151)"
    if choice == "vllm" and fam == "cuda" and generation in VLLM_CUDA_EXCLUDED:
        return VLLM_CUDA_EXCLUDED[generation]
    if choice == "tensorrt-llm" and fam == "cuda" and generation and generation not in TRTLLM_GENERATIONS:
        return (f"TensorRT-LLM does not support {generation} GPUs (its documented list: Ampere, Ada Lovelace, Hopper, "
                "Blackwell)")
    return ""


def stack_note(choice: str, generation: str) -> str:
    return STACK_NOTES.get((choice, generation)) or STACK_NOTES.get((choice, ""), "")


def stack_for(vendor: str, method: str, framework: str | None, engine: str | None,
              explicit: bool, generation: str = "") -> tuple[str, str] | str:
    """(framework or engine to use, stack display name), or the reason no stack runs the method there.
    Not explicit: the family's usual stack; explicit: the user's choice, if it runs there (and on this card)."""
    fam = family_of(vendor)
    if method == "inference":
        choice = engine if (explicit and engine) else fam.default_engine
        if choice not in fam.engines:
            return f"{ENGINE_NAMES.get(choice, choice)} does not run on {fam.label}"
        refused = card_refuses(choice, vendor, generation)
        if refused:
            return refused
        return choice, f"{ENGINE_NAMES[choice]} ({fam.label})"
    choice = framework if (explicit and framework) else fam.default_framework
    methods = fam.frameworks.get(choice)
    if methods is None:
        return f"{FRAMEWORK_NAMES.get(choice, choice)} does not run on {fam.label}"
    if method not in methods:
        return f"{FRAMEWORK_NAMES[choice]} on {fam.label} does not run {method}"
    return choice, f"{FRAMEWORK_NAMES[choice]} ({fam.label})"


def evidence(choice: str, vendor: str) -> str:
    fam = family_of(vendor)
    return EVIDENCE.get((choice, fam.name), "memory modelled from the stack's code and documentation"
                        + ("" if fam.name == "cuda" else f"; {fam.note}"))
