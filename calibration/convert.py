"""Turn measure.py's measurements.jsonl into a measurements JSON file in the h100-measurements.json format.

Usage: python3 calibration/convert.py --cases CASES.json --jsonl measurements.jsonl --out FILE.json --prefix ID
Cases and results are matched in order (measure.py runs the cases file top to bottom).
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True)
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    cases = json.load(open(a.cases))
    lines = [json.loads(x) for x in open(a.jsonl)]
    env = lines[0]["env"]
    results = lines[1:]
    assert len(results) == len(cases), (len(results), len(cases))
    out = []
    for i, (case, rec) in enumerate(zip(cases, results)):
        if (rec.get("error") and not rec.get("oom")) or rec.get("skipped"):
            continue
        m = {"oom": bool(rec["oom"]), "peak_allocated_bytes": rec["peak_allocated"],
             "peak_reserved_bytes": rec["peak_reserved"]}
        for k in ("weights_bytes", "tokens_per_s", "trainable_params"):
            if rec.get(k) is not None:
                m[k] = rec[k]
        out.append(dict(case, measured=m, id=f"{a.prefix}-{i:03d}"))
    doc = {"device": env["device"], "card_bytes": env["total_memory"],
           "cuda_context_bytes": env.get("nvml_used_after_init", 0) - env.get("reserved_after_init", 0),
           "software": {k: env.get(k) for k in ("torch", "transformers", "peft", "bitsandbytes")},
           "how": a.note or "calibration/measure.py, same method as h100-measurements.json", "configs": "configs/<model>.json beside this file",
           "cases": out}
    json.dump(doc, open(a.out, "w"), indent=1)
    print(f"{len(out)} cases -> {a.out}")


if __name__ == "__main__":
    main()
