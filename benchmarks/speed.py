"""Planner speed, as users feel it (issue 20 targets in brackets), measured on this machine:

    python benchmarks/speed.py [--quick] [--only process,solve,catalog,sweep]

Every figure is a median of 5 (the sweeps: one run each) and is printed as wall seconds, as a ratio to
`python -c pass` measured in the same run, and as CPU seconds (user + system of the process and its children):
on a shared machine wall time moves with the load, the ratio and the CPU time much less.

- whole processes of the installed `plan`: the estimate, the README's headline plan, `plan models/catalog --json`
- in-process plans (frontier + 3 alternatives)
- one plan over a 2,040-SKU x 20-platform `--catalog` file (benchmarks/big_catalog.py writes it), as a whole
  process (the file's first load, then cached) and in-process
- a 10,000-variant sweep grouped by budget (sweep_10000.yaml) and one of 10,000 distinct solves (sequence length
  x batch x a card's price x LoRA rank: sweep_distinct_10000.yaml); --quick runs the 1,000-variant versions
"""
from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

PLAN = shutil.which("plan", path=str(Path(sys.executable).parent)) or "plan"
HEADLINE = [PLAN, "--model", "70b", "--method", "qlora", "--budget", "200000", "--json"]
PROCESS_CASES = [
    ("plan estimate --model 8b --method lora --json", [PLAN, "estimate", "--model", "8b", "--method", "lora",
                                                        "--json"], 0.12),
    ("plan --model 70b --method qlora --budget 200000 --json", HEADLINE, 0.25),
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


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def median_process(argv: list[str], runs: int = 5, env: dict | None = None) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of a whole process."""
    walls, cpus = [], []
    for _ in range(runs):
        c, t = _children_cpu(), time.perf_counter()
        subprocess.run(argv, check=False, capture_output=True, env=env)
        walls.append(time.perf_counter() - t)
        cpus.append(_children_cpu() - c)
    return statistics.median(walls), statistics.median(cpus)


def row(label: str, wall: float, cpu: float, base: float, target: float | None = None, width: int = 58) -> str:
    return (f"{label:{width}} {wall:7.3f} {wall / base:7.1f} {cpu:7.3f} "
            f"{'' if target is None else f'<={target:g}':>7}")


def header(title: str, width: int = 58) -> str:
    return f"\n{title:{width}} {'wall s':>7} {'x pass':>7} {'cpu s':>7} {'target':>7}"


def main() -> int:
    quick = "--quick" in sys.argv
    only = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else \
        {"process", "solve", "catalog", "sweep"}
    # the package's bytecode compiled first, as pip does when it installs a wheel (this machine sets
    # PYTHONDONTWRITEBYTECODE, so an editable checkout would otherwise recompile every module on every start)
    import compileall
    import planner
    compileall.compile_dir(str(Path(planner.__file__).parent), quiet=1)
    base, base_cpu = median_process([sys.executable, "-c", "pass"])
    print(f"python -c pass: median {base * 1000:.0f} ms wall, {base_cpu * 1000:.0f} ms CPU (ratios are to the wall "
          f"figure); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    if "process" in only:
        print(header("whole process (median of 5)"))
        for label, argv, target in PROCESS_CASES:
            print(row(label, *median_process(argv), base, target))

    if "solve" in only:
        from planner.catalog import load_catalog
        from planner.data import builtin_registry
        from planner.solver import Constraints, plan
        from planner.workload import Workload
        reg, cat = builtin_registry(), load_catalog()
        from planner.configs import clear_caches
        print(header("in-process plan from cold caches (frontier + 3 alternatives), median of 5"))
        for label, model, wl, c in SOLVE_CASES:
            walls, cpus = [], []
            for _ in range(5):
                clear_caches()
                c0, t = _self_cpu(), time.perf_counter()
                res = plan(reg.models[model], Workload(**wl), cat, Constraints(**c))
                walls.append(time.perf_counter() - t)
                cpus.append(_self_cpu() - c0)
            print(row(f"{label} ({'feasible' if res.feasible else 'no plan'})", statistics.median(walls),
                      statistics.median(cpus), base))

    if "catalog" in only:
        from big_catalog import write_big_catalog
        with tempfile.TemporaryDirectory() as tmp:
            path = write_big_catalog(Path(tmp) / "big_catalog.yaml")
            argv = HEADLINE + ["--catalog", str(path)]
            env = dict(os.environ, XDG_CACHE_HOME=str(Path(tmp) / "cache"))
            print(header("2,040 GPU SKUs x 20 platforms as a --catalog file"))
            print(row("plan ... --catalog FILE --json, first run (parse)", *median_process(argv, 1, env), base))
            print(row("plan ... --catalog FILE --json, unchanged file", *median_process(argv, 5, env), base, 1.5))
            import json
            doc = json.loads(subprocess.run(argv, capture_output=True, text=True, env=env).stdout)
            print(f"  the plan: {doc['plan']['gpus']}, {doc['plan']['total_cost']:,.0f} {doc['plan']['currency']}, "
                  f"optimality {doc['plan']['optimality']}")
            from planner.catalog import load_catalog
            from planner.configs import clear_caches
            from planner.data import builtin_registry
            from planner.solver import Constraints, plan
            from planner.workload import Workload
            cat = load_catalog([str(path)])
            walls, cpus = [], []
            for _ in range(5):
                clear_caches()
                c0, t = _self_cpu(), time.perf_counter()
                plan(builtin_registry().models["llama-3.1-70b"], Workload(method="qlora"), cat,
                     Constraints(budget=200_000))
                walls.append(time.perf_counter() - t)
                cpus.append(_self_cpu() - c0)
            print(row(f"in-process plan over the loaded {len(cat.gpus):,} x {len(cat.platforms)} catalogue",
                      statistics.median(walls), statistics.median(cpus), base))

    if "sweep" in only:
        from planner.scenario import run_scenario
        print(header("scenario sweeps (one run, every core)"))
        for name, target in (("sweep_1000.yaml" if quick else "sweep_10000.yaml", None),
                             ("sweep_distinct_1000.yaml" if quick else "sweep_distinct_10000.yaml", 20)):
            c0, cc0, t = _self_cpu(), _children_cpu(), time.perf_counter()
            _, rows = run_scenario(str(HERE / name))
            dt = time.perf_counter() - t
            cpu = _self_cpu() - c0 + _children_cpu() - cc0
            print(row(f"{name}: {len(rows):,} variants, {len(rows) / dt:,.0f}/s", dt, cpu, base,
                      target if not quick else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
