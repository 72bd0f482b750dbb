"""Terminal and JSON output. Formatting only: every number comes from an Estimate or a Result."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from planner.estimator import Estimate
from planner.solver import Plan, Result

GiB = 1 << 30
COMPONENTS = [("weights", "weights"), ("gradients", "gradients"), ("optimizer_states", "optimizer states"),
              ("optimizer_temp", "optimizer step temporaries"), ("activations", "activations + loss buffers"),
              ("kv_cache", "KV cache"), ("buckets", "communication buckets"),
              ("allocator_slack", "allocator slack (reserved - allocated)"),
              ("utilization_headroom", "vLLM headroom (1 - gpu_memory_utilization)"), ("cuda_context", "CUDA context")]


def console_for(out) -> Console:
    """A terminal gets its own width; a pipe or file gets 120 columns instead of rich's 80."""
    is_tty = getattr(out, "isatty", lambda: False)()
    return Console(file=out) if is_tty else Console(file=out, width=120)


def gib(x: float) -> str:
    return f"{x / GiB:,.2f}"


def money(x: float, currency: str) -> str:
    return f"{x:,.0f} {currency}"


def render_estimate(console: Console, est: Estimate, notes: list[str], title: str = "") -> None:
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


def _plan_table(p: Plan, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("kind")
    t.add_column("item", no_wrap=True)
    t.add_column("count", justify="right")
    t.add_column(f"unit price ({p.currency})", justify="right")
    t.add_column(f"subtotal ({p.currency})", justify="right")
    for i in p.items:
        t.add_row(i.kind, i.name, str(i.count), f"{i.unit_price:,.0f}", f"{i.subtotal:,.0f}")
    t.add_section()
    t.add_row("", "[bold]total[/bold]", "", "", f"[bold]{p.total_cost:,.0f}[/bold]")
    return t


def why_it_lost(best: Plan, alt: Plan) -> str:
    diff = alt.total_cost - best.total_cost
    why = "costs more" if diff > 0.5 else "same cost, draws more power" if alt.power_w > best.power_w else "tie"
    if best.tokens_per_s and alt.tokens_per_s:
        ratio = alt.tokens_per_s / best.tokens_per_s
        why += f"; {ratio:.1f}x the throughput" if abs(ratio - 1) > 0.05 else "; same throughput"
    return why


def describe_plan(p: Plan) -> str:
    gpus = " + ".join(f"{k} x {n}" for n, k in ((n, k) for n, k in p.gpus.items()))
    return f"{gpus} ({p.strategy})"


def render_plan(console: Console, res: Result, notes: list[str], price_date: str, rates_date: str,
                budget_text: str) -> None:
    if not res.feasible:
        console.print(f"[bold red]No plan fits.[/bold red] Binding constraint: {res.binding}. {res.reason}",
                      highlight=False)
        if res.min_budget is not None and res.alternatives:
            p = res.alternatives[0]
            console.print(_plan_table(p, f"Cheapest plan without the budget: {money(p.total_cost, p.currency)}"))
        if res.rejected:
            console.print("GPUs ruled out:")
            for name, why in res.rejected.items():
                console.print(f"  - {name}: {why}", highlight=False)
        for n in notes:
            console.print(f"  - {n}", highlight=False)
        return
    p = res.plan
    console.print(_plan_table(p, f"Cheapest hardware: {describe_plan(p)}  {budget_text}"))
    m = Table(title="Memory per GPU (GiB)", title_justify="left")
    for col in ("GPU", "count", "need at peak", "usable", "headroom"):
        m.add_column(col, justify="right" if col != "GPU" else "left", no_wrap=col == "GPU")
    for row in p.per_gpu:
        m.add_row(row["gpu"], str(row["count"]), gib(row["need_bytes"]), gib(row["usable_bytes"]),
                  gib(row["headroom_bytes"]))
    console.print(m)
    console.print(f"strategy: {p.strategy}   VRAM {p.vram_gb:,.0f} GB   system RAM {p.ram_gb:,} GB   "
                  f"power (TDP) {p.power_w:,.0f} W   hosts: "
                  + (", ".join(f"{k} x {v}" for k, v in p.hosts.items()) or "none (a whole machine)"),
                  highlight=False)
    if res.alternatives:
        a = Table(title="Next cheapest alternatives", title_justify="left")
        for col in ("hardware", f"cost ({p.currency})", "vs plan", "why it lost"):
            a.add_column(col)
        for alt in res.alternatives:
            diff = alt.total_cost - p.total_cost
            a.add_row(describe_plan(alt), f"{alt.total_cost:,.0f}", f"+{diff:,.0f}", why_it_lost(p, alt))
        console.print(a)
    console.print(time_line(p), highlight=False)
    e = p.estimate
    console.print(f"model {e.model}: {e.params:,} parameters, {e.trainable_params:,} trainable; peak "
                  f"{gib(max(r['need_bytes'] for r in p.per_gpu))} GiB on the fullest GPU", highlight=False)
    console.print(f"prices as of {price_date} (catalogue), exchange rates as of {rates_date}; "
                  f"solved in {res.solve_seconds * 1000:.0f} ms with {res.solver}", highlight=False)
    for n in notes + e.assumptions:
        console.print(f"  - {n}", highlight=False)


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


def time_line(p: Plan) -> str:
    s = f"throughput ~{p.tokens_per_s:,.0f} tokens/s ({p.time_detail})"
    if p.time_s is not None:
        s += f"; time to result {human_time(p.time_s)}, energy {p.energy_kwh:,.0f} kWh = " \
             f"{p.energy_cost:,.0f} {p.currency}"
    return s


def plan_json(res: Result, notes: list[str], price_date: str) -> dict:
    out = {"feasible": res.feasible, "binding": res.binding or None, "reason": res.reason or None,
           "min_budget": round(res.min_budget, 2) if res.min_budget is not None else None,
           "plan": res.plan.to_dict() if res.plan else None,
           "estimate": res.plan.estimate.to_dict() if res.plan else None,
           "alternatives": [dict(a.to_dict(), estimate=a.estimate.to_dict()) for a in res.alternatives],
           "rejected": res.rejected, "notes": notes, "prices_as_of": price_date,
           "solve_seconds": round(res.solve_seconds, 4), "solver": res.solver}
    return out
