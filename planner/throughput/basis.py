"""How a time was obtained and how far to trust it: the measured error of the model on the published or
measured runs of the same stack and card family (coverage.json, written by `benchmarks/throughput.py
--write-coverage` from validation/ and calibration/), else 'extrapolated' with the widest error seen."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

COVERAGE_FILE = Path(__file__).with_name("coverage.json")
# A time with no runs of its stack on its card family behind it: at least this factor either way
EXTRAPOLATED_MIN_FACTOR = 2.0


@lru_cache(maxsize=1)
def coverage() -> dict:
    try:
        return json.loads(COVERAGE_FILE.read_text())
    except (OSError, ValueError):
        return {"groups": {}, "overall": {"n": 0, "median": EXTRAPOLATED_MIN_FACTOR, "p90": EXTRAPOLATED_MIN_FACTOR}}


def family(gpu) -> str:
    """Card family for coverage: apple, unified (DGX Spark, Strix Halo), datacentre (SXM/OAM modules and
    passively cooled cards), workstation (ECC cards with their own fans) or consumer; prefixed by the vendor."""
    if gpu.vendor == "apple":
        return "apple"
    if gpu.form == "unified":
        kind = "unified"
    elif gpu.form in ("sxm", "oam") or gpu.cooling == "passive":
        kind = "datacentre"
    else:
        kind = "workstation" if gpu.ecc else "consumer"
    return f"{gpu.vendor}-{kind}"


def group_key(kind: str, stack: str, fam: str) -> str:
    return f"{kind}|{stack}|{fam}"


def basis(kind: str, stack: str, fam: str) -> tuple[str, float]:
    """(sentence, p90 factor) for a time of `kind` (training | decode | prefill | serving). Runs of superseded
    releases (engines.CURRENT_SOFTWARE_SINCE) are not in the figures; the sentence says how many were left out."""
    cov = coverage()
    g = cov["groups"].get(group_key(kind, stack, fam))
    old = (f"; {g['superseded']} runs of {stack} releases before {g['current_since']} left out as superseded"
           if g and g.get("superseded") else "")
    if g and g["n"] >= 3:
        return (f"calibrated on {g['n']} published/measured runs of {stack} on {fam} cards "
                f"(median error x{g['median']:.2f}, 90% within x{g['p90']:.2f}){old}", max(g["p90"], 1.1))
    o = cov["overall"]
    worst = max(EXTRAPOLATED_MIN_FACTOR, o.get("p90", EXTRAPOLATED_MIN_FACTOR))
    return (f"extrapolated: no published runs of {'current ' if old else ''}{stack} on {fam} cards in validation/ "
            f"(model error over all "
            f"{o.get('n', 0)} runs: median x{o.get('median', 0):.2f}, 90% within x{o.get('p90', 0):.2f}){old}", worst)
