"""Fit the engine presets (planner/throughput/engines.py) on published inference figures and print the model's
error per category.

    python benchmarks/throughput_inference.py                 # fit, factors, 2-fold held-out factors
    python benchmarks/throughput_inference.py FILE.json ...   # other case files of the same schema
    python benchmarks/throughput_inference.py --write         # rewrite presets.py's fitted block
    python benchmarks/throughput_inference.py --loo vllm/rocm # also leave-one-out over a stack's fitted cases on
                                                              # one backend (fit without each, predict it)

Fits, per engine and backend (CUDA, ROCm, Metal), each over many cases, never one:
- decode: batch-1 decode times t = bytes/(bandwidth x e) + o, solved for (1/e, o) by least squares on the
  relative error (each case weighs the same whatever its speed); o is kept only when the cases span model sizes.
- prefill: per case the matmul efficiency that reproduces its time, then the median per group.
- vLLM-style continuous batching: per batched case the value that reproduces it as scored (predict_case), then
  the median: on CUDA the per-sequence step cost, on other backends the share of the matmul peak their large-batch
  steps reach. Batched cases: total decode throughput at batch >= 8, and offline maximum-load runs (output tokens/s
  with neither a request rate nor a client concurrency: benchmark_throughput-style, every prompt queued, so the steps
  are large decode batches carrying chunked prefill).
A group with fewer than MIN_CASES cases takes the engine's pooled value (all backends).

Which cases are fitted on (every case is scored): the stacks the presets stand for (FIT_STACKS), formats the presets
were fitted before (HELD_OUT_PRECISIONS are scored as held out), and current software only: a case whose
`software_date` is older than the date from which its (stack, backend) releases count as current
(engines.CURRENT_SOFTWARE_SINCE: vLLM on ROCm from 2025-06-10, when vLLM made V1 ROCm's default engine, PR #19440)
is superseded - scored and listed, not fitted. A planner for buyers predicts the software they would run now; a 2024
ROCm vLLM run (V0 engine, before AITER) would otherwise set the constant for 2025+ releases.
Factor = max(pred/pub, pub/pred).
"""
from __future__ import annotations

import json
import math
import re
import statistics
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.throughput import engines as presets  # noqa: E402
from planner.throughput.inference import (STACK_ENGINE, CaseError, backend, case_parts, case_superseded,  # noqa: E402
                                          decode_rate, CUBLAS_FLOAT_FORMATS, model_bytes, predict_case,
                                          prefill_seconds)

# serving-cases.json too: its one-user runs are batch-1 decode and prefill figures of vLLM/SGLang on CUDA, which
# the throughput file has few of. benchmarks/serving.py reports the serving cases; the 2-fold split below holds
# out half of both files.
DEFAULT_FILES = [ROOT / "validation" / "throughput-inference.json", ROOT / "validation" / "serving-cases.json"]
MIN_CASES = 2                    # never one case
# stacks the presets stand for: the planner's engines (SGLang: the same CUDA-graph + continuous-batching design
# as vLLM, so its runs fit the vLLM preset; TensorRT-LLM: a preset of its own).
FIT_STACKS = {"llama.cpp", "vllm", "sglang", "mlx", "mlx-lm", "transformers", "hf", "tensorrt-llm"}
# In-flight batching engines: the published stacks each is fitted on, and what their batched cases fit on CUDA.
# vLLM's scheduler and output processor run in Python every step (a per-sequence host cost); TensorRT-LLM's batch
# manager / executor schedules in C++ and overlaps the next step's scheduling with the GPU (overlap scheduler), so
# no per-sequence cost is fitted for it: its batched cases fit the share of the matmul peak its GEMMs reach at large
# decode batches, as every non-CUDA backend's do for vLLM.
BATCHED_FIT = {"vllm": (("vllm", "sglang"), "seq_overhead_s"), "tensorrt-llm": (("tensorrt-llm",), "prefill_efficiency")}
PERCENTILE_MEANS = (None, "mean", "median")      # the model predicts means; p99 figures are reported apart
# FP4 weight formats (MXFP4 gpt-oss, NVFP4 ModelOpt) became expressible after the presets were fitted: their cases
# are scored as held out, not fitted on (tests/test_throughput_inference.py pins the presets to the fit)
HELD_OUT_PRECISIONS = ("mxfp4", "nvfp4")
# Likewise a case whose card entered the catalogue after the fit carries `held_out` (why), and models built in
# after the presets were fitted (Llama 3.2 Vision's cross-attention layers, Qwen3.6's hybrid MoE): scored, not fitted
HELD_OUT_MODELS = ("meta-llama/llama-3.2-90b-vision-instruct", "qwen/qwen3.6-35b-a3b")


def _fitted_on(case: dict, stacks=FIT_STACKS) -> bool:
    return (case.get("stack") in stacks and str(case.get("precision") or "").lower() not in HELD_OUT_PRECISIONS
            and not case.get("held_out") and str(case.get("model") or "").lower() not in HELD_OUT_MODELS
            and not case_superseded(case))


def _batched(case: dict) -> bool:
    """A large-batch decode figure: total decode throughput at batch >= 8, or an offline maximum-load run (output
    tokens/s at no stated request rate or concurrency; an unstated batch is the engine's max_seqs)."""
    if case["metric"] == "decode_tokens_per_s_total":
        return int(case.get("batch_size") or 1) >= 8
    return case["metric"] == "output_tokens_per_s" and not case.get("rate_rps") and not case.get("concurrency") \
        and int(case.get("batch_size") or 8) >= 8


def load_cases(paths) -> list[dict]:
    out = []
    for p in paths:
        out += json.loads(Path(p).read_text())["cases"]
    return out


@contextmanager
def patched(engine: str, **fields):
    old = presets.ENGINES[engine]
    presets.ENGINES[engine] = replace(old, **fields)
    try:
        yield
    finally:
        presets.ENGINES[engine] = old


def _parts(case):
    try:
        return case_parts(case)
    except CaseError:
        return None


def _solve(f, target: float, lo: float, hi: float) -> float | None:
    """x in [lo, hi] with f(x) = target for f monotone; None if outside."""
    flo, fhi = f(lo), f(hi)
    if (flo - target) * (fhi - target) > 0:
        return None
    for _ in range(50):
        mid = (lo + hi) / 2
        if (f(mid) - target) * (flo - target) > 0:
            lo, flo = mid, f(mid)
        else:
            hi = mid
    return (lo + hi) / 2


def _decode_rows(cases):
    """(engine, backend, x = bytes/bandwidth at efficiency 1 [s], t = published step time [s], case id)."""
    rows = []
    for c in cases:
        one = int(c.get("batch_size") or 1) == 1 and int(c.get("concurrency") or 1) == 1 and not c.get("rate_rps")
        if not _fitted_on(c) or c["metric"] not in ("decode_tokens_per_s", "itl_s") or not one or \
                c.get("percentile") not in PERCENTILE_MEANS:
            continue
        parts = _parts(c)
        if parts is None:
            continue
        arch, w, card, tp, pp = parts
        be = backend(card.gpu)
        prompt, new = w.seq_len, max(w.new_tokens, 1)
        ctx = (prompt if prompt > 1 else 0) + new / 2
        with patched(w.engine, decode_bandwidth_efficiency={be: 1.0, "cuda": 1.0}, step_overhead_s={be: 0.0, "cuda": 0.0},
                     layer_overhead_s=0.0):
            st = decode_rate(arch, w, card, 1, ctx, tp, pp)
        t = float(c["value"]) if c["metric"] == "itl_s" else 1.0 / float(c["value"])
        rows.append((w.engine, be, st.step.memory_s * pp, t, c["id"]))
    return rows


def _lsq(rows) -> tuple[float, float]:
    """min sum ((a x + o)/t - 1)^2 with a >= 1 (no engine beats the bandwidth) and o >= 0; returns (1/a, o)."""
    u = [x / t for _, _, x, t, _ in rows]
    v = [1 / t for _, _, x, t, _ in rows]
    suu, svv, suv = sum(a * a for a in u), sum(b * b for b in v), sum(a * b for a, b in zip(u, v))
    su, sv = sum(u), sum(v)
    det = suu * svv - suv * suv
    spread = max(x for _, _, x, _, _ in rows) / max(min(x for _, _, x, _, _ in rows), 1e-12)
    if det > 0 and spread > 1.5:
        a = (su * svv - sv * suv) / det
        o = (sv * suu - su * suv) / det
        if o >= 0 and a >= 1:
            return 1 / a, o
    # one parameter: the efficiency alone (a spread too narrow to separate a fixed cost)
    a = max(1.0, su / suu)
    return 1 / a, 0.0


def _new() -> dict:
    return {"decode_bandwidth_efficiency": {}, "step_overhead_s": {}, "prefill_efficiency": {}, "seq_overhead_s": {},
            "fitted": {}}


def fit(cases) -> dict:
    """{engine: {"decode_bandwidth_efficiency": {backend: e}, "step_overhead_s": {backend: o},
    "prefill_efficiency": {backend: p}, "seq_overhead_s": {backend: s}, "fitted": {what: cases}}}.

    A group (engine, backend) needs MIN_CASES cases. Prefill falls back to the same backend's cases of every
    engine (the same GPU's matmul kernels: Metal simdgroup matmul under llama.cpp and MLX alike); a backend
    without cases takes the engine's CUDA value at run time (EnginePreset.bandwidth_efficiency etc.)."""
    out: dict = {}
    hf = fit_transformers()
    if hf:
        out["transformers"] = hf
    rows = _decode_rows(cases)
    for engine in sorted({r[0] for r in rows} - {"transformers"}):   # HF: the H100 generate() measurements
        for be in sorted({r[1] for r in rows if r[0] == engine}):
            grp = [r for r in rows if r[0] == engine and r[1] == be]
            if len(grp) >= MIN_CASES:
                res = out.setdefault(engine, _new())
                e, o = _lsq(grp)
                res["decode_bandwidth_efficiency"][be], res["step_overhead_s"][be] = e, o
                res["fitted"][f"decode_{be}"] = len(grp)
    # prefill efficiency per case (with the decode constants just fitted), median per group
    per: dict = {}
    with _fitted_presets(out):
        for c in cases:
            if not _fitted_on(c) or c["metric"] != "prefill_tokens_per_s" or c.get("rate_rps"):
                continue
            parts = _parts(c)
            if parts is None or parts[1].engine == "transformers":
                continue
            arch, w, card, tp, pp = parts
            be = backend(card.gpu)
            if w.engine == "llama.cpp" and be == "cuda" and (model_bytes(arch, w).precision or w.precision) in \
                    CUBLAS_FLOAT_FORMATS:
                continue                # cuBLAS GEMMs: scored with the measured cuBLAS share, not fitted here

            def pred(eff, w=w, arch=arch, card=card, tp=tp, pp=pp, be=be):
                cur = presets.ENGINES[w.engine]
                with patched(w.engine, prefill_efficiency={**cur.prefill_efficiency, be: eff}):
                    return w.seq_len * w.batch_size / prefill_seconds(arch, w, card, w.seq_len, w.batch_size, tp, pp)
            eff = _solve(pred, float(c["value"]), 0.005, 3.0)
            if eff is not None:
                per.setdefault((w.engine, be), []).append(eff)
    for be in sorted({be for _, be in per}):
        pooled = [e for (eng, b), g in per.items() if b == be for e in g]
        for engine in sorted({eng for eng, b in per if b == be} | ({"mlx", "llama.cpp"} if be == "metal" else set())):
            own = per.get((engine, be), [])
            use, label = (own, f"prefill_{be}") if len(own) >= MIN_CASES else (pooled, f"prefill_{be}_all_engines")
            if len(use) >= MIN_CASES:
                res = out.setdefault(engine, _new())
                res["prefill_efficiency"][be] = statistics.median(use)
                res["fitted"][label] = len(use)
    # continuous batching: the per-sequence step cost of batched vLLM/SGLang decode (CUDA), and on other backends
    # (and for TensorRT-LLM on every backend) the matmul efficiency of their large-batch steps
    for engine, (stacks, cuda_field) in BATCHED_FIT.items():
        seq: dict = {}
        comp: dict = {}
        with _fitted_presets(out):
            for c in cases:
                if not _fitted_on(c, stacks) or not _batched(c):
                    continue
                parts = _parts(c)
                if parts is None:
                    continue
                be = backend(parts[2].gpu)
                # seq_overhead_s: the CPU scheduler's cost per sequence (the same host code whatever the GPU);
                # prefill_efficiency: what the GEMMs reach at a large batch (compute-bound steps only: a memory-bound
                # step does not depend on it and brackets no solution)
                field = cuda_field if be == "cuda" else "prefill_efficiency"
                lo, hi, into = (0.0, 5e-3, seq) if field == "seq_overhead_s" else (0.005, 1.0, comp)

                def pred(x, c=c, be=be, field=field, engine=engine):
                    with patched(engine, **{field: {**getattr(presets.ENGINES[engine], field), be: x}}):
                        return predict_case(c)
                try:
                    x = _solve(pred, float(c["value"]), lo, hi)
                except CaseError:               # a case the model cannot score (no prompt/output lengths)
                    continue
                if x is not None:
                    into.setdefault(be, []).append(x)
        for be, xs in seq.items():
            if len(xs) >= MIN_CASES:
                res = out.setdefault(engine, _new())
                res["seq_overhead_s"][be] = statistics.median(xs)
                res["fitted"][f"seq_overhead_{be}"] = len(xs)
        for be, xs in comp.items():
            if len(xs) >= MIN_CASES and be not in out.get(engine, {}).get("prefill_efficiency", {}):
                res = out.setdefault(engine, _new())
                res["prefill_efficiency"][be] = statistics.median(xs)
                res["fitted"][f"batched_compute_{be}"] = len(xs)
    return out


@contextmanager
def _fitted_presets(fitted: dict):
    saved = dict(presets.ENGINES)
    try:
        for engine, f in fitted.items():
            cur = presets.ENGINES[engine]
            presets.ENGINES[engine] = replace(
                cur, decode_bandwidth_efficiency={**cur.decode_bandwidth_efficiency, **f["decode_bandwidth_efficiency"]},
                step_overhead_s={**cur.step_overhead_s, **f["step_overhead_s"]},
                prefill_efficiency={**cur.prefill_efficiency, **f["prefill_efficiency"]},
                seq_overhead_s={**cur.seq_overhead_s, **f["seq_overhead_s"]},
                layer_overhead_s=f.get("layer_overhead_s", cur.layer_overhead_s))
        yield
    finally:
        presets.ENGINES.clear()
        presets.ENGINES.update(saved)


def category(c: dict) -> str:
    m = c["metric"]
    if m == "prefill_tokens_per_s" or (m == "ttft_s" and not c.get("rate_rps") and not c.get("concurrency")):
        kind = "prefill"
    elif m in ("decode_tokens_per_s", "decode_tokens_per_s_total") and not c.get("rate_rps"):
        kind = "decode" if int(c.get("batch_size") or 1) == 1 else "decode-batched"
    else:
        kind = "serving"
    return f"{kind}/{c.get('stack')}"


def factors(cases) -> tuple[list, list]:
    rows, skipped = [], []
    for c in cases:
        if c.get("percentile") not in PERCENTILE_MEANS:
            skipped.append((c["id"], f"{c.get('percentile')} figure (the model predicts means)"))
            continue
        try:
            pred = predict_case(c)
        except CaseError as e:
            skipped.append((c["id"], str(e)))
            continue
        pub = float(c["value"])
        if not (pred > 0 and math.isfinite(pred)):
            skipped.append((c["id"], f"prediction {pred}"))
            continue
        rows.append((c["id"], category(c), c["metric"], pub, pred, max(pred / pub, pub / pred)))
    return rows, skipped


def p90(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, math.ceil(0.9 * len(xs)) - 1)]


def summary(rows, title: str) -> None:
    print(f"\n{title}")
    print(f"{'category':34} {'n':>3} {'median':>7} {'p90':>7}")
    by: dict[str, list[float]] = {}
    for r in rows:
        by.setdefault(r[1], []).append(r[5])
        by.setdefault(r[1].split("/")[0] + "/*", []).append(r[5])
    for k in sorted(by):
        print(f"{k:34} {len(by[k]):3} {statistics.median(by[k]):7.2f} {p90(by[k]):7.2f}")
    allf = [r[5] for r in rows]
    if allf:
        print(f"{'overall':34} {len(allf):3} {statistics.median(allf):7.2f} {p90(allf):7.2f}")


def held_out(cases) -> list:
    """2-fold: fit on every other case, predict the rest, and the other way round."""
    rows = []
    for k in (0, 1):
        train = [c for i, c in enumerate(cases) if i % 2 != k]
        test = [c for i, c in enumerate(cases) if i % 2 == k]
        with _fitted_presets(fit(train)):
            rows += factors(test)[0]
    return rows


def leave_one_out(cases, stack: str, be: str) -> list:
    """Each case of `stack` on backend `be` that the fit may use, predicted by a fit over every other case."""
    rows = []
    for i, c in enumerate(cases):
        parts = _parts(c) if c.get("stack") == stack and _fitted_on(c) else None
        if parts is None or backend(parts[2].gpu) != be:
            continue
        with _fitted_presets(fit(cases[:i] + cases[i + 1:])):
            rows += factors([c])[0]
    return rows


def preset_block(fitted: dict) -> str:
    """The presets.py block for these fitted constants (engines without a fit keep their current values)."""
    lines = ["ENGINES: dict[str, EnginePreset] = {"]
    for name, cur in presets.ENGINES.items():
        f = fitted.get(name, {})
        dbe = {**cur.decode_bandwidth_efficiency, **f.get("decode_bandwidth_efficiency", {})}
        sto = {**cur.step_overhead_s, **f.get("step_overhead_s", {})}
        pre = {**cur.prefill_efficiency, **f.get("prefill_efficiency", {})}
        seq = {**cur.seq_overhead_s, **f.get("seq_overhead_s", {})}
        fitted_n = f.get("fitted", dict(cur.fitted))
        src = (("fit over the H100 generate() measurements in calibration/" if name == "transformers" else
                "fit over validation/throughput-inference.json and serving-cases.json") +
               " by benchmarks/throughput_inference.py") if f else cur.source

        def d(x):
            return "{" + ", ".join(f'"{k}": {_round(v)}' for k, v in sorted(x.items())) + "}"
        lines.append(f'    "{name}": EnginePreset(')
        lines.append(f'        "{name}", {d(dbe)},')
        lines.append(f'        {d(sto)},')
        lines.append(f'        {d(pre)},')
        lines.append(f'        layer_overhead_s={_round(f.get("layer_overhead_s", cur.layer_overhead_s))}, seq_overhead_s={d(seq)}, '
                     f'prefill_chunk_tokens={cur.prefill_chunk_tokens}, max_seqs={cur.max_seqs},')
        lines.append(f'        continuous_batching={cur.continuous_batching}, fitted={fitted_n!r},'
                     + (f' quant_layer_overhead_s={d(cur.quant_layer_overhead_s)},' if cur.quant_layer_overhead_s
                        else ""))
        lines.append(f'        source="{src}"),')
    lines.append("}")
    return "\n".join(lines)


def _round(v: float) -> str:
    return f"{float(f'{v:.3g}')!r}"


def write_presets(fitted: dict) -> None:
    path = ROOT / "planner" / "throughput" / "engines.py"
    text = path.read_text()
    block = preset_block(fitted)
    new = re.sub(r"(# FITTED-CONSTANTS-BEGIN[^\n]*\n).*?(# FITTED-CONSTANTS-END)",
                 lambda m: m.group(1) + block + "\n" + m.group(2), text, flags=re.S)
    path.write_text(new)


def fit_transformers(rounds: int = 3) -> dict | None:
    """HF generate() constants from the H100 measurements in calibration/: decode bandwidth efficiency,
    per-layer launch time and prefill efficiency, by coordinate descent on the mean squared log error over a
    grid of each (39 runs; never one)."""
    grid = {"decode_bandwidth_efficiency": [0.3 + 0.025 * i for i in range(25)],
            "layer_overhead_s": [0.1e-3 * i for i in range(0, 21)],
            "prefill_efficiency": [0.2 + 0.05 * i for i in range(14)]}
    # a fixed start (not the current preset), so that the fit is the same whatever the preset holds
    best = {"decode_bandwidth_efficiency": 0.5, "layer_overhead_s": 0.5e-3, "prefill_efficiency": 0.4}

    def loss(v):
        with patched("transformers", decode_bandwidth_efficiency={"cuda": v["decode_bandwidth_efficiency"]},
                     layer_overhead_s=v["layer_overhead_s"], prefill_efficiency={"cuda": v["prefill_efficiency"]}):
            rows = measured_generate_rows()
        return sum(math.log(r[4] / r[3]) ** 2 for r in rows) / max(len(rows), 1), len(rows)
    value, n = loss(best)
    if n < MIN_CASES:
        return None
    for _ in range(rounds):
        for k, options in grid.items():
            for x in options:
                trial = dict(best, **{k: x})
                l, _ = loss(trial)
                if l < value - 1e-12:
                    best, value = trial, l
    return {"decode_bandwidth_efficiency": {"cuda": best["decode_bandwidth_efficiency"]}, "step_overhead_s": {},
            "prefill_efficiency": {"cuda": best["prefill_efficiency"]}, "seq_overhead_s": {},
            "layer_overhead_s": best["layer_overhead_s"], "fitted": {"measured_h100_generate": n}}


def measured_generate_rows() -> list:
    """The H100 generate() measurements in calibration/ (HF transformers, the preset's own data): generated
    tokens/s of a static batch = batch x new tokens / (prefill + new tokens x decode step)."""
    from planner.catalog import load_catalog
    from planner.throughput.inference import Card
    from planner.validation import case_workload, load_measurements
    g = load_catalog().gpus["h100-sxm"]
    rows = []
    for _, case, arch in load_measurements():
        m = case["measured"]
        if case["method"] != "inference" or m["oom"] or not m.get("tokens_per_s"):
            continue
        w = case_workload(case)
        if w.engine != "transformers":
            continue
        b, prompt, new = w.batch_size, w.seq_len, max(w.new_tokens, 1)
        pre = prefill_seconds(arch, w, Card(g), prompt, b)
        step = decode_rate(arch, w, Card(g), b, prompt + new / 2).itl_s
        pred = b * new / (pre + new * step)
        pub = float(m["tokens_per_s"])
        rows.append((case["id"], "measured/transformers-h100", "tokens_per_s", pub, pred, max(pred / pub, pub / pred)))
    return rows


def main(argv: list[str]) -> int:
    write = "--write" in argv
    loo = argv[argv.index("--loo") + 1] if "--loo" in argv else None
    files = [a for a in argv if not a.startswith("--") and a != loo] or DEFAULT_FILES
    cases = load_cases(files)
    fitted = fit(cases)
    print("fitted engine constants (per backend; 'fitted' = cases used):")
    for engine, f in fitted.items():
        print(f"  {engine}: decode efficiency {_fmt(f['decode_bandwidth_efficiency'])}, step overhead "
              f"{_fmt(f['step_overhead_s'], 1000, 'ms')}, prefill efficiency {_fmt(f['prefill_efficiency'])}, "
              f"per-sequence {_fmt(f['seq_overhead_s'], 1e6, 'us')}; cases {f['fitted']}")
    if write:
        write_presets(fitted)
        print("engines.py rewritten")
    rows, skipped = factors(cases)
    print(f"\n{'id':58} {'metric':26} {'published':>11} {'predicted':>11} {'factor':>6}")
    for r in rows:
        print(f"{r[0]:58} {r[2]:26} {r[3]:11.4g} {r[4]:11.4g} {r[5]:6.2f}")
    summary(rows, "in-sample (presets as in planner/throughput/engines.py)")
    summary(held_out(cases), "held out (2-fold: fitted on half the cases, predicted on the other half)")
    if loo:
        stack, be = loo.split("/")
        rows = leave_one_out(cases, stack, be)
        print(f"\nleave-one-out, {stack} on {be}: each case predicted by a fit without it")
        for r in rows:
            print(f"  {r[0]:56} {r[3]:11.4g} {r[4]:11.4g} {r[5]:6.2f}")
        summary(rows, f"leave-one-out {stack}/{be}")
    summary(measured_generate_rows(), "measured: HF generate() on the H100 (calibration/; the transformers preset)")
    old = [(c["id"], c.get("software_date"), case_superseded(c)) for c in cases if case_superseded(c)]
    print(f"\nscored, not fitted: {len(old)} cases of superseded software (engines.CURRENT_SOFTWARE_SINCE)")
    for cid, date, since in old:
        print(f"  {cid}: software of {date}, current from {since}")
    print(f"\nskipped {len(skipped)} of {len(cases)} cases:")
    for cid, why in skipped:
        print(f"  {cid}: {why}")
    return 0


def _fmt(d: dict, scale: float = 1.0, unit: str = "") -> str:
    return ", ".join(f"{k} {v * scale:.3g}{unit}" for k, v in sorted(d.items())) or "-"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
