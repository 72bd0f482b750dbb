"""planner.workload.Workload is a plain dataclass (the CLI's start-up never imports pydantic for it) that accepts and
refuses exactly what the pydantic model it replaced did, with the same values and the same messages. That model is
kept here, verbatim, as the reference."""
import dataclasses
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from planner import api
from planner.cli import _validation_message
from planner.errors import shown
from planner.workload import (ALL_LINEAR, DEFAULT_PRECISION, FIELDS, METHOD_ALIASES, PRECISION_ALIASES, QUANTISED,
                              SERVING_FORMATS, ActivationCheckpointing, Attention, Engine, Framework, KVCacheDtype,
                              Loss, Method, Offload, Optimizer, Parallel, Precision, Workload, WorkloadError)


class PydanticWorkload(BaseModel):
    """planner.workload.Workload as the pydantic model it was (commit 74e9911), verbatim."""
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
    def training(self) -> bool:
        return self.method != "inference"

    @property
    def full(self) -> bool:
        """Every weight is trained: pre-training or full fine-tuning (the same memory, different jobs)."""
        return self.method in ("full", "pretrain")


# ---------------------------------------------------------------------------------------------------
# Keyword sets: valid values, the bounds and one past them, aliases and other spellings, values of another kind
# that both refuse, unknown keywords

def _ints(lo, hi):
    edges = st.sampled_from([lo, hi, lo - 1, hi + 1, 0, -1, 2**63, -2**63, 10**30])
    floats = st.sampled_from([float(lo), float(hi), lo + 0.5, float(hi + 1), math.inf, -math.inf, math.nan, 1e19,
                              2.0**63, 2.0**63 - 1024, -0.0])
    return st.one_of(st.integers(lo, hi), edges, floats, st.just([]))


def _floats(lo, hi):
    edges = st.sampled_from([lo, hi, 1, 0, -0.0, lo - 1e-9, hi + 1e-9, math.inf, -math.inf, math.nan, 10**400, 2])
    return st.one_of(st.floats(lo, hi), st.floats(allow_nan=True, allow_infinity=True), edges, st.just([]))


def _choices(literal, *spellings):
    values = list(literal.__args__)
    odd = ["", "nope", " lora", "ADAMW", "Auto", "bf16 ", 5, 2.5, True, None, b"auto", ["auto"]]
    return st.one_of(st.sampled_from(values), st.sampled_from(list(spellings) + odd),
                     st.sampled_from(values).map(str.upper))


BOOLS = st.one_of(st.booleans(), st.sampled_from([1.5, -2.5, [], None]))
TARGETS = st.one_of(
    st.sampled_from(["all-linear", "all_linear", "all", "attention", "", ",", " , ", "q_proj", "q_proj, v_proj",
                     "q_proj,,k_proj", "Q_PROJ", "q_proj,foo", "all-linear,q_proj", [], (), None, 0, 5, {"q_proj"},
                     {"q_proj": 1}, b"q_proj"]),
    st.lists(st.sampled_from(ALL_LINEAR + ("lm_head", "q_proj ", "")), max_size=8),
    st.lists(st.sampled_from(ALL_LINEAR), min_size=1, max_size=8).map(tuple))

FIELD_VALUES = {
    "method": _choices(Method, *METHOD_ALIASES, "Pre-Training", "INFER", "LoRA"),
    "precision": _choices(Precision, *PRECISION_ALIASES, "BFloat16", "4BIT", "Q4_K_M"),
    "batch_size": _ints(1, 65536),
    "seq_len": _ints(1, 10_000_000),
    "new_tokens": _ints(0, 10_000_000),
    "optimizer": _choices(Optimizer),
    "lora_rank": _ints(1, 65536),
    "lora_targets": TARGETS,
    "gradient_checkpointing": BOOLS,
    "attention": _choices(Attention),
    "gpus": _ints(1, 100_000),
    "zero_stage": _ints(0, 3),
    "offload": _choices(Offload),
    "parallel": _choices(Parallel),
    "engine": _choices(Engine),
    "framework": _choices(Framework),
    "loss": _choices(Loss),
    "grad_accum": _ints(1, 65536),
    "activation_offload": BOOLS,
    "kv_cache_dtype": _choices(KVCacheDtype),
    "gpu_layers": st.one_of(st.none(), _ints(0, 100_000)),
    "gpu_memory_utilization": _floats(0.01, 1),
    "activation_checkpointing": _choices(ActivationCheckpointing),
    "ac_every": st.one_of(st.none(), _ints(1, 100_000)),
    "compile": BOOLS,
    "optimizer_in_backward": BOOLS,
    "pipeline_parallel": _ints(1, 1024),
    "zero3_max_live_parameters": st.one_of(st.none(), _ints(0, 10**13)),
    "quantize_moe_experts": BOOLS,
    "cpu_moe_layers": _ints(0, 100_000),
    "mem_fraction_static": st.one_of(st.none(), _floats(0.01, 1)),
    "speculative": st.one_of(st.none(), st.sampled_from(["mtp", "llama-3.2-1b", ""]), st.text(max_size=5),
                             st.sampled_from([3, 2.5, True, []])),
    "speculative_tokens": _ints(1, 64),
}


def _valid_choices(literal, aliases=()):
    return st.sampled_from(list(literal.__args__) + list(aliases))


# values each field takes alone: their combinations exercise the rules between fields
VALID_VALUES = {
    "method": _valid_choices(Method, METHOD_ALIASES), "precision": st.one_of(st.none(), _valid_choices(
        Precision, PRECISION_ALIASES)), "optimizer": _valid_choices(Optimizer),
    "lora_targets": st.sampled_from(["all-linear", "attention", "q_proj,v_proj", ["k_proj"]]),
    "attention": _valid_choices(Attention), "offload": _valid_choices(Offload), "parallel": _valid_choices(Parallel),
    "engine": _valid_choices(Engine), "framework": _valid_choices(Framework), "loss": _valid_choices(Loss),
    "kv_cache_dtype": _valid_choices(KVCacheDtype), "activation_checkpointing": _valid_choices(ActivationCheckpointing),
    "gradient_checkpointing": st.one_of(st.none(), st.booleans()), "activation_offload": st.booleans(),
    "compile": st.one_of(st.none(), st.booleans()), "optimizer_in_backward": st.one_of(st.none(), st.booleans()),
    "quantize_moe_experts": st.booleans(), "speculative": st.sampled_from([None, "mtp", "llama-3.2-1b"]),
    "batch_size": st.integers(1, 64), "seq_len": st.integers(1, 10_000_000), "new_tokens": st.integers(0, 4096),
    "lora_rank": st.integers(1, 256), "gpus": st.integers(1, 64), "zero_stage": st.integers(0, 3),
    "grad_accum": st.integers(1, 64), "gpu_layers": st.one_of(st.none(), st.integers(0, 100)),
    "gpu_memory_utilization": st.floats(0.01, 1), "ac_every": st.one_of(st.none(), st.integers(1, 8)),
    "pipeline_parallel": st.sampled_from([1, 1, 2, 4]), "zero3_max_live_parameters": st.one_of(
        st.none(), st.integers(0, 10**13)), "cpu_moe_layers": st.sampled_from([0, 0, 3]),
    "mem_fraction_static": st.one_of(st.none(), st.floats(0.01, 1)), "speculative_tokens": st.integers(1, 64)}


@st.composite
def keywords(draw):
    """A few fields (most workloads give few), each with a value of its own kind or any of FIELD_VALUES, now and
    then an unknown keyword."""
    names = draw(st.lists(st.sampled_from(FIELDS), max_size=8, unique=True))
    wild = draw(st.booleans())
    kw = {name: draw(FIELD_VALUES[name] if wild else VALID_VALUES[name]) for name in names}
    if draw(st.integers(0, 19)) == 0:
        kw[draw(st.sampled_from(["foo", "batch", "zero", "n_cpu_moe", "Method"]))] = 1
    return kw


def _outcome(make, kw):
    try:
        return "ok", make(**kw)
    except (ValidationError, WorkloadError) as e:
        return "refused", e
    except Exception as e:                          # what pydantic let through from a validator (TypeError)
        return "raised", type(e)


def test_every_field_has_values_drawn():
    assert set(FIELD_VALUES) == set(VALID_VALUES) == set(FIELDS) == set(PydanticWorkload.model_fields)
    assert FIELDS == tuple(PydanticWorkload.model_fields)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keywords(), st.data())
def test_accepts_and_refuses_what_the_pydantic_model_did(kw, data):
    assert_same(kw, data)


BOUNDED = [(f.name, f.metadata["ge"], f.metadata["le"]) for f in dataclasses.fields(Workload) if f.metadata]


@pytest.mark.parametrize("name, ge, le", BOUNDED)
def test_every_bound_and_one_past_it(name, ge, le):
    step = 1 if isinstance(ge, int) and isinstance(le, int) else 0.001
    assert {name for name, _, _ in BOUNDED} == {n for n, f in PydanticWorkload.model_fields.items() if f.metadata}
    for value in (ge, le, ge - step, le + step, float(ge), float(le), (ge + le) / 2):
        assert_same({name: value})
        assert_same({name: value, "method": "lora", "gpus": 2})


def assert_same(kw, data=None):
    ref_kind, ref = _outcome(PydanticWorkload, kw)
    new_kind, new = _outcome(Workload, kw)
    assert new_kind == ref_kind, (kw, ref, new)
    if ref_kind == "ok":
        # the same values, of the same types, and the same fields counted as the caller's choice
        assert list(new.__dict__) == list(ref.__dict__)
        for name, value in ref.__dict__.items():
            assert new.__dict__[name] == value and type(new.__dict__[name]) is type(value), name
        assert new.explicit == ref.model_fields_set
        assert new.as_dict() == ref.model_dump(mode="json")
        assert json.dumps(new.as_dict()) == json.dumps(ref.model_dump(mode="json"))
        assert new.key() == tuple(ref.model_dump().values())
        if data is None:
            return
        # a copy with changes: not validated, the changed fields count as chosen
        changes = {name: data.draw(st.sampled_from([getattr(ref, name), FIELD_VALUES_VALID[name]]), label=name)
                   for name in data.draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True), label="names")}
        copied, replaced = ref.model_copy(update=changes), new.replace(**changes)
        assert replaced.__dict__ == copied.__dict__ and replaced.explicit == copied.model_fields_set
        assert new.__dict__ == ref.__dict__                 # the original is unchanged
    elif ref_kind == "refused":
        err = ref.errors()[0]
        assert ((new.field,) if new.field else ()) == tuple(err["loc"])
        assert str(new) == err["msg"].removeprefix("Value error, ")      # what a scenario file's error quotes
        assert api.message_of(new) == api.message_of(ref)                # what plan and the web API print
        assert _validation_message(new) == _validation_message(ref)
    else:
        assert new is ref


FIELD_VALUES_VALID = {"method": "qlora", "precision": "nf4", "batch_size": 3, "seq_len": 100, "new_tokens": 0,
                      "optimizer": "sgd", "lora_rank": 8, "lora_targets": ("q_proj",), "gradient_checkpointing": True,
                      "attention": "flash", "gpus": 8, "zero_stage": 3, "offload": "optimizer", "parallel": "tensor",
                      "engine": "vllm", "framework": "unsloth", "loss": "fused", "grad_accum": 4,
                      "activation_offload": True, "kv_cache_dtype": "fp8", "gpu_layers": 10,
                      "gpu_memory_utilization": 0.5, "activation_checkpointing": "selective", "ac_every": 2,
                      "compile": False, "optimizer_in_backward": True, "pipeline_parallel": 2,
                      "zero3_max_live_parameters": 10**9, "quantize_moe_experts": True, "cpu_moe_layers": 4,
                      "mem_fraction_static": 0.8, "speculative": "mtp", "speculative_tokens": 3}


@pytest.mark.parametrize("kw", [
    dict(batch_size=0), dict(gpu_memory_utilization=5), dict(method="qlora", precision="bf16"),
    dict(lora_targets="q_proj,foo"), dict(optimizer="AdamW"), dict(engine="vllm", method="lora"),
    dict(foo=1), dict(batch_size=0, foo=1), dict(seq_len=4.5), dict(gpus=math.inf), dict(ac_every=2),
    dict(method="lora", activation_checkpointing="full", gradient_checkpointing=False)])
def test_the_cli_prints_the_same_line(kw):
    with pytest.raises(ValidationError) as ref:
        PydanticWorkload(**kw)
    with pytest.raises(WorkloadError) as new:
        Workload(**kw)
    assert api.message_of(new.value) == api.message_of(ref.value)


def test_the_messages_plan_prints():
    def line(**kw):
        with pytest.raises(WorkloadError) as e:
            Workload(**kw)
        return api.message_of(e.value)[0]
    assert line(batch_size=0) == "--batch-size: Input should be greater than or equal to 1"
    assert line(gpu_memory_utilization=5) == "--gpu-memory-utilization: Input should be less than or equal to 1"
    assert line(method="qlora", precision="bf16") == ("input: qlora trains on a quantised base: precision must be "
                                                      "nf4, int4 or int8, not bf16")
    assert line(optimizer="AdamW").startswith("--optimizer: got 'AdamW'; input should be 'adamw', ")
    assert line(zero_stage=4) == "--zero: Input should be less than or equal to 3"
    assert line(cpu_moe_layers=-1) == "--n-cpu-moe: Input should be greater than or equal to 0"


@pytest.mark.parametrize("name, value, message", [
    ("batch_size", True, "Input should be a valid integer"),      # pydantic read True as 1
    ("batch_size", "4", "Input should be a valid integer"),       # and "4" as 4
    ("gpu_memory_utilization", "0.5", "Input should be a valid number"),
    ("gpu_memory_utilization", True, "Input should be a valid number"),
    ("activation_offload", 1, "Input should be a valid boolean"),  # and 1 or "yes" as True
    ("compile", "yes", "Input should be a valid boolean"),
    ("speculative", b"mtp", "Input should be a valid string")])    # and bytes as text
def test_a_value_of_another_kind_is_refused_not_converted(name, value, message):
    PydanticWorkload(**{name: value})                              # what the pydantic model converted
    with pytest.raises(WorkloadError) as e:
        Workload(**{name: value})
    assert (e.value.field, str(e.value)) == (name, message)


def test_workloads_are_keyword_only_and_compare_by_value():
    with pytest.raises(TypeError):
        Workload("lora")
    a, b = Workload(method="lora"), Workload(method="lora", gradient_checkpointing=False)
    assert a == b and a.key() == b.key() and repr(a) == repr(b)   # the same job...
    assert "gradient_checkpointing" in b.explicit and "gradient_checkpointing" not in a.explicit   # ...chosen or not
    assert a != Workload(method="lora", gpus=2)
    with pytest.raises(TypeError):
        hash(a)                                                    # mutable, as the pydantic model was
    with pytest.raises(TypeError):
        a.replace(gpu=2)


def test_replace_copies_without_validating():
    w = Workload(method="lora")
    v = w.replace(gpus=0, method="qlora")                          # planner code derives variants of a valid workload
    assert (v.gpus, v.method, w.gpus, w.method) == (0, "qlora", 1, "lora")
    assert v.explicit == w.explicit | {"gpus", "method"}


def test_a_user_choice_of_no_gradient_checkpointing_survives_the_caches():
    """The planner adds gradient checkpointing as a memory saver only where the user did not choose: a workload
    equal in value to the default one but with --no-gradient-checkpointing given must not be served the default's
    cached candidates (value keys do not hold the choice; the savers' variants, which enter the keys, do)."""
    from planner.catalog import load_catalog
    from planner.configs import Constraints
    from planner.data import builtin_registry
    from planner.solver import candidates

    arch, catalog = builtin_registry().models["llama-3.1-8b"], load_catalog()
    default, chosen = Workload(method="lora", seq_len=8192), Workload(method="lora", seq_len=8192,
                                                                      gradient_checkpointing=False)
    saved = [cf for cf in candidates(arch, default, catalog, Constraints()).configs
             if "gradient checkpointing" in cf.savers]
    assert saved                                    # the saver is offered where the user did not choose...
    assert not [cf for cf in candidates(arch, chosen, catalog, Constraints()).configs
                if "gradient checkpointing" in cf.savers]               # ...and never over the user's choice
