"""A fleet-sized catalogue for the scale benchmark: every built-in GPU in 8 regional price variants (~400 SKUs)
and every platform in price variants up to 20 platforms. Prices vary by +-25% so that no variant dominates."""
from __future__ import annotations

from planner.catalog import Catalog, load_catalog

REGIONS = ["us", "eu", "uk", "jp", "tw", "kr", "in", "br"]


def big_catalog(gpu_variants: int = 8, platforms: int = 20) -> Catalog:
    base = load_catalog()
    gpus = {}
    for i, region in enumerate(REGIONS[:gpu_variants]):
        factor = 0.75 + 0.5 * ((i * 37) % 100) / 100
        for g in base.gpus.values():
            v = g.model_copy(update={"name": f"{g.name}-{region}", "price": round(g.price * factor, 2)})
            gpus[v.name.lower()] = v
    plats = {}
    base_plats = list(base.platforms.values())
    k = 0
    while len(plats) < platforms:
        p = base_plats[k % len(base_plats)]
        factor = 0.8 + 0.4 * ((k * 53) % 100) / 100
        allowed = None if p.gpus is None else [f"{n}-{r}" for n in p.gpus for r in REGIONS[:gpu_variants]]
        v = p.model_copy(update={"name": f"{p.name}-v{k}", "price": round(p.price * factor, 2), "gpus": allowed})
        plats[v.name.lower()] = v
        k += 1
    rentals = {f"{name}-{r}": rows for name, rows in base.rentals.items() for r in REGIONS[:gpu_variants]}
    return base.model_copy(update={"gpus": gpus, "platforms": plats, "rentals": rentals})
