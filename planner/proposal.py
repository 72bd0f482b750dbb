"""Procurement proposals: a self-contained Markdown or HTML document built from one planning run."""
from __future__ import annotations

import datetime as _dt
import html

from planner.architecture import Architecture
from planner.catalog import Catalog
from planner.errors import InputError
from planner.files import check_writable, write_atomic
from planner.render import (COMPONENTS, describe_plan, frontier_point, gib, human_time, machine_line, rent_line,
                            why_it_lost)
from planner.solver import Constraints, Plan, Result
from planner.workload import Workload


def check_output_path(path: str) -> None:
    """Fail before any work when the proposal cannot be written (directory, missing parent, permission,
    an extension other than .md or .html)."""
    check_writable(path, "--proposal", (".md", ".html", ".htm"))


BREAKDOWN_TITLE = {False: "Peak memory per card, by component (GiB)",
                   True: "Peak memory by component before the layer split (GiB; weights and KV cache are divided "
                         "among the cards as in the table above)"}


def risks(plan: Plan, catalog: Catalog) -> list[str]:
    out = []
    gpus = [catalog.gpus[n.lower()] for n in plan.gpus if n.lower() in catalog.gpus]
    for g in gpus:
        if g.form == "pcie" and not g.ecc:
            out.append(f"{g.name}: consumer card without ECC memory - silent bit errors are possible on long runs")
        if g.market == "used":
            out.append(f"{g.name}: bought used - no or short warranty, unknown wear (mining, heat); budget spares")
        if g.name.startswith("rtx-4090") or g.name.startswith("rtx-5090"):
            out.append(f"{g.name}: no NVLink - multi-GPU traffic goes over PCIe, slower tensor parallelism")
        if g.is_machine:
            out.append(f"{g.name}: the GPU may use ~{g.usable_fraction:.0%} of the unified memory; the plan "
                       f"assumes {plan.stack}, modelled rather than measured on this machine")
        if g.cooling == "passive":
            out.append(f"{g.name}: passively cooled - needs a server chassis with front-to-back airflow "
                       "(the plan's platform provides it)")
    if plan.power_w > 1440:
        out.append(f"peak power ~{plan.power_w:,.0f} W exceeds one 15 A / 120 V circuit (1,440 W continuous): "
                   "plan dedicated circuits or 208-240 V")
    if sum(plan.hosts.values()) > 1:
        out.append("more than one host: training or inference runs across the network, slower than within a host")
    for r in plan.per_gpu:
        if r["headroom_bytes"] < 0.1 * r["usable_bytes"]:
            out.append(f"{r['gpu']}: less than 10% memory headroom - a longer sequence or a library update may not fit")
    out.append("prices are catalogue placeholders dated " + catalog.as_of + "; get quotes before ordering")
    return list(dict.fromkeys(out))


def _sections(arch: Architecture, wl: Workload, c: Constraints, catalog: Catalog, res: Result,
              notes: list[str]) -> dict:
    p = res.plan
    e = p.estimate
    cur = p.currency
    today = _dt.date.today().isoformat()
    rows = p.per_gpu
    fullest = max(rows, key=lambda r: r["need_bytes"] / r["usable_bytes"])
    summary = (f"Buy {describe_plan(p)} for {p.total_cost:,.0f} {cur} to run {wl.method} of {arch.name} "
               f"({arch.params / 1e9:.1f}B parameters) with {p.stack}. The fullest card needs "
               f"{gib(fullest['need_bytes'])} GiB at its peak of {gib(fullest['usable_bytes'])} GiB usable "
               f"({fullest['gpu']}).")
    if p.time_s is not None and res.job is not None:
        summary += f" The {res.job.describe()} takes {human_time(p.time_s)}."
    if c.budget:
        summary += f" Budget: {c.budget:,.0f} {cur} ({c.budget - p.total_cost:,.0f} {cur} unused)."
    workload = [
        f"model: {arch.name} ({arch.params:,} parameters; {arch.source})",
        f"method: {wl.method}, precision {wl.precision}, batch {wl.batch_size} x {wl.seq_len} tokens"
        + (f", {wl.new_tokens} new tokens" if wl.method == "inference" else f", optimizer {wl.optimizer}")
        + (f", LoRA rank {wl.lora_rank}" if wl.method in ("lora", "qlora") else "")
        + (", gradient checkpointing" if wl.gradient_checkpointing else ""),
        f"strategy: {p.strategy}",
    ]
    # per card: the same need/usable figures the JSON carries in plan.memory; the component breakdown is the
    # estimate's, which for a layer split is the whole model before it is divided among the cards
    memory = [(r["gpu"] + (f" ({r['job']})" if r.get("job") else ""), r["count"], r["need_bytes"], r["usable_bytes"],
               r["headroom_bytes"]) for r in rows]
    split = e.gpus == 1 and p.config is not None and p.config.replica_gpus > 1 and not p.config.tensor_parallel
    breakdown = [(label, e.breakdown.get(key, 0)) for key, label in COMPONENTS if e.breakdown.get(key, 0)]
    alts = []
    for a in res.alternatives:
        alts.append((describe_plan(a), a.total_cost, why_it_lost(p, a), human_time(a.time_s)))
    timing = [f"{res.job.describe() if res.job else 'job'}" + (
        "" if res.deadline_s is None else f"; deadline {human_time(res.deadline_s)}"),
        f"throughput: ~{p.tokens_per_s:,.0f} tokens/s ({p.time_detail})"]
    if p.time_s is not None:
        rng = "" if not p.time_range_s else \
            f" (likely {human_time(p.time_range_s[0])} - {human_time(p.time_range_s[1])})"
        timing.append(f"time to result: {human_time(p.time_s)}{rng}")
    if p.time_basis:
        timing.append(f"time basis: {p.time_basis}; link: {p.link or 'n/a'}")
        timing.append(f"energy: {p.energy_kwh:,.0f} kWh at {catalog.electricity_usd_per_kwh:g} USD/kWh = "
                      f"{p.energy_cost:,.0f} {cur}")
    if p.rent:
        timing.append(rent_line(p))
    if res.decision:                     # why this plan: the rule and what it picked, as the terminal says it
        timing.insert(0, f"decision: {res.decision['text']} Rule: {res.decision['rule']}")
    if p.serving:
        from planner.serving import describe
        timing.append(describe(p.serving) + " (mean targets: " + ", ".join(
            f"{k} <= {v:g} s" for k, v in (("TTFT", p.serving["targets"]["ttft_s"]),
                                           ("ITL", p.serving["targets"]["itl_s"])) if v) + ")")
    if p.cost_per_mtok:
        from planner.tco import line
        timing.append(line(p))
        for a in p.cost_per_mtok["api"]:
            timing.append(f"hosted API {a['provider']} ({a['model_id']}): {a['input_usd']:g} USD in / "
                          f"{a['output_usd']:g} USD out per million tokens, as of {a['as_of']} ({a['source']})")
    time_model = ("time model (planner/throughput/training.py): each step's matmuls, attention, pointwise traffic, "
                  "QLoRA dequantisation and host launch time on this card, the optimizer step, offload and "
                  "communication over the link bought, with stack efficiencies fitted on measured and published "
                  "runs (benchmarks/throughput.py)" if wl.training else
                  "time model (planner/throughput/inference.py): prefill as compute at the engine's number format; "
                  "each decode step reads the weights (an MoE's routed experts only) and the KV cache at the engine's "
                  "fitted share of memory bandwidth, plus its fixed per-step costs; serving sized by Little's law "
                  "under continuous batching (planner/serving.py); engine constants fitted on published runs "
                  "(benchmarks/throughput_inference.py)")
    assumptions = notes + e.assumptions + [
        f"software stack: {p.stack} ({p.evidence})",
        f"catalogue prices as of {catalog.as_of}, exchange rates as of {catalog.rates_as_of}",
        f"safety margin: {c.margin:.0%} of each card's memory kept free; system RAM >= {c.ram_ratio:g} x VRAM "
        "per machine",
        "memory model (modelled): planner/estimator/, checked against measured H100 peaks (calibration/) and "
        "published figures of other stacks (validation/)",
        time_model,
        f"generated {today} by llm-hw-planner; every number in this document comes from the same run",
    ]
    frontier = [frontier_point(f) for f in res.frontier]
    machines = [machine_line(mc) for mc in p.machines]
    return dict(summary=summary, workload=workload, breakdown=breakdown, alts=alts, timing=timing,
                assumptions=assumptions, risks=risks(p, catalog), plan=p, est=e, memory=memory, split=split,
                frontier=frontier, machines=machines)


def _md(text) -> str:
    """Text from the run (model names, paths, notes) as Markdown shows it: Markdown renderers pass HTML through,
    so a model named `<script>...` is escaped, and a `|` would end a table cell."""
    return html.escape(str(text), quote=False).replace("|", "\\|")


def to_markdown(s: dict, title: str) -> str:
    p = s["plan"]
    cur = p.currency
    m = _md
    lines = [f"# {m(title)}", "", "## Summary and recommendation", "", m(s["summary"]), "", "## Workload", ""]
    lines += [f"- {m(x)}" for x in s["workload"]]
    lines += ["", "### Memory per card (GiB, modelled)", "", "| GPU | count | need at peak | usable | headroom |",
              "|---|---:|---:|---:|---:|"]
    lines += [f"| {m(g)} | {n} | {gib(need)} | {gib(use)} | {gib(head)} |" for g, n, need, use, head in s["memory"]]
    lines += ["", "### " + BREAKDOWN_TITLE[s["split"]], "", "| component | GiB |", "|---|---:|"]
    lines += [f"| {m(label)} | {gib(v)} |" for label, v in s["breakdown"]]
    lines += ["", "## Bill of materials", "", f"| kind | item | count | unit price ({cur}) | subtotal ({cur}) |",
              "|---|---|---:|---:|---:|"]
    lines += [f"| {m(i.kind)} | {m(i.name)} | {i.count} | {i.unit_price:,.0f} | {i.subtotal:,.0f} |"
              for i in p.items]
    lines += [f"| | **total** | | | **{p.total_cost:,.0f}** |", "",
              f"System RAM {p.ram_gb:,} GB, GPU memory {p.vram_gb:,.0f} GB, power (TDP) {p.power_w:,.0f} W.", "",
              "Machines: " + "; ".join(m(x) for x in s["machines"]) + ".", "",
              "## Cost-time frontier", "", f"| hardware | cost ({cur}) | time to result |", "|---|---:|---|"]
    lines += [f"| {m(f['summary'].split(':')[0])} | {f['total_cost']:,.0f} | {human_time(f['time_s'])} |"
              for f in s["frontier"]] or ["| (no timed plan) | | |"]
    lines += ["", "## Alternatives considered", "", f"| hardware | cost ({cur}) | why it lost | time to result |",
              "|---|---:|---|---|"]
    lines += [f"| {m(h)} | {c:,.0f} | {m(why)} | {t} |" for h, c, why, t in s["alts"]] or ["| (none found) | | | |"]
    lines += ["", "## Time to result and energy", ""] + [f"- {m(x)}" for x in s["timing"]]
    lines += ["", "## Risks", ""] + [f"- {m(x)}" for x in s["risks"]]
    lines += ["", "## Assumptions", ""] + [f"- {m(x)}" for x in s["assumptions"]]
    lines += ["", "Approved by: ____________________   Date: ____________", ""]
    return "\n".join(lines)


def _bar_chart(breakdown: list[tuple[str, int]]) -> str:
    """Inline SVG horizontal bars: no external assets, the document stays self-contained."""
    top = max((v for _, v in breakdown), default=1) or 1
    rows = []
    for i, (label, v) in enumerate(breakdown):
        w = 360 * v / top
        y = 10 + i * 26
        rows.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(label)}</text>'
                    f'<rect x="260" y="{y}" width="{w:.1f}" height="18" fill="#4a7bd0"/>'
                    f'<text x="{265 + w:.1f}" y="{y + 14}" font-size="12">{gib(v)} GiB</text>')
    h = 20 + 26 * len(breakdown)
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="720" height="{h}">{"".join(rows)}</svg>'


def to_html(s: dict, title: str) -> str:
    p = s["plan"]
    cur = p.currency
    esc = html.escape

    def table(head, rows):
        return ("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>" for r in rows)
                + "</table>")

    bom = [(i.kind, i.name, i.count, f"{i.unit_price:,.0f}", f"{i.subtotal:,.0f}") for i in p.items]
    bom.append(("", "total", "", "", f"{p.total_cost:,.0f}"))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>"
        "body{font-family:sans-serif;max-width:900px;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px}"
        "td:nth-child(n+3){text-align:right}</style></head><body>",
        f"<h1>{esc(title)}</h1><h2>Summary and recommendation</h2><p>{esc(s['summary'])}</p>",
        "<h2>Workload</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in s["workload"]) + "</ul>",
        "<h3>Memory per card (GiB, modelled)</h3>"
        + table(["GPU", "count", "need at peak", "usable", "headroom"],
                [(g, n, gib(need), gib(use), gib(head)) for g, n, need, use, head in s["memory"]]),
        f"<h3>{esc(BREAKDOWN_TITLE[s['split']])}</h3>" + _bar_chart(s["breakdown"])
        + table(["component", "GiB"], [(l, gib(v)) for l, v in s["breakdown"]]),
        "<h2>Bill of materials</h2>" + table(["kind", "item", "count", f"unit price ({cur})", f"subtotal ({cur})"], bom),
        f"<p>System RAM {p.ram_gb:,} GB, GPU memory {p.vram_gb:,.0f} GB, power (TDP) {p.power_w:,.0f} W.</p>",
        "<p>Machines: " + esc("; ".join(s["machines"])) + ".</p>",
        "<h2>Cost-time frontier</h2>" + table(["hardware", f"cost ({cur})", "time to result"],
                                             [(f["summary"].split(":")[0], f"{f['total_cost']:,.0f}",
                                               human_time(f["time_s"])) for f in s["frontier"]]),
        "<h2>Alternatives considered</h2>" + table(["hardware", f"cost ({cur})", "why it lost", "time to result"],
                                                  [(h, f"{c:,.0f}", w, t) for h, c, w, t in s["alts"]]),
        "<h2>Time to result and energy</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in s["timing"]) + "</ul>",
        "<h2>Risks</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in s["risks"]) + "</ul>",
        "<h2>Assumptions</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in s["assumptions"]) + "</ul>",
        "<p>Approved by: ____________________ &nbsp; Date: ____________</p></body></html>",
    ]
    return "\n".join(parts)


def render_proposal(path: str, arch: Architecture, wl: Workload, c: Constraints, catalog: Catalog, res: Result,
                    notes: list[str]) -> str:
    title = f"Hardware proposal: {wl.method} of {arch.name}"
    s = _sections(arch, wl, c, catalog, res, notes)
    return to_html(s, title) if path.lower().endswith((".html", ".htm")) else to_markdown(s, title)


def write_proposal(path: str, arch: Architecture, wl: Workload, c: Constraints, catalog: Catalog, res: Result,
                   notes: list[str]) -> None:
    """Written atomically (temporary file + rename): a crash or a concurrent run never leaves half a document."""
    check_output_path(path)
    if not res.feasible:
        raise InputError(f"--proposal: no plan fits ({res.binding}: {res.reason}); nothing to propose")
    write_atomic(path, render_proposal(path, arch, wl, c, catalog, res, notes), "--proposal")
