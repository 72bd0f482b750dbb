"""Command line: `plan --model 70b --method qlora --budget 200000`, `plan estimate ...`, `plan catalog`, ...

Data flows one way: parse and validate the input -> estimate -> solve -> render. Bad input exits 2 with a
one-line error; no plan fitting exits 3.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import typing

from pydantic import ValidationError

from planner.errors import InputError, shown

SUBCOMMANDS = ("estimate", "catalog", "models", "scenario", "plan", "completion", "serve", "capacity")
FLAG_OF = {"batch_size": "--batch-size", "seq_len": "--seq-len", "new_tokens": "--new-tokens",
           "lora_rank": "--lora-rank", "lora_targets": "--lora-targets", "zero_stage": "--zero", "gpus": "--gpus",
           "method": "--method", "precision": "--precision", "optimizer": "--optimizer", "offload": "--offload",
           "attention": "--attention", "parallel": "--parallel", "engine": "--engine", "framework": "--framework",
           "loss": "--loss", "grad_accum": "--grad-accum", "kv_cache_dtype": "--kv-cache-dtype",
           "gpu_layers": "--gpu-layers", "gpu_memory_utilization": "--gpu-memory-utilization",
           "activation_checkpointing": "--activation-checkpointing", "ac_every": "--ac-every",
           "optimizer_in_backward": "--optimizer-in-backward", "compile": "--compile", "pipeline_parallel": "--pipeline-parallel",
           "zero3_max_live_parameters": "--zero3-max-live-parameters", "cpu_moe_layers": "--n-cpu-moe", "quantize_moe_experts": "--quantize-moe-experts",
           "mem_fraction_static": "--mem-fraction-static", "speculative": "--speculative",
           "speculative_tokens": "--speculative-tokens"}


# Job sizes far beyond any real job (the largest pre-training runs are ~4e13 tokens); larger ones only overflow
# the solver's time coefficients
MAX_TOKENS = 1e15
MAX_EXAMPLES = 10**9
MAX_REQUESTS = 10**12


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + error otherwise)
        raise InputError(message)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Help shows each option's default (and, through the metavar, its allowed values)."""

    def _get_help_string(self, action):
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def _choice(flag: str, values: tuple[str, ...], aliases: dict[str, str] | None = None):
    """An argparse type for a closed set of values: case-insensitive, aliases mapped, close matches suggested."""
    aliases = aliases or {}

    def parse(text: str) -> str:
        v = text.strip().lower()
        v = aliases.get(v, v)
        if v in values:
            return v
        import difflib
        close = difflib.get_close_matches(v, list(values) + list(aliases), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise argparse.ArgumentTypeError(f"{shown(text)} is not one of {', '.join(values)}{hint}")
    parse.__name__ = flag      # argparse names the type in its message: "invalid <name> value"
    return parse


def _add_choice(p, flag: str, values: tuple[str, ...], default=None, help: str = "", aliases=None) -> None:
    p.add_argument(flag, type=_choice(flag, values, aliases), default=default, metavar="{" + ",".join(values) + "}",
                   help=help)


def _workload_args(p: argparse.ArgumentParser, planning: bool) -> None:
    from planner.workload import (METHOD_ALIASES, PRECISION_ALIASES, Attention, Engine, Framework, KVCacheDtype,
                                  Loss, Method, Optimizer, Precision)
    vals = typing.get_args
    p.add_argument("--model", required=True,
                   help="built-in name or size alias (70b, 8x7b), Hugging Face id (org/name), model folder, "
                        "config.json or .gguf file")
    _add_choice(p, "--method", vals(Method), "inference", "what to run; pretrain = full training from scratch "
                "(Chinchilla tokens by default), full = full fine-tuning", METHOD_ALIASES)
    _add_choice(p, "--precision", vals(Precision), None, "weights/compute format (default: bf16 for inference "
                "and LoRA, bf16-mixed for full training, nf4 for QLoRA)", PRECISION_ALIASES)
    p.add_argument("--batch-size", type=int, default=1, help="micro-batch per GPU (inference: concurrent sequences)")
    p.add_argument("--seq-len", type=_tokens_count, default=2048,
                   help="training: the longest example, memory is sized for it; inference: prompt length in tokens "
                        "(8k = 8192)")
    p.add_argument("--new-tokens", type=_tokens_count, default=256,
                   help="tokens generated per sequence (inference; 1k = 1024)")
    _add_choice(p, "--optimizer", vals(Optimizer), "adamw")
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--lora-targets", default="all-linear", help="all-linear | attention | q_proj,v_proj,...")
    gc = p.add_mutually_exclusive_group()
    gc.add_argument("--gradient-checkpointing", dest="gc", action="store_true", default=None,
                    help="recompute activations in backward (default: on for QLoRA)")
    gc.add_argument("--no-gradient-checkpointing", dest="gc", action="store_false")
    _add_choice(p, "--attention", vals(Attention), "auto", "attention kernel (auto: the stack's default)")
    _add_choice(p, "--engine", vals(Engine), None, "inference runtime (default: transformers generate(), which the "
                "measurements cover; on Apple machines mlx when planning)")
    _add_choice(p, "--framework", vals(Framework), None, "training stack (default: hf = HF Trainer + peft + "
                "bitsandbytes; on Apple machines mlx-lm when planning)")
    _add_choice(p, "--loss", vals(Loss), "auto", "cross-entropy implementation (auto: the stack's default)")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--activation-offload", action="store_true", help="keep activation checkpoints in host RAM")
    _add_choice(p, "--kv-cache-dtype", vals(KVCacheDtype), "auto", "KV cache format (auto: the compute dtype)")
    p.add_argument("--gpu-layers", type=int, help="llama.cpp -ngl: layers on the GPU (default: all)")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.90, help="vLLM: share of each card it may use")
    _add_mechanism_args(p)
    if not planning:
        p.add_argument("--gpus", type=int, default=1)
        p.add_argument("--zero", type=int, default=None, choices=[0, 1, 2, 3],
                       help="ZeRO / FSDP stage (default: 3 = FULL_SHARD for the FSDP stacks on several GPUs, as "
                            "accelerate, fsdp_qlora, torchtune and LitGPT default to; else 0)")
        _add_choice(p, "--offload", ("none", "optimizer", "optimizer+params"), "none", "what lives in host RAM")
        _add_choice(p, "--parallel", ("auto", "tensor", "pipeline"), "auto", "inference split over --gpus")
    p.add_argument("--json", action="store_true", help="print one JSON document and nothing else")


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", type=_positive_float, help="spending limit in --currency (200000 or 200k)")
    p.add_argument("--currency", default="USD", help="currency of budget and prices (see `plan catalog`)")
    p.add_argument("--max-gpus", type=int, default=64)
    p.add_argument("--gpus", type=int, help="plan for exactly this many GPUs (a recipe's count; default: any)")
    p.add_argument("--include", action="append", default=[], help="only these GPUs (repeat or comma-separate)")
    p.add_argument("--exclude", action="append", default=[], help="never these GPUs")
    p.add_argument("--allow-used", action="store_true", help="consider used-market cards")
    p.add_argument("--zero", type=int, choices=[0, 1, 2, 3], help="force a ZeRO/FSDP stage (default: try all)")
    _add_choice(p, "--offload", ("none", "optimizer", "optimizer+params", "any"), "none",
                "CPU offload the planner may use besides none (it is slow, so never by default)")
    _add_choice(p, "--force-offload", ("optimizer", "optimizer+params"), None,
                "plan only with this CPU offload (e.g. Answer.AI's 70B recipe on 24 GB cards)")
    p.add_argument("--ram-ratio", type=float, default=1.0, help="system RAM >= ratio x VRAM, per machine")
    p.add_argument("--margin", type=float, default=0.05, help="fraction of each card's memory kept free")
    p.add_argument("--require-nvlink", action="store_true", help="cards bridged in pairs or on an NVSwitch")
    _add_choice(p, "--parallel", ("auto", "tensor", "pipeline"), "auto",
                "inference split: auto/pipeline (layers split) or tensor (one NVLink domain, one host)")
    p.add_argument("--catalog", action="append", default=[], help="YAML file adding or overriding entries")
    p.add_argument("--alternatives", type=int, default=3, help="next-cheapest plans with other GPUs (0-10)")
    _add_choice(p, "--objective", ("cost", "time"), None,
                "override the decision rule: cost = the cheapest plan (meeting --deadline), time = the fastest "
                "within the budget (default: the stated rule, README 'How a plan is chosen')")
    p.add_argument("--have", action="append", default=[], metavar="[COUNTx]NAME",
                   help="hardware you already have, repeatable: a catalogue GPU (2xrtx-3090), host platform "
                        "(desktop-am5) or machine (mac-studio-m4-max-128gb); it costs nothing, the plan buys the rest")
    p.add_argument("--max-machines", type=int, help="at most this many machines (1: one box)")
    p.add_argument("--no-savers", dest="savers", action="store_false",
                   help="plan the workload exactly as given: no gradient checkpointing, flash attention, fused loss, "
                        "Unsloth or quantised KV cache added to fit fewer cards")
    p.add_argument("--min-headroom", type=float, default=0.05,
                   help="never recommend a plan leaving less than this fraction of a card's usable memory free")
    p.add_argument("--tokens", type=_positive_float,
                   help="training tokens, 2e9 or 2G (default: pretrain 20 x parameters; fine-tuning --examples x "
                        "--tokens-per-example x --epochs)")
    p.add_argument("--examples", type=_si_count, help="fine-tuning examples in the job (default 10,000)")
    p.add_argument("--tokens-per-example", type=_tokens_count,
                   help="mean tokens per fine-tuning example, packed (default 512, common instruction datasets; "
                        "--seq-len is the longest)")
    p.add_argument("--epochs", type=_positive_float, help="passes over the examples (default 3)")
    p.add_argument("--deadline", "--deadline-days", dest="deadline", type=_duration_days,
                   help="the job must finish within this: 14d, 36h, 2w or 'none' (default: none, the decision rule "
                        "picks)")
    p.add_argument("--requests", type=_si_count, help="inference: sequences to serve (default 10,000; 1M = 10^6)")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--rate", type=_positive_float, help="serving: requests per second to sustain (each "
                      "--seq-len prompt tokens in, --new-tokens out); sizes replicas and split for the load")
    load.add_argument("--users", type=int, help="serving: concurrent streams to serve (each always has a "
                      "request in flight)")
    p.add_argument("--ttft", type=_positive_float, help="serving target: mean time to first token, seconds")
    p.add_argument("--itl", type=_positive_float, help="serving target: mean inter-token latency, seconds "
                   "(0.05 = 20 tokens/s per user)")
    p.add_argument("--years", type=_positive_float, default=3.0, help="cost per token: years the purchase is "
                   "written off over")
    p.add_argument("--utilization", type=_positive_float, default=1.0, help="cost per token: share of the "
                   "year's hours the load runs (0-1)")
    p.add_argument("--pue", type=_positive_float, default=1.58, help="cost per token: facility power over IT "
                   "power (Uptime Institute 2023 average)")
    p.add_argument("--maintenance", type=float, default=0.06, help="cost per token: maintenance per year, share "
                   "of the purchase price (4-8%%, CTWatch 2006)")
    p.add_argument("--residual", type=float, default=0.70, help="cost per token: resale value after --years, "
                   "share of the purchase price (catalogue used/new prices)")
    p.add_argument("--electricity", type=_positive_float, help="cost per token: USD per kWh (default: the "
                   "catalogue's)")
    p.add_argument("--proposal", help="write a procurement proposal to FILE.md or FILE.html")


COMMANDS_EPILOG = """other commands:
  plan estimate ...        peak GPU memory and system RAM of one configuration
  plan scenario FILE       plan a what-if scenario file (workloads, constraints, sweeps)
  plan capacity --have 2xrtx-3090 --model 70b   what cards you have can serve (context, users, tokens/s)
  plan catalog             the hardware catalogue, prices and rental rates
  plan models              built-in models and size aliases
  plan completion SHELL    print a bash or zsh completion script

exit status: 0 a plan was found, 2 bad input, 3 no plan fits, 1 internal error"""


def build_parser() -> argparse.ArgumentParser:
    from planner import __version__
    root = _Parser(prog="plan", description="What hardware to buy (GPUs, hosts, system RAM) to run an LLM "
                   "workload, what it costs and how long the job takes.", epilog=COMMANDS_EPILOG,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    root.add_argument("--version", action="version", version=f"plan (llm-hw-planner) {__version__}")
    sub = root.add_subparsers(dest="command", parser_class=_Parser)
    pp = sub.add_parser("plan", prog="plan", help="find the hardware (the default command: `plan --model ...`)",
                        description="Find the cheapest hardware that runs the workload (the default command).",
                        epilog=COMMANDS_EPILOG, formatter_class=_HelpWithEpilog)
    _workload_args(pp, planning=True)
    _plan_args(pp)
    pe = sub.add_parser("estimate", help="peak GPU memory and system RAM of one configuration",
                        formatter_class=_Help)
    _workload_args(pe, planning=False)
    pcap = sub.add_parser("capacity", help="what hardware you have can serve: context, users, tokens/s, rate",
                          formatter_class=_Help)
    _workload_args(pcap, planning=True)
    pcap.add_argument("--have", action="append", default=[], help="cards or machine you have: [COUNTx]NAME "
                      "(e.g. 2xrtx-3090, mac-studio-m4-max-128gb; see `plan catalog`)")
    pcap.add_argument("--ttft", type=_positive_float, help="target: mean time to first token, seconds")
    pcap.add_argument("--itl", type=_positive_float, help="target: mean inter-token latency, seconds")
    pcap.add_argument("--margin", type=float, default=0.05, help="fraction of each card's memory kept free")
    _add_choice(pcap, "--parallel", ("auto", "tensor", "pipeline"), "auto", "split over the cards (auto: the "
                "engine's: vLLM tensor parallel, others layers split)")
    pcap.add_argument("--catalog", action="append", default=[], help="YAML file adding or overriding entries")
    pc = sub.add_parser("catalog", help="list the hardware catalogue")
    pc.add_argument("--catalog", action="append", default=[])
    pc.add_argument("--json", action="store_true")
    ps = sub.add_parser("scenario", help="plan a what-if scenario file (workloads, constraints, sweeps)")
    ps.add_argument("file")
    fmt = ps.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    pm = sub.add_parser("models", help="list built-in models and size aliases")
    pm.add_argument("--json", action="store_true")
    pcomp = sub.add_parser("completion", help="print a shell completion script")
    pcomp.add_argument("shell", type=_choice("shell", ("bash", "zsh")))
    pw = sub.add_parser("serve", help="a local web page and JSON API over the same planner")
    pw.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    pw.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    pw.add_argument("--open", action="store_true", help="open the page in the default browser")
    return root


class _HelpWithEpilog(_Help, argparse.RawDescriptionHelpFormatter):
    pass


SUFFIXES = {"k": 1e3, "m": 1e6, "g": 1e9}          # 200k USD, 1.5M examples, 2G tokens (SI, case-insensitive)
BINARY_SUFFIXES = {"k": 1024, "m": 1024**2}      # sequence lengths: "8k context" is 8,192 tokens (Llama, Qwen cards)
MIN_DEADLINE_DAYS = 1 / 86400                    # one second: shorter only divides the job into overflowing numbers


def _scaled(text: str, suffixes: dict) -> float:
    """'200k' -> 200000.0, '1.5M' -> 1500000.0, '2e9' -> 2e9; ValueError otherwise."""
    t = text.strip()
    scale = suffixes.get(t[-1:].lower())
    return float(t[:-1]) * scale if scale else float(t)


def _positive_float(text: str) -> float:
    try:
        value = _scaled(text, SUFFIXES)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 200000, 200k or 1.5M, got {shown(text)}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {shown(text)}")
    return value


def _count(suffixes: dict):
    """An argparse type for a whole count that takes k/M/G suffixes (8k, 1.5M); argparse names it 'int'."""
    def parse(text: str) -> int:
        try:
            value = _scaled(text, suffixes)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number such as 8192 or 8k, got {shown(text)}") \
                from None
        if not math.isfinite(value) or value != int(value):
            raise argparse.ArgumentTypeError(f"expected a whole number, got {shown(text)}")
        return int(value)
    parse.__name__ = "int"
    return parse


_tokens_count = _count(BINARY_SUFFIXES)          # --seq-len, --new-tokens
_si_count = _count(SUFFIXES)                     # --examples, --requests


def _duration_days(text: str) -> float:
    t = text.strip().lower()
    if t in ("none", "no", "off"):
        return math.inf                               # explicitly no deadline
    scale = {"d": 1.0, "h": 1 / 24, "w": 7.0}.get(t[-1:], None)
    try:
        value = float(t[:-1]) * scale if scale is not None else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration like 14d, 36h, 2w or none, got {shown(text)}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive duration, got {shown(text)}")
    if value < MIN_DEADLINE_DAYS:
        raise argparse.ArgumentTypeError(f"must be at least one second (e.g. 36h or 14d), got {shown(text)}")
    return value


def _add_mechanism_args(p: argparse.ArgumentParser) -> None:
    """Mechanisms published runs vary per run (planner/estimator/stacks.py and engines.py cite their code)."""
    from planner.workload import ActivationCheckpointing
    _add_choice(p, "--activation-checkpointing", typing.get_args(ActivationCheckpointing), "auto",
                "full: recompute every layer; selective: torchtitan/torchtune per-op policy (or every N-th layer "
                "with --ac-every N); none (auto: --gradient-checkpointing's choice)")
    p.add_argument("--ac-every", type=int, help="selective checkpointing: checkpoint every N-th layer")
    comp = p.add_mutually_exclusive_group()
    comp.add_argument("--compile", dest="compile", action="store_true", default=None,
                      help="the model runs under torch.compile (default: the stack's, e.g. torchtune on)")
    comp.add_argument("--no-compile", dest="compile", action="store_false")
    oib = p.add_mutually_exclusive_group()
    oib.add_argument("--optimizer-in-backward", dest="optimizer_in_backward", action="store_true", default=None,
                     help="step each parameter in backward and free its gradient (torchtune optimizer_in_bwd)")
    oib.add_argument("--no-optimizer-in-backward", dest="optimizer_in_backward", action="store_false")
    p.add_argument("--pipeline-parallel", type=int, default=1,
                   help="serving: pipeline stages (vLLM/SGLang --pipeline-parallel-size); tensor parallel = gpus / N")
    p.add_argument("--zero3-max-live-parameters", type=int,
                   help="DeepSpeed stage3_max_live_parameters (default 1e9)")
    p.add_argument("--quantize-moe-experts", action="store_true",
                   help="bitsandbytes-quantise the fused MoE experts too (Axolotl quantize_moe_experts)")
    p.add_argument("--n-cpu-moe", type=int, default=0,
                   help="llama.cpp: keep the MoE experts of the first N layers in host RAM")
    p.add_argument("--mem-fraction-static", type=float,
                   help="SGLang: share of the card for weights + KV pool (default: SGLang's by card size)")
    p.add_argument("--speculative", help="serving: speculative decoding with the model's MTP heads (mtp) or a "
                   "built-in draft model name")
    p.add_argument("--speculative-tokens", type=int, default=1, help="draft tokens proposed per step")


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _workload(a, **override):
    from planner.workload import Workload
    kw = dict(method=a.method, precision=a.precision, batch_size=a.batch_size, seq_len=a.seq_len,
              new_tokens=a.new_tokens, optimizer=a.optimizer, lora_rank=a.lora_rank, lora_targets=a.lora_targets,
              attention=a.attention, loss=a.loss, grad_accum=a.grad_accum,
              activation_offload=a.activation_offload, kv_cache_dtype=a.kv_cache_dtype, gpu_layers=a.gpu_layers,
              gpu_memory_utilization=a.gpu_memory_utilization,
              activation_checkpointing=a.activation_checkpointing, ac_every=a.ac_every,
              optimizer_in_backward=a.optimizer_in_backward, compile=a.compile, pipeline_parallel=a.pipeline_parallel,
              zero3_max_live_parameters=a.zero3_max_live_parameters, cpu_moe_layers=a.n_cpu_moe,
              quantize_moe_experts=a.quantize_moe_experts,
              mem_fraction_static=a.mem_fraction_static, speculative=a.speculative,
              speculative_tokens=a.speculative_tokens)
    if a.gc is not None:                 # only an explicit choice: unset, the planner may add it (planner/savers.py)
        kw["gradient_checkpointing"] = a.gc
    if a.engine is not None:
        kw["engine"] = a.engine
    if a.framework is not None:
        kw["framework"] = a.framework
    if getattr(a, "command", "") == "estimate":
        zero = a.zero
        if zero is None:
            # FSDP stacks shard fully unless told otherwise: accelerate's fsdp_sharding_strategy defaults to
            # FULL_SHARD, fsdp_qlora train.py to "full_shard", torchtune's fully_shard and LitGPT's FSDPStrategy
            # too; DeepSpeed (hf) and single-GPU stacks: no ZeRO unless asked
            fsdp = kw.get("framework", "hf") in ("hf-fsdp", "fsdp-qlora", "torchtune", "litgpt", "torchtitan")
            zero = 3 if fsdp and a.gpus > 1 and a.method != "inference" else 0
        kw.update(gpus=a.gpus, zero_stage=zero, offload=a.offload, parallel=a.parallel)
    elif a.method == "inference":
        kw.update(parallel=a.parallel)
    kw.update(override)
    return Workload(**kw)


def _resolve_model(name: str):
    """(architecture, notes): where the model came from and what its stored weights are (planner/sources.py)."""
    from planner.data import builtin_registry
    arch, note = builtin_registry().resolve(name)
    return arch, ([note] if note else []) + list(arch.notes)


def cmd_estimate(a, out) -> int:
    from planner.estimator import estimate
    from planner.render import console_for, render_estimate
    arch, notes = _resolve_model(a.model)
    wl = _workload(a)
    est = estimate(arch, wl)
    if a.json:
        d = est.to_dict()
        d["assumptions"] = notes + d["assumptions"]
        d["workload"] = wl.model_dump()
        out.write(json.dumps(d, indent=1) + "\n")
    else:
        render_estimate(console_for(out), est, notes)
    return 0


def constraints_from_args(a):
    from planner.configs import Constraints
    if a.requests is not None and not 0 < a.requests <= MAX_REQUESTS:
        raise InputError(f"--requests must be between 1 and {MAX_REQUESTS:,}, got {a.requests}")
    if a.tokens_per_example is not None and not 0 < a.tokens_per_example <= 10_000_000:
        raise InputError(f"--tokens-per-example must be between 1 and 10,000,000, got {a.tokens_per_example}")
    if a.examples is not None and not 0 < a.examples <= MAX_EXAMPLES:
        raise InputError(f"--examples must be between 1 and {MAX_EXAMPLES:,}, got {a.examples}")
    if a.tokens is not None and a.tokens < 1:
        raise InputError(f"--tokens must be at least 1 (a job of whole tokens), got {a.tokens:g}")
    if a.tokens is not None and a.tokens > MAX_TOKENS:
        raise InputError(f"--tokens must be at most {MAX_TOKENS:,.0f} (1,000 times the largest training runs), "
                         f"got {a.tokens:g}")
    if a.alternatives < 0 or a.alternatives > 10:
        raise InputError(f"--alternatives must be 0-10, got {a.alternatives}")
    if a.method == "inference" and (a.zero is not None or a.offload != "none" or a.force_offload):
        raise InputError("--zero and --offload apply to training methods, not inference")
    serving, tco = serving_from_args(a)
    return Constraints(serving=serving, tco=tco, budget=a.budget, currency=a.currency.upper(), max_gpus=a.max_gpus,
                       include=_split(a.include),
                       exclude=_split(a.exclude), allow_used=a.allow_used, zero=a.zero,
                       offload=None if a.offload == "none" else a.offload, force_offload=a.force_offload,
                       ram_ratio=a.ram_ratio, margin=a.margin, require_nvlink=a.require_nvlink,
                       tokens=int(a.tokens) if a.tokens is not None else None, examples=a.examples, epochs=a.epochs,
                       deadline_s=a.deadline * 86400 if a.deadline is not None else None,
                       requests=a.requests, objective=a.objective or "auto", min_headroom=a.min_headroom,
                       tokens_per_example=a.tokens_per_example, savers=a.savers, max_machines=a.max_machines,
                       stack_explicit=a.framework is not None or a.engine is not None, gpus=a.gpus)


MAX_RATE_RPS = 1e6            # a million requests per second: beyond any single deployment
MAX_USERS = 10**7


def serving_from_args(a):
    """(ServingSpec or None, TcoAssumptions) from --rate/--users/--ttft/--itl and the ownership flags."""
    from planner.serving import ServingSpec
    from planner.tco import TcoAssumptions
    rate, users = getattr(a, "rate", None), getattr(a, "users", None)
    ttft, itl = getattr(a, "ttft", None), getattr(a, "itl", None)
    if (rate is not None or users is not None or ttft is not None or itl is not None) and a.method != "inference":
        raise InputError("--rate, --users, --ttft and --itl size serving; use them with --method inference")
    if rate is not None and rate > MAX_RATE_RPS:
        raise InputError(f"--rate must be at most {MAX_RATE_RPS:,.0f} requests per second, got {rate:g}")
    if users is not None and not 1 <= users <= MAX_USERS:
        raise InputError(f"--users must be between 1 and {MAX_USERS:,}, got {users}")
    if (ttft is not None or itl is not None) and rate is None and users is None:
        raise InputError("--ttft/--itl are targets under a load: add --rate R (requests/s) or --users N")
    years = getattr(a, "years", 3.0)
    util = getattr(a, "utilization", 1.0)
    if not 0 < util <= 1:
        raise InputError(f"--utilization is a share of the year's hours, between 0 and 1; got {util:g}")
    if years > 50:
        raise InputError(f"--years must be at most 50, got {years:g}")
    pue = getattr(a, "pue", 1.58)
    if not 1 <= pue <= 5:
        raise InputError(f"--pue is facility over IT power, between 1 and 5; got {pue:g}")
    for flag, v in (("--maintenance", getattr(a, "maintenance", 0.06)), ("--residual", getattr(a, "residual", 0.7))):
        if not (math.isfinite(v) and 0 <= v <= 1):
            raise InputError(f"{flag} is a share of the purchase price, between 0 and 1; got {v:g}")
    tco = TcoAssumptions(years=years, utilization=util, pue=pue, maintenance_per_year=getattr(a, "maintenance", 0.06),
                         residual=getattr(a, "residual", 0.7), electricity_usd_per_kwh=getattr(a, "electricity", None))
    spec = ServingSpec(rate, users, ttft, itl) if (rate is not None or users is not None) else None
    return spec, tco


def cmd_plan(a, out, err=None) -> int:
    from planner.catalog import load_catalog
    from planner.render import console_for, plan_json, render_plan
    from planner.solver import plan
    arch, notes = _resolve_model(a.model)
    wl = _workload(a)
    c = constraints_from_args(a)
    if a.proposal:
        from planner.proposal import check_output_path
        check_output_path(a.proposal)
    catalog = load_catalog(a.catalog)
    from planner.owned import parse_have
    c.owned = parse_have(_split(a.have), catalog)
    res = plan(arch, wl, catalog, c, alternatives=a.alternatives)
    budget_text = f"(budget {a.budget:,.0f} {c.currency})" if a.budget else "(no budget given)"
    if a.proposal and res.feasible:
        from planner.proposal import write_proposal
        write_proposal(a.proposal, arch, wl, c, catalog, res, notes)
        print(f"proposal written to {_one_line(a.proposal)}", file=err or sys.stderr)
    if a.json:
        out.write(json.dumps(plan_json(res, notes, catalog), indent=1) + "\n")
    else:
        render_plan(console_for(out), res, notes, catalog, budget_text)
    if a.proposal and not res.feasible:
        print(f"no proposal written to {a.proposal}: no plan fits ({res.binding})", file=err or sys.stderr)
    return 0 if res.feasible else 3


def cmd_catalog(a, out) -> int:
    from planner.catalog import load_catalog
    from planner.software import FAMILIES
    cat = load_catalog(a.catalog)
    software = {f.label: {"family": f.name, "training": {k: list(v) for k, v in f.frameworks.items()},
                          "serving": list(f.engines), "default_training": f.default_framework,
                          "default_serving": f.default_engine, "note": f.note} for f in FAMILIES.values()}
    if a.json:
        out.write(json.dumps({"as_of": cat.as_of, "gpus": [g.model_dump() for g in cat.gpus.values()],
                              "platforms": [p.model_dump() for p in cat.platforms.values()],
                              "rentals": [r.model_dump() for rs in cat.rentals.values() for r in rs],
                              "api_prices": [a.model_dump() for m in cat.api_prices for a in cat.api_offers(m)],
                              "software": software, "rates": cat.rates, "rates_as_of": cat.rates_as_of},
                             indent=1) + "\n")
        return 0
    from rich.table import Table                  # the tables only: `--json` never imports rich

    from planner.render import console_for
    t = Table(title=f"GPUs and machines: memory GB, bandwidth GB/s, dense bf16 TFLOPS (prices as of {cat.as_of})",
              title_justify="left")
    for col in ("name", "GB", "GB/s", "TFLOPS", "TDP W", "NVLink", "form", "cooling", "market", "price"):
        t.add_column(col, no_wrap=True)
    for g in cat.gpus.values():
        t.add_row(g.name, f"{g.memory_gb:g}", f"{g.bandwidth_gbps:g}", f"{g.bf16_tflops:g}", f"{g.tdp_w:g}",
                  f"{g.nvlink.width}-way" if g.nvlink else "-", g.form, g.cooling, g.market,
                  f"{g.price:,.0f} {g.currency}")
    c = console_for(out)
    c.print(t)
    t2 = Table(title="Host platforms (price without GPUs and RAM)", title_justify="left")
    for col in ("name", "forms", "GPUs", "cooling", "PSU W", "max RAM GB", "RAM", "RAM $/GB", "price"):
        t2.add_column(col)
    for p in cat.platforms.values():
        gpus = f"exactly {p.fixed_gpus}" if p.fixed_gpus else f"up to {p.max_gpus}"
        if p.gpus:
            gpus += " (" + ", ".join(p.gpus) + ")"
        t2.add_row(p.name, ",".join(p.forms), gpus, "server airflow" if p.passive_cooling else "active cards only",
                   f"{p.psu_w:g}", str(p.max_ram_gb), p.ram_type or "-", f"{p.ram_price_per_gb:g}",
                   f"{p.price:,.0f} {p.currency}")
    c.print(t2)
    if cat.rentals:
        t3 = Table(title="Cloud rentals (on-demand USD per GPU-hour)", title_justify="left")
        for col in ("gpu", "provider", "USD/GPU-h", "interconnect", "as of"):
            t3.add_column(col, no_wrap=col in ("gpu", "as of"))
        for name, rs in cat.rentals.items():
            for r in sorted(rs, key=lambda r: r.usd_per_gpu_hour):
                t3.add_row(name, r.provider, f"{r.usd_per_gpu_hour:.2f}", r.interconnect or "-", r.as_of)
        c.print(t3)
    if cat.api_prices:
        t4 = Table(title="Hosted APIs for the built-in open models (USD per million tokens, pay as you go)",
                   title_justify="left")
        for col in ("model", "provider", "in", "out", "provider's id", "as of"):
            t4.add_column(col, no_wrap=col in ("model", "as of"))
        for m in sorted(cat.api_prices):
            for a in cat.api_offers(m):
                t4.add_row(m, a.provider, f"{a.input_usd_per_mtok:.2f}", f"{a.output_usd_per_mtok:.2f}", a.model_id,
                           a.as_of)
        c.print(t4)
    for label, sw in software.items():
        c.print(f"{label}: training "
                + ", ".join(f"{k} ({'/'.join(v)})" for k, v in sw["training"].items())
                + "; serving " + ", ".join(sw["serving"]) + (f" - {sw['note']}" if sw["note"] else ""),
                highlight=False)
    c.print("exchange rates per USD (as of " + cat.rates_as_of + "): "
            + ", ".join(f"{k} {v:g}" for k, v in cat.rates.items()), highlight=False)
    return 0


def cmd_models(a, out) -> int:
    from planner.data import builtin_registry
    reg = builtin_registry()
    if a.json:
        out.write(json.dumps({"models": {k: {"params": m.params, "family": m.family, "source": m.source}
                                         for k, m in reg.models.items()}, "aliases": reg.aliases}, indent=1) + "\n")
        return 0
    for k, m in reg.models.items():
        out.write(f"{k:22} {m.params / 1e9:8.2f}B  {m.family:12} {m.source}\n")
    out.write("aliases: " + ", ".join(f"{k}->{v}" for k, v in reg.aliases.items()) + "\n")
    return 0


def cmd_serve(a, out) -> int:
    from planner.web.server import serve
    return serve(a.host, a.port, open_browser=a.open, out=out)


def _validation_message(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = [str(x) for x in err["loc"]]
    field = FLAG_OF.get(loc[0], loc[0]) if loc else "input"
    msg = err["msg"].removeprefix("Value error, ")
    if err.get("type") == "literal_error":
        msg = f"got {shown(err.get('input'))}; {msg.lower()}"
    return f"{field}: {msg}"


MAX_MESSAGE = 2000          # characters of an error line: values in it are cut by errors.shown; this is the backstop


def _one_line(text: str) -> str:
    """Messages echo the user's text (argparse: `unrecognized arguments: ...`, paths): a newline or other
    control character in it is shown escaped, so the error stays one line, and the line is bounded."""
    line = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text[:MAX_MESSAGE * 2])
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "…"


def plan_choices() -> dict[str, list]:
    """The allowed values of the planning command's closed-set options, as its parser states them."""
    plan = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["plan"]
    out = {}
    for act in plan._actions:
        flag = act.option_strings[0].lstrip("-") if act.option_strings else ""
        if act.choices is not None:
            out[flag] = list(act.choices)
        elif isinstance(act.metavar, str) and act.metavar.startswith("{"):
            out[flag] = act.metavar.strip("{}").split(",")
    return out


def completion_parser() -> argparse.ArgumentParser:
    """The parser shells complete from: the commands, and at the top level the default command's options
    (`plan --mo<TAB>` is `plan plan --model`), which argparse alone keeps under the hidden `plan` subcommand."""
    root = build_parser()
    _workload_args(root, planning=True)
    _plan_args(root)
    parsers = [root] + [sp for act in root._actions if isinstance(act, argparse._SubParsersAction)
                        for sp in act.choices.values()]
    for parser in parsers:                      # closed sets (--method {inference,...}) complete their values
        for act in parser._actions:
            if act.choices is None and isinstance(act.metavar, str) and act.metavar.startswith("{"):
                act.choices = act.metavar.strip("{}").split(",")
    return root


def cmd_completion(a, out) -> int:
    import shtab
    out.write(shtab.complete(completion_parser(), shell=a.shell) + "\n")
    return 0


def main(argv: list[str] | None = None, out=None, err=None) -> int:
    """Run one command; `out` receives the result, `err` the one-line error (the web page passes buffers)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    err = err or sys.stderr
    if argv in (["-h"], ["--help"]):
        argv = ["plan", "--help"]                 # the default command's options, other commands in the epilog
    elif argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv = ["plan"] + argv
    if not argv:
        argv = ["plan", "--help"]
    try:
        a = build_parser().parse_args(argv)
        if a.command == "scenario":
            from planner.scenario import cmd_scenario
            return cmd_scenario(a, out)
        if a.command == "plan":
            return cmd_plan(a, out, err)
        if a.command == "capacity":
            from planner.capacity import cmd_capacity
            return cmd_capacity(a, out)
        return {"estimate": cmd_estimate, "catalog": cmd_catalog, "models": cmd_models,
                "completion": cmd_completion, "serve": cmd_serve}[a.command](a, out)
    except InputError as e:
        print(f"error: {_one_line(str(e))}", file=err)
        return 2
    except ValidationError as e:
        print(f"error: {_one_line(_validation_message(e))}", file=err)
        return 2
    except SystemExit as e:                       # --help and --version
        return e.code if isinstance(e.code, int) else 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`plan models | head -1`): end quietly, as Unix tools do
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:  # a bug, not bad input: still one line, the traceback on request
        if os.environ.get("PLANNER_DEBUG"):
            raise
        print(f"error: internal error ({type(e).__name__}: {e}); rerun with PLANNER_DEBUG=1 and report it",
              file=err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
