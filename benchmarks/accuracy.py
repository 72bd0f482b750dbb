"""Estimator accuracy on the measured validation set: prints every case and the summary figures.

    python benchmarks/accuracy.py            # table + summary over calibration/
    python benchmarks/accuracy.py DIR        # the same for *measurements*.json files in DIR (configs in DIR/configs,
                                             # or built-in model names)
Targets (issue 2): median |error| <= 5%, p90 <= 12%, no under-prediction worse than -15%,
no out-of-memory case predicted to fit.
"""
import sys
from pathlib import Path

from planner.validation import CALIBRATION_DIR, evaluate, summary


def main() -> int:
    # this checkout's calibration/ (an installed, non-editable planner's CALIBRATION_DIR points into site-packages)
    here = Path(__file__).resolve().parent.parent / "calibration"
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else (here if here.is_dir() else CALIBRATION_DIR)
    results = evaluate(folder)
    if not results:
        print(f"no measurements found in {folder}", file=sys.stderr)
        return 2
    print(f"{'id':9} {'case':58} {'measured GiB':>12} {'predicted':>10} {'error':>8}  fit?")
    for r in results:
        fit = ("OOM ok" if not r.predicted_fits else "OOM MISSED") if r.oom else ("fits" if r.predicted_fits else "FALSE OOM")
        err = "" if r.oom else f"{r.error:+.1%}"
        print(f"{r.id:9} {r.label:58} {r.measured / 2**30:12.2f} {r.predicted / 2**30:10.2f} {err:>8}  {fit}")
    s = summary(results)
    print()
    print(f"cases {s['cases']} (ran {s['ran']}, OOM {s['oom']})")
    print(f"median |error| {s['median_abs_error']:.1%}   p90 |error| {s['p90_abs_error']:.1%}   "
          f"worst under {s['worst_under']:+.1%}   worst over {s['worst_over']:+.1%}")
    print(f"reserved memory (torch max_memory_reserved, what the fit test uses): median |error| "
          f"{s['reserved_median_abs_error']:.1%}")
    print(f"fit/no-fit correct {s['fit_correct']}/{s['cases']}   OOM predicted to fit: {s['oom_predicted_to_fit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
