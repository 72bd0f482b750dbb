"""Terminal and JSON output. Formatting only: every number comes from an Estimate or a Result."""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:           # type names only: `--json` never imports rich, `plan estimate` never the solver
    from rich.console import Console
    from rich.table import Table

    from planner.estimator import Estimate
    from planner.solver import Plan, Result

GiB = 1 << 30
COMPONENTS = [("weights", "weights"), ("gradients", "gradients"), ("optimizer_states", "optimizer states"),
              ("optimizer_temp", "optimizer step temporaries"), ("activations", "activations + loss buffers"),
              ("kv_cache", "KV cache"), ("buckets", "communication buckets"),
              ("compute_buffer", "llama.cpp compute buffer"), ("non_torch", "memory outside PyTorch (vLLM)"),
              ("nccl", "NCCL / all-reduce buffers"), ("cuda_graphs", "CUDA graphs"),
              ("allocator_slack", "allocator slack (reserved - allocated)"),
              ("utilization_headroom", "vLLM headroom (1 - gpu_memory_utilization)"),
              ("free_memory_headroom", "TensorRT-LLM headroom (1 - free_gpu_memory_fraction of free memory)"), ("cuda_context", "CUDA context")]


def console_for(out) -> "Console":
    """A terminal gets its own width (or COLUMNS); a pipe or file is never cut: tables take the width their
    content needs (COLUMNS still wins when set)."""
    from rich.console import Console
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        console = Console(file=out, width=int(columns))
    else:
        is_tty = getattr(out, "isatty", lambda: False)()
        console = Console(file=out) if is_tty else Console(file=out, width=1000)
    console.on_broken_pipe = _reader_went_away
    return console


def _reader_went_away() -> None:
    """rich's default for a closed pipe is exit status 1; `plan catalog | head -1` is no error: the CLI ends
    quietly with 0 on BrokenPipeError, as Unix tools do."""
    raise BrokenPipeError


def gib(x: float) -> str:
    return f"{x / GiB:,.2f}"


def money(x: float, currency: str) -> str:
    return f"{x:,.0f} {currency}"


def render_estimate(console: "Console", est: "Estimate", notes: list[str], title: str = "") -> None:
    from rich.table import Table
    t = Table(title=title or f"Peak memory per GPU - {est.model} ({est.peak_phase} peak)", title_justify="left")
    t.add_column("component")
    t.add_column("GiB", justify="right")
    for key, label in COMPONENTS:
        v = est.breakdown.get(key, 0)
        if v:
            t.add_row(label, gib(v))
    t.add_section()
    t.add_row("peak allocated (torch max_memory_allocated)", gib(est.peak_allocated_bytes))
    t.add_row("[bold]total on the device (nvidia-smi at peak)[/bold]", f"[bold]{gib(est.total_bytes)}[/bold]")
    t.add_row("system RAM needed (whole node)", gib(est.cpu_ram_bytes))
    console.print(t)
    console.print(f"parameters {est.params:,}   trainable {est.trainable_params:,}   GPUs {est.gpus}")
    for n in notes + est.assumptions:
        console.print(f"  - {n}", highlight=False)


def _plan_table(p: "Plan", title: str) -> "Table":
    from rich.table import Table
    t = Table(title=title, title_justify="left")
    t.add_column("kind")
    t.add_column("item", overflow="fold")
    # numbers are never cut ("16…" at 80 columns): they keep their width and the item wraps or folds instead
    t.add_column("count", justify="right", no_wrap=True)
    t.add_column(f"unit price\n({p.currency})", justify="right", no_wrap=True)
    t.add_column(f"subtotal\n({p.currency})", justify="right", no_wrap=True)
    for i in p.items:
        t.add_row(i.kind, i.name + (" [owned]" if i.owned else ""), str(i.count),
                  "owned" if i.owned else f"{i.unit_price:,.0f}", f"{i.subtotal:,.0f}")
    t.add_section()
    t.add_row("", "[bold]total[/bold]", "", "", f"[bold]{p.total_cost:,.0f}[/bold]")
    return t


def why_it_lost(best: "Plan", alt: "Plan", objective: str = "cost") -> str:
    diff = alt.total_cost - best.total_cost
    if objective == "time" and best.time_s is not None and alt.time_s is not None and alt.time_s > best.time_s:
        why = f"slower ({human_time(alt.time_s)} vs {human_time(best.time_s)})"
    elif diff > 0.5:
        why = "costs more"
    elif diff < -0.5:
        why = "cheaper but misses the deadline" if objective == "cost" else "cheaper but slower"
    else:
        why = "same cost, draws more power" if alt.power_w > best.power_w else "tie"
    if best.tokens_per_s and alt.tokens_per_s:
        ratio = alt.tokens_per_s / best.tokens_per_s
        why += f"; {ratio:.1f}x the throughput" if abs(ratio - 1) > 0.05 else "; same throughput"
    return why


def describe_plan(p: "Plan") -> str:
    gpus = " + ".join(f"{k} x {n}" for n, k in ((n, k) for n, k in p.gpus.items()))
    return f"{gpus} ({p.strategy})"


def render_plan(console: "Console", res: "Result", notes: list[str], catalog, budget_text: str) -> None:
    from rich.table import Table
    job = res.job.describe() if res.job else ""
    deadline = "no deadline" if res.deadline_s is None else f"deadline {human_time(res.deadline_s)}"
    if not res.feasible:
        console.print(f"[bold red]No plan fits.[/bold red] Binding constraint: {res.binding}. {res.reason}",
                      highlight=False)
        if res.min_budget is not None and res.alternatives:
            p = res.alternatives[0]
            console.print(_plan_table(p, f"Cheapest plan that would fit: {describe_plan(p)}, {money(p.total_cost, p.currency)}"))
        if res.frontier:
            console.print(frontier_table(res))
        if res.rejected:
            console.print("GPUs ruled out:")
            for name, why in res.rejected.items():
                console.print(f"  - {name}: {why}", highlight=False)
        for n in notes + ([job] if job else []):
            console.print(f"  - {n}", highlight=False)
        return
    p = res.plan
    # the first lines: the job, what was picked and why (the rule), the cheaper and faster options
    console.print(f"[bold]{job[:1].upper() + job[1:]}[/bold]" + (f", {deadline}" if res.deadline_s else ""),
                  highlight=False)
    if res.decision:
        console.print(res.decision["text"], highlight=False)
        console.print(f"rule: {res.decision['rule']}", highlight=False)
    for w in res.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    goal = "Fastest within the budget" if res.objective == "time" else "Recommended"
    console.print(_plan_table(p, f"{goal}: {describe_plan(p)}  {budget_text}"))
    console.print(f"stack: {p.stack} - {p.evidence}", highlight=False)
    if p.config is not None and p.config.savers:
        from planner.savers import describe
        console.print("memory savers applied (to turn one off: its flag): " + "; ".join(
            f"{d['name']} ({d['off']})" for d in describe(p.config.savers)), highlight=False)
    m = Table(title="Memory per GPU (GiB, modelled by the estimator)", title_justify="left")
    for col in ("GPU", "count", "need at peak", "usable", "headroom"):
        m.add_column(col, justify="right" if col != "GPU" else "left", no_wrap=col == "GPU")
    for row in p.per_gpu:
        m.add_row(row["gpu"] + (f" ({row['job']})" if row.get("job") else ""), str(row["count"]),
                  gib(row["need_bytes"]), gib(row["usable_bytes"]), gib(row["headroom_bytes"]))
    console.print(m)
    console.print("machines: " + "; ".join(machine_line(mc) for mc in p.machines) + f"   power (TDP) "
                  f"{p.power_w:,.0f} W", highlight=False)
    if p.serving:
        from planner.serving import describe
        console.print(describe(p.serving) + f" (targets are means; {p.serving['binding']} limits a larger batch)",
                      highlight=False)
    else:
        console.print(f"{job}, {deadline}: " + time_line(p), highlight=False)
    if p.rent:
        console.print(rent_line(p), highlight=False)
    if p.cost_per_mtok:
        from planner.tco import line
        console.print(line(p), highlight=False)
    if p.optimality != "proven":
        console.print("[yellow]best found, not proven cheapest (solver time limit)[/yellow]")
    if len(res.frontier) > 1:
        console.print(frontier_table(res))
    if res.alternatives:
        a = Table(title="Alternatives with other cards", title_justify="left")
        for col in ("hardware", f"cost ({p.currency})", "vs plan", "time", "why it lost"):
            a.add_column(col)
        for alt in res.alternatives:
            diff = alt.total_cost - p.total_cost
            a.add_row(describe_plan(alt), f"{alt.total_cost:,.0f}", f"{diff:+,.0f}", human_time(alt.time_s),
                      why_it_lost(p, alt, res.objective))
        console.print(a)
    e = p.estimate
    console.print(f"model {e.model}: {e.params:,} parameters, {e.trainable_params:,} trainable; peak "
                  f"{gib(max(r['need_bytes'] for r in p.per_gpu))} GiB on the fullest GPU (modelled); time and "
                  "energy modelled from FLOPs, bandwidth and link speeds", highlight=False)
    console.print(f"prices as of {catalog.as_of} (catalogue), exchange rates as of {catalog.rates_as_of}; "
                  f"solved in {res.solve_seconds * 1000:.0f} ms with {res.solver}", highlight=False)
    for n in notes + e.assumptions:
        console.print(f"  - {n}", highlight=False)


def machine_line(mc: dict) -> str:
    cards = ", ".join(f"{n} x {k}" for k, n in mc["gpus"].items())
    if mc["platform"] in mc["gpus"]:
        return f"{mc['platform']} (whole machine, {mc['ram_gb']} GB unified memory)"
    return f"{mc['platform']} with {cards}, {mc['ram_gb']} GB RAM"


def rent_line(p: "Plan") -> str:
    r = p.rent
    if r.get("same_cards", True):
        s = (f"rent instead: {r['hourly_cost']:,.2f} {r['currency']}/h for the same cards ({r['provider']}, "
             f"{r['usd_per_gpu_hour']:g} USD per GPU-hour, as of {r['as_of']})")
    else:
        s = (f"rent instead (no rental offer for {next(iter(p.gpus))}): {r['count']} x {r['gpu']} at "
             f"{r['hourly_cost']:,.2f} {r['currency']}/h ({r['provider']}, {r['usd_per_gpu_hour']:g} USD per "
             f"GPU-hour, as of {r['as_of']}), the cheapest rental that runs the job")
    if r["job_cost"] is not None:
        s += f"; the job would cost {r['job_cost']:,.0f} {r['currency']} rented"
    if r["breakeven_hours"] is not None:
        s += f"; buying pays off after {r['breakeven_hours']:,.0f} hours of use (~{r['breakeven_hours'] / 24 / 30:.1f} months at 24/7)"
    ch = r.get("cheapest")
    if ch:
        s += (f"; cheapest rental that runs the job: {ch['count']} x {ch['gpu']} ({ch['provider']}), "
              f"{ch['job_cost']:,.0f} {ch['currency']} for the job")
    return s


def frontier_table(res: "Result") -> "Table":
    from rich.table import Table
    t = Table(title="Cost-time frontier within the budget (each faster point costs more)", title_justify="left")
    for col in ("hardware", "cost", "time to result", "energy"):
        t.add_column(col)
    for f in res.frontier:
        mark = " <- recommended" if res.plan is not None and f.config.key == res.plan.config.key else ""
        t.add_row(describe_plan(f) + mark, money(f.total_cost, f.currency), human_time(f.time_s),
                  "n/a" if f.energy_kwh is None else f"{f.energy_kwh:,.0f} kWh")
    return t


def human_time(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def time_line(p: "Plan") -> str:
    s = f"throughput ~{p.tokens_per_s:,.0f} tokens/s ({p.time_detail})"
    if p.time_s is not None:
        rng = "" if not p.time_range_s else \
            f" (likely {human_time(p.time_range_s[0])} - {human_time(p.time_range_s[1])})"
        s += f"; time to result {human_time(p.time_s)}{rng}, energy {p.energy_kwh:,.0f} kWh = " \
             f"{p.energy_cost:,.0f} {p.currency}"
    if p.time_basis:
        s += f"; time {p.time_basis}"
    return s


def frontier_point(p: "Plan") -> dict:
    return {"total_cost": round(p.total_cost, 2), "currency": p.currency, "time_s": p.time_s, "gpus": p.gpus,
            "energy_kwh": None if p.energy_kwh is None else round(p.energy_kwh, 1), "strategy": p.strategy,
            "summary": f"{describe_plan(p)}: {money(p.total_cost, p.currency)}, {human_time(p.time_s)}"}


def plan_json(res: "Result", notes: list[str], catalog) -> dict:
    return {"feasible": res.feasible, "binding": res.binding or None, "reason": res.reason or None,
            "min_budget": round(res.min_budget, 2) if res.min_budget is not None else None,
            "objective": res.objective, "deadline_s": res.deadline_s,
            "decision": res.decision or None, "warnings": res.warnings,
            "job": res.job.to_dict() if res.job else None,
            "plan": res.plan.to_dict() if res.plan else None,
            "estimate": res.plan.estimate.to_dict() if res.plan else None,
            "frontier": [frontier_point(p) for p in res.frontier],
            "alternatives": [dict(a.to_dict(), estimate=a.estimate.to_dict(),
                                  why_it_lost=why_it_lost(res.plan, a, res.objective) if res.plan else None)
                             for a in res.alternatives],
            "rejected": res.rejected, "notes": notes, "prices_as_of": catalog.as_of,
            "rates_as_of": catalog.rates_as_of, "solve_seconds": round(res.solve_seconds, 4), "solver": res.solver,
            "measured_vs_modelled": "memory: modelled by the estimator (the hf/transformers stack on CUDA is "
                                    "checked against 121 H100 measurements); time: the throughput model (planner/throughput/), "
                                    "its basis and range per plan in plan.time_basis and plan.time_range_s; "
                                    "energy and rent: modelled"}
