"""What the user wants to run: one validated dataclass, checked at the edge (CLI, scenario files).

A plain dataclass rather than a pydantic model: the CLI's start-up never imports pydantic for a workload. It
accepts and refuses what the pydantic model it replaced did, with the same messages (tests/test_workload.py checks
it against that model), except that a value of another kind is not converted: an int field takes an int or an
integral float, a float field an int or a float, a bool field a bool, a string field a string (pydantic's lax mode
also read True as 1, "4" as 4 and "yes" as True).
"""
import math
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Literal, Union

from planner.errors import shown
from planner.values import one_of

Method = Literal["inference", "pretrain", "full", "lora", "qlora"]
# Float and bitsandbytes precisions; weight formats of serving engines: FP8 (Hopper/Ada/Blackwell, MI300),
# AWQ/GPTQ 4-bit, the 4-bit floating-point block formats MXFP4 / NVFP4, and llama.cpp's GGUF types
GGUF_TYPES = ("q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_0", "q4_k_m", "q4_k_s", "q4_0", "iq4_xs", "q3_k_m", "q3_k_s",
              "q2_k", "iq3_xxs", "iq2_xxs")
Precision = Literal["fp32", "fp16", "bf16", "fp16-mixed", "bf16-mixed", "fp8", "int8", "int4", "nf4", "awq", "gptq",
                    "mxfp4", "nvfp4", "q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_0", "q4_k_m", "q4_k_s", "q4_0", "iq4_xs",
                    "q3_k_m", "q3_k_s", "q2_k", "iq3_xxs", "iq2_xxs"]
Optimizer = Literal["adamw", "adamw8bit", "paged_adamw", "paged_adamw8bit", "adafactor", "sgd"]
Offload = Literal["none", "optimizer", "optimizer+params"]
Attention = Literal["auto", "sdpa", "flash", "eager"]
Parallel = Literal["auto", "tensor", "pipeline"]
Engine = Literal["transformers", "vllm", "llama.cpp", "mlx", "sglang", "tensorrt-llm"]
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
# E2M1 values with a shared scale per block: MXFP4 (OCP Microscaling v1.0, gpt-oss checkpoints) and NVFP4 (NVIDIA
# ModelOpt); bits per weight and the modules quantised: planner/estimator/weights.py
FP4_FORMATS = ("mxfp4", "nvfp4")
SERVING_FORMATS = ("fp8", "awq", "gptq") + FP4_FORMATS + GGUF_TYPES   # weight formats only serving engines load
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class WorkloadError(ValueError):
    """A workload refused. field: the field at fault (None: fields that contradict each other); kind and value: the
    kind of fault as pydantic named it (literal_error: not one of the field's choices, extra_forbidden: no such
    field, value_error, greater_than_equal, ...) and the value refused, for the messages built from them."""

    def __init__(self, message: str, field: str | None = None, kind: str = "value_error", value=None):
        super().__init__(message)
        self.field, self.kind, self.value = field, kind, value


def _range(ge, le) -> dict:
    """A numeric field's bounds (both inclusive), kept in the dataclass field's metadata."""
    return {"ge": ge, "le": le}


@dataclass(init=False)
class Workload:
    """One training or inference job, per GPU: batch_size is the micro-batch on each GPU.

    Workload(**fields) validates (keywords only; WorkloadError names the field); w.replace(**changes) copies
    without validating, as planner code derives variants of a validated workload."""
    # __dict__ holds the fields only, as the pydantic model's did: value keys read it (planner/configs.py frozen,
    # planner/throughput _workload_key). The fields the caller chose sit beside it (see `explicit`).
    __slots__ = ("__dict__", "_explicit")

    method: Method = "inference"
    precision: Precision | None = None
    batch_size: int = field(default=1, metadata=_range(1, 65536))
    seq_len: int = field(default=2048, metadata=_range(1, 10_000_000))
    new_tokens: int = field(default=256, metadata=_range(0, 10_000_000))
    optimizer: Optimizer = "adamw"
    lora_rank: int = field(default=16, metadata=_range(1, 65536))
    lora_targets: tuple[str, ...] = ALL_LINEAR
    gradient_checkpointing: bool | None = None   # default: on for qlora (peft's prepare_model_for_kbit_training)
    attention: Attention = "auto"                 # auto: the stack's default kernel (hf: SDPA)
    gpus: int = field(default=1, metadata=_range(1, 100_000))
    zero_stage: int = field(default=0, metadata=_range(0, 3))
    offload: Offload = "none"
    parallel: Parallel = "auto"
    engine: Engine = "transformers"                # inference runtime: HF generate() (measured), vLLM, llama.cpp, MLX
    framework: Framework = "hf"                    # training stack
    loss: Loss = "auto"                            # auto: the stack's default (hf: full fp32 logits)
    grad_accum: int = field(default=1, metadata=_range(1, 65536))     # micro-batches per optimizer step
    activation_offload: bool = False               # checkpoints kept in host RAM (unsloth, torchtune offload)
    kv_cache_dtype: KVCacheDtype = "auto"          # auto: the engine's default (the compute dtype)
    gpu_layers: int | None = field(default=None, metadata=_range(0, 100_000))   # llama.cpp -ngl: layers on the GPU
                                                                                # (None: all)
    # vLLM: share of each card it may take. vLLM only refuses > 1; below 1% even the CUDA context (~0.5 GiB of an
    # 80 GB card) does not fit, and the estimate divides by it (1e-320 overflowed). Floats are finite (inf/nan refused)
    gpu_memory_utilization: float = field(default=0.90, metadata=_range(0.01, 1))
    # --- mechanisms published runs vary (planner/estimator/stacks.py cites the code of each) ---
    activation_checkpointing: ActivationCheckpointing = "auto"   # auto: --gradient-checkpointing's choice (full/none)
    ac_every: int | None = field(default=None, metadata=_range(1, 100_000))   # selective: checkpoint every N-th
                                                                              # layer (None: per op)
    compile: bool | None = None                    # torch.compile of the model (None: the stack's default)
    optimizer_in_backward: bool | None = None      # step each parameter in backward (None: the stack's default)
    pipeline_parallel: int = field(default=1, metadata=_range(1, 1024))   # serving: pipeline stages; tensor
                                                                          # parallel = gpus / stages
    zero3_max_live_parameters: int | None = field(default=None, metadata=_range(0, 10**13))   # DeepSpeed
                                                                              # stage3_max_live_parameters
    quantize_moe_experts: bool = False            # bitsandbytes-quantise fused MoE experts too (Axolotl option)
    cpu_moe_layers: int = field(default=0, metadata=_range(0, 100_000))   # llama.cpp --n-cpu-moe N: experts of
                                                                          # the first N layers on CPU
    # SGLang: weights + KV pool share (None: default); at least 1% for the reason gpu_memory_utilization is
    mem_fraction_static: float | None = field(default=None, metadata=_range(0.01, 1))
    speculative: str | None = None                 # serving: "mtp" (the model's MTP heads) or a draft model name
    speculative_tokens: int = field(default=1, metadata=_range(1, 64))    # draft tokens per step (vLLM
                                                                          # num_speculative_tokens)

    def __init__(self, **given):
        first: WorkloadError | None = None          # the first fault in field order, as pydantic reported it
        for name, default, check in _CHECKS:
            if name in given:
                try:
                    self.__dict__[name] = check(given[name])
                except WorkloadError as e:
                    first = first or e
            else:
                self.__dict__[name] = default   # defaults are not validated (pydantic's validate_default=False)
        unknown = [k for k in given if k not in _DEFAULTS]
        if first is None and unknown:
            first = WorkloadError("Extra inputs are not permitted", unknown[0], "extra_forbidden", given[unknown[0]])
        if first is not None:
            raise first
        self._explicit = frozenset(given)
        self._consistent()

    @property
    def explicit(self) -> frozenset:
        """The fields the caller chose (pydantic's model_fields_set): those given, those replace() changed, and
        those the consistency rules set from another choice; defaults are not in it (planner/savers.py reads
        whether gradient checkpointing is the user's choice). Not part of equality or of value keys."""
        return self._explicit

    def _set(self, name: str, value) -> None:
        """A consistency rule's assignment: the value counts as chosen (pydantic added it to model_fields_set)."""
        self.__dict__[name] = value
        self._explicit |= {name}

    def replace(self, **changes) -> "Workload":
        """A shallow copy with `changes` applied, not validated (pydantic's model_copy(update=...)); the changed
        fields count as chosen."""
        unknown = [k for k in changes if k not in _DEFAULTS]
        if unknown:
            raise TypeError(f"Workload has no field {unknown[0]!r}")
        new = object.__new__(Workload)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        new._explicit = self._explicit.union(changes)
        return new

    def as_dict(self) -> dict:
        """The fields as JSON values, in field order (pydantic's model_dump(mode="json"))."""
        d = dict(self.__dict__)
        d["lora_targets"] = list(d["lora_targets"])
        return d

    def key(self) -> tuple:
        """The field values, in field order: equal workloads, equal keys (what is explicit is not part of it)."""
        return tuple(self.__dict__.values())

    def _consistent(self):
        if self.precision is None:
            self._set("precision", DEFAULT_PRECISION[self.method])
        if self.activation_checkpointing == "auto" and self.gradient_checkpointing is None \
                and self.framework == "torchtitan" and self.method != "inference":
            # torchtitan's train configs (models/llama3/train_configs/*.toml) set activation_checkpoint mode "selective"
            self._set("activation_checkpointing", "selective")
        if self.activation_checkpointing != "auto":
            if self.gradient_checkpointing is False and self.activation_checkpointing != "none":
                raise WorkloadError(f"--activation-checkpointing {self.activation_checkpointing} contradicts "
                                    "--no-gradient-checkpointing; give one of them")
            if self.gradient_checkpointing is True and self.activation_checkpointing == "none":
                raise WorkloadError("--activation-checkpointing none contradicts --gradient-checkpointing; give one")
            self._set("gradient_checkpointing", self.activation_checkpointing != "none")
        if self.gradient_checkpointing is None:
            # a default, not the user's choice: kept out of `explicit` (planner/savers.py reads it)
            self.__dict__["gradient_checkpointing"] = self.method == "qlora"
        if self.ac_every is not None and self.activation_checkpointing != "selective":
            raise WorkloadError("--ac-every N sets selective activation checkpointing's layer frequency: add "
                                "--activation-checkpointing selective")
        if self.method == "qlora" and self.precision not in ("nf4", "int4", "int8"):
            raise WorkloadError(f"qlora trains on a quantised base: precision must be nf4, int4 or int8, "
                                f"not {self.precision}")
        if self.method == "lora" and self.precision in QUANTISED:
            self._set("method", "qlora")              # LoRA on a quantised base *is* QLoRA
        if self.full and self.precision in QUANTISED + SERVING_FORMATS:
            raise WorkloadError(f"full training cannot update {self.precision} weights; use --method qlora or a "
                                "float precision")
        if self.engine != "transformers" and self.method != "inference":
            raise WorkloadError(f"--engine {self.engine} serves models; training stacks are chosen with --framework")
        if self.training and self.precision in SERVING_FORMATS:
            raise WorkloadError(f"{self.precision} weights are a serving format; train with --method qlora "
                                "(nf4/int8) or a float precision")
        if self.method == "inference":
            if self.offload != "none" or self.zero_stage:
                raise WorkloadError("--zero and --offload apply to training; for inference use --gpus with "
                                    "--parallel tensor|pipeline")
        if self.method != "inference" and (self.pipeline_parallel > 1 or self.speculative):
            raise WorkloadError("--pipeline-parallel and --speculative describe serving (--method inference)")
        if self.quantize_moe_experts and self.precision not in QUANTISED:
            raise WorkloadError("--quantize-moe-experts quantises MoE experts with bitsandbytes: use --precision "
                                "nf4 or int8 (--method qlora)")
        if self.cpu_moe_layers and self.engine != "llama.cpp":
            raise WorkloadError("--n-cpu-moe keeps MoE experts in host RAM under llama.cpp: add --engine llama.cpp")
        if self.mem_fraction_static is not None and self.engine != "sglang":
            raise WorkloadError("--mem-fraction-static is SGLang's: add --engine sglang")
        if self.offload == "optimizer+params" and self.zero_stage != 3:
            raise WorkloadError("offloading parameters needs ZeRO stage 3 (--zero 3)")
        if self.offload == "optimizer" and self.zero_stage == 0:
            raise WorkloadError("optimizer offload needs ZeRO stage 1, 2 or 3 (--zero 1|2|3)")
        # ZeRO on one GPU is legal (DeepSpeed) and shards over 1 rank: no saving

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


# ---------------------------------------------------------------------------------------------------
# Validation of each field: the checks pydantic made from the annotations, Field(ge, le) bounds and the
# mode="before" validators, with its messages (the CLI prints them after the option's name)

def _method_alias(v):
    return METHOD_ALIASES.get(str(v).lower(), str(v).lower()) if v is not None else v


def _precision_alias(v):
    return PRECISION_ALIASES.get(str(v).lower(), str(v).lower()) if v is not None else v


def _targets(v):
    """lora_targets: all-linear, attention, a comma-separated list or a list of projection names."""
    given = v
    if isinstance(v, str):
        if v in ("all-linear", "all_linear", "all"):
            return ALL_LINEAR
        if v == "attention":
            return ("q_proj", "k_proj", "v_proj", "o_proj")
        v = [t.strip() for t in v.split(",") if t.strip()]
        if not v:
            raise WorkloadError("name at least one target: all-linear, attention or a comma-separated list of "
                                f"{', '.join(ALL_LINEAR)}", "lora_targets", "value_error", given)
    if not v:
        raise WorkloadError("name at least one target: all-linear, attention or some of " + ", ".join(ALL_LINEAR),
                            "lora_targets", "value_error", given)
    unknown = [t for t in v if t not in ALL_LINEAR]
    if unknown:
        raise WorkloadError(f"unknown LoRA target(s) {shown(unknown)}; use all-linear, attention or some of "
                            f"{ALL_LINEAR}", "lora_targets", "value_error", given)
    return tuple(v)


def _bounded(name: str, v, ge, le):
    if v < ge:
        raise WorkloadError(f"Input should be greater than or equal to {ge}", name, "greater_than_equal", v)
    if v > le:
        raise WorkloadError(f"Input should be less than or equal to {le}", name, "less_than_equal", v)
    return v


def _check_of(name: str, kind, meta) -> typing.Callable:
    """The validator of one field from its annotation (a Literal, int, float, bool, str or tuple, maybe | None)."""
    optional = typing.get_origin(kind) in (Union, types.UnionType) and type(None) in typing.get_args(kind)
    if optional:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    before = {"method": _method_alias, "precision": _precision_alias}.get(name)
    ge, le = meta.get("ge"), meta.get("le")
    if name == "lora_targets":
        return _targets
    if typing.get_origin(kind) is Literal:
        choices = {c: c for c in typing.get_args(kind)}
        message = "Input should be " + one_of(tuple(choices))

        def check(v):
            if before is not None:
                v = before(v)
            if v is None and optional:
                return None
            hit = choices.get(v) if isinstance(v, str) else None
            if hit is None:
                raise WorkloadError(message, name, "literal_error", v)
            return hit
    elif kind is int:
        def check(v):
            if v is None and optional:
                return None
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise WorkloadError("Input should be a valid integer", name, "int_type", v)
            if isinstance(v, float):
                if not math.isfinite(v):
                    raise WorkloadError("Input should be a finite number", name, "finite_number", v)
                if abs(v) >= 2.0 ** 63:         # pydantic reads integral floats through a 64-bit integer
                    raise WorkloadError("Unable to parse input string as an integer, exceeded maximum size", name,
                                        "int_parsing_size", v)
                if not v.is_integer():
                    raise WorkloadError("Input should be a valid integer, got a number with a fractional part", name,
                                        "int_from_float", v)
            return _bounded(name, int(v), ge, le)
    elif kind is float:
        def check(v):
            if v is None and optional:
                return None
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise WorkloadError("Input should be a valid number", name, "float_type", v)
            try:
                x = float(v)
            except OverflowError:               # an int beyond the largest float
                raise WorkloadError("Input should be a valid number", name, "float_type", v) from None
            if not math.isfinite(x):
                raise WorkloadError("Input should be a finite number", name, "finite_number", v)
            return _bounded(name, x, ge, le)
    elif kind is bool:
        def check(v):
            if v is None and optional:
                return None
            if not isinstance(v, bool):
                raise WorkloadError("Input should be a valid boolean", name, "bool_type", v)
            return v
    elif kind is str:
        def check(v):
            if v is None and optional:
                return None
            if not isinstance(v, str):
                raise WorkloadError("Input should be a valid string", name, "string_type", v)
            return str(v)
    else:
        raise TypeError(f"Workload.{name}: no validator for {kind}")
    return check


FIELDS = tuple(f.name for f in fields(Workload))              # in order (pydantic's Workload.model_fields)
_DEFAULTS = {f.name: f.default for f in fields(Workload)}
_CHECKS = tuple((f.name, f.default, _check_of(f.name, kind, f.metadata))
                for f, kind in zip(fields(Workload), typing.get_type_hints(Workload).values()))
