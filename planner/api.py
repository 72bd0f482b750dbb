"""The planner as a Python library: typed requests in, typed results out. Every front end is an adapter over it.

    >>> from planner import api
    >>> r = api.plan(model="70b", method="qlora", budget=200_000)
    >>> r.plan.total_cost, r.plan.gpus                                     # doctest: +SKIP
    >>> r.model_dump(mode="json")          # exactly what `plan --model 70b --method qlora --budget 200000 --json` prints

Option names are the CLI's long flags with underscores (`--batch-size` -> batch_size). The request models below are
the one place an option is declared: the CLI's argparse options (planner/cli.py), the web API (planner/web),
the MCP tools (planner/mcp_server.py) and `plan schema` are generated from their fields, types and descriptions.
Adding an option = adding one field here (and using it in `workload_of` or `constraints_of`), then
`python -m planner.api --write-options` (the CLI builds its parser from planner/options.json, generated here).

Values may be given typed (batch_size=4, budget=2e5) or as the text a terminal passes (batch_size="4",
deadline="36h"); both go through the same validators, so every front end reports the same one-line error.
Bad input raises planner.errors.InputError naming the option (`.field`) and the fix.
"""
from __future__ import annotations

import functools
import math
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator,
                      model_serializer, model_validator)

from planner import core
from planner.errors import InputError
from planner.values import (BINARY_SUFFIXES, SUFFIXES, Cli, closed_check, count_check, duration_days,
                            default_flag, error_message, error_of, names, positive_float)

if TYPE_CHECKING:       # CatalogResult's item types (as pydantic models: entry_model, once built)
    from planner.catalog import GPU, ApiPrice, Platform, Rental
from planner.workload import (METHOD_ALIASES, PRECISION_ALIASES, ActivationCheckpointing, Attention, Engine, Framework,
                              KVCacheDtype, Loss, Method, Optimizer, Parallel, Precision, Workload, WorkloadError)

# The version of the request and result schemas (`plan schema`): bumped when a key changes meaning or goes away;
# new keys do not bump it (clients must ignore keys they do not know).
SCHEMA_VERSION = "1"

# The limits of a job's size and load (planner.core checks a plan's ranges)
MAX_TOKENS, MAX_EXAMPLES, MAX_REQUESTS = core.MAX_TOKENS, core.MAX_EXAMPLES, core.MAX_REQUESTS
MAX_RATE_RPS, MAX_USERS = core.MAX_RATE_RPS, core.MAX_USERS


# ---------------------------------------------------------------------------------------------------
# Declaring options

def flag_of(name: str, model: type[BaseModel] | None = None) -> str:
    """'batch_size' -> '--batch-size' (or the field's declared flag)."""
    for m in ((model,) if model else (PlanRequest, EstimateRequest, CapacityRequest)):
        f = m.model_fields.get(name)
        if f is not None:
            for meta in f.metadata:
                if isinstance(meta, Cli) and meta.flag:
                    return meta.flag
            return "--" + name.replace("_", "-")
    return default_flag(name)


def cli_meta(field) -> Cli:
    return next((m for m in field.metadata if isinstance(m, Cli)), Cli())


# The validators themselves are plain functions (planner/values.py): the CLI's fast path applies the same ones

def closed(values: tuple, aliases: dict[str, str] | None = None):
    """A validator for a closed set of values: case-insensitive, aliases mapped, close matches suggested."""
    return BeforeValidator(closed_check(values, aliases))


def count(suffixes: dict):
    """A validator for a whole count given as text with k/M/G suffixes (8k, 1.5M); numbers pass on as they are."""
    return BeforeValidator(count_check(suffixes))


PositiveFloat = Annotated[Optional[float], BeforeValidator(positive_float)]
Names = Annotated[list[str], BeforeValidator(names)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True, defer_build=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_values(cls, v, info):
        """true/false only where the option is a switch (JSON's true would otherwise read as 1)."""
        field = cls.model_fields[info.field_name]
        if isinstance(v, bool) and bool not in _types_of(field.annotation):
            raise ValueError(f"expected a value, got {str(v).lower()}")
        return v


def _types_of(annotation) -> set:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Annotated:
        return _types_of(args[0])
    if args and typing.get_origin(annotation) in (Union, types.UnionType):
        return set().union(*(_types_of(a) for a in args))
    return {annotation}


# ---------------------------------------------------------------------------------------------------
# Requests: one field per CLI option

class WorkloadOptions(_Request):
    """What to run: the model and the training or inference job (shared by plan and estimate)."""
    model: str = Field(description="built-in name or size alias (70b, 8x7b), Hugging Face id (org/name), model "
                                   "folder, config.json or .gguf file")
    method: Annotated[Method, closed(typing.get_args(Method), METHOD_ALIASES)] = Field(
        "inference", description="what to run; pretrain = full training from scratch (Chinchilla tokens by "
                                 "default), full = full fine-tuning")
    precision: Annotated[Optional[Precision], closed(typing.get_args(Precision), PRECISION_ALIASES)] = Field(
        None, description="weights/compute format (default: bf16 for inference and LoRA, bf16-mixed for full "
                          "training, nf4 for QLoRA)")
    batch_size: int = Field(1, description="micro-batch per GPU (inference: concurrent sequences)")
    seq_len: Annotated[int, count(BINARY_SUFFIXES)] = Field(
        2048, description="training: the longest example, memory is sized for it; inference: prompt length in "
                          "tokens (8k = 8192)")
    new_tokens: Annotated[int, count(BINARY_SUFFIXES)] = Field(
        256, description="tokens generated per sequence (inference; 1k = 1024)")
    optimizer: Annotated[Optimizer, closed(typing.get_args(Optimizer))] = Field("adamw", description="optimizer")
    lora_rank: int = Field(16, description="LoRA rank r")
    lora_targets: str = Field("all-linear", description="all-linear | attention | q_proj,v_proj,...")
    gradient_checkpointing: Optional[bool] = Field(
        None, description="recompute activations in backward (default: on for QLoRA)")
    attention: Annotated[Attention, closed(typing.get_args(Attention))] = Field(
        "auto", description="attention kernel (auto: the stack's default)")
    engine: Annotated[Optional[Engine], closed(typing.get_args(Engine))] = Field(
        None, description="inference runtime (default: transformers generate(), which the measurements cover; on "
                          "Apple machines mlx when planning)")
    framework: Annotated[Optional[Framework], closed(typing.get_args(Framework))] = Field(
        None, description="training stack (default: hf = HF Trainer + peft + bitsandbytes; on Apple machines "
                          "mlx-lm when planning)")
    loss: Annotated[Loss, closed(typing.get_args(Loss))] = Field(
        "auto", description="cross-entropy implementation (auto: the stack's default)")
    grad_accum: int = Field(1, description="micro-batches per optimizer step")
    activation_offload: bool = Field(False, description="keep activation checkpoints in host RAM")
    kv_cache_dtype: Annotated[KVCacheDtype, closed(typing.get_args(KVCacheDtype))] = Field(
        "auto", description="KV cache format (auto: the compute dtype)")
    gpu_layers: Optional[int] = Field(None, description="llama.cpp -ngl: layers on the GPU (default: all)")
    gpu_memory_utilization: float = Field(0.90, description="vLLM: share of each card it may use")
    # Mechanisms published runs vary per run (planner/estimator/stacks.py and engines.py cite their code)
    activation_checkpointing: Annotated[ActivationCheckpointing, closed(typing.get_args(ActivationCheckpointing))] = \
        Field("auto", description="full: recompute every layer; selective: torchtitan/torchtune per-op policy (or "
                                  "every N-th layer with --ac-every N); none (auto: --gradient-checkpointing's choice)")
    ac_every: Optional[int] = Field(None, description="selective checkpointing: checkpoint every N-th layer")
    compile: Optional[bool] = Field(None, description="the model runs under torch.compile (default: the stack's, "
                                                      "e.g. torchtune on)")
    optimizer_in_backward: Optional[bool] = Field(
        None, description="step each parameter in backward and free its gradient (torchtune optimizer_in_bwd)")
    pipeline_parallel: int = Field(1, description="serving: pipeline stages (vLLM/SGLang --pipeline-parallel-size); "
                                                  "tensor parallel = gpus / N")
    zero3_max_live_parameters: Optional[int] = Field(None, description="DeepSpeed stage3_max_live_parameters "
                                                                       "(default 1e9)")
    quantize_moe_experts: bool = Field(False, description="bitsandbytes-quantise the fused MoE experts too (Axolotl "
                                                          "quantize_moe_experts)")
    n_cpu_moe: int = Field(0, description="llama.cpp: keep the MoE experts of the first N layers in host RAM")
    mem_fraction_static: Optional[float] = Field(
        None, description="SGLang: share of the card for weights + KV pool (default: SGLang's by card size)")
    speculative: Optional[str] = Field(None, description="serving: speculative decoding with the model's MTP heads "
                                                         "(mtp) or a built-in draft model name")
    speculative_tokens: int = Field(1, description="draft tokens proposed per step")


class EstimateRequest(WorkloadOptions):
    """`plan estimate`: peak GPU memory and system RAM of one configuration."""
    gpus: int = Field(1, description="GPUs the job runs on")
    zero: Annotated[Optional[Literal[0, 1, 2, 3]], closed((0, 1, 2, 3))] = Field(
        None, description="ZeRO / FSDP stage (default: 3 = FULL_SHARD for the FSDP stacks on several GPUs, as "
                          "accelerate, fsdp_qlora, torchtune and LitGPT default to; else 0)")
    offload: Annotated[Literal["none", "optimizer", "optimizer+params"],
                       closed(("none", "optimizer", "optimizer+params"))] = Field(
        "none", description="what lives in host RAM")
    parallel: Annotated[Parallel, closed(typing.get_args(Parallel))] = Field(
        "auto", description="inference split over --gpus")


class PlanRequest(WorkloadOptions):
    """`plan`: the cheapest hardware (or the fastest within the budget) that runs the workload."""
    budget: PositiveFloat = Field(None, description="spending limit in --currency (200000 or 200k)")
    currency: str = Field("USD", description="currency of budget and prices (see `plan catalog`)")
    max_gpus: int = Field(64, description="most GPUs in a plan")
    gpus: Optional[int] = Field(None, description="plan for exactly this many GPUs (a recipe's count; default: any)")
    include: Names = Field([], description="only these GPUs (repeat or comma-separate)")
    exclude: Names = Field([], description="never these GPUs")
    allow_used: bool = Field(False, description="consider used-market cards")
    zero: Annotated[Optional[Literal[0, 1, 2, 3]], closed((0, 1, 2, 3))] = Field(
        None, description="force a ZeRO/FSDP stage (default: try all)")
    offload: Annotated[Literal["none", "optimizer", "optimizer+params", "any"],
                       closed(("none", "optimizer", "optimizer+params", "any"))] = Field(
        "none", description="CPU offload the planner may use besides none (it is slow, so never by default)")
    force_offload: Annotated[Optional[Literal["optimizer", "optimizer+params"]],
                             closed(("optimizer", "optimizer+params"))] = Field(
        None, description="plan only with this CPU offload (e.g. Answer.AI's 70B recipe on 24 GB cards)")
    ram_ratio: float = Field(1.0, description="system RAM >= ratio x VRAM, per machine")
    margin: float = Field(0.05, description="fraction of each card's memory kept free")
    require_nvlink: bool = Field(False, description="cards bridged in pairs or on an NVSwitch")
    parallel: Annotated[Parallel, closed(typing.get_args(Parallel))] = Field(
        "auto", description="inference split: auto/pipeline (layers split) or tensor (one NVLink domain, one host)")
    catalog: Annotated[Names, Cli(local_file=True, metavar="FILE")] = Field(
        [], description="YAML file adding or overriding entries")
    alternatives: int = Field(3, description="next-cheapest plans with other GPUs (0-10)")
    objective: Annotated[Optional[Literal["cost", "time"]], closed(("cost", "time"))] = Field(
        None, description="override the decision rule: cost = the cheapest plan (meeting --deadline), time = the "
                          "fastest within the budget (default: the stated rule, README 'How a plan is chosen')")
    have: Annotated[Names, Cli(metavar="[COUNTx]NAME")] = Field(
        [], description="hardware you already have, repeatable: a catalogue GPU (2xrtx-3090), host platform "
                        "(desktop-am5) or machine (mac-studio-m4-max-128gb); it costs nothing, the plan buys the rest")
    max_machines: Optional[int] = Field(None, description="at most this many machines (1: one box)")
    savers: bool = Field(True, description="plan the workload exactly as given: no gradient checkpointing, flash "
                                           "attention, fused loss, Unsloth or quantised KV cache added to fit fewer "
                                           "cards")
    min_headroom: float = Field(0.05, description="never recommend a plan leaving less than this fraction of a "
                                                  "card's usable memory free")
    tokens: PositiveFloat = Field(None, description="training tokens, 2e9 or 2G (default: pretrain 20 x "
                                                    "parameters; fine-tuning --examples x --tokens-per-example x "
                                                    "--epochs)")
    tokens_per_example: Annotated[Optional[int], count(BINARY_SUFFIXES)] = Field(
        None, description="mean tokens per fine-tuning example, packed (default 512, common instruction datasets; "
                          "--seq-len is the longest)")
    examples: Annotated[Optional[int], count(SUFFIXES)] = Field(
        None, description="fine-tuning examples in the job (default 10,000)")
    epochs: PositiveFloat = Field(None, description="passes over the examples (default 3)")
    deadline: Annotated[Optional[float], BeforeValidator(duration_days), Cli(aliases=("--deadline-days",))] = Field(
        None, allow_inf_nan=True, description="the job must finish within this (days): 14d, 36h, 2w or 'none' "
                                              "(default: none, the decision rule picks)")
    requests: Annotated[Optional[int], count(SUFFIXES)] = Field(
        None, description="inference: sequences to serve (default 10,000; 1M = 10^6)")
    proposal: Annotated[Optional[str], Cli(local_file=True, metavar="FILE")] = Field(
        None, description="write a procurement proposal to FILE.md or FILE.html")
    # serving by load and latency (planner/serving.py), ownership costs behind the cost per token (planner/tco.py)
    rate: PositiveFloat = Field(None, description="serving: requests per second to sustain (each --seq-len prompt "
                                                  "tokens in, --new-tokens out); sizes replicas and split for the load")
    users: Optional[int] = Field(None, description="serving: concurrent streams to serve (each always has a request "
                                                   "in flight)")
    ttft: PositiveFloat = Field(None, description="serving target: mean time to first token, seconds")
    itl: PositiveFloat = Field(None, description="serving target: mean inter-token latency, seconds (0.05 = 20 "
                                                 "tokens/s per user)")
    years: PositiveFloat = Field(3.0, description="cost per token: years the purchase is written off over")
    utilization: PositiveFloat = Field(1.0, description="cost per token: share of the year's hours the load runs "
                                                        "(0-1)")
    pue: PositiveFloat = Field(1.58, description="cost per token: facility power over IT power (Uptime Institute "
                                                 "2023 average)")
    maintenance: float = Field(0.06, description="cost per token: maintenance per year, share of the purchase price "
                                                 "(4-8%, CTWatch 2006)")
    residual: float = Field(0.70, description="cost per token: resale value after --years, share of the purchase "
                                              "price (catalogue used/new prices)")
    electricity: PositiveFloat = Field(None, description="cost per token: USD per kWh (default: the catalogue's)")


class CapacityRequest(WorkloadOptions):
    """`plan capacity`: what hardware you have can serve: context, users, tokens/s, rate."""
    have: Annotated[Names, Cli(metavar="[COUNTx]NAME")] = Field(
        [], description="cards or machine you have: [COUNTx]NAME (e.g. 2xrtx-3090, mac-studio-m4-max-128gb; see "
                        "`plan catalog`)")
    ttft: PositiveFloat = Field(None, description="target: mean time to first token, seconds")
    itl: PositiveFloat = Field(None, description="target: mean inter-token latency, seconds")
    margin: float = Field(0.05, description="fraction of each card's memory kept free")
    parallel: Annotated[Parallel, closed(typing.get_args(Parallel))] = Field(
        "auto", description="split over the cards (auto: the engine's: vLLM tensor parallel, others layers split)")
    catalog: Annotated[Names, Cli(local_file=True, metavar="FILE")] = Field(
        [], description="YAML file adding or overriding entries")


REQUESTS = {"plan": PlanRequest, "estimate": EstimateRequest, "capacity": CapacityRequest}


def message_of(e: ValidationError | WorkloadError, model: type[BaseModel] | None = None) -> tuple[str, str | None]:
    """(one-line message naming the option, option name with dashes) for a pydantic error or a refused
    Workload (which names its field and kind of fault as pydantic did)."""
    err, name = error_of(e)
    flag = flag_of(name, model) if name else None
    known = [n.replace("_", "-") for n in (model.model_fields if model else {})]
    return error_message(err, flag, known), (flag or "").lstrip("-") or None


def request(model: type[_Request], options: dict) -> _Request:
    """Validate options into a request; bad input raises InputError naming the option."""
    try:
        return model.model_validate(options)
    except ValidationError as e:
        message, field = message_of(e, model)
        err = InputError(message)
        err.field = field
        raise err from None


# ---------------------------------------------------------------------------------------------------
# Results: the JSON of record (`--json` prints result.model_dump(mode="json"))

Number = Union[int, float]       # kept as computed: 3 stays 3, 3.0 stays 3.0 (the JSON is byte-for-byte stable)


class _Result(BaseModel):
    # Keys a change adds before it declares them here pass through (after the declared ones) instead of failing
    # a user's plan; tests/test_api.py fails until every key is declared, so the schema stays complete.
    model_config = ConfigDict(extra="allow", defer_build=True)


class _OmitUnlessSet(_Result):
    """A result whose keys in omit_unless_set are left out of its JSON when null and not given."""
    omit_unless_set: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_unless_set(self, handler):
        d = handler(self)
        for k in self.omit_unless_set:
            if d.get(k) is None and k not in self.model_fields_set:
                d.pop(k, None)
        return d


class EstimateDetail(_Result):
    model: str
    params: int
    trainable_params: int
    gpus: int
    peak_phase: str = Field(description="the phase whose memory is highest (e.g. forward, backward, step, decode)")
    peak_allocated_bytes: int = Field(description="torch.cuda.max_memory_allocated at the peak, per GPU")
    reserved_bytes: int = Field(description="+ caching-allocator slack (torch.cuda.max_memory_reserved)")
    cuda_context_bytes: int
    total_bytes: int = Field(description="what nvidia-smi shows at the peak, per GPU")
    total_gib: Number
    cpu_ram_bytes: int = Field(description="host RAM the job needs (all processes on one node)")
    breakdown: dict[str, int] = Field(description="bytes per component at the peak, per GPU")
    assumptions: list[str]


class EstimateResult(EstimateDetail):
    """`plan estimate --json`."""
    workload: dict[str, Any] = Field(description="the validated workload, defaults filled in")
    schema_version: str = SCHEMA_VERSION


class Job(_Result):
    kind: Literal["pretrain", "fine-tune", "serve"]
    tokens: Optional[int]
    requests: Optional[int]
    examples: Optional[int]
    epochs: Optional[Number]
    tokens_per_example: Optional[int] = Field(description="fine-tuning: mean tokens per example, packed")
    seq_len: Optional[int] = Field(description="fine-tuning: the longest example (memory is sized for it)")
    default: bool = Field(description="chosen by the planner, not the user")
    description: str


class BillItem(_Result):
    kind: str = Field(description="gpu | host | ram | bridge | network | machine")
    name: str
    count: int
    unit_price: Number
    subtotal: Number
    owned: bool = Field(description="you have it already (--have): it costs nothing in the plan")


class MachineBuild(_Result):
    platform: str
    gpus: dict[str, int]
    ram_gb: int
    power_w: Number
    owned: bool = Field(False, description="a machine you have (--have)")


class MemoryRow(_OmitUnlessSet):
    omit_unless_set = ("job",)
    gpu: str
    count: int
    job: Optional[str] = None       # scenarios with several workloads only
    need_bytes: int
    usable_bytes: int
    headroom_bytes: int


class Rent(_OmitUnlessSet):
    omit_unless_set = ("cheapest",)
    provider: str
    as_of: str
    source: Optional[str]
    usd_per_gpu_hour: Number
    hourly_cost: Number
    job_cost: Optional[Number]
    breakeven_hours: Optional[Number]
    currency: str
    gpu: str = Field(description="the rented card")
    count: int = Field(description="rented cards")
    same_cards: bool = Field(description="false: the bought cards have no rental offer, so the cheapest rentable "
                                         "cards that carry the load are priced instead")
    cheapest: Optional[Rent] = Field(None, description="only when renting other cards runs the job for less: the "
                                                       "cheapest rental that does (planner/solver.py)")


# plan.serving, plan.cost_per_mtok and plan.tco: the dicts planner/serving.py (serving_dict) and planner/tco.py
# (costs, rent_instead) build, key for key in their order

class LatencyTargets(_Result):
    ttft_s: Optional[Number] = Field(description="target mean time to first token, seconds (null: none given)")
    itl_s: Optional[Number] = Field(description="target mean inter-token latency, seconds (null: none given)")
    statistic: str = Field(description="the statistic the targets bound: mean (a p99 needs a tighter mean)")


class ServingAtLoad(_Result):
    """Where the purchase runs under the stated load (each replica carrying its share)."""
    rate_rps: Number = Field(description="requests per second carried, all replicas")
    users: Number = Field(description="mean sequences in flight, all replicas")
    ttft_s: Number = Field(description="mean time to first token at the load, seconds")
    itl_s: Number = Field(description="mean inter-token latency at the load, seconds")
    tokens_per_s: Number = Field(description="output tokens per second at the load, all replicas")


class ServingLoad(_Result):
    """The load as planned (--rate or --users, --seq-len, --new-tokens)."""
    rate_rps: Optional[Number] = Field(description="requests per second to sustain (--rate; null: users given)")
    users: Optional[int] = Field(description="concurrent streams to serve (--users; null: a rate given)")
    prompt_tokens: int = Field(description="prompt tokens per request (--seq-len)")
    new_tokens: int = Field(description="output tokens per request (--new-tokens)")


class Serving(_Result):
    """plan.serving: the most the purchase sustains within the targets (its maximum), and its operating point at
    the load."""
    rate_rps: Number = Field(description="requests per second the purchase sustains within the targets")
    users: int = Field(description="concurrent streams it holds within the targets, all replicas")
    ttft_s: Number = Field(description="mean time to first token at that maximum, seconds")
    itl_s: Number = Field(description="mean inter-token latency at that maximum, seconds")
    tokens_per_s: Number = Field(description="output tokens per second at that maximum, all replicas")
    replicas: int = Field(description="copies of the model serving in parallel")
    tensor_parallel: int = Field(description="cards per replica splitting each layer (tensor parallel degree)")
    pipeline_parallel: int = Field(description="cards per replica holding a share of the layers (pipeline stages)")
    tokens_per_s_per_user: Optional[Number] = Field(description="output tokens per second one stream sees, "
                                                                "1 / itl_s")
    binding: str = Field(description="what stops a larger batch per replica: ttft | itl | kv-cache | max-seqs")
    link: str = Field(description="what a replica's all-reduces cross: nvlink | pcie")
    bound: str = Field(description="what limits a decode step at the maximum: memory | compute")
    at_load: ServingAtLoad = Field(description="the operating point under the stated load")
    load: ServingLoad = Field(description="the load the purchase is sized for")
    targets: LatencyTargets = Field(description="the latency targets it is sized within")


class RentProvider(_Result):
    provider: str = Field(description="the rental provider priced")
    as_of: str = Field(description="date of its price")
    usd_per_gpu_hour: Number = Field(description="its on-demand price per GPU-hour, USD")
    gpus: dict[str, int] = Field(description="GPU -> count rented")
    same_cards: bool = Field(description="false: the bought cards have no rental offer, so the cheapest rentable "
                                         "cards that carry the load are priced instead")


class ApiCost(_Result):
    """One hosted API's price for the same requests."""
    provider: str = Field(description="the API provider")
    model: str = Field(description="the built-in model name it serves")
    model_id: str = Field(description="the provider's id for the model")
    input_usd: Number = Field(description="list price per million input tokens, USD")
    output_usd: Number = Field(description="list price per million output tokens, USD")
    usd_per_mtok_output: Number = Field(description="cost per million output tokens of this workload, prompt "
                                                    "included, in the plan's currency")
    as_of: str = Field(description="date of the price")
    source: str = Field(description="where the price was read")


class CostPerMtok(_Result):
    """plan.cost_per_mtok: per million output tokens of this workload, prompt processing included."""
    unit: str = Field(description="currency and the request shape the costs are per")
    buy: Number = Field(description="buying: amortised purchase, maintenance and energy per million output tokens")
    rent: Optional[Number] = Field(description="renting the same cards, or the cheapest rentable ones (null: no "
                                               "rental offer)")
    rent_provider: Optional[RentProvider] = Field(description="the rental offer behind rent")
    api: list[ApiCost] = Field(description="hosted APIs serving the model, cheapest first")
    mtok_per_year: Number = Field(description="million output tokens a year at the load and --utilization")
    buy_beats_rent_above_mtok_per_year: Optional[Number] = Field(
        description="million output tokens a year above which buying costs less than renting (null: never within "
                    "what the purchase serves)")
    buy_beats_api_above_mtok_per_year: Optional[Number] = Field(
        description="million output tokens a year above which buying costs less than the cheapest API (null: "
                    "never within what the purchase serves)")


class TcoSources(_Result):
    """Where each ownership assumption's value comes from."""
    years: str = Field(description="source of years")
    utilization: str = Field(description="source of utilization")
    pue: str = Field(description="source of pue")
    maintenance_per_year: str = Field(description="source of maintenance_per_year")
    residual: str = Field(description="source of residual")
    electricity_usd_per_kwh: str = Field(description="source of electricity_usd_per_kwh")


class Tco(_Result):
    """plan.tco: the ownership assumptions (--years, --utilization, --pue, --maintenance, --residual,
    --electricity) and the yearly costs they give."""
    years: Number = Field(description="years the purchase is written off over (--years)")
    utilization: Number = Field(description="share of the year's hours the load runs (--utilization)")
    pue: Number = Field(description="facility power over IT power (--pue)")
    maintenance_per_year: Number = Field(description="maintenance per year, share of the purchase price "
                                                     "(--maintenance)")
    residual: Number = Field(description="resale value after the years, share of the purchase price (--residual)")
    electricity_usd_per_kwh: Number = Field(description="electricity price used, USD per kWh (--electricity or "
                                                        "the catalogue's)")
    sources: TcoSources = Field(description="where each assumption's value comes from")
    capex: Number = Field(description="purchase price, in currency")
    currency: str = Field(description="currency of capex and the annual costs")
    annual_fixed: Number = Field(description="amortisation (less the residual) and maintenance per year")
    annual_energy: Number = Field(description="electricity per year: the plan's power (TDP) x PUE over the hours "
                                              "the load runs")
    annual_total: Number = Field(description="annual_fixed + annual_energy")
    rent_annual: Optional[Number] = Field(description="renting the same cards for the same hours per year (null: no "
                                                      "rental offer)")


class PlanDetail(_Result):
    stack: str
    evidence: str
    tokens_per_s: Number
    time_s: Optional[Number] = Field(description="time to result for the stated job")
    time_range_s: Optional[list[Number]] = Field(description="likely range of time_s [low, high]: the time model's "
                                                             "measured error around it")
    time_basis: str = Field(description="how the time was obtained, with the model's measured error ('' if none)")
    link: str = Field(description="what the time's communication crossed: none, nvlink, pcie, network, unified")
    time_days: Optional[Number]
    energy_kwh: Optional[Number]
    energy_cost: Optional[Number]
    items: list[BillItem]
    total_cost: Number
    currency: str
    strategy: str
    gpus: dict[str, int]
    hosts: dict[str, int]
    machines: list[MachineBuild]
    ram_gb: int
    vram_gb: Number
    power_w: Number
    memory: list[MemoryRow]
    rent: Optional[Rent]
    optimality: str = Field(description="proven | time limit (best found, not proven cheapest)")
    savers: list[str] = Field(description="memory savers the planner added to fit fewer cards (planner/savers.py)")
    savers_off: dict[str, str] = Field(description="per saver: how to turn it off in its stack")
    serving: Optional[Serving] = Field(
        description="inference under --rate/--users: what the purchase sustains within the targets, and where it "
                    "runs at the load (planner/serving.py)")
    cost_per_mtok: Optional[CostPerMtok] = Field(
        description="inference: cost per million output tokens bought, rented and from hosted APIs (planner/tco.py)")
    tco: Optional[Tco] = Field(description="the ownership assumptions behind cost_per_mtok (planner/tco.py), with "
                                           "their sources, and the yearly costs they give")


class Decision(_Result):
    rule: str
    text: str


class FrontierPoint(_Result):
    total_cost: Number
    currency: str
    time_s: Optional[Number]
    gpus: dict[str, int]
    energy_kwh: Optional[Number]
    strategy: str
    summary: str


class Alternative(PlanDetail):
    estimate: EstimateDetail
    why_it_lost: Optional[str]


class PlanResult(_Result):
    """`plan --json`: the recommended plan, the frontier and the alternatives, or why no plan fits."""
    feasible: bool
    binding: Optional[str] = Field(description="the constraint that rules plans out when none fits")
    reason: Optional[str]
    min_budget: Optional[Number] = Field(description="the least budget a plan needs, when the budget binds")
    objective: str = Field(description="cost | time (given) | auto (the decision rule, README 'How a plan is "
                                       "chosen')")
    deadline_s: Optional[Number]
    decision: Optional[Decision] = Field(description="the rule that picked the plan and, in words, what it picked")
    warnings: list[str]
    job: Optional[Job]
    plan: Optional[PlanDetail]
    estimate: Optional[EstimateDetail]
    frontier: list[FrontierPoint]
    alternatives: list[Alternative]
    rejected: dict[str, str] = Field(description="GPU -> why it cannot run the job")
    notes: list[str]
    prices_as_of: str
    rates_as_of: str
    solve_seconds: Number
    solver: str
    measured_vs_modelled: str
    schema_version: str = SCHEMA_VERSION
    _result: Any = PrivateAttr(default=None)       # the solver's Result and inputs, for the terminal renderer


class _AsGiven(_Result):
    """A result whose keys depend on the outcome: its JSON keeps exactly the keys it was given, in their order, then
    the keys always_last."""
    always_last: ClassVar[tuple[str, ...]] = ("schema_version",)
    _order: list = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_order(cls, data, handler):
        result = handler(data)
        if isinstance(data, dict):
            result._order = list(data)
        return result

    @model_serializer(mode="wrap")
    def _as_given(self, handler):
        d = handler(self)
        if not self._order:
            return d
        out = {k: d[k] for k in self._order if k in d}
        out.update((k, d[k]) for k in self.always_last if k in d)
        return out


class CapacityResult(_AsGiven):
    """`plan capacity --json`: what the cards you have serve; the keys after max_context_tokens depend on whether
    it fits (planner/capacity.py)."""
    cards: dict[str, int]
    engine: str
    precision: str
    prompt_tokens: int
    new_tokens: int
    targets: LatencyTargets
    max_context_tokens: int = Field(description="the largest context (tokens) one sequence can have on the cards")
    replicas: Optional[int] = None
    tensor_parallel: Optional[int] = None
    pipeline_parallel: Optional[int] = None
    binding: Optional[str] = Field(None, description="what limits more users: memory, ttft, itl, ...")
    fits: bool
    users: Optional[int] = None
    reason: Optional[str] = None
    rate_rps: Optional[Number] = None
    ttft_s: Optional[Number] = None
    itl_s: Optional[Number] = None
    tokens_per_s_per_user: Optional[Number] = None
    tokens_per_s: Optional[Number] = None
    bound: Optional[str] = None
    model: str
    stack: str
    notes: list[str]
    schema_version: str = SCHEMA_VERSION


class SoftwareFamily(_Result):
    family: str
    training: dict[str, list[str]]
    serving: list[str]
    default_training: str
    default_serving: str
    note: str


class CatalogResult(_Result):
    """`plan catalog --json`."""
    as_of: str
    gpus: list[GPU]
    platforms: list[Platform]
    rentals: list[Rental]
    api_prices: list[ApiPrice] = Field(description="hosted-API prices per model and provider (catalog/apis.yaml)")
    software: dict[str, SoftwareFamily]
    rates: dict[str, Number]
    rates_as_of: str
    schema_version: str = SCHEMA_VERSION
    _catalog: Any = PrivateAttr(default=None)


class ModelInfo(_Result):
    params: int
    family: str
    source: str


class ModelsResult(_Result):
    """`plan models --json`."""
    models: dict[str, ModelInfo]
    aliases: dict[str, str]
    schema_version: str = SCHEMA_VERSION


class ScenarioRow(_Result):
    """One variant; the swept options come first under their own names (extra keys)."""
    feasible: bool
    hardware: str
    strategy: Optional[str] = None
    cost: Optional[Number]
    currency: str
    min_headroom_gib: Optional[Number]
    time_days: Optional[Number]
    energy_cost: Optional[Number]
    binding: Optional[str]
    min_budget: Optional[Number]

    @model_serializer(mode="wrap")
    def _swept_first(self, handler):
        d = handler(self)
        extra = self.model_extra or {}
        out = {k: d[k] for k in extra if k in d}
        out.update((k, v) for k, v in d.items() if k not in extra
                   and (k != "strategy" or "strategy" in self.model_fields_set))
        return out


class ScenarioResult(_Result):
    """`plan scenario FILE --json`."""
    scenario: str
    mode: Literal["sequential", "concurrent"]
    variants: list[ScenarioRow]
    schema_version: str = SCHEMA_VERSION


RESULTS = {"plan": PlanResult, "estimate": EstimateResult, "capacity": CapacityResult, "scenario": ScenarioResult, "catalog": CatalogResult,
           "models": ModelsResult}


# ---------------------------------------------------------------------------------------------------
# The functions

def resolve_model(name: str, files: bool = True):
    """(architecture, notes). files=False: never read a path the caller named (the web API and MCP)."""
    return core.resolve_model(name, files)


def workload_of(req: WorkloadOptions, **override) -> Workload:
    """The Workload of a request (planner.core.workload_of: an estimate request sets the GPUs and ZeRO)."""
    return core.workload_of(req, isinstance(req, EstimateRequest), **override)


def constraints_of(req: PlanRequest):
    """The solver's Constraints of a plan request, its ranges checked (planner.core.constraints_of)."""
    return core.constraints_of(req)


def serving_of(req: PlanRequest):
    """(ServingSpec or None, TcoAssumptions) of a plan request (planner.core.serving_of)."""
    return core.serving_of(req)


def run_estimate(req: EstimateRequest, files: bool = True) -> EstimateResult:
    return EstimateResult.model_validate(core.estimate_dict(req, files))


def run_plan(req: PlanRequest, files: bool = True) -> PlanResult:
    """files=False: the model name is never read as a path, and catalog files are refused (the web API, MCP).
    A proposal path, when set, is written (the web server sets one it chose itself)."""
    d, result = core.plan_dict(req, files)
    out = PlanResult.model_validate(d)
    out._result = result
    return out


builtin_catalog = core.builtin_catalog       # the built-in catalogue, validated once per process


def _complete(model: type[BaseModel]) -> None:
    """Build a result model whose field types are planner.catalog's entries (kept off `plan estimate`'s imports)."""
    if not model.__pydantic_complete__:
        from planner import catalog
        model.model_rebuild(_types_namespace={n: entry_model(getattr(catalog, n)) for n in ("GPU", "ApiPrice",
                                                                                            "Platform", "Rental")})


@functools.lru_cache(maxsize=None)
def entry_model(cls: type) -> type[BaseModel]:
    """A catalogue entry (a planner.catalog dataclass, validated by planner.lax) as the pydantic model CatalogResult
    lists: the same name, docstring, fields, types, defaults and limits, so `plan schema catalog` describes what a
    catalogue file takes. Nested entries become their models."""
    import dataclasses
    from pydantic import create_model
    from planner.lax import Entry

    def typed(kind):
        if isinstance(kind, type) and issubclass(kind, Entry):
            return entry_model(kind)
        if typing.get_origin(kind) in (Union, types.UnionType):
            return Union[tuple(typed(k) for k in typing.get_args(kind))]
        return kind
    hints = typing.get_type_hints(cls)
    fields = {}
    for f in dataclasses.fields(cls):
        default = (f.default_factory() if f.default_factory is not dataclasses.MISSING
                   else ... if f.default is dataclasses.MISSING else f.default)
        fields[f.name] = (typed(hints[f.name]), Field(default, **f.metadata))
    return create_model(cls.__name__, __config__=ConfigDict(extra="forbid", allow_inf_nan=False), __doc__=cls.__doc__,
                        __module__=cls.__module__, **fields)


def schema_of(kind: str) -> dict:
    """The JSON Schema of one result model (serialization mode)."""
    _complete(RESULTS[kind])
    return RESULTS[kind].model_json_schema(mode="serialization")


def run_catalog(files: list[str] | tuple[str, ...] = ()) -> CatalogResult:
    from planner.catalog import load_catalog
    from planner.software import FAMILIES
    cat = load_catalog(list(files))
    _complete(CatalogResult)
    software = {f.label: {"family": f.name, "training": {k: list(v) for k, v in f.frameworks.items()},
                          "serving": list(f.engines), "default_training": f.default_framework,
                          "default_serving": f.default_engine, "note": f.note} for f in FAMILIES.values()}
    out = CatalogResult.model_validate(
        {"as_of": cat.as_of, "gpus": [g.as_dict() for g in cat.gpus.values()],
         "platforms": [p.as_dict() for p in cat.platforms.values()],
         "rentals": [r.as_dict() for rs in cat.rentals.values() for r in rs],
         "api_prices": [a.as_dict() for m in cat.api_prices for a in cat.api_offers(m)],
         "software": software, "rates": cat.rates, "rates_as_of": cat.rates_as_of})
    out._catalog = cat
    return out


def plan(**options) -> PlanResult:
    """Plan hardware: api.plan(model="70b", method="qlora", budget=200_000). Options: PlanRequest's fields."""
    return run_plan(request(PlanRequest, options))


def estimate(**options) -> EstimateResult:
    """Peak memory of one configuration: api.estimate(model="8b", method="lora", batch_size=4)."""
    return run_estimate(request(EstimateRequest, options))


def run_capacity(req: CapacityRequest, files: bool = True) -> CapacityResult:
    """What the cards you have can serve (planner/capacity.py): context, users, tokens/s within the targets."""
    return CapacityResult.model_validate(core.capacity_dict(req, files))


def capacity(**options) -> CapacityResult:
    """What owned cards serve: api.capacity(model="70b", have=["2xrtx-3090"], engine="llama.cpp",
    precision="q4_k_m")."""
    return run_capacity(request(CapacityRequest, options))


def catalog(*files: str) -> CatalogResult:
    """The hardware catalogue (built-in, plus YAML files adding or overriding entries)."""
    return run_catalog(files)


def models() -> ModelsResult:
    from planner.data import builtin_registry
    reg = builtin_registry()
    return ModelsResult.model_validate(
        {"models": {k: {"params": m.params, "family": m.family, "source": m.source} for k, m in reg.models.items()},
         "aliases": reg.aliases})


def scenario(path: str) -> ScenarioResult:
    """A what-if scenario file (planner/scenario.py): one row per variant."""
    from planner.scenario import run_scenario
    sc, rows = run_scenario(path)
    out = ScenarioResult.model_validate({"scenario": sc.name, "mode": sc.mode, "variants": rows})
    return out


def choices_of(annotation) -> tuple:
    """The closed set of values of a field's type (its Literal, under Optional/Annotated), or ()."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        if values := choices_of(arg):
            return values
    return ()


def options() -> dict:
    """Every closed-set option of `plan` and its values (GET /api/options: the page's choices), taken from the
    request model, plus the precision groups and per-method default precision."""
    from planner import workload as w
    out: dict = {}
    for name, field in PlanRequest.model_fields.items():
        if values := choices_of(field.annotation):
            out[name.replace("_", "-")] = list(values)
    precisions = typing.get_args(Precision)
    out["precision_groups"] = {
        "float": [p for p in precisions if p not in w.QUANTISED + w.SERVING_FORMATS],
        "bitsandbytes": list(w.QUANTISED),
        "serving": [p for p in w.SERVING_FORMATS if p not in w.GGUF_TYPES], "gguf": list(w.GGUF_TYPES)}
    out["defaults"] = {"precision": dict(w.DEFAULT_PRECISION)}
    return out


RUNNERS = {"plan": run_plan, "estimate": run_estimate, "capacity": run_capacity}     # request kind -> function(request) -> result


def schema(kind: str) -> dict:
    """The JSON Schema of a command's result (`plan schema KIND`), with its request's schema under 'request'."""
    if kind not in RESULTS:
        raise InputError(f"schema: expected one of {', '.join(RESULTS)}, got {kind!r}")
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "schema_version": SCHEMA_VERSION}
    _complete(RESULTS[kind])
    doc.update(RESULTS[kind].model_json_schema(mode="serialization"))
    if kind in REQUESTS:
        doc["request"] = REQUESTS[kind].model_json_schema()
    elif kind == "scenario":
        from planner.scenario import Scenario
        doc["request"] = Scenario.model_json_schema()
    return doc


def dumps(result: BaseModel) -> str:
    """The text `--json` prints: one JSON document."""
    import json
    return json.dumps(result.model_dump(mode="json"), indent=1) + "\n"


# ---------------------------------------------------------------------------------------------------
# The option table: what the command line needs of the request models, without pydantic (planner/options.json)

def _base_type(annotation) -> tuple[str, bool]:
    """('int' | 'float' | 'str' | 'bool' | 'list' | 'literal', optional) of a field's type."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    args = typing.get_args(annotation)
    optional = typing.get_origin(annotation) in (Union, types.UnionType) and type(None) in args
    if optional:
        rest = [a for a in args if a is not type(None)]
        annotation = rest[0] if len(rest) == 1 else Union[tuple(rest)]
    if typing.get_origin(annotation) is Literal:
        return "literal", optional
    if annotation is list or typing.get_origin(annotation) is list:
        return "list", optional
    return {int: "int", float: "float", str: "str", bool: "bool"}.get(annotation, repr(annotation)), optional


def _check_of(field) -> dict | None:
    """The plain validator a field applies (its BeforeValidator's function, planner/values.py), with its
    parameters; {"validator": "unknown"} when the field checks anything the table cannot name (the CLI then
    validates that option with pydantic)."""
    checks, unknown = [], False
    for meta in field.metadata:
        if isinstance(meta, Cli) or set(getattr(meta, "__dict__", {})) == {"allow_inf_nan"}:
            continue                        # allow_inf_nan: the entry's own key
        spec = getattr(getattr(meta, "func", None), "spec", None) if isinstance(meta, BeforeValidator) else None
        if spec is None:
            unknown = True
        else:
            checks.append(spec)
    if unknown or len(checks) > 1:
        return {"validator": "unknown"}
    return checks[0] if checks else None


def options_of(model: type[_Request]) -> list[dict]:
    """One entry per field of a request model: everything argparse and the CLI's fast validation need."""
    out = []
    for name, field in model.model_fields.items():
        meta = cli_meta(field)
        flag = flag_of(name, model)
        help_text = (field.description or "").replace("%", "%%")      # argparse formats help with %
        default = None if field.is_required() else field.default
        if default not in (None, False, [], ()) and not field.is_required():
            help_text += f" (default: {default})"
        base, optional = _base_type(field.annotation)
        if field.annotation is bool:
            kind = "no-switch" if default is True else "switch"
        elif field.annotation == typing.Optional[bool]:
            kind = "optional-switch"
        else:
            kind = "repeated" if base == "list" else "value"
        values = choices_of(field.annotation)
        metavar = meta.metavar or ("{" + ",".join(str(v) for v in values) + "}" if values else None)
        out.append({"name": name, "flags": [flag, *meta.aliases], "help": help_text, "default": default,
                    "kind": kind, "metavar": metavar if kind in ("value", "repeated") else None,
                    "required": field.is_required(), "type": base, "optional": optional,
                    "check": _check_of(field), "allow_inf_nan": bool(_allows_inf_nan(field)),
                    "local_file": meta.local_file})
    return out


def _allows_inf_nan(field) -> bool:
    return any(getattr(m, "allow_inf_nan", None) for m in field.metadata)


# What planner.core.result_json reads of a result model: the model_serializer and model_validator functions below
# (by name) are the ones it reproduces; a model with any other, or a field or setting not described, is unsupported
# (the command line then dumps it with pydantic)
KNOWN_DECORATORS = {"model_serializers": {"_omit_unless_set", "_as_given"}, "model_validators": {"_remember_order"}}
KNOWN_CONFIG = {"extra", "defer_build"}
FAST_RESULTS = ("plan", "estimate", "capacity")     # the results the command line dumps without pydantic


class _Unsupported(Exception):
    """A result model feature planner.core.result_json does not reproduce."""


def _shape(annotation):
    """A field's type as planner.core.result_json reads it: "int" | "float" | "number" (int or float, kept as
    given) | "str" | "bool" | "any" | ["optional" | "list" | "dict", shape] | ["literal", values] |
    ["model", name]."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        rest = tuple(a for a in args if a is not type(None))
        if len(rest) < len(args):
            return ["optional", _shape(rest[0] if len(rest) == 1 else Union[rest])]
        if set(rest) == {int, float}:
            return "number"
        raise _Unsupported(f"union {annotation}")
    if annotation in (int, float, str, bool):
        return annotation.__name__
    if annotation is Any:
        return "any"
    if origin is Literal and all(type(a) is str for a in args):
        return ["literal", list(args)]
    if origin is list and len(args) == 1:
        return ["list", _shape(args[0])]
    if origin is dict and len(args) == 2 and args[0] is str:
        return ["dict", _shape(args[1])]
    if isinstance(annotation, type) and issubclass(annotation, _Result):
        return ["model", annotation.__name__]
    raise _Unsupported(f"type {annotation}")


def _models_in(shape) -> list[str]:
    """The result model a shape names, if any."""
    if isinstance(shape, str) or shape[0] == "literal":
        return []
    return [shape[1]] if shape[0] == "model" else _models_in(shape[1])


def _described(model: type[_Result]) -> dict:
    """What model_dump(mode="json") does with one result model validated from a dict (planner.core.result_json)."""
    out = {"fields": {}, "defaults": {}, "extra": model.model_config.get("extra"),
           "omit_unless_set": list(getattr(model, "omit_unless_set", ())),
           "as_given": list(model.always_last) if issubclass(model, _AsGiven) else None,
           # pydantic dumps what a model_serializer returns again as a value of no declared type, so infinities
           # and NaN anywhere under the model become null
           "reinferred": bool(model.__pydantic_decorators__.model_serializers), "unsupported": None}
    try:
        if set(model.model_config) - KNOWN_CONFIG:
            raise _Unsupported(f"model_config {sorted(set(model.model_config) - KNOWN_CONFIG)}")
        decorators = model.__pydantic_decorators__           # a dataclass of {function name: decorator} per kind
        for kind in ("validators", "field_validators", "root_validators", "field_serializers", "model_serializers",
                     "model_validators", "computed_fields"):
            found = getattr(decorators, kind)
            if set(found) - KNOWN_DECORATORS.get(kind, set()):
                raise _Unsupported(f"{kind} {sorted(set(found) - KNOWN_DECORATORS.get(kind, set()))}")
        for name, f in model.model_fields.items():
            if f.alias or f.validation_alias or f.serialization_alias or f.exclude or f.metadata \
                    or f.default_factory is not None:
                raise _Unsupported(f"field {name}: alias, exclude, constraint or default factory")
            out["fields"][name] = _shape(f.annotation)
            if not f.is_required():
                out["defaults"][name] = f.default
    except _Unsupported as e:
        out.update(fields={}, defaults={}, unsupported=str(e))
    return out


def result_table() -> dict:
    """Every result model reachable from the FAST_RESULTS, described for planner.core.result_json."""
    models = {m.__name__: m for m in globals().values() if isinstance(m, type) and issubclass(m, _Result)}
    table, todo = {}, [RESULTS[kind].__name__ for kind in FAST_RESULTS]
    while todo:
        name = todo.pop(0)
        if name not in table:
            table[name] = _described(models[name])
            todo += [n for shape in table[name]["fields"].values() for n in _models_in(shape)]
    return table


def option_table() -> dict:
    """planner/options.json: the options of plan, estimate and capacity, and what their results' JSON holds."""
    return {"generated_by": "python -m planner.api --write-options (from planner.api's request and result models)",
            "commands": {kind: options_of(model) for kind, model in REQUESTS.items()},
            "results": list(RESULTS),
            "result_models": result_table()}


def options_text() -> str:
    import json
    return json.dumps(option_table(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    import sys
    if sys.argv[1:] != ["--write-options"]:
        sys.exit("usage: python -m planner.api --write-options   (regenerates planner/options.json)")
    core.OPTIONS_FILE.write_text(options_text(), encoding="utf-8")
    print(f"wrote {core.OPTIONS_FILE}")
