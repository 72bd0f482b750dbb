"""Command line: `plan --model 70b --method qlora --budget 200000`, `plan estimate ...`, `plan catalog`, ...

Data flows one way: parse and validate the input -> estimate -> solve -> render. Bad input exits 2 with a
one-line error; no plan fitting exits 3.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

from pydantic import ValidationError

from planner.errors import InputError

SUBCOMMANDS = ("estimate", "catalog", "models", "scenario", "plan")
FLAG_OF = {"batch_size": "--batch-size", "seq_len": "--seq-len", "new_tokens": "--new-tokens",
           "lora_rank": "--lora-rank", "lora_targets": "--lora-targets", "zero_stage": "--zero", "gpus": "--gpus",
           "method": "--method", "precision": "--precision", "optimizer": "--optimizer", "offload": "--offload",
           "attention": "--attention", "parallel": "--parallel"}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + error otherwise)
        raise InputError(message)


def _workload_args(p: argparse.ArgumentParser, planning: bool) -> None:
    p.add_argument("--model", required=True, help="built-in name or size alias (70b, 8x7b) or a config.json")
    p.add_argument("--method", default="inference", help="inference | full (pretrain) | lora | qlora")
    p.add_argument("--precision", help="fp32 | fp16 | bf16 | bf16-mixed | fp16-mixed | int8 | int4 | nf4")
    p.add_argument("--batch-size", type=int, default=1, help="micro-batch per GPU (inference: concurrent sequences)")
    p.add_argument("--seq-len", type=int, default=2048, help="training sequence / inference prompt length")
    p.add_argument("--new-tokens", type=int, default=256, help="tokens generated per sequence (inference)")
    p.add_argument("--optimizer", default="adamw", help="adamw | adamw8bit | paged_adamw | paged_adamw8bit | adafactor | sgd")
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--lora-targets", default="all-linear", help="all-linear | attention | q_proj,v_proj,...")
    gc = p.add_mutually_exclusive_group()
    gc.add_argument("--gradient-checkpointing", dest="gc", action="store_true", default=None)
    gc.add_argument("--no-gradient-checkpointing", dest="gc", action="store_false")
    p.add_argument("--attention", default="sdpa", help="sdpa | flash | eager")
    p.add_argument("--engine", default="transformers",
                   help="inference runtime: transformers (HF generate, measured) | vllm (modelled)")
    if not planning:
        p.add_argument("--gpus", type=int, default=1)
        p.add_argument("--zero", type=int, default=0, help="ZeRO / FSDP stage 0-3")
        p.add_argument("--offload", default="none", help="none | optimizer | optimizer+params")
        p.add_argument("--parallel", default="auto", help="inference split: auto | tensor | pipeline")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", type=_positive_float, help="spending limit in --currency")
    p.add_argument("--currency", default="USD")
    p.add_argument("--max-gpus", type=int, default=64)
    p.add_argument("--include", action="append", default=[], help="only these GPUs (repeat or comma-separate)")
    p.add_argument("--exclude", action="append", default=[], help="never these GPUs")
    p.add_argument("--allow-used", action="store_true", help="consider used-market cards")
    p.add_argument("--zero", type=int, choices=[0, 1, 2, 3], help="force a ZeRO stage (default: try all)")
    p.add_argument("--offload", help="allow CPU offload: optimizer | optimizer+params | any (default: none)")
    p.add_argument("--ram-ratio", type=float, default=1.0, help="system RAM >= ratio x total VRAM")
    p.add_argument("--margin", type=float, default=0.05, help="fraction of each card's memory kept free")
    p.add_argument("--require-nvlink", action="store_true")
    p.add_argument("--parallel", default="auto", help="inference: auto/pipeline (layer split, cards may be mixed) "
                                                       "or tensor (one card type over NVLink, one host)")
    p.add_argument("--catalog", action="append", default=[], help="YAML file adding or overriding entries")
    p.add_argument("--alternatives", type=int, default=3)
    p.add_argument("--tokens", type=_positive_float, help="training tokens (default for pre-training: 20 x parameters)")
    p.add_argument("--deadline", "--deadline-days", dest="deadline", type=_duration_days,
                   help="training must finish within this: 14d, 36h or a number of days")
    p.add_argument("--requests", type=int, help="inference: sequences to serve, for time and energy")
    p.add_argument("--proposal", help="write a procurement proposal to FILE.md or FILE.html")


def build_parser() -> argparse.ArgumentParser:
    root = _Parser(prog="plan", description="Cheapest GPUs and system RAM that will run an LLM workload.")
    sub = root.add_subparsers(dest="command", parser_class=_Parser)
    pp = sub.add_parser("plan", help="find the cheapest hardware (the default command)")
    _workload_args(pp, planning=True)
    _plan_args(pp)
    pe = sub.add_parser("estimate", help="peak GPU memory and system RAM of one configuration")
    _workload_args(pe, planning=False)
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
    return root


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def _duration_days(text: str) -> float:
    t = text.strip().lower()
    scale = {"d": 1.0, "h": 1 / 24, "w": 7.0}.get(t[-1:], None)
    try:
        value = float(t[:-1]) * scale if scale is not None else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration like 14d, 36h or 2w, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive duration, got {text!r}")
    return value


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _workload(a):
    from planner.workload import Workload
    kw = dict(method=a.method, precision=a.precision, batch_size=a.batch_size, seq_len=a.seq_len,
              new_tokens=a.new_tokens, optimizer=a.optimizer, lora_rank=a.lora_rank, lora_targets=a.lora_targets,
              gradient_checkpointing=a.gc, attention=a.attention, engine=a.engine)
    if hasattr(a, "gpus"):
        kw.update(gpus=a.gpus, zero_stage=a.zero, offload=a.offload, parallel=a.parallel)
    elif a.method in ("inference", "infer", "serve"):
        kw.update(parallel=a.parallel)
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


def cmd_plan(a, out) -> int:
    from planner.catalog import load_catalog
    from planner.render import console_for, plan_json, render_plan
    from planner.solver import Constraints, plan
    arch, notes = _resolve_model(a.model)
    wl = _workload(a)
    catalog = load_catalog(a.catalog)
    c = Constraints(budget=a.budget, currency=a.currency.upper(), max_gpus=a.max_gpus, include=_split(a.include),
                    exclude=_split(a.exclude), allow_used=a.allow_used, zero=a.zero, offload=a.offload,
                    ram_ratio=a.ram_ratio, margin=a.margin, require_nvlink=a.require_nvlink,
                    tokens=int(a.tokens) if a.tokens is not None else None,
                    deadline_s=a.deadline * 86400 if a.deadline is not None else None,
                    requests=a.requests)
    if a.requests is not None and a.requests <= 0:
        raise InputError(f"--requests must be positive, got {a.requests}")
    if a.proposal:
        from planner.proposal import check_output_path
        check_output_path(a.proposal)
    if a.offload not in (None, "none", "optimizer", "optimizer+params", "any"):
        raise InputError(f"--offload: expected none, optimizer, optimizer+params or any, got {a.offload!r}")
    if a.offload == "none":
        c.offload = None
    if wl.method == "inference" and (a.zero or a.offload):
        raise InputError("--zero and --offload apply to training methods, not inference")
    if a.alternatives < 0 or a.alternatives > 10:
        raise InputError(f"--alternatives must be 0-10, got {a.alternatives}")
    res = plan(arch, wl, catalog, c, alternatives=a.alternatives)
    budget_text = f"(budget {a.budget:,.0f} {c.currency})" if a.budget else "(no budget given)"
    if a.proposal:
        from planner.proposal import write_proposal
        write_proposal(a.proposal, arch, wl, c, catalog, res, notes)
    if a.json:
        out.write(json.dumps(plan_json(res, notes, catalog.as_of), indent=1) + "\n")
    else:
        render_plan(console_for(out), res, notes, catalog.as_of, catalog.rates_as_of, budget_text)
    return 0 if res.feasible else 3


def cmd_catalog(a, out) -> int:
    from rich.table import Table

    from planner.catalog import load_catalog
    from planner.render import console_for
    cat = load_catalog(a.catalog)
    if a.json:
        out.write(json.dumps({"as_of": cat.as_of, "gpus": [g.model_dump() for g in cat.gpus.values()],
                              "platforms": [p.model_dump() for p in cat.platforms.values()],
                              "rates": cat.rates, "rates_as_of": cat.rates_as_of}, indent=1) + "\n")
        return 0
    t = Table(title=f"GPUs: memory GB, bandwidth GB/s, dense bf16 TFLOPS (prices as of {cat.as_of})",
              title_justify="left")
    for col in ("name", "GB", "GB/s", "TFLOPS", "TDP W", "NVLink", "form", "market", "price"):
        t.add_column(col, no_wrap=col in ("name", "price"))
    for g in cat.gpus.values():
        t.add_row(g.name, f"{g.memory_gb:g}", f"{g.bandwidth_gbps:g}", f"{g.bf16_tflops:g}", f"{g.tdp_w:g}",
                  f"{g.nvlink.width}-way" if g.nvlink else "-", g.form, g.market, f"{g.price:,.0f} {g.currency}")
    c = console_for(out)
    c.print(t)
    t2 = Table(title="Host platforms", title_justify="left")
    for col in ("name", "GPUs", "PSU W", "max RAM GB", "RAM $/GB", "price"):
        t2.add_column(col)
    for p in cat.platforms.values():
        t2.add_row(p.name, str(p.max_gpus), f"{p.psu_w:g}", str(p.max_ram_gb), f"{p.ram_price_per_gb:g}",
                   f"{p.price:,.0f} {p.currency}")
    c.print(t2)
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


def _validation_message(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = [str(x) for x in err["loc"]]
    field = FLAG_OF.get(loc[0], loc[0]) if loc else "input"
    msg = err["msg"].removeprefix("Value error, ")
    if err.get("type") == "literal_error":
        msg = f"got {err.get('input')!r}; {msg.lower()}"
    return f"{field}: {msg}"


def main(argv: list[str] | None = None, out=None, err=None) -> int:
    """Run one command; `out` receives the result, `err` the one-line error (the web page passes buffers)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    err = err or sys.stderr
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help"):
        argv = ["plan"] + argv
    if not argv:
        argv = ["--help"]
    try:
        a = build_parser().parse_args(argv)
        if a.command == "scenario":
            from planner.scenario import cmd_scenario
            return cmd_scenario(a, out)
        return {"plan": cmd_plan, "estimate": cmd_estimate, "catalog": cmd_catalog, "models": cmd_models}[a.command](a, out)
    except InputError as e:
        print(f"error: {e}", file=err)
        return 2
    except ValidationError as e:
        print(f"error: {_validation_message(e)}", file=err)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug, not bad input: still one line, the traceback on request
        if os.environ.get("PLANNER_DEBUG"):
            raise
        print(f"error: internal error ({type(e).__name__}: {e}); rerun with PLANNER_DEBUG=1 and report it",
              file=err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
