"""The time model against what was measured and published.

    python benchmarks/throughput.py [FILE ...]   # factor max(pred/pub, pub/pred) per case, category and overall
    python benchmarks/throughput.py --fit        # fit the eager-HF preset's constants and print them

Training cases: calibration/ (our H100 measurements, HF eager) and validation/throughput-*.json (published).
Inference cases: planner/throughput/inference.py's predict_case, where that module exists.
"""
from __future__ import annotations

import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.throughput.cases import TRAINING_CATEGORIES, load_cases, predict_training  # noqa: E402
from planner.throughput.comm import Link  # noqa: E402
from planner.throughput.hardware import card_of  # noqa: E402
from planner.throughput.presets import PRESETS  # noqa: E402
from planner.throughput.training import training_step  # noqa: E402
from planner.validation import case_workload, load_measurements  # noqa: E402


def factor(pred: float, pub: float) -> float:
    return max(pred / pub, pub / pred)


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(q * len(xs))) - 1)] if xs else float("nan")


def measured_h100_cases() -> list[tuple[str, object, object, float]]:
    """(id, arch, workload, measured tokens/s) of every training measurement in calibration/ (one H100 SXM)."""
    out = []
    for _, case, arch in load_measurements():
        m = case["measured"]
        if m["oom"] or not m.get("tokens_per_s") or case["method"] == "inference":
            continue
        out.append((case["id"], arch, case_workload(case), m["tokens_per_s"]))
    return out


def h100_card():
    from planner.catalog import load_catalog
    return card_of(load_catalog().gpus["h100-sxm"])


def measured_rows(preset=None) -> list[tuple[str, str, float, float]]:
    card = h100_card()
    rows = []
    for cid, arch, w, tps in measured_h100_cases():
        st = training_step(arch, w, card, 1, Link("none", 0.0), preset=preset or PRESETS["hf"])
        rows.append((cid, f"measured H100 hf {w.method}", st.tokens_per_s, tps))
    return rows


def published_rows(files: list[str] | None = None) -> list[tuple[str, str, float, float]]:
    if files:
        cases = []
        for f in files:
            p = Path(f)
            cases += load_cases(p.name, p.parent)
    else:
        cases = load_cases()
    rows = []
    for c in cases:
        cat = c.get("category", "")
        try:
            if cat in TRAINING_CATEGORIES:
                pred = predict_training(c)
            else:
                from planner.throughput import inference
                pred = inference.predict_case(c)
        except (ImportError, AttributeError, KeyError, ValueError) as e:
            print(f"  skipped {c.get('id')}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        rows.append((c["id"], f"{cat} {c.get('stack', '')}", pred, float(c["value"])))
    return rows


def summarise(rows, label: str) -> None:
    by: dict[str, list[float]] = {}
    for _, cat, pred, pub in rows:
        by.setdefault(cat, []).append(factor(pred, pub))
    print(f"\n{label}: {'category':34} {'n':>4} {'median':>7} {'p90':>7}")
    for cat, fs in sorted(by.items()):
        print(f"  {cat:40} {len(fs):4} {statistics.median(fs):7.2f} {quantile(fs, 0.9):7.2f}")
    fs = [factor(p, q) for _, _, p, q in rows]
    if fs:
        print(f"  {'overall':40} {len(fs):4} {statistics.median(fs):7.2f} {quantile(fs, 0.9):7.2f}")


# ---------------------------------------------------------------------------------------------------
# Fitting the eager-HF preset

FIT_FIELDS = {"dispatch_s_per_layer": (0.5e-3, 12e-3), "dispatch_s_per_adapter": (0.0, 1.5e-3),
              "dispatch_s_per_expert": (0.0, 1e-3), "host_overlap": (0.0, 1.0), "gemm_scale": (0.4, 1.0)}


def loss(preset) -> float:
    rows = measured_rows(preset)
    return sum(math.log(p / q) ** 2 for _, _, p, q in rows) / len(rows)


def fit(rounds: int = 4, steps: int = 12):
    """Coordinate descent on the mean squared log error over the measured HF runs."""
    best = PRESETS["hf"]
    best_loss = loss(best)
    for _ in range(rounds):
        for name, (lo, hi) in FIT_FIELDS.items():
            cur = getattr(best, name)
            for k in range(steps + 1):
                v = lo + (hi - lo) * k / steps
                cand = replace(best, **{name: v})
                val = loss(cand)
                if val < best_loss - 1e-12:
                    best, best_loss = cand, val
            # refine around the best value
            span = (hi - lo) / steps
            for k in range(-4, 5):
                v = min(hi, max(lo, getattr(best, name) + span * k / 4))
                cand = replace(best, **{name: v})
                val = loss(cand)
                if val < best_loss - 1e-12:
                    best, best_loss = cand, val
            _ = cur
    return best, best_loss


def main(argv: list[str]) -> int:
    if "--fit" in argv:
        best, val = fit()
        print("fitted eager-HF preset (calibration/ H100 runs):")
        for name in FIT_FIELDS:
            print(f"  {name:24} {getattr(best, name):.4g}   (presets.py: {getattr(PRESETS['hf'], name):.4g})")
        print(f"  mean squared log error {val:.4f} (presets.py: {loss(PRESETS['hf']):.4f})")
        return 0
    files = [a for a in argv if not a.startswith("-")]
    verbose = "-v" in argv
    rows = measured_rows()
    pub = published_rows(files or None)
    if verbose:
        for cid, cat, pred, meas in rows + pub:
            print(f"{cid:40} {cat:34} pred {pred:12.4g} pub {meas:12.4g} x{pred / meas:6.2f}")
    if not files:
        summarise(rows, "measured (calibration/, H100 SXM, our runs)")
    summarise(pub, "published (" + (", ".join(files) if files else "validation/throughput-*.json") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
