"""What-if scenario files: `plan scenario FILE.yaml [--json|--csv]`.

A scenario names one or more workloads planned as one purchase, the constraints, catalogue overrides
(price changes, new GPUs, exchange rates, electricity) and sweeps: lists of values for any field, expanded
as a cartesian product. Each variant is validated with pydantic and planned; the result is one row per
variant. See scenarios/*.yaml for examples.
"""
from __future__ import annotations

import copy
import csv
import io
import itertools
import math
import json
import os
import re
import sys
from pathlib import Path
import types
import typing
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo

from planner.catalog import GPU, MAX_RATE, MIN_RATE, Catalog, load_catalog
from planner.core import within_positions
from planner.lax import EntryError
from planner.api import (MAX_EXAMPLES, MAX_RATE_RPS, MAX_REQUESTS, MAX_TOKENS, MAX_USERS, PlanRequest,
                         WorkloadOptions, _Request)
from planner.data import builtin_registry
from planner.files import read_text, read_yaml
from planner.errors import InputError, shown
from planner.render import human_time
from planner.solver import Constraints, Job, Result, candidates_for_jobs, decide, job_constraints
from planner.workload import FIELDS, Workload, WorkloadError

WORKLOAD_FIELDS = set(FIELDS)
MAX_VARIANTS = 20_000      # a sweep larger than this is refused before any work (10,000 plan in ~20 s)
PARALLEL_FROM = 200        # variants from which a sweep uses a process pool


class LengthSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    prompt: int = Field(ge=1, le=10_000_000)
    output: int = Field(ge=1, le=10_000_000)
    share: float = Field(1.0, gt=0)


class _WorkloadSpecBase(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = ""
    model: str
    method: str = "inference"
    precision: str | None = None
    batch_size: int = 1
    concurrency: int | None = None        # inference: concurrent users = sequences in flight
    seq_len: int = 2048
    new_tokens: int = 256
    optimizer: str = "adamw"
    lora_rank: int = 16
    lora_targets: str | list[str] = "all-linear"
    gradient_checkpointing: bool | None = None
    attention: str = "auto"
    engine: str = "transformers"
    framework: str = "hf"
    loss: str = "auto"
    grad_accum: int = 1
    activation_offload: bool = False
    kv_cache_dtype: str = "auto"
    gpu_layers: int | None = None
    gpu_memory_utilization: float = 0.90
    tokens: float | None = Field(None, ge=1, le=MAX_TOKENS)       # training tokens (default: Chinchilla)
    requests: int | None = Field(None, gt=0, le=MAX_REQUESTS)     # inference sequences to serve
    # serving: a distribution of prompt/output lengths instead of seq_len/new_tokens; planned at its share-weighted
    # means (steady-state throughput, KV-cache occupancy and the mean TTFT/ITL follow the means)
    lengths: list[LengthSpec] | None = Field(None, min_length=1, max_length=64)


# Every other workload option of planner.api's request model (declared there once, with its CLI flag) is a scenario
# field too, under the same name; the fields above keep the scenario's own types and defaults
WorkloadSpec = create_model("WorkloadSpec", __base__=_WorkloadSpecBase, **{
    name: (field.annotation, field) for name, field in WorkloadOptions.model_fields.items()
    if name not in _WorkloadSpecBase.model_fields})
WORKLOAD_RENAMED = {"n_cpu_moe": "cpu_moe_layers"}      # request field -> Workload field


# Scenario constraints are plan's options, generated below from planner.api.PlanRequest's fields (the same types,
# defaults, validators and descriptions: `budget: 200k` and `deadline: 36h` read as --budget 200k and --deadline 36h
# do). The names scenario files used for four of them before, still accepted (plan's name -> the old ones):
CONSTRAINT_ALIASES = {"deadline": ("deadline_days",), "rate": ("rate_rps",), "ttft": ("ttft_s",), "itl": ("itl_s",)}
# The ranges the CLI checks once parsed (planner.api constraints_of and serving_of, Constraints.validate), checked
# here while the file is validated so that an error names its line
CONSTRAINT_RANGES = {
    "rate": dict(le=MAX_RATE_RPS), "users": dict(ge=1, le=MAX_USERS), "years": dict(le=50), "utilization": dict(le=1),
    "pue": dict(ge=1, le=5), "maintenance": dict(ge=0, le=1), "residual": dict(ge=0, le=1),
    "max_gpus": dict(ge=1, le=4096), "ram_ratio": dict(ge=0, le=64), "margin": dict(ge=0, lt=0.9),
    "min_headroom": dict(ge=0, lt=0.9), "max_machines": dict(ge=1, le=4096),
    "tokens_per_example": dict(gt=0, le=10_000_000), "examples": dict(gt=0, le=MAX_EXAMPLES)}
CONSTRAINT_OPTIONS = ("budget", "rate", "users", "ttft", "itl", "years", "utilization", "pue", "maintenance",
                      "residual", "currency", "max_gpus", "include", "exclude", "allow_used", "zero", "offload",
                      "ram_ratio", "margin", "require_nvlink", "deadline", "objective", "min_headroom", "have",
                      "max_machines", "savers", "tokens_per_example", "force_offload", "examples", "epochs")


def _within(annotation, bounds: dict):
    """The field's type with a range (under Optional, so that null stays null)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (Union, types.UnionType) and type(None) in args:
        inner = tuple(a for a in args if a is not type(None))
        return Optional[Annotated[Union[inner], Field(**bounds)]]
    return Annotated[annotation, Field(**bounds)]


def _constraint_field(name: str) -> tuple:
    field = PlanRequest.model_fields[name]
    annotation = _within(field.annotation, CONSTRAINT_RANGES[name]) if name in CONSTRAINT_RANGES else field.annotation
    if name in CONSTRAINT_ALIASES:
        old = CONSTRAINT_ALIASES[name]
        field = FieldInfo.merge_field_infos(field, validation_alias=AliasChoices(name, *old),
                                            description=f"{field.description} (also: {', '.join(old)})")
    return annotation, field


class _ConstraintSpecBase(_Request):
    @model_validator(mode="before")
    @classmethod
    def _scenario_spellings(cls, data):
        """Two values scenario files wrote that plan spells otherwise: objective 'auto' (plan: unset) and offload
        null (plan: 'none')."""
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("objective"), str) and data["objective"].strip().lower() == "auto":
                data["objective"] = None
            if "offload" in data and data["offload"] is None:
                data["offload"] = "none"
        return data


ConstraintSpec = create_model("ConstraintSpec", __base__=_ConstraintSpecBase,
                              **{name: _constraint_field(name) for name in CONSTRAINT_OPTIONS})
# every spelling a file may use -> the field
CONSTRAINT_KEYS = {spelling: name for name in CONSTRAINT_OPTIONS
                   for spelling in (name, *CONSTRAINT_ALIASES.get(name, ()))}


class CatalogSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    files: list[str] = []                                 # extra catalogue files, relative to the scenario
    price_change: dict[str, Any] = {}                     # GPU name or 'all' -> "-30%" or an absolute price
                                                          # (checked in apply_overrides, with a clear message)
    gpus: list[dict[str, Any]] = []                       # new or replaced GPU entries
    rates: dict[str, float] = {}
    electricity_usd_per_kwh: float | None = Field(None, ge=0, lt=10)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = ""
    description: str = ""
    mode: Literal["sequential", "concurrent"] = "sequential"
    workloads: list[WorkloadSpec] = Field(min_length=1)
    constraints: ConstraintSpec = ConstraintSpec()
    catalog: CatalogSpec = CatalogSpec()
    sweep: dict[str, list[Any]] = {}


# ---------------------------------------------------------------------------------------------------
# Locating errors in the file

def _line_of(path: Path, loc: tuple) -> int | None:
    """Line number (1-based) of the YAML node at `loc`, or its nearest existing parent."""
    try:
        node = yaml.compose(read_text(path, "scenario"))
    except (yaml.YAMLError, InputError):
        return None
    line = None
    for key in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _fail(path: Path, loc: tuple, msg: str):
    line = _line_of(path, loc)
    where = f"{path}" + (f" line {line}" if line else "")
    field = ".".join(str(x) for x in loc) or "(file)"
    raise InputError(f"scenario {where}: field '{field}': {msg}")


# ---------------------------------------------------------------------------------------------------
# Sweeps

def _sweep_target(raw: dict, key: str) -> tuple:
    """Where a sweep key writes in the raw scenario dict; errors name unknown fields."""
    parts = key.split(".")
    names = [w.get("name") for w in raw.get("workloads", [])]
    if parts[0] in ("price_change", "rates") and len(parts) == 2:
        return ("catalog", parts[0], parts[1])
    if parts[0] == "electricity_usd_per_kwh" and len(parts) == 1:
        return ("catalog", "electricity_usd_per_kwh")
    if len(parts) == 1 and parts[0] in CONSTRAINT_KEYS:
        return ("constraints", parts[0])
    if len(parts) == 1 and parts[0] in WorkloadSpec.model_fields and parts[0] != "name":
        return ("workloads", "*", parts[0])
    if len(parts) == 2 and parts[0] in names and parts[1] in WorkloadSpec.model_fields:
        return ("workloads", names.index(parts[0]), parts[1])
    if parts[0] == "mode" and len(parts) == 1:
        return ("mode",)
    raise ValueError(f"unknown field {shown(key)}: sweep a workload field (seq_len, or <workload name>.seq_len), a "
                     "constraint (budget, currency, ...), price_change.<gpu>, rates.<currency> or "
                     "electricity_usd_per_kwh")


def _set(raw: dict, target: tuple, value) -> None:
    if target[0] == "workloads":
        idx = range(len(raw["workloads"])) if target[1] == "*" else [target[1]]
        for i in idx:
            raw["workloads"][i][target[2]] = value
        return
    d = raw
    for k in target[:-1]:
        d = d.setdefault(k, {})
    if target[0] == "constraints":       # the swept spelling replaces any other spelling of the constraint
        name = CONSTRAINT_KEYS[target[-1]]
        for spelling in (name, *CONSTRAINT_ALIASES.get(name, ())):
            d.pop(spelling, None)
    d[target[-1]] = value


def expand(raw: dict, path: Path) -> list[tuple[dict, dict]]:
    """(variant values, variant raw dict) for every point of the sweep's cartesian product; refused up front
    when the product is larger than MAX_VARIANTS."""
    sweep = raw.get("sweep") or {}
    if not isinstance(sweep, dict):
        _fail(path, ("sweep",), "must map field names to lists of values")
    count = 1
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            _fail(path, ("sweep", key), "must be a non-empty list of values")
        count *= len(values)
        if count > MAX_VARIANTS:
            total = 1
            for v in sweep.values():
                total *= len(v) if isinstance(v, list) and v else 1
            _fail(path, ("sweep",), f"{total:,} variants is more than the limit of {MAX_VARIANTS:,}; sweep fewer "
                  "fields or values, or split the file")
    targets = {}
    for key, values in sweep.items():
        try:
            targets[key] = _sweep_target(raw, key)
        except ValueError as e:
            _fail(path, ("sweep", key), str(e))
    keys = list(sweep)
    out = []
    for combo in itertools.product(*(sweep[k] for k in keys)):
        variant = copy.deepcopy({k: v for k, v in raw.items() if k != "sweep"})
        for k, v in zip(keys, combo):
            _set(variant, targets[k], v)
        out.append((dict(zip(keys, combo)), variant))
    return out


# ---------------------------------------------------------------------------------------------------
# Catalogue overrides

_PCT = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")


def apply_overrides(base: Catalog, spec: CatalogSpec, path: Path) -> Catalog:
    if not (spec.price_change or spec.gpus or spec.rates or spec.electricity_usd_per_kwh is not None):
        return base
    gpus = dict(base.gpus)
    for i, entry in enumerate(spec.gpus):
        try:
            g = GPU.from_dict(entry)
        except EntryError as e:
            _fail(path, ("catalog", "gpus", i) + e.loc, e.msg)
        gpus[g.name.lower()] = g
    for name, change in spec.price_change.items():
        keys = list(gpus) if name.lower() == "all" else [name.lower()]
        for k in keys:
            if k not in gpus:
                _fail(path, ("catalog", "price_change", name), f"unknown GPU {shown(name)}")
            g = gpus[k]
            m = _PCT.match(str(change))
            if m:
                price = g.price * (1 + float(m.group(1)) / 100)
            elif isinstance(change, (int, float)) and not isinstance(change, bool):
                price = float(change)
            else:
                _fail(path, ("catalog", "price_change", name), f"expected a percentage like '-30%' or a price, got {shown(change)}")
            if not 0 < price < math.inf:
                _fail(path, ("catalog", "price_change", name), f"the new price must be a positive finite number, "
                      f"got {price:g}")
            gpus[k] = g.replace(price=price)
    rates = {**base.rates, **{k.upper(): v for k, v in spec.rates.items()}}
    for k, v in rates.items():
        if not MIN_RATE <= v <= MAX_RATE:
            _fail(path, ("catalog", "rates", k), f"must be a number of units per USD between {MIN_RATE:g} and "
                  f"{MAX_RATE:g}")
    elec = spec.electricity_usd_per_kwh if spec.electricity_usd_per_kwh is not None else base.electricity_usd_per_kwh
    return base.replace(gpus=gpus, rates=rates, electricity_usd_per_kwh=elec)


# ---------------------------------------------------------------------------------------------------

def _jobs(sc: Scenario, path: Path) -> list[Job]:
    reg = builtin_registry()
    jobs = []
    for i, w in enumerate(sc.workloads):
        model = w.model
        if model.endswith(".json") and not Path(model).is_absolute():
            model = str(path.parent / model)
        try:
            arch, _ = reg.resolve(model)
        except InputError as e:
            _fail(path, ("workloads", i, "model"), str(e).removeprefix("--model: "))
        kw = w.model_dump(exclude={"name", "model", "concurrency", "tokens", "requests", "lengths"})
        kw = {WORKLOAD_RENAMED.get(k, k): v for k, v in kw.items()}
        if kw.get("gradient_checkpointing") is None:
            kw.pop("gradient_checkpointing", None)     # unset: the planner may add it (planner/savers.py)
        if w.concurrency is not None:
            kw["batch_size"] = w.concurrency
        if w.lengths:
            total = sum(x.share for x in w.lengths)
            kw["seq_len"] = max(1, round(sum(x.share * x.prompt for x in w.lengths) / total))
            kw["new_tokens"] = max(1, round(sum(x.share * x.output for x in w.lengths) / total))
        try:
            wl = Workload(**kw)
        except WorkloadError as e:
            _fail(path, ("workloads", i) + ((e.field,) if e.field else ()), str(e))
        try:
            wl = within_positions(arch, wl, [])          # GPT-2: at most its learned positions per sequence
        except InputError as e:
            _fail(path, ("workloads", i, "seq_len"), str(e))
        jobs.append(Job(arch, wl, w.name or f"{w.method} {arch.name}",
                        int(w.tokens) if w.tokens else None, w.requests))
    return jobs


def _constraints(sc: Scenario) -> Constraints:
    from planner.serving import ServingSpec
    from planner.tco import TcoAssumptions
    c = sc.constraints
    serving = None
    if c.rate is not None or c.users is not None:
        if c.rate is not None and c.users is not None:
            raise InputError("scenario constraints: give rate (rate_rps) or users, not both")
        if len(sc.workloads) != 1 or sc.workloads[0].method not in ("inference", "serve", "infer"):
            raise InputError("scenario constraints: rate/users size serving; use them with one inference workload")
        serving = ServingSpec(c.rate, c.users, c.ttft, c.itl)
    elif c.ttft is not None or c.itl is not None:
        raise InputError("scenario constraints: ttft/itl are targets under a load; add rate or users")
    tco = TcoAssumptions(years=c.years, utilization=c.utilization, pue=c.pue, maintenance_per_year=c.maintenance,
                         residual=c.residual)
    return Constraints(serving=serving, tco=tco, budget=c.budget, currency=c.currency.upper(), max_gpus=c.max_gpus, include=c.include,
                       exclude=c.exclude, allow_used=c.allow_used, zero=c.zero,
                       offload=None if c.offload == "none" else c.offload,
                       ram_ratio=c.ram_ratio, margin=c.margin, require_nvlink=c.require_nvlink,
                       deadline_s=c.deadline * 86400 if c.deadline is not None else None,
                       objective=c.objective or "auto", force_offload=c.force_offload, examples=c.examples,
                       epochs=c.epochs,
                       min_headroom=c.min_headroom, tokens_per_example=c.tokens_per_example,
                       max_machines=c.max_machines, savers=c.savers,
                       mode=sc.mode)


def row_of(values: dict, res: Result, currency: str) -> dict:
    p = res.plan
    row = dict(values)
    if p is None:
        row.update(feasible=False, hardware="", cost=None, currency=currency, min_headroom_gib=None,
                   time_days=None, energy_cost=None, binding=res.binding,
                   min_budget=None if res.min_budget is None else round(res.min_budget, 2))
        return row
    hw = " + ".join(f"{n} x{k}" for n, k in p.gpus.items())
    row.update(feasible=True, hardware=hw, strategy=p.strategy, cost=round(p.total_cost, 2), currency=p.currency,
               min_headroom_gib=round(min(r["headroom_bytes"] for r in p.per_gpu) / 2**30, 2),
               time_days=None if p.time_s is None else round(p.time_s / 86400, 3),
               energy_cost=None if p.energy_cost is None else round(p.energy_cost, 2), binding=None, min_budget=None)
    if p.serving:
        s = p.serving
        row.update(serves_rps=s["rate_rps"], serves_users=s["users"], mean_ttft_s=s["ttft_s"], mean_itl_s=s["itl_s"],
                   replicas=s["replicas"], tensor_parallel=s["tensor_parallel"])
    if p.cost_per_mtok:
        row.update(buy_per_mtok=p.cost_per_mtok["buy"], rent_per_mtok=p.cost_per_mtok["rent"])
    return row


def _variant_inputs(path: Path, base: Catalog, variant: dict):
    try:
        sc = Scenario.model_validate(variant)
    except ValidationError as e:
        err = e.errors()[0]
        _fail(path, ("sweep",) + tuple(err["loc"][-1:]), err["msg"])
    cat = apply_overrides(base, sc.catalog, path)
    return sc, cat, _owned_in(_constraints(sc), sc, cat, path)


def _owned_in(c: Constraints, sc: Scenario, cat: Catalog, path: Path) -> Constraints:
    """constraints.have, checked against the scenario's own catalogue (a line-numbered error when unknown)."""
    from planner.owned import parse_have
    try:
        c.owned = parse_have(sc.constraints.have, cat)
    except InputError as e:
        _fail(path, ("constraints", "have"), str(e).removeprefix("--have: "))
    return c


_SHARED: dict = {}          # the scenario's path and base catalogue: set once per worker process (_init_worker)


def _init_worker(path: Path, base: Catalog) -> None:
    _SHARED.update(path=path, base=base)


def _plan_group(group) -> list[dict]:
    """Variants that differ only in their budget share the candidates (configurations, machines, times),
    which do not depend on it; each variant's decision is then exactly what planning it alone gives."""
    path, base = _SHARED["path"], _SHARED["base"]
    from planner.solver import share_solves
    share_solves(_SHARED.setdefault("solves", {}))       # identical integer programs of variants solved once
    try:
        return _plan_variants(path, base, group)
    finally:
        share_solves(None)


def _plan_variants(path: Path, base: Catalog, group) -> list[dict]:
    if len(group) == 1:         # one variant: only what its budget can buy is timed (solver.candidates, bounded)
        values, variant = group[0]
        sc, catalog, c = _variant_inputs(path, base, variant)
        jobs = _jobs(sc, path)
        cands = candidates_for_jobs(jobs, catalog, c, bounded=True)
        return [row_of(values, decide(cands, catalog, job_constraints(jobs, c), alternatives=0, frontier=False),
                       c.currency)]
    free = copy.deepcopy(group[0][1])
    free.setdefault("constraints", {})["budget"] = None
    sc, catalog, c = _variant_inputs(path, base, free)
    jobs = _jobs(sc, path)             # the group's variants differ only in their budget: the same jobs
    cands = candidates_for_jobs(jobs, catalog, c)
    # the cheapest plan without a budget answers every budget it fits (best's memo)
    decide(cands, catalog, job_constraints(jobs, c), alternatives=0, frontier=False)
    rows = []
    for values, variant in group:
        sc, catalog, c = _variant_inputs(path, base, variant)
        rows.append(row_of(values, decide(cands, catalog, job_constraints(jobs, c), alternatives=0,
                                          frontier=False), c.currency))
    return rows


def _budget_free_key(variant: dict) -> str:
    v = {k: val for k, val in variant.items()}
    v["constraints"] = {k: val for k, val in (variant.get("constraints") or {}).items() if k != "budget"}
    return json.dumps(v, sort_keys=True, default=str)


def _catalog_free_key(variant: dict) -> str:
    return json.dumps({k: v for k, v in variant.items() if k != "catalog"}, sort_keys=True, default=str)


def run_scenario(path_str: str, progress: bool = False, workers: int | None = None,
                 parallel_from: int = PARALLEL_FROM) -> tuple[Scenario, list[dict]]:
    """Every variant of the sweep, planned; rows in the sweep's order. Variants that differ only in budget
    share one solve; large sweeps use every core (a process pool over chunks of variant groups)."""
    path = Path(path_str)
    raw = read_yaml(path, "scenario")
    try:
        Scenario.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        _fail(path, tuple(err["loc"]), err["msg"].removeprefix("Value error, "))
    variants = expand(raw, path)
    head = Scenario.model_validate(raw)
    base = load_catalog([str(path.parent / f) for f in head.catalog.files])
    groups: dict[str, list[int]] = {}
    for i, (_, variant) in enumerate(variants):
        groups.setdefault(_budget_free_key(variant), []).append(i)
    # groups that differ only in the catalogue (a card's price) side by side, so a worker's chunk holds all of a
    # workload's price variants and computes its memory estimates and times once (rows return in sweep order)
    ordered = sorted(groups.values(), key=lambda idx: _catalog_free_key(variants[idx[0]][1]))
    tasks = [[variants[i] for i in idx] for idx in ordered]
    _SHARED.update(path=path, base=base)
    order = [i for idx in ordered for i in idx]
    workers = workers if workers is not None else (os.cpu_count() or 1)
    bar = None
    if progress and len(variants) > 1:
        from rich.console import Console
        from rich.progress import Progress
        bar = Progress(transient=True, console=Console(stderr=True))   # never on stdout, never in --json
        bar.start()
        task = bar.add_task("planning variants", total=len(variants))
    results: list[list[dict]] = []
    try:
        if workers > 1 and len(variants) >= parallel_from and len(tasks) > 1:
            # spawned workers (not forked: a process that has run the HiGHS solver holds its threads' locks, and a
            # forked child can deadlock on them), each given the scenario's inputs once
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            chunk = max(1, len(tasks) // (workers * 8))
            from concurrent.futures.process import BrokenProcessPool
            try:
                with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker, initargs=(path, base)) as pool:
                    for rows in pool.map(_plan_group, tasks, chunksize=chunk):
                        results.append(rows)
                        if bar:
                            bar.advance(task, len(rows))
            except BrokenProcessPool:
                # workers could not start (e.g. a __main__ read from stdin cannot be re-imported): one core
                results = []
        if len(results) != len(tasks):
            results = []
            for t in tasks:
                results.append(_plan_group(t))
                if bar:
                    bar.advance(task, len(results[-1]))
    finally:
        if bar:
            bar.stop()
    flat = [row for rows in results for row in rows]
    rows_in_order: list[dict] = [{}] * len(variants)
    for i, row in zip(order, flat):
        rows_in_order[i] = row
    return head, rows_in_order


def cmd_scenario(a, out) -> int:
    from rich.table import Table

    from planner.render import console_for
    fmt = "json" if a.json else "csv" if a.csv else "table"
    sc, rows = run_scenario(a.file, progress=(fmt == "table" and sys.stdout.isatty()))
    if fmt == "json":
        from planner import api
        out.write(api.dumps(api.ScenarioResult.model_validate({"scenario": sc.name, "mode": sc.mode,
                                                               "variants": rows})))
    elif fmt == "csv":
        keys = list(dict.fromkeys(k for r in rows for k in r))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        out.write(buf.getvalue())
    else:
        t = Table(title=f"{sc.name or a.file}: {len(rows)} variant(s), {sc.mode}", title_justify="left")
        swept = list(sc.sweep)
        for col in swept + ["hardware", "cost", "headroom GiB", "time", "energy"]:
            t.add_column(col, min_width=22 if col == "hardware" else None)
        for r in rows:
            cells = [str(r[k]) for k in swept]
            if r["feasible"]:
                cells += [r["hardware"], f"{r['cost']:,.0f} {r['currency']}", f"{r['min_headroom_gib']:.1f}",
                          human_time(r["time_days"] * 86400 if r["time_days"] is not None else None),
                          "n/a" if r["energy_cost"] is None else f"{r['energy_cost']:,.0f} {r['currency']}"]
            else:
                need = f" (needs {r['min_budget']:,.0f} {r['currency']})" if r["min_budget"] else ""
                cells += [f"no plan: {r['binding']}{need}", "", "", "", ""]
            t.add_row(*cells)
        console_for(out).print(t)
        if sc.description:
            console_for(out).print(sc.description, highlight=False)
    return 0 if any(r["feasible"] for r in rows) else 3
