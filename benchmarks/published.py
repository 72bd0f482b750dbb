"""The estimator against peak-memory figures PUBLISHED by other training and serving stacks.

    python benchmarks/published.py                 # validation/published-cases.json
    python benchmarks/published.py FILE.json       # another file of the same shape (e.g. held-out cases)

Each case's `cli_today` argument list goes through the real CLI parser (planner.cli.build_parser and
planner.cli._workload), so every case is a command a user could type. `compare` names the estimate field the
published figure corresponds to: reserved -> reserved_bytes, allocated -> peak_allocated_bytes,
total -> total_bytes, vllm_non_kv -> reserved_bytes + cuda_context_bytes - breakdown['kv_cache'].
Prints per case predicted vs published and the error, then median / p90 |error| per stack and overall.
Targets: median |error| <= 10%, p90 <= 30%.
"""
from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planner.cli import _resolve_model, _workload, build_parser  # noqa: E402
from planner.estimator import GiB, estimate  # noqa: E402

CASES = REPO / "validation" / "published-cases.json"


@dataclass
class PublishedResult:
    id: str
    stack: str
    compare: str
    published: float          # GiB per GPU
    predicted: float          # GiB per GPU, the field `compare` names
    why_off: str = ""

    @property
    def error(self) -> float:
        return self.predicted / self.published - 1


def compared_bytes(est, compare: str) -> int:
    if compare == "reserved":
        return est.reserved_bytes
    if compare == "allocated":
        return est.peak_allocated_bytes
    if compare == "total":
        return est.total_bytes
    if compare == "vllm_non_kv":
        return est.reserved_bytes + est.cuda_context_bytes - est.breakdown.get("kv_cache", 0)
    if compare == "llamacpp_total":        # model + KV + compute buffers llama.cpp reports on the GPU
        return sum(est.breakdown.get(k, 0) for k in ("weights", "kv_cache", "compute_buffer"))
    if compare == "mlx_peak":              # mx.get_peak_memory(): what MLX's allocator handed out
        return est.peak_allocated_bytes
    if compare == "load_reserved":         # reserved once the model is loaded and wrapped (Answer.AI's
        return est.load_reserved_bytes     # reserved_after_model_wrap)
    if compare == "weights":               # the weights on each GPU (engine logs: "Load weight end ... mem usage")
        return est.breakdown.get("weights", 0)
    raise ValueError(f"unknown compare field {compare!r}")


def run_case(case: dict, cuda_context: int | None = None):
    # `cli`, where a case has one, is the run as the current flags can say it; `cli_today` what it was first recorded as
    args = build_parser().parse_args(["estimate", *case.get("cli", case["cli_today"])])
    arch, _ = _resolve_model(args.model)
    wl = _workload(args)
    if cuda_context is None:
        return estimate(arch, wl), wl
    return estimate(arch, wl, cuda_context=cuda_context), wl


@dataclass
class OutcomeResult:
    """A published "it fits" / "it ran out of memory" on a named card, against the planner's own fit test: the
    estimate's total (with the card's CUDA context, as the planner computes it) within the card's memory."""
    id: str
    gpu: str
    published: str            # fits | oom
    predicted_gib: float
    card_gib: float

    @property
    def predicted(self) -> str:
        return "fits" if self.predicted_gib <= self.card_gib else "oom"

    @property
    def agrees(self) -> bool:
        return self.predicted == self.published


def evaluate_outcomes(path: Path = CASES) -> list[OutcomeResult]:
    from planner.catalog import load_catalog
    gpus = load_catalog().gpus
    out = []
    for case in json.loads(Path(path).read_text())["cases"]:
        if case.get("compare") != "outcome":
            continue
        g = gpus[case["gpu"]]
        est, _ = run_case(case, cuda_context=g.context_bytes)
        out.append(OutcomeResult(case["id"], g.name, case["outcome"], est.total_bytes / GiB, g.memory_bytes / GiB))
    return out


def evaluate(path: Path = CASES) -> list[PublishedResult]:
    data = json.loads(Path(path).read_text())
    out = []
    for case in data["cases"]:
        if case.get("compare") == "outcome":
            continue                      # evaluate_outcomes
        est, wl = run_case(case)
        stack = wl.framework if wl.method != "inference" else f"infer:{wl.engine}"
        out.append(PublishedResult(case["id"], stack, case["compare"], case["published_gb"],
                                   compared_bytes(est, case["compare"]) / GiB, case.get("why_off", "")))
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))]


def summary(results: list[PublishedResult]) -> dict:
    errs = [abs(r.error) for r in results]
    return {"cases": len(results), "median_abs_error": statistics.median(errs) if errs else float("nan"),
            "p90_abs_error": pct(errs, 0.9), "worst": max(results, key=lambda r: abs(r.error)).id if results else ""}


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CASES
    results = evaluate(path)
    print(f"{'case':36} {'stack':18} {'field':11} {'published':>9} {'predicted':>9} {'error':>8}")
    for r in results:
        print(f"{r.id:36} {r.stack:18} {r.compare:11} {r.published:9.2f} {r.predicted:9.2f} {r.error:+8.1%}"
              + (f"   ({r.why_off})" if r.why_off else ""))
    print()
    for stack in sorted({r.stack for r in results}):
        s = summary([r for r in results if r.stack == stack])
        print(f"{stack:18} cases {s['cases']:2}   median |error| {s['median_abs_error']:6.1%}   "
              f"p90 |error| {s['p90_abs_error']:6.1%}")
    s = summary(results)
    print(f"{'overall':18} cases {s['cases']:2}   median |error| {s['median_abs_error']:6.1%}   "
          f"p90 |error| {s['p90_abs_error']:6.1%}")
    outcomes = evaluate_outcomes(path)
    if outcomes:
        print()
        print(f"{'outcome case':40} {'gpu':16} {'published':>9} {'predicted':>9} {'need GiB':>9} {'card GiB':>9}")
        for o in outcomes:
            print(f"{o.id:40} {o.gpu:16} {o.published:>9} {o.predicted:>9} {o.predicted_gib:9.2f} {o.card_gib:9.2f}"
                  + ("" if o.agrees else "   DISAGREES"))
        print(f"published fits/OOM outcomes agreeing: {sum(o.agrees for o in outcomes)} of {len(outcomes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
