"""Compare the estimator with real measurements (calibration/*.json, taken by calibration/measure.py)."""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from planner.architecture import Architecture, from_config
from planner.data import builtin_registry
from planner.estimator import estimate
from planner.workload import Workload

REPO = Path(__file__).resolve().parent.parent
CALIBRATION_DIR = REPO / "calibration"


@dataclass
class CaseResult:
    id: str
    label: str
    measured: int              # peak_allocated_bytes, or the allocation at the failure for OOM cases
    predicted: int             # estimator's peak_allocated_bytes
    predicted_total: int       # estimator's total_bytes (device memory in use)
    oom: bool                  # the workload ran out of memory on the card
    card_bytes: int
    measured_reserved: int = 0
    predicted_reserved: int = 0

    @property
    def error(self) -> float:
        return (self.predicted - self.measured) / self.measured

    @property
    def predicted_fits(self) -> bool:
        return self.predicted_total <= self.card_bytes


def case_workload(case: dict) -> Workload:
    prec = {"mixed": "bf16-mixed"}.get(case["precision"], case["precision"])
    return Workload(method=case["method"], precision=prec, batch_size=case["batch_size"], seq_len=case["seq_len"],
                    new_tokens=case.get("new_tokens", 0), optimizer=case.get("optimizer", "adamw"),
                    lora_rank=case.get("lora_rank", 16), lora_targets=case.get("lora_targets", "all-linear"),
                    gradient_checkpointing=case.get("gradient_checkpointing", False),
                    # optional mechanism fields of newer measurement files (calibration/measure.py runs the hf
                    # stack with SDPA); absent keys keep the Workload defaults
                    **{k: case[k] for k in ("attention", "framework", "loss", "grad_accum", "activation_offload",
                                            "engine", "gpus", "zero_stage", "offload") if case.get(k) is not None})


def load_measurements(directory: Path = CALIBRATION_DIR) -> list[tuple[dict, dict, Architecture]]:
    """(file header, case, architecture) for every case in every *measurements*.json file."""
    out = []
    for path in sorted(directory.glob("*measurements*.json")):
        data = json.loads(path.read_text())
        configs: dict[str, Architecture] = {}
        for case in data["cases"]:
            name = case["model"]
            if name not in configs:
                path = directory / "configs" / f"{name}.json"
                if path.exists():
                    configs[name] = from_config(json.loads(path.read_text()), name=name)
                else:                       # a model we ship: use the built-in architecture
                    configs[name] = builtin_registry().resolve(name)[0]
            out.append((data, case, configs[name]))
    return out


def evaluate(directory: Path = CALIBRATION_DIR) -> list[CaseResult]:
    results = []
    for header, case, arch in load_measurements(directory):
        est = estimate(arch, case_workload(case), cuda_context=header["cuda_context_bytes"])
        m = case["measured"]
        label = (f"{case['model']} {case['method']} {case['precision']} b{case['batch_size']} s{case['seq_len']}"
                 + (" gc" if case.get("gradient_checkpointing") else "")
                 + (f" {case.get('optimizer')}" if case["method"] != "inference" else f" +{case.get('new_tokens')}")
                 + (f" r{case.get('lora_rank')}" if case["method"] in ("lora", "qlora") else ""))
        results.append(CaseResult(case["id"], label, m["peak_allocated_bytes"], est.peak_allocated_bytes,
                                  est.total_bytes, bool(m["oom"]), header["card_bytes"],
                                  m.get("peak_reserved_bytes", 0), est.reserved_bytes))
    return results


def summary(results: list[CaseResult]) -> dict:
    fitted = [r for r in results if not r.oom]
    errs = sorted(r.error for r in fitted)
    abs_errs = sorted(abs(e) for e in errs)

    def pct(xs, q):
        if not xs:
            return float("nan")
        k = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
        return xs[k]

    return {
        "cases": len(results), "ran": len(fitted), "oom": len(results) - len(fitted),
        "median_abs_error": statistics.median(abs_errs) if abs_errs else float("nan"),
        "p90_abs_error": pct(abs_errs, 0.9),
        "worst_under": min(errs) if errs else float("nan"),
        "worst_over": max(errs) if errs else float("nan"),
        "reserved_median_abs_error": statistics.median(
            abs(r.predicted_reserved / r.measured_reserved - 1) for r in fitted if r.measured_reserved),
        "fit_correct": sum(r.predicted_fits != r.oom for r in results),
        "oom_predicted_to_fit": sum(r.oom and r.predicted_fits for r in results),
    }
