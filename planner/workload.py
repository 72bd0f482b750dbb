"""What the user wants to run: one validated pydantic model, checked at the edge (CLI, scenario files)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from planner.errors import shown

Method = Literal["inference", "pretrain", "full", "lora", "qlora"]
# Float and bitsandbytes precisions; weight formats of serving engines: FP8 (Hopper/Ada/Blackwell, MI300),
# AWQ/GPTQ 4-bit, and llama.cpp's GGUF types
GGUF_TYPES = ("q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_0", "q4_k_m", "q4_k_s", "q4_0", "iq4_xs", "q3_k_m", "q3_k_s",
              "q2_k", "iq3_xxs", "iq2_xxs")
Precision = Literal["fp32", "fp16", "bf16", "fp16-mixed", "bf16-mixed", "fp8", "int8", "int4", "nf4", "awq", "gptq",
                    "q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_0", "q4_k_m", "q4_k_s", "q4_0", "iq4_xs", "q3_k_m",
                    "q3_k_s", "q2_k", "iq3_xxs", "iq2_xxs"]
Optimizer = Literal["adamw", "adamw8bit", "paged_adamw", "paged_adamw8bit", "adafactor", "sgd"]
Offload = Literal["none", "optimizer", "optimizer+params"]
Attention = Literal["auto", "sdpa", "flash", "eager"]
Parallel = Literal["auto", "tensor", "pipeline"]
Engine = Literal["transformers", "vllm", "llama.cpp", "mlx", "sglang"]
# Training stacks (presets of mechanisms, planner/estimator/stacks.py): hf = HF Trainer/TRL (Axolotl,
# LLaMA-Factory, ms-swift) + peft + bitsandbytes under DDP or DeepSpeed ZeRO; hf-fsdp = the same under
# accelerate FSDP; fsdp-qlora = Answer.AI's train.py; torchtune, litgpt, unsloth and mlx-lm as their recipes do
Framework = Literal["hf", "hf-fsdp", "fsdp-qlora", "torchtune", "litgpt", "unsloth", "mlx-lm", "torchtitan", "axolotl"]
# Activation checkpointing: full = every decoder layer recomputed from its input (HF gradient_checkpointing,
# torchtitan mode "full", torchtune enable_activation_checkpointing); selective = torchtitan's mode "selective"
# (per-op policy, or every N-th layer with --ac-every N; torchtune ac_mode "selective" / ac_option N); none
ActivationCheckpointing = Literal["auto", "full", "selective", "none"]
Loss = Literal["auto", "full", "chunked", "fused"]
KVCacheDtype = Literal["auto", "fp32", "fp16", "bf16", "fp8", "q8_0", "q4_0"]

METHOD_ALIASES = {"pre-training": "pretrain", "pretraining": "pretrain", "finetune": "full",
                  "full-finetune": "full", "infer": "inference", "serve": "inference"}
PRECISION_ALIASES = {"mixed": "bf16-mixed", "amp": "bf16-mixed", "float32": "fp32", "bfloat16": "bf16",
                     "float16": "fp16", "4bit": "nf4", "8bit": "int8"}
DEFAULT_PRECISION = {"inference": "bf16", "pretrain": "bf16-mixed", "full": "bf16-mixed", "lora": "bf16",
                     "qlora": "nf4"}
QUANTISED = ("int8", "int4", "nf4")
SERVING_FORMATS = ("fp8", "awq", "gptq") + GGUF_TYPES       # weight formats only serving engines load
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class Workload(BaseModel):
    """One training or inference job, per GPU: batch_size is the micro-batch on each GPU."""
    model_config = ConfigDict(extra="forbid")

    method: Method = "inference"
    precision: Precision | None = None
    batch_size: int = Field(1, ge=1, le=65536)
    seq_len: int = Field(2048, ge=1, le=10_000_000)
    new_tokens: int = Field(256, ge=0, le=10_000_000)
    optimizer: Optimizer = "adamw"
    lora_rank: int = Field(16, ge=1, le=65536)
    lora_targets: tuple[str, ...] = ALL_LINEAR
    gradient_checkpointing: bool | None = None   # default: on for qlora (peft's prepare_model_for_kbit_training)
    attention: Attention = "auto"                 # auto: the stack's default kernel (hf: SDPA)
    gpus: int = Field(1, ge=1, le=100_000)
    zero_stage: int = Field(0, ge=0, le=3)
    offload: Offload = "none"
    parallel: Parallel = "auto"
    engine: Engine = "transformers"                # inference runtime: HF generate() (measured), vLLM, llama.cpp, MLX
    framework: Framework = "hf"                    # training stack
    loss: Loss = "auto"                            # auto: the stack's default (hf: full fp32 logits)
    grad_accum: int = Field(1, ge=1, le=65536)     # micro-batches per optimizer step
    activation_offload: bool = False               # checkpoints kept in host RAM (unsloth, torchtune offload)
    kv_cache_dtype: KVCacheDtype = "auto"          # auto: the engine's default (the compute dtype)
    gpu_layers: int | None = Field(None, ge=0, le=100_000)   # llama.cpp -ngl: layers on the GPU (None: all)
    # vLLM: share of each card it may take. vLLM only refuses > 1; below 1% even the CUDA context (~0.5 GiB of an
    # 80 GB card) does not fit, and the estimate divides by it (1e-320 overflowed)
    gpu_memory_utilization: float = Field(0.90, ge=0.01, le=1, allow_inf_nan=False)
    # --- mechanisms published runs vary (planner/estimator/stacks.py cites the code of each) ---
    activation_checkpointing: ActivationCheckpointing = "auto"   # auto: --gradient-checkpointing's choice (full/none)
    ac_every: int | None = Field(None, ge=1, le=100_000)       # selective: checkpoint every N-th layer (None: per op)
    compile: bool | None = None                    # torch.compile of the model (None: the stack's default)
    optimizer_in_backward: bool | None = None      # step each parameter in backward (None: the stack's default)
    pipeline_parallel: int = Field(1, ge=1, le=1024)   # serving: pipeline stages; tensor parallel = gpus / stages
    zero3_max_live_parameters: int | None = Field(None, ge=0, le=10**13)   # DeepSpeed stage3_max_live_parameters
    quantize_moe_experts: bool = False            # bitsandbytes-quantise fused MoE experts too (Axolotl option)
    cpu_moe_layers: int = Field(0, ge=0, le=100_000)   # llama.cpp --n-cpu-moe N: experts of the first N layers on CPU
    # SGLang: weights + KV pool share (None: default); at least 1% for the reason gpu_memory_utilization is
    mem_fraction_static: float | None = Field(None, ge=0.01, le=1, allow_inf_nan=False)
    speculative: str | None = None                 # serving: "mtp" (the model's MTP heads) or a draft model name
    speculative_tokens: int = Field(1, ge=1, le=64)    # draft tokens per step (vLLM num_speculative_tokens)

    @field_validator("method", mode="before")
    @classmethod
    def _method_alias(cls, v):
        return METHOD_ALIASES.get(str(v).lower(), str(v).lower()) if v is not None else v

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_alias(cls, v):
        return PRECISION_ALIASES.get(str(v).lower(), str(v).lower()) if v is not None else v

    @field_validator("lora_targets", mode="before")
    @classmethod
    def _targets(cls, v):
        if isinstance(v, str):
            if v in ("all-linear", "all_linear", "all"):
                return ALL_LINEAR
            if v == "attention":
                return ("q_proj", "k_proj", "v_proj", "o_proj")
            v = [t.strip() for t in v.split(",") if t.strip()]
            if not v:
                raise ValueError("name at least one target: all-linear, attention or a comma-separated list of "
                                 f"{', '.join(ALL_LINEAR)}")
        if not v:
            raise ValueError("name at least one target: all-linear, attention or some of " + ", ".join(ALL_LINEAR))
        unknown = [t for t in v if t not in ALL_LINEAR]
        if unknown:
            raise ValueError(f"unknown LoRA target(s) {shown(unknown)}; use all-linear, attention or some of {ALL_LINEAR}")
        return tuple(v)

    @model_validator(mode="after")
    def _consistent(self):
        if self.precision is None:
            self.precision = DEFAULT_PRECISION[self.method]
        if self.activation_checkpointing == "auto" and self.gradient_checkpointing is None \
                and self.framework == "torchtitan" and self.method != "inference":
            # torchtitan's train configs (models/llama3/train_configs/*.toml) set activation_checkpoint mode "selective"
            self.activation_checkpointing = "selective"
        if self.activation_checkpointing != "auto":
            if self.gradient_checkpointing is False and self.activation_checkpointing != "none":
                raise ValueError(f"--activation-checkpointing {self.activation_checkpointing} contradicts "
                                 "--no-gradient-checkpointing; give one of them")
            if self.gradient_checkpointing is True and self.activation_checkpointing == "none":
                raise ValueError("--activation-checkpointing none contradicts --gradient-checkpointing; give one")
            self.gradient_checkpointing = self.activation_checkpointing != "none"
        if self.gradient_checkpointing is None:
            # a default, not the user's choice: kept out of model_fields_set (planner/savers.py reads it)
            self.__dict__["gradient_checkpointing"] = self.method == "qlora"
        if self.ac_every is not None and self.activation_checkpointing != "selective":
            raise ValueError("--ac-every N sets selective activation checkpointing's layer frequency: add "
                             "--activation-checkpointing selective")
        if self.method == "qlora" and self.precision not in ("nf4", "int4", "int8"):
            raise ValueError(f"qlora trains on a quantised base: precision must be nf4, int4 or int8, "
                             f"not {self.precision}")
        if self.method == "lora" and self.precision in QUANTISED:
            self.method = "qlora"                     # LoRA on a quantised base *is* QLoRA
        if self.full and self.precision in QUANTISED + SERVING_FORMATS:
            raise ValueError(f"full training cannot update {self.precision} weights; use --method qlora or a "
                             "float precision")
        if self.engine != "transformers" and self.method != "inference":
            raise ValueError(f"--engine {self.engine} serves models; training stacks are chosen with --framework")
        if self.training and self.precision in SERVING_FORMATS:
            raise ValueError(f"{self.precision} weights are a serving format; train with --method qlora "
                             "(nf4/int8) or a float precision")
        if self.method == "inference":
            if self.offload != "none" or self.zero_stage:
                raise ValueError("--zero and --offload apply to training; for inference use --gpus with "
                                 "--parallel tensor|pipeline")
        if self.method != "inference" and (self.pipeline_parallel > 1 or self.speculative):
            raise ValueError("--pipeline-parallel and --speculative describe serving (--method inference)")
        if self.quantize_moe_experts and self.precision not in QUANTISED:
            raise ValueError("--quantize-moe-experts quantises MoE experts with bitsandbytes: use --precision nf4 "
                             "or int8 (--method qlora)")
        if self.cpu_moe_layers and self.engine != "llama.cpp":
            raise ValueError("--n-cpu-moe keeps MoE experts in host RAM under llama.cpp: add --engine llama.cpp")
        if self.mem_fraction_static is not None and self.engine != "sglang":
            raise ValueError("--mem-fraction-static is SGLang's: add --engine sglang")
        if self.offload == "optimizer+params" and self.zero_stage != 3:
            raise ValueError("offloading parameters needs ZeRO stage 3 (--zero 3)")
        if self.offload == "optimizer" and self.zero_stage == 0:
            raise ValueError("optimizer offload needs ZeRO stage 1, 2 or 3 (--zero 1|2|3)")
        if self.zero_stage and self.gpus == 1 and self.offload == "none":
            pass  # ZeRO on one GPU is legal (DeepSpeed) and shards over 1 rank: no saving
        return self

    @property
    def checkpointing(self) -> str:
        """The activation checkpointing in force: full, selective or none."""
        if self.activation_checkpointing != "auto":
            return self.activation_checkpointing
        return "full" if self.gradient_checkpointing else "none"

    @property
    def training(self) -> bool:
        return self.method != "inference"

    @property
    def full(self) -> bool:
        """Every weight is trained: pre-training or full fine-tuning (the same memory, different jobs)."""
        return self.method in ("full", "pretrain")

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len
