"""Planner speed, as users feel it (issue 11 targets in brackets), measured on this machine:

    python benchmarks/speed.py [--quick]

Whole processes of the installed `plan` (median of 5, and as a ratio to `python -c pass` measured in the same
run), plan solve times in-process, a 10,000-variant sweep (wall time on every core), and one plan with three
alternatives over a 400-SKU x 20-platform catalogue.
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

PLAN = shutil.which("plan", path=str(Path(sys.executable).parent)) or "plan"
PROCESS_CASES = [
    ("plan estimate ... --json", [PLAN, "estimate", "--model", "8b", "--method", "lora", "--json"], 0.20),
    ("plan --model 70b --method qlora --budget 200000 --json",
     [PLAN, "--model", "70b", "--method", "qlora", "--budget", "200000", "--json"], 0.35),
    ("plan models --json", [PLAN, "models", "--json"], None),
    ("plan catalog --json", [PLAN, "catalog", "--json"], None),
]
SOLVE_CASES = [
    ("70b qlora, budget 200k", "llama-3.1-70b", dict(method="qlora"), dict(budget=200_000)),
    ("8b inference b32 8k", "llama-3.1-8b", dict(method="inference", batch_size=32, seq_len=8192), {}),
    ("70b full ZeRO", "llama-3.1-70b", dict(method="full", gradient_checkpointing=True), dict(budget=5e6)),
    ("405b inference vllm", "llama-3.1-405b", dict(method="inference", engine="vllm", batch_size=8), {}),
    ("8x7b lora", "mixtral-8x7b", dict(method="lora", batch_size=2, seq_len=2048), {}),
    ("1b pretrain 14 days", "llama-3.2-1b", dict(method="pretrain", batch_size=8),
     dict(tokens=20_000_000_000, deadline_s=14 * 86400)),
]


def median_process_seconds(argv: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, check=False, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    quick = "--quick" in sys.argv
    from planner.catalog import load_catalog
    from planner.data import builtin_registry
    from planner.scenario import run_scenario
    from planner.solver import Constraints, plan
    from planner.workload import Workload

    base = median_process_seconds([sys.executable, "-c", "pass"])
    print(f"python -c pass: median {base * 1000:.0f} ms (the ratios below are to this)\n")
    print(f"{'whole process (median of 5)':58} {'s':>6} {'x pass':>7} {'target':>7}")
    for label, argv, target in PROCESS_CASES:
        med = median_process_seconds(argv)
        print(f"{label:58} {med:6.2f} {med / base:7.1f} {'' if target is None else f'<={target:.2f}':>7}")

    reg, cat = builtin_registry(), load_catalog()
    print(f"\n{'in-process plan (frontier + 3 alternatives)':42} {'ms, median of 5':>16} {'feasible':>9}")
    for label, model, wl, c in SOLVE_CASES:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            res = plan(reg.models[model], Workload(**wl), cat, Constraints(**c))
            times.append(time.perf_counter() - t)
        print(f"{label:42} {statistics.median(times) * 1000:16.0f} {str(res.feasible):>9}")

    from big_catalog import big_catalog
    big = big_catalog()
    times = []
    for _ in range(3):
        t = time.perf_counter()
        res = plan(reg.models["llama-3.1-70b"], Workload(method="qlora"), big, Constraints(budget=200_000),
                   alternatives=3)
        times.append(time.perf_counter() - t)
    print(f"\n{len(big.gpus)} GPU SKUs x {len(big.platforms)} platforms, 70b qlora with 3 alternatives: "
          f"median {statistics.median(times):.2f} s (target <= 2 s); {res.plan.optimality}")

    sweep = HERE / ("sweep_1000.yaml" if quick else "sweep_10000.yaml")
    t = time.perf_counter()
    _, rows = run_scenario(str(sweep))
    dt = time.perf_counter() - t
    print(f"scenario sweep {sweep.name}: {len(rows):,} variants in {dt:.1f} s wall = {len(rows) / dt:,.0f} "
          f"variants/s (target: 10,000 in <= 20 s on 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
