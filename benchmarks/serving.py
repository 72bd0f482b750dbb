"""The serving model's error on published serving benchmarks (validation/serving-cases.json): throughput at the
stated load (output tokens/s, requests/s, total decode tokens/s), time to first token and inter-token latency.

    python benchmarks/serving.py [FILE.json ...]

Not all of these are held out: benchmarks/throughput_inference.py fits the engine presets on throughput-inference.json
and on this file's one-user (batch-1 decode and prefill) runs of vLLM/SGLang on CUDA; its 2-fold split is the
held-out figure. The model predicts means: p99 figures are listed apart, not scored.
Factor = max(pred/pub, pub/pred).
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput_inference import factors, load_cases, p90  # noqa: E402

DEFAULT_FILES = [ROOT / "validation" / "serving-cases.json"]
GROUP = {"output_tokens_per_s": "throughput", "requests_per_s": "throughput", "decode_tokens_per_s_total": "throughput",
         "tokens_per_s": "throughput", "decode_tokens_per_s": "itl", "itl_s": "itl", "ttft_s": "ttft",
         "prefill_tokens_per_s": "ttft"}


def main(argv: list[str]) -> int:
    files = argv or DEFAULT_FILES
    cases = load_cases(files)
    rows, skipped = factors(cases)
    by_id = {c["id"]: c for c in cases}
    print(f"{'id':58} {'metric':26} {'load':>14} {'published':>10} {'predicted':>10} {'factor':>6}")
    groups: dict[str, list[float]] = {}
    for cid, _, metric, pub, pred, f in rows:
        c = by_id[cid]
        load = f"{c['rate_rps']:g} req/s" if c.get("rate_rps") else f"{c.get('concurrency') or c.get('batch_size') or 1} users"
        print(f"{cid:58} {metric:26} {load:>14} {pub:10.4g} {pred:10.4g} {f:6.2f}")
        g = GROUP.get(metric, metric)
        groups.setdefault(g, []).append(f)
        groups.setdefault(f"{g}/{c.get('stack')}", []).append(f)
    print(f"\n{'group':30} {'n':>3} {'median':>7} {'p90':>7}")
    for k in sorted(groups):
        print(f"{k:30} {len(groups[k]):3} {statistics.median(groups[k]):7.2f} {p90(groups[k]):7.2f}")
    allf = [r[5] for r in rows]
    if allf:
        print(f"{'overall':30} {len(allf):3} {statistics.median(allf):7.2f} {p90(allf):7.2f}")
    print(f"\nskipped {len(skipped)} of {len(cases)}:")
    for cid, why in skipped:
        print(f"  {cid}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
