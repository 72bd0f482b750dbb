"""Calibrate and check the time model on the measured tokens/s in calibration/ (H100 SXM, 989 bf16 TFLOPS).

Prints each training case's achieved model-FLOPs utilisation, the per-method medians that
planner/timing.py uses, and the decode model's error on every generate() case.
"""
import statistics
import sys

from planner.timing import (DECODE_BANDWIDTH_EFFICIENCY, MFU, inference_throughput, training_flops_per_token)
from planner.validation import case_workload, load_measurements
from planner.estimator import estimate

H100_BF16_TFLOPS, H100_GBPS = 989, 3350
MIN_TOKENS = 4096       # small steps leave the GPU idle; planning assumes real batch sizes


def measured_mfu():
    per_method = {}
    rows = []
    for _, case, arch in load_measurements():
        m = case["measured"]
        if m["oom"] or not m.get("tokens_per_s") or case["method"] == "inference":
            continue
        w = case_workload(case)
        if w.precision == "fp32":
            continue
        mfu = m["tokens_per_s"] * training_flops_per_token(arch, w) / (H100_BF16_TFLOPS * 1e12)
        tokens = case["batch_size"] * case["seq_len"]
        rows.append((case["id"], case["model"], w.method, tokens, mfu))
        if tokens >= MIN_TOKENS and not arch.is_moe:
            per_method.setdefault(w.method, []).append(mfu)
    return rows, {k: statistics.median(v) for k, v in per_method.items()}


def decode_errors():
    out = []
    for _, case, arch in load_measurements():
        m = case["measured"]
        if case["method"] != "inference" or m["oom"] or not m.get("tokens_per_s"):
            continue
        w = case_workload(case)
        e = estimate(arch, w)
        t = inference_throughput(arch, w, [(1.0, H100_BF16_TFLOPS, H100_GBPS)], e.breakdown["weights"],
                                 e.breakdown["kv_cache"])
        out.append((case["id"], case["model"], w.batch_size, m["tokens_per_s"], t.tokens_per_s))
    return out


def main() -> int:
    rows, medians = measured_mfu()
    print(f"{'id':10} {'model':14} {'method':6} {'tokens/step':>11} {'MFU':>6}")
    for r in rows:
        print(f"{r[0]:10} {r[1]:14} {r[2]:6} {r[3]:11} {r[4]:6.1%}")
    print("\nmedian MFU (steps >= 4096 tokens, dense models):",
          ", ".join(f"{k} {v:.3f} (timing.py {MFU[k]:.2f})" for k, v in sorted(medians.items())))
    print(f"\n{'id':10} {'model':14} {'batch':>5} {'measured tok/s':>15} {'predicted':>10} {'error':>7}")
    errs = []
    for cid, model, b, meas, pred in decode_errors():
        errs.append(pred / meas - 1)
        print(f"{cid:10} {model:14} {b:5} {meas:15.1f} {pred:10.1f} {pred / meas - 1:+7.0%}")
    print(f"\ndecode throughput: median |error| {statistics.median(abs(e) for e in errs):.0%} "
          f"(bandwidth efficiency {DECODE_BANDWIDTH_EFFICIENCY})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
