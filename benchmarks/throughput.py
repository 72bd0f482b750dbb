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
    from planner.throughput.presets import PRESETS
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
    skipped_inference = False
    for c in cases:
        cat = c.get("category", "")
        try:
            if cat in TRAINING_CATEGORIES:
                pred = predict_training(c)
            else:
                from planner.throughput import inference
                pred = inference.predict_case(c)
        except ImportError:
            skipped_inference = True
            continue
        except Exception as e:      # noqa: BLE001 - a case the model cannot express is reported, not fatal
            print(f"  skipped {c.get('id')}: {type(e).__name__}: {str(e)[:100]}", file=sys.stderr)
            continue
        rows.append((c["id"], f"{cat} {c.get('stack', '')}", pred, float(c["value"])))
    if skipped_inference:
        print("  inference cases skipped: planner/throughput/inference.py is not there yet", file=sys.stderr)
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
# Fitting: one family of stacks at a time, by coordinate descent on the mean squared log error

FIT_FIELDS = {
    "eager": {"dispatch_s_per_layer": (0.5e-3, 12e-3), "dispatch_s_per_adapter": (0.0, 1.5e-3),
              "dispatch_s_per_expert": (0.0, 1e-3), "host_overlap": (0.0, 1.0), "gemm_scale": (0.4, 1.0)},
    "fsdp": {"dispatch_s_per_layer": (0.5e-3, 20e-3), "gemm_scale": (0.3, 1.0), "comm_overlap": (0.0, 1.0)},
    "compiled": {"gemm_scale": (0.4, 1.0), "elementwise_factor": (0.1, 1.0)},
}


def family_rows(family: str, fit: dict) -> list[tuple[str, str, float, float]]:
    """(id, category, predicted, measured) of the runs a family is fitted on, under the values `fit`."""
    from planner.throughput.presets import FAMILY, build_presets
    presets = build_presets(fit)
    if family == "eager":
        return measured_rows(presets["hf"])
    rows = []
    for c in load_cases("throughput-training.json"):
        if FAMILY.get(c.get("stack")) != family or c.get("held_out"):    # held out: scored, not fitted on
            continue
        try:
            rows.append((c["id"], c["category"], predict_training(c, presets), float(c["value"])))
        except (ValueError, KeyError, TypeError, AttributeError, ImportError):
            continue
        except Exception as e:      # a case naming a model the registry cannot resolve offline
            if type(e).__name__ != "InputError":
                raise
    return rows


def loss(family: str, fit: dict) -> float:
    rows = family_rows(family, fit)
    return sum(math.log(p / q) ** 2 for _, _, p, q in rows) / max(len(rows), 1)


def fit(family: str = "eager", rounds: int = 3, steps: int = 10) -> tuple[dict, float]:
    from planner.throughput.presets import FIT
    best = {k: dict(v) for k, v in FIT.items()}
    best_loss = loss(family, best)
    for _ in range(rounds):
        for name, (lo, hi) in FIT_FIELDS[family].items():
            span = (hi - lo) / steps
            grid = [lo + span * k for k in range(steps + 1)]
            grid += [min(hi, max(lo, best[family][name] + span * k / 4)) for k in range(-4, 5)]
            for v in grid:
                cand = {k: dict(x) for k, x in best.items()}
                cand[family][name] = v
                val = loss(family, cand)
                if val < best_loss - 1e-12:
                    best, best_loss = cand, val
    return best, best_loss


def coverage(rows_measured, rows_published) -> dict:
    """Per (kind, stack, card family): how many runs and the model's median and p90 factor on them; written to
    planner/throughput/coverage.json, which plan.time_basis and plan.time_range_s read. Runs of superseded software
    (inference.case_superseded: older than engines.CURRENT_SOFTWARE_SINCE) are left out of the figures - the planner
    predicts the software a buyer runs now - and counted in their group's `superseded`."""
    from planner.catalog import load_catalog
    from planner.throughput.basis import family, group_key
    from planner.throughput.inference import case_superseded
    gpus = load_catalog().gpus
    by_id = {c["id"]: c for c in load_cases()}
    groups: dict[str, list[float]] = {}
    old: dict[str, tuple[int, str]] = {}
    h100 = family(gpus["h100-sxm"])
    for cid, _, p, q in rows_measured:
        groups.setdefault(group_key("training", "hf", h100), []).append(factor(p, q))
    for cid, cat, p, q in rows_published:
        c = by_id.get(cid)
        if c is None or not c.get("gpu") or c["gpu"].lower() not in gpus:
            continue
        kind = "training" if c["category"] in TRAINING_CATEGORIES else c["category"]
        key = group_key(kind, c.get("stack") or "", family(gpus[c["gpu"].lower()]))
        since = case_superseded(c)
        if since:
            old[key] = (old.get(key, (0, since))[0] + 1, since)
            continue
        groups.setdefault(key, []).append(factor(p, q))
    everything = [f for fs in groups.values() for f in fs]

    def entry(k: str) -> dict:
        v = groups.get(k, [])
        e = {"n": len(v), "median": round(statistics.median(v), 3) if v else None,
             "p90": round(quantile(v, 0.9), 3) if v else None}
        if k in old:
            e.update(superseded=old[k][0], current_since=old[k][1])
        return e
    return {"about": "written by benchmarks/throughput.py --write-coverage; do not edit",
            "groups": {k: entry(k) for k in sorted(set(groups) | set(old))},
            "overall": {"n": len(everything), "median": round(statistics.median(everything), 3),
                        "p90": round(quantile(everything, 0.9), 3)}}


def main(argv: list[str]) -> int:
    if "--fit" in argv:
        from planner.throughput.presets import FIT
        for family in FIT_FIELDS:
            best, val = fit(family)
            n = len(family_rows(family, best))
            print(f"family {family} ({n} runs): mean squared log error {val:.4f} (presets.py: {loss(family, FIT):.4f})")
            for name in FIT_FIELDS[family]:
                print(f"  {name:24} {best[family][name]:.4g}   (presets.py: {FIT[family][name]:.4g})")
        return 0
    if "--write-coverage" in argv:
        import json
        from planner.throughput.basis import COVERAGE_FILE
        cov = coverage(measured_rows(), published_rows())
        COVERAGE_FILE.write_text(json.dumps(cov, indent=1) + "\n")
        print(f"wrote {COVERAGE_FILE} ({len(cov['groups'])} groups, {cov['overall']['n']} runs)")
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
