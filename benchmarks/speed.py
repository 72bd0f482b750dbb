"""Planner speed: solve time per plan, end-to-end `plan` process time, and scenario sweep throughput.

    python benchmarks/speed.py
Targets: `plan` end to end under 1 s (issue 3); a 1,000-variant sweep within 30 s (issue 4).
"""
import statistics
import subprocess
import sys
import time
from pathlib import Path

from planner.catalog import load_catalog
from planner.data import builtin_registry
from planner.scenario import run_scenario
from planner.solver import Constraints, plan
from planner.workload import Workload

HERE = Path(__file__).parent
CASES = [
    ("70b qlora, budget 200k", "llama-3.1-70b", dict(method="qlora"), dict(budget=200_000)),
    ("8b inference b32 8k", "llama-3.1-8b", dict(method="inference", batch_size=32, seq_len=8192), {}),
    ("70b full ZeRO", "llama-3.1-70b", dict(method="full", gradient_checkpointing=True), dict(budget=5e6)),
    ("405b inference", "llama-3.1-405b", dict(method="inference", batch_size=8, seq_len=4096), {}),
    ("8x7b lora", "mixtral-8x7b", dict(method="lora", batch_size=2, seq_len=2048), {}),
    ("1b pretrain 14 days", "llama-3.2-1b", dict(method="pretrain", batch_size=8),
     dict(tokens=20_000_000_000, deadline_s=14 * 86400)),
]


def main() -> int:
    reg, cat = builtin_registry(), load_catalog()
    print(f"{'plan':24} {'solve+alternatives ms':>22} {'feasible':>9}")
    for label, model, wl, c in CASES:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            res = plan(reg.models[model], Workload(**wl), cat, Constraints(**c))
            times.append(time.perf_counter() - t)
        print(f"{label:24} {statistics.median(times) * 1000:22.0f} {str(res.feasible):>9}")
    e2e = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run(["plan", "--model", "70b", "--method", "qlora", "--budget", "200000"], check=True,
                       capture_output=True)
        e2e.append(time.perf_counter() - t)
    print(f"\n`plan --model 70b --method qlora --budget 200000` end to end: median {statistics.median(e2e):.2f} s "
          f"(min {min(e2e):.2f}, max {max(e2e):.2f}; target < 1 s)")
    t = time.perf_counter()
    _, rows = run_scenario(str(HERE / "sweep_1000.yaml"))
    dt = time.perf_counter() - t
    print(f"scenario sweep: {len(rows)} variants in {dt:.1f} s = {len(rows) / dt:.0f} variants/s (target: 1,000 in 30 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
