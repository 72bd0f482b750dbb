"""Fleet-sized catalogues for the scale benchmarks: every built-in GPU in regional price variants and every
platform in price variants. Prices vary by +-25% so that no variant dominates another.

    big_catalog(8, 20)          in-process: 408 GPU SKUs (8 x 51) x 20 platforms
    write_big_catalog(PATH)     a `--catalog` YAML file of 2,040 GPU SKUs (every built-in GPU in as many regional
                                variants as it takes) x 20 platforms: the first variant keeps the built-in names
                                (it replaces them), so a plan over the file sees exactly 2,040 SKUs and 20 platforms
"""
from __future__ import annotations

from pathlib import Path

from planner.catalog import Catalog, load_catalog

REGIONS = ["us", "eu", "uk", "jp", "tw", "kr", "in", "br"]


def _region(i: int) -> str:
    return REGIONS[i] if i < len(REGIONS) else f"r{i}"


def _variants(gpu_variants: int, platforms: int, keep_first_names: bool, skus: int | None = None
              ) -> tuple[dict, dict, dict]:
    base = load_catalog()
    suffix = (lambda i: "" if keep_first_names and i == 0 else f"-{_region(i)}")
    if skus is not None:
        gpu_variants = -(-skus // len(base.gpus))
    gpus = {}
    for i in range(gpu_variants):
        factor = 0.75 + 0.5 * ((i * 37) % 100) / 100
        for g in base.gpus.values():
            if skus is not None and len(gpus) >= skus:
                break
            v = g.replace(name=f"{g.name}{suffix(i)}", price=round(g.price * factor, 2))
            gpus[v.name.lower()] = v
    plats = {}
    base_plats = list(base.platforms.values())
    k = 0
    while len(plats) < platforms:
        p = base_plats[k % len(base_plats)]
        factor = 0.8 + 0.4 * ((k * 53) % 100) / 100
        allowed = None if p.gpus is None else [f"{n}{suffix(i)}" for n in p.gpus for i in range(gpu_variants)
                                               if f"{n}{suffix(i)}".lower() in gpus]
        name = p.name if keep_first_names and k < len(base_plats) else f"{p.name}-v{k}"
        v = p.replace(name=name, price=round(p.price * factor, 2), gpus=allowed)
        plats[v.name.lower()] = v
        k += 1
    rentals = {f"{name}{suffix(i)}": rows for name, rows in base.rentals.items() for i in range(gpu_variants)
               if f"{name}{suffix(i)}".lower() in gpus}
    return gpus, plats, rentals


def big_catalog(gpu_variants: int = 8, platforms: int = 20) -> Catalog:
    gpus, plats, rentals = _variants(gpu_variants, platforms, keep_first_names=False)
    base = load_catalog()
    return base.replace(gpus=gpus, platforms=plats, rentals=rentals)


def _set(e) -> dict:
    """An entry's fields that are set (not None), as a file writes them."""
    return {k: v for k, v in e.as_dict().items() if v is not None}


def write_big_catalog(path: str | Path, skus: int = 2040, platforms: int = 20) -> Path:
    """A --catalog YAML file: gpus, platforms and rentals (the built-in rentals under each variant's name)."""
    import yaml
    gpus, plats, rentals = _variants(0, platforms, keep_first_names=True, skus=skus)
    data = {"gpus": [_set(g) for g in gpus.values()], "platforms": [_set(p) for p in plats.values()],
            "rentals": [dict(_set(r), gpu=name) for name, rows in rentals.items() for r in rows]}
    p = Path(path)
    p.write_text(yaml.safe_dump(data, sort_keys=False, width=1000), encoding="utf-8")
    return p


if __name__ == "__main__":
    import sys
    out = write_big_catalog(sys.argv[1] if len(sys.argv) > 1 else "big_catalog.yaml")
    print(out)
