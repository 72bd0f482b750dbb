// llm-hw-planner web page: a form over POST /api/plan, rendering exactly what `plan --json` prints.
// No build step: a plain ES module plus Chart.js (vendor/chart.umd.min.js, a global `Chart`).

const GiB = 2 ** 30;
const $ = (sel) => document.querySelector(sel);
const charts = {};
let lastRequest = null;   // the options of the plan on screen (for downloads and what-if)
let lastResult = null;
let upload = null;        // {model: "upload:<token>", name, bytes}

// ---------- small helpers ----------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const num = (x, d = 0) => (x === null || x === undefined || Number.isNaN(+x)) ? "–"
  : (+x).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
// "200k" -> 200000, as the CLI reads --budget (k/M/G: thousands, millions, billions)
const amount = (x) => {
  if (typeof x === "number") return x;
  const m = /^\s*([\d.]+(?:e[+-]?\d+)?)\s*([kmg]?)\s*$/i.exec(String(x ?? ""));
  return m ? Number(m[1]) * ({ "": 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase()]) : null;
};
const money = (x, cur) => (x === null || x === undefined) ? "–" : `${num(x)} ${cur || ""}`.trim();
const gib = (bytes) => (bytes === null || bytes === undefined) ? "–" : num(bytes / GiB, 2);
function humanTime(s) {
  if (s === null || s === undefined) return "n/a";
  if (s < 120) return `${num(s)} s`;
  if (s < 7200) return `${num(s / 60)} min`;
  if (s < 3 * 86400) return `${num(s / 3600, 1)} h`;
  if (s < 365 * 86400) return `${num(s / 86400, 1)} days`;
  return `${num(s / 86400)} days (${num(s / (365.25 * 86400), 1)} years)`;
}
const LABELS = {
  weights: "weights", gradients: "gradients", optimizer_states: "optimizer states",
  optimizer_temp: "optimizer step temporaries", activations: "activations + loss buffers", kv_cache: "KV cache",
  buckets: "communication buckets", allocator_slack: "allocator slack", utilization_headroom: "vLLM headroom",
  cuda_context: "CUDA context",
};
function fmtValue(v) {
  if (v === null || v === undefined) return "–";
  if (Array.isArray(v)) return v.map(fmtValue).join(", ");
  if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k} ${fmtValue(x)}`).join(", ");
  return typeof v === "number" ? num(v, Number.isInteger(v) ? 0 : 2) : String(v);
}
const gpuText = (gpus) => gpus ? Object.entries(gpus).map(([k, n]) => `${n} × ${k}`).join(" + ") : "–";
function table(head, rows, opts = {}) {
  const t = h("table", { class: "tbl" + (opts.cls ? " " + opts.cls : "") });
  t.append(h("thead", {}, h("tr", {}, head.map((x, i) =>
    h("th", { class: (opts.right || []).includes(i) ? "r" : null }, x)))));
  const tb = h("tbody");
  for (const r of rows) {
    const tr = h("tr", { class: r._class || null });
    // text columns (opts.wide, default the first) keep a readable width: a narrow screen scrolls the table instead
    const wide = opts.wide || [0];
    (r.cells || r).forEach((c, i) => tr.append(h("td", { class: [(opts.right || []).includes(i) ? "r" : "",
      wide.includes(i) ? "w" : ""].join(" ").trim() || null }, c)));
    tb.append(tr);
  }
  t.append(tb);
  return h("div", { class: "tbl-wrap" }, t);
}
function basisBadge(text) {
  if (/modell?ed|not measured|unverified|assumed/i.test(text)) return h("span", { class: "badge modelled", title: "modelled, not measured" }, "modelled");
  if (/measured|calibrated/i.test(text)) return h("span", { class: "badge measured", title: "from measurements" }, "measured");
  return null;
}

// ---------- the form ----------
const form = $("#plan-form");
function formOptions() {
  const opts = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") { if (el.checked) opts[el.name] = true; continue; }
    const v = el.value.trim();
    if (v === "") continue;
    if (el.dataset.kind === "tristate") opts[el.name] = v === "true";
    else if (el.name === "include" || el.name === "exclude" || el.name === "have") opts[el.name] = v.split(",").map((s) => s.trim()).filter(Boolean);
    else if (el.type === "number") opts[el.name] = Number(v);
    else if (el.inputMode === "decimal" && /^[+-]?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v)) opts[el.name] = Number(v);
    else opts[el.name] = v;     // the CLI reads it: 8k, 200k, 1.5M, 14d, none
  }
  if (upload && opts.model === upload.label) opts.model = upload.model;
  return opts;
}
function clearErrors(root = document) {
  root.querySelectorAll(".field.invalid").forEach((f) => f.classList.remove("invalid"));
  root.querySelectorAll(".field .err").forEach((e) => { e.textContent = ""; });
  for (const id of ["#form-error", "#sweep-error"]) { const b = $(id); b.hidden = true; b.textContent = ""; }
}
function showError(body, status, box = "#form-error", root = form) {
  const msg = (body && body.error) || `request failed (HTTP ${status})`;
  const field = body && body.field;
  const f = field ? root.querySelector(`.field[data-field="${CSS.escape(field)}"]`) : null;
  if (f) {
    f.classList.add("invalid");
    f.querySelector(".err").textContent = msg;
    const det = f.closest("details");
    if (det) det.open = true;
    const input = f.querySelector("input,select");
    if (input) input.focus();
  } else {
    const b = $(box);
    b.textContent = msg;
    b.hidden = false;
  }
}
async function api(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch { data = { error: `HTTP ${r.status}: the server sent no JSON` }; }
  return { status: r.status, data };
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearErrors();
  const opts = formOptions();
  if (!opts.model) { showError({ error: "--model: enter a model name, alias or Hugging Face id, or upload a config.json", field: "model" }, 400); return; }
  setBusy(true);
  try {
    const { status, data } = await api("/api/plan", opts);
    if (status !== 200) { showError(data, status); return; }
    lastRequest = opts;
    lastResult = data;
    render(data, opts);
  } catch (e) {
    showError({ error: `cannot reach the server: ${e.message}` }, 0);
  } finally {
    setBusy(false);
  }
});
function setBusy(on) {
  $("#submit").disabled = on;
  $("#busy").hidden = !on;
  document.body.classList.toggle("busy-cursor", on);
}

// ---------- uploads ----------
$("#f-upload").addEventListener("change", async (ev) => {
  const file = ev.target.files[0];
  ev.target.value = "";
  if (!file) return;
  clearErrors();
  const isGguf = /\.gguf$/i.test(file.name);
  const limit = isGguf ? 64 * 2 ** 20 : 4 * 2 ** 20;
  const blob = file.size > limit && isGguf ? file.slice(0, limit) : file;   // a GGUF header is enough
  if (!isGguf && file.size > limit) { showError({ error: `upload: a config.json may be at most 4 MiB (this one is ${num(file.size / 2 ** 20, 1)} MiB)`, field: "model" }, 413); return; }
  const r = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}`, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: blob });
  const data = await r.json().catch(() => ({ error: `upload failed (HTTP ${r.status})` }));
  if (r.status !== 200) { showError(data, r.status); return; }
  upload = { model: data.model, label: `upload: ${file.name}`, name: file.name, bytes: data.bytes };
  $("#f-model").value = upload.label;
  const size = data.bytes < 1024 ? `${num(data.bytes)} bytes` : data.bytes < 2 ** 20 ? `${num(data.bytes / 1024, 1)} KiB` : `${num(data.bytes / 2 ** 20, 1)} MiB`;
  $("#upload-name").textContent = `${file.name} · ${size}${blob !== file ? " (header)" : ""}`;
  $("#upload-chip").hidden = false;
});
$("#upload-clear").addEventListener("click", () => {
  upload = null;
  $("#upload-chip").hidden = true;
  $("#f-model").value = "";
});

// ---------- rendering ----------
function render(d, opts) {
  $("#empty").hidden = true;
  $("#out").hidden = false;
  renderHeadline(d, opts);
  renderBom(d);
  renderMemory(d);
  renderFrontier(d);
  renderRent(d);
  renderServing(d);
  renderJob(d);
  renderAlternatives(d);
  renderRejected(d);
  renderAssumptions(d);
  $("#downloads-panel").hidden = !d.feasible;
  // narrow screens stack the form above the results: once there is an answer the results come first (CSS order)
  // and the page scrolls to the headline; wide screens keep the form beside them
  document.body.classList.add("has-result");
  const narrow = window.matchMedia("(max-width: 900px)").matches;
  $("#jump-to-form").hidden = !narrow;
  const still = narrow || window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  $("#headline").scrollIntoView({ behavior: still ? "auto" : "smooth", block: "start" });
}

function renderHeadline(d, opts) {
  const el = $("#headline");
  el.replaceChildren();
  const p = d.plan;
  if (!d.feasible || !p) {
    el.className = "panel headline infeasible";
    el.append(h("div", { class: "kicker" }, "No plan fits"),
      h("p", { class: "reason", id: "result-reason" }, `Binding constraint: ${d.binding || "?"}. ${d.reason || ""}`));
    if (d.min_budget !== null && d.min_budget !== undefined) {
      const cur = (d.alternatives[0] && d.alternatives[0].currency) || (opts.currency || "USD");
      el.append(h("p", {}, "Smallest budget that would work: ", h("b", { id: "min-budget" }, money(d.min_budget, cur))));
    }
    return;
  }
  el.className = "panel headline";
  const cur = p.currency;
  const stats = [
    ["Total cost", h("span", { id: "total-cost", "data-value": p.total_cost }, money(p.total_cost, cur))],
    ["Time to result", p.time_s !== null && p.time_s !== undefined ? humanTime(p.time_s)
      : h("span", { title: "give training tokens (or --requests for inference) to get a time" }, "n/a ", h("span", { class: "muted small" }, "(no tokens or requests given)")),
      p.time_s ? "modelled" : null],
    ["Throughput", p.tokens_per_s ? `~${num(p.tokens_per_s, p.tokens_per_s < 100 ? 1 : 0)} tokens/s` : "–", "modelled"],
    ["Power (TDP)", `${num(p.power_w)} W`],
  ];
  if (p.energy_kwh !== null && p.energy_kwh !== undefined) stats.push(["Energy", `${num(p.energy_kwh)} kWh · ${money(p.energy_cost, cur)}`, "modelled"]);
  const gpuList = h("ul", { class: "gpu-list", id: "gpu-list" },
    Object.entries(p.gpus || {}).map(([k, n]) => h("li", { "data-gpu": k, "data-count": n }, h("b", {}, `${n} ×`), ` ${k}`)));
  const budget = amount(opts.budget);
  const budgetNote = budget ? `budget ${money(budget, cur)} · ${money(budget - p.total_cost, cur)} left` : "no budget given";
  el.append(
    h("div", { class: "kicker" }, "Recommended hardware"),
    h("div", { class: "hl-main" },
      h("div", {}, gpuList,
        h("div", { class: "hl-sub" }, h("span", { class: "strategy" }, p.strategy || ""),
          p.stack ? h("span", { class: "pill", id: "stack" }, `stack: ${fmtValue(p.stack)}`) : null,
          Object.keys(p.hosts || {}).length ? h("span", { class: "pill" }, `hosts: ${gpuText(p.hosts)}`) : h("span", { class: "pill" }, "a whole machine (no separate host)"),
          h("span", { class: "pill" }, `VRAM ${num(p.vram_gb)} GB · system RAM ${num(p.ram_gb)} GB`))),
      h("div", { class: "hl-cost" }, h("div", { class: "big" }, stats[0][1]), h("div", { class: "muted" }, budgetNote))),
    h("div", { class: "stats" }, stats.slice(1).map(([k, v, basis]) =>
      h("div", { class: "stat" }, h("div", { class: "k" }, k, basis ? h("span", { class: `badge ${basis}` }, basis) : null), h("div", { class: "v" }, v)))),
    h("div", { class: "muted small" }, `prices as of ${d.prices_as_of || "?"} · model ${d.estimate ? d.estimate.model : "?"} · solved in ${num((d.solve_seconds || 0) * 1000)} ms with ${d.solver || "?"}`));
}

function renderBom(d) {
  const p = d.plan;
  const box = $("#bom");
  box.replaceChildren();
  $("#bom-panel").hidden = !p;
  if (!p) return;
  const cur = p.currency;
  const rows = (p.items || []).map((i) => [i.kind, i.name, num(i.count), num(i.unit_price), num(i.subtotal)]);
  rows.push({ cells: ["", "total", "", "", money(p.total_cost, cur)], _class: "total" });
  box.append(table(["kind", "item", "count", `unit price (${cur})`, `subtotal (${cur})`], rows, { right: [2, 3, 4], wide: [1] }));
  if (Array.isArray(p.machines) && p.machines.length) {
    box.append(h("h3", {}, "Machines"),
      table(["platform", "GPUs", "system RAM (GB)"], p.machines.map((m) =>
        [m.platform || "–", typeof m.gpus === "object" ? gpuText(m.gpus) : String(m.gpus ?? "–"), num(m.ram_gb)]), { right: [2] }));
  }
}

function chart(id, config) {
  if (charts[id]) charts[id].destroy();
  if (typeof Chart === "undefined") return;
  charts[id] = new Chart(document.getElementById(id), config);
}
const PALETTE = ["#2563eb", "#0891b2", "#7c3aed", "#db2777", "#ea580c", "#65a30d", "#ca8a04", "#475569", "#0d9488", "#9333ea"];
if (typeof Chart !== "undefined") {
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#334155";
  Chart.defaults.animation = false;
}

function renderMemory(d) {
  const e = d.estimate;
  const p = d.plan;
  $("#memory-panel").hidden = !e;
  if (!e) return;
  const parts = Object.entries(e.breakdown || {}).filter(([, v]) => v > 0);
  // the plan says how far its stack's memory model is checked (plan.evidence); an estimate alone only by its wording
  const evidence = (d.plan && d.plan.evidence) || "";
  const basis = evidence ? (/^memory measured/i.test(evidence) ? "checked on H100 runs" : "modelled")
    : ((e.assumptions || []).some((a) => /modell?ed|not measured/i.test(a)) ? "modelled" : "checked on H100 runs");
  $("#mem-basis").replaceChildren(h("span", { class: `badge ${basis === "modelled" ? "modelled" : "measured"}`,
    title: evidence || (basis === "modelled" ? "this configuration is modelled, not measured" : "memory model checked against measured H100 peaks (calibration/)") }, basis));
  chart("chart-breakdown", {
    type: "bar",
    data: { labels: parts.map(([k]) => LABELS[k] || k.replace(/_/g, " ")),
      datasets: [{ label: "GiB", data: parts.map(([, v]) => +(v / GiB).toFixed(2)), backgroundColor: parts.map((_, i) => PALETTE[i % PALETTE.length]) }] },
    options: { indexAxis: "y", maintainAspectRatio: false, plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => `${c.parsed.x} GiB` } } },
      scales: { x: { title: { display: true, text: "GiB" }, beginAtZero: true } } },
  });
  const mem = (p && (p.memory || p.per_gpu)) || [];
  chart("chart-need", {
    type: "bar",
    data: { labels: mem.map((r) => `${r.gpu} (×${r.count})`),
      datasets: [
        { label: "need at peak (GiB)", data: mem.map((r) => +(r.need_bytes / GiB).toFixed(2)), backgroundColor: "#2563eb" },
        { label: "usable (GiB)", data: mem.map((r) => +(r.usable_bytes / GiB).toFixed(2)), backgroundColor: "#cbd5e1" }] },
    options: { maintainAspectRatio: false, plugins: { legend: { position: "bottom" } }, scales: { y: { title: { display: true, text: "GiB" }, beginAtZero: true } } },
  });
  const rows = mem.map((r) => [r.gpu, num(r.count), gib(r.need_bytes), gib(r.usable_bytes), gib(r.headroom_bytes)]);
  rows.push({ cells: ["total on the device (one card)", "", gib(e.total_bytes), "", ""], _class: "total" });
  rows.push(["system RAM needed (whole node)", "", gib(e.cpu_ram_bytes), "", ""]);
  $("#memory-table").replaceChildren(
    table(["card", "count", "need at peak (GiB)", "usable (GiB)", "headroom (GiB)"], rows, { right: [1, 2, 3, 4] }),
    h("p", { class: "muted small" }, `${num(e.params)} parameters, ${num(e.trainable_params)} trainable · peak during ${e.peak_phase || "?"}`));
}

function renderFrontier(d) {
  const f = Array.isArray(d.frontier) ? d.frontier.filter((x) => x && x.total_cost !== undefined) : [];
  $("#frontier-panel").hidden = !f.length;
  if (!f.length) return;
  const cur = (d.plan && d.plan.currency) || "";
  const days = (s) => (s === null || s === undefined) ? null : +(s / 86400).toFixed(3);
  const pts = f.filter((x) => x.time_s !== null && x.time_s !== undefined).map((x) => ({ x: x.total_cost, y: days(x.time_s), s: x.summary || gpuText(x.gpus) }));
  const chosen = d.plan && d.plan.time_s ? [{ x: d.plan.total_cost, y: days(d.plan.time_s), s: "recommended" }] : [];
  chart("chart-frontier", {
    type: "scatter",
    data: { datasets: [
      { label: "cost–time frontier", data: pts, showLine: true, borderColor: "#2563eb", backgroundColor: "#2563eb", pointRadius: 4, order: 2 },
      { label: "recommended", data: chosen, backgroundColor: "#ea580c", borderColor: "#ea580c", pointRadius: 8, pointStyle: "rectRot", order: 1 }] },
    options: { maintainAspectRatio: false, plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: (c) => `${c.raw.s}: ${money(c.raw.x, cur)}, ${num(c.raw.y, 2)} days` } } },
      scales: { x: { title: { display: true, text: `total cost (${cur})` } }, y: { type: "logarithmic", title: { display: true, text: "time to result (days, log scale)" } } } },
  });
  $("#frontier-table").replaceChildren(table(["hardware", `total cost (${cur})`, "time to result", "energy (kWh)"],
    // the summary repeats cost and time after its colon ("2 x l40s (DDP): 16,756 USD, 5.9 days"): the columns show them
    f.map((x) => [x.summary ? x.summary.split(": ")[0] : gpuText(x.gpus), num(x.total_cost), humanTime(x.time_s), x.energy_kwh === undefined || x.energy_kwh === null ? "–" : num(x.energy_kwh)]), { right: [1, 3] }));
}

function renderRent(d) {
  const r = d.plan && d.plan.rent;
  $("#rent-panel").hidden = !r;
  if (!r) return;
  const cur = d.plan.currency;
  const rows = [
    ["rent the same GPUs", r.hourly_cost !== undefined && r.hourly_cost !== null ? `${num(r.hourly_cost, 2)} ${cur} per hour` : "–"],
    ["this job rented", r.job_cost !== undefined && r.job_cost !== null ? money(r.job_cost, cur) : "–"],
    ["buy", money(d.plan.total_cost, cur)],
    ["buying pays off after", r.breakeven_hours !== undefined && r.breakeven_hours !== null ? `${num(r.breakeven_hours)} hours of use (${num(r.breakeven_hours / 24, 1)} days)` : "–"],
  ];
  $("#rent").replaceChildren(table(["", ""], rows, { right: [1], cls: "kv" }),
    h("p", { class: "muted small" }, `rental prices: ${r.provider || "?"}, as of ${r.as_of || "?"}`));
}

function renderServing(d) {
  const p = d.plan;
  const s = p && p.serving, cm = p && p.cost_per_mtok;
  $("#serving-panel").hidden = !(s || cm);
  if (!(s || cm)) return;
  const cur = p.currency;
  const parts = [];
  if (s) {
    const t = s.targets || {};
    parts.push(table(["", ""], [
      ["sustains", `${num(s.rate_rps, 2)} req/s, ${num(s.users)} concurrent users`],
      ["time to first token (mean)", `${num(s.ttft_s, 2)} s` + (t.ttft_s ? ` (target ${t.ttft_s} s)` : "")],
      ["inter-token latency (mean)", `${num(s.itl_s * 1000, 0)} ms = ${num(1 / s.itl_s, 0)} tokens/s per user` + (t.itl_s ? ` (target ${t.itl_s * 1000} ms)` : "")],
      ["output tokens/s in all", num(s.tokens_per_s)],
      ["replicas x tensor parallel", `${s.replicas} x ${s.tensor_parallel}`],
      ["what limits more users", s.binding],
    ], { cls: "kv" }));
  }
  if (cm) {
    const rows = [["buy (amortised)", num(cm.buy, 3)]];
    if (cm.rent !== null && cm.rent !== undefined) rows.push([`rent (${cm.rent_provider ? cm.rent_provider.provider : "?"})`, num(cm.rent, 3)]);
    for (const a of (cm.api || []).slice(0, 5)) rows.push([`${a.provider} API (as of ${a.as_of})`, num(a.usd_per_mtok_output, 3)]);
    parts.push(h("p", { class: "muted small" }, `${cur} per million output tokens, prompt processing included`));
    parts.push(table(["", `${cur}/M tokens`], rows, { right: [1], cls: "kv" }));
    const t = p.tco || {};
    const be = [];
    if (cm.buy_beats_rent_above_mtok_per_year) be.push(`buying beats renting above ${num(cm.buy_beats_rent_above_mtok_per_year)} M tokens/year`);
    if (cm.buy_beats_api_above_mtok_per_year) be.push(`beats the cheapest API above ${num(cm.buy_beats_api_above_mtok_per_year)} M tokens/year`);
    parts.push(h("p", { class: "muted small" }, `buying over ${t.years} years at ${num((t.utilization || 0) * 100)}% utilisation, PUE ${t.pue}, maintenance ${num((t.maintenance_per_year || 0) * 100)}%/year, residual ${num((t.residual || 0) * 100)}%` + (be.length ? "; " + be.join(", ") : "")));
  }
  $("#serving").replaceChildren(...parts);
}

function renderJob(d) {
  const j = d.job;
  $("#job-panel").hidden = !j;
  if (!j) return;
  const rows = typeof j === "object" ? Object.entries(j).map(([k, v]) => [k.replace(/_/g, " "), fmtValue(v)]) : [["job", String(j)]];
  $("#job").replaceChildren(table(["", ""], rows, { cls: "kv" }));
}

function whyItLost(best, alt) {
  if (alt.why) return alt.why;
  const diff = alt.total_cost - best.total_cost;
  let why = diff > 0.5 ? "costs more" : alt.power_w > best.power_w ? "same cost, draws more power" : "tie";
  if (best.tokens_per_s && alt.tokens_per_s) {
    const ratio = alt.tokens_per_s / best.tokens_per_s;
    why += Math.abs(ratio - 1) > 0.05 ? `; ${ratio.toFixed(1)}x the throughput` : "; same throughput";
  }
  return why;
}
function renderAlternatives(d) {
  const box = $("#alts");
  const alts = d.alternatives || [];
  const p = d.plan;
  $("#alt-panel").hidden = !alts.length;
  if (!alts.length) return;
  const cur = (p && p.currency) || alts[0].currency;
  if (!p) {
    $("#alt-panel h2").textContent = "Cheapest plans without the budget";
    box.replaceChildren(table(["hardware", `cost (${cur})`, "strategy", "time to result"],
      alts.map((a) => [gpuText(a.gpus), num(a.total_cost), a.strategy, humanTime(a.time_s)]), { right: [1] }));
    return;
  }
  $("#alt-panel h2").textContent = "Alternatives and why they lost";
  box.replaceChildren(table(["hardware", `cost (${cur})`, "vs plan", "time to result", "why it lost"],
    alts.map((a) => [`${gpuText(a.gpus)} (${a.strategy})`, num(a.total_cost), `+${num(a.total_cost - p.total_cost)}`, humanTime(a.time_s), whyItLost(p, a)]), { right: [1, 2], wide: [0, 4] }));
}
function renderRejected(d) {
  const rej = Object.entries(d.rejected || {});
  $("#rejected-panel").hidden = !rej.length;
  $("#rejected-summary").textContent = `GPUs ruled out (${rej.length})`;
  $("#rejected").replaceChildren(table(["GPU", "why"], rej.map(([k, v]) => [k, v])));
  if (!d.feasible) $("#rejected-panel details").open = true;
}
function renderAssumptions(d) {
  const list = [...(d.notes || []), ...((d.estimate && d.estimate.assumptions) || [])];
  const ul = $("#assumptions");
  ul.replaceChildren(...[...new Set(list)].map((a) => h("li", {}, basisBadge(a), " ", a)));
  if (d.prices_as_of) ul.append(h("li", {}, `catalogue prices as of ${d.prices_as_of}; placeholders to check before buying`));
}

// ---------- downloads ----------
function download(blob, name) {
  const a = h("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
async function downloadProposal(fmt) {
  if (!lastRequest) return;
  const r = await fetch(`/api/proposal?format=${fmt}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(lastRequest) });
  if (r.status !== 200) { showError(await r.json().catch(() => null), r.status); return; }
  const name = (r.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
  download(await r.blob(), name ? name[1] : `proposal.${fmt}`);
}
$("#dl-html").addEventListener("click", () => downloadProposal("html"));
$("#dl-md").addEventListener("click", () => downloadProposal("md"));
$("#dl-json").addEventListener("click", () => {
  if (!lastResult) return;
  const model = (lastResult.estimate && lastResult.estimate.model) || "plan";
  download(new Blob([JSON.stringify(lastResult, null, 1) + "\n"], { type: "application/json" }), `plan-${model}.json`);
});

// ---------- what-if ----------
const SWEEPABLE = ["batch-size", "seq-len", "budget", "max-gpus", "gpus", "method", "precision", "lora-rank", "currency",
  "engine", "framework", "deadline", "objective", "new-tokens", "requests", "tokens", "examples", "epochs", "optimizer",
  "zero", "offload", "margin", "ram-ratio", "grad-accum", "kv-cache-dtype", "gpu-memory-utilization", "loss"];
for (const id of ["#s-field", "#s-field2"]) {
  const sel = $(id);
  if (id === "#s-field2") sel.append(h("option", { value: "" }, "—"));
  for (const f of SWEEPABLE) sel.append(h("option", { value: f }, f));
}
const parseValue = (s) => (/^-?\d+(\.\d+)?(e\d+)?$/i.test(s) ? Number(s) : s);
$("#sweep-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearErrors($("#sweep-form"));
  clearErrors();
  const base = formOptions();
  if (!base.model) { showError({ error: "--model: fill in the workload first", field: "model" }, 400); return; }
  const body = { options: base, field: $("#s-field").value, values: $("#s-values").value.split(",").map((s) => s.trim()).filter(Boolean).map(parseValue) };
  if ($("#s-field2").value) {
    body.field2 = $("#s-field2").value;
    body.values2 = $("#s-values2").value.split(",").map((s) => s.trim()).filter(Boolean).map(parseValue);
  }
  $("#sweep-submit").disabled = true;
  $("#sweep-busy").hidden = false;
  try {
    const { status, data } = await api("/api/sweep", body);
    if (status !== 200) {
      const inSweep = ["field", "values", "field2", "values2"].includes(data && data.field);
      showError(data, status, "#sweep-error", inSweep ? $("#sweep-form") : form);
      return;
    }
    renderSweep(data);
  } finally {
    $("#sweep-submit").disabled = false;
    $("#sweep-busy").hidden = true;
  }
});
function renderSweep(d) {
  $("#sweep-out").hidden = false;
  const [f1, f2] = d.fields;
  const rows = d.rows;
  const cur = (rows.find((r) => r.currency) || {}).currency || "";
  const head = [f1, ...(f2 ? [f2] : []), "fits", "total cost", "time to result", "GPUs"];
  $("#sweep-table").replaceChildren(table(head, rows.map((r) => ({
    cells: [String(r[f1]), ...(f2 ? [String(r[f2])] : []),
      r.error ? "error" : r.feasible ? "yes" : "no",
      r.total_cost === null || r.total_cost === undefined ? "–" : money(r.total_cost, r.currency),
      humanTime(r.time_s),
      r.error ? r.error : r.feasible ? gpuText(r.gpus) : `${r.binding || ""}${r.min_budget ? ` (needs ${money(r.min_budget, r.currency)})` : ""}`],
    _class: r.error ? "bad" : r.feasible ? null : "warn",
  })), { right: [f2 ? 3 : 2] }));
  const groups = f2 ? [...new Set(rows.map((r) => String(r[f2])))] : [null];
  const labels = [...new Set(rows.map((r) => String(r[f1])))];
  chart("chart-sweep", {
    type: "line",
    data: { labels, datasets: groups.map((g, i) => ({
      label: g === null ? `total cost (${cur})` : `${f2} = ${g}`,
      data: labels.map((l) => { const r = rows.find((x) => String(x[f1]) === l && (g === null || String(x[f2]) === g)); return r && r.feasible ? r.total_cost : null; }),
      borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length], spanGaps: false, pointRadius: 4 })) },
    options: { maintainAspectRatio: false, plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${money(c.parsed.y, cur)}` } } },
      scales: { x: { title: { display: true, text: f1 } }, y: { title: { display: true, text: `total cost (${cur}); gaps: no plan fits` }, beginAtZero: true } } },
  });
}

// ---------- choices from the core's types (GET /api/options) ----------
const OPTION_LABELS = {
  method: { inference: "inference (serving)", pretrain: "pre-training (from scratch)", full: "full fine-tuning",
    lora: "LoRA", qlora: "QLoRA" },
  objective: { cost: "lowest cost by the deadline", time: "shortest time within the budget" },
  framework: { hf: "hf (HF Trainer + peft + bitsandbytes)", "hf-fsdp": "hf-fsdp (accelerate FSDP)",
    "fsdp-qlora": "fsdp-qlora (Answer.AI)", "mlx-lm": "mlx-lm (Apple)" },
  engine: { transformers: "transformers (generate)", "llama.cpp": "llama.cpp (GGUF)", mlx: "mlx (Apple)" },
};
const PRECISION_GROUPS = { float: "float", bitsandbytes: "bitsandbytes (training on a quantised base)",
  serving: "serving formats (vLLM: FP8, AWQ, GPTQ)", gguf: "GGUF types (llama.cpp)" };
function fillChoices(opts) {
  for (const sel of form.querySelectorAll("select[data-options]")) {
    const key = sel.dataset.options;
    const values = opts[key];
    if (!Array.isArray(values)) continue;
    const keep = [...sel.options].filter((o) => o.value === "");      // the "default" entry stays first
    const labels = OPTION_LABELS[key] || {};
    const option = (v) => h("option", { value: String(v) }, labels[v] || String(v));
    if (key === "precision" && opts.precision_groups) {
      const groups = Object.entries(opts.precision_groups).map(([g, vs]) =>
        h("optgroup", { label: PRECISION_GROUPS[g] || g }, vs.map(option)));
      sel.replaceChildren(...keep, ...groups);
    } else {
      sel.replaceChildren(...keep, ...values.filter((v) => !(keep.length && (v === "none" || v === "auto"))).map(option));
    }
  }
  if (opts.defaults && opts.defaults.precision) {
    const note = (m) => `default (${opts.defaults.precision[m] || "?"})`;
    const update = () => { const d = $("#f-precision").querySelector('option[value=""]'); if (d) d.textContent = note($("#f-method").value); };
    $("#f-method").addEventListener("change", update);
    update();
  }
}

// ---------- start-up: catalogue (currencies, price dates) and model names ----------
async function init() {
  try {
    fillChoices(await (await fetch("/api/options")).json());
  } catch { /* the fallbacks in index.html stay */ }
  try {
    const cat = await (await fetch("/api/catalog")).json();
    const sel = $("#f-currency");
    sel.replaceChildren(...Object.keys(cat.rates || { USD: 1 }).map((c) => h("option", { value: c }, c)));
    sel.value = "USD";
    $("#catalog-meta").textContent = `${(cat.gpus || []).length} GPUs · prices as of ${cat.as_of} · exchange rates as of ${cat.rates_as_of}`;
  } catch { $("#catalog-meta").textContent = "catalogue unavailable"; }
  try {
    const m = await (await fetch("/api/models")).json();
    const names = [...Object.keys(m.aliases || {}), ...Object.keys(m.models || {})];
    $("#model-list").replaceChildren(...names.map((n) => h("option", { value: n })));
  } catch { /* the datalist is a convenience */ }
  document.body.dataset.ready = "1";
}
init();
