"""Money per token and ownership: buying amortised over years, renting the same cards, and hosted APIs.

Every assumption is a flag with a default from a cited source (plan.tco lists them with the plan):
- --years 3: the period the purchase is written off over (issue 17's default; three GPU generations of
  NVIDIA's data-centre line span about six years, so a card bought today is two generations old after three).
- --utilization 1.0: the share of the year's hours the stated load runs (--rate is a sustained rate; a load that
  runs 8 hours on working days is 0.24).
- --pue 1.58: power usage effectiveness, facility power over IT power - Uptime Institute's industry average for
  2023 ("In 2023, industry average PUE stood at 1.58", Uptime Intelligence update 221, 2023-11-23). A desk-side
  machine in an office is nearer 1.0.
- --maintenance 0.06 per year of the purchase price: "annual maintenance costs seem to range between 4-8% of the
  purchase price of the machine" (CTWatch Quarterly 2(2), 2006, Designing and supporting high-end computational
  facilities); the middle of that range.
- --residual 0.70: resale value at the end, as a share of the purchase price: used over new prices of the same
  cards as the catalogue listed them until 2026-11 (RTX 4090 1650/2199 = 0.75, RTX A6000 3300/4650 = 0.71, RTX
  3060 240/329 = 0.73; the figures stand in catalog/gpus.yaml's source notes), cards 2-5 years old; RESIDUAL_PAIRS
  below, checked by a test.
- electricity: the catalogue's electricity_usd_per_kwh (catalog/gpus.yaml top level), --electricity to change.

Costs are per million OUTPUT tokens of this workload, prompt processing included (a request's prompt is read by
the same hardware), so they compare with an API's price for the same request: (prompt x input price + output x
output price) / output tokens.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

HOURS_PER_YEAR = 8760
# (catalogue card, used USD, new USD) as the catalogue listed them; their median ratio sets the residual default
# (tests/test_serving.py recomputes it and finds the figures in the card's catalogue entry)
RESIDUAL_PAIRS = (("rtx-4090", 1650, 2199), ("rtx-a6000", 3300, 4650), ("rtx-3060-12gb", 240, 329))


@dataclass(frozen=True)
class TcoAssumptions:
    years: float = 3.0
    utilization: float = 1.0
    pue: float = 1.58
    maintenance_per_year: float = 0.06
    residual: float = 0.70
    electricity_usd_per_kwh: float | None = None     # None: the catalogue's

    def to_dict(self, catalog) -> dict:
        d = asdict(self)
        d["electricity_usd_per_kwh"] = self.electricity(catalog)
        d["sources"] = {"years": "issue 17 default", "utilization": "share of hours the stated load runs",
                        "pue": "Uptime Institute 2023 industry average 1.58",
                        "maintenance_per_year": "CTWatch Quarterly 2006: 4-8% of the purchase price per year",
                        "residual": "used/new prices of RTX 4090, A6000, 3060 as the catalogue listed them (median 0.73)",
                        "electricity_usd_per_kwh": "catalogue electricity_usd_per_kwh"}
        return d

    def electricity(self, catalog) -> float:
        return self.electricity_usd_per_kwh if self.electricity_usd_per_kwh is not None else \
            float(getattr(catalog, "electricity_usd_per_kwh", 0.15))


def _api_offers(catalog, model: str) -> list:
    offers = getattr(catalog, "api_offers", None)
    if callable(offers):
        return offers(model)
    prices = getattr(catalog, "api_prices", {}) or {}
    return sorted(prices.get(model.lower(), []), key=lambda a: (a.output_usd_per_mtok, a.input_usd_per_mtok))


def costs(plan, cf, catalog, c, model: str) -> tuple[dict | None, dict | None]:
    """(plan.cost_per_mtok, plan.tco) for an inference plan; (None, None) for training."""
    wl = cf.workload
    if wl is None or wl.training:
        return None, None
    a: TcoAssumptions = c.tco or TcoAssumptions()
    rate = catalog.rate(c.currency)                      # currency units per USD
    prompt, new = wl.seq_len, max(wl.new_tokens, 1)
    s = cf.serving
    if s:
        at = s["at_load"]
        out_tps = at["tokens_per_s"]                     # output tokens/s at the stated load
        max_tps = s["tokens_per_s"]
    else:
        out_tps = max_tps = cf.tokens_per_s
    if out_tps <= 0:
        return None, None
    capex_usd = plan.total_cost / rate
    hours = HOURS_PER_YEAR * a.utilization
    mtok_year = out_tps * 3600 * hours / 1e6             # million output tokens a year at the load
    fixed_usd = capex_usd * (1 - a.residual) / a.years + capex_usd * a.maintenance_per_year
    energy_usd_h = plan.power_w / 1000 * a.pue * a.electricity(catalog)
    energy_per_mtok = energy_usd_h / (out_tps * 3600 / 1e6)
    buy = fixed_usd / mtok_year + energy_per_mtok
    rental = catalog.cheapest_rental(cf.gpu.name)
    rent = None
    rent_hourly = None
    if rental is not None:
        rent_hourly = rental.usd_per_gpu_hour * cf.count
        rent = rent_hourly / (out_tps * 3600 / 1e6)
    apis = []
    for o in _api_offers(catalog, model):
        per_mtok = (prompt * o.input_usd_per_mtok + new * o.output_usd_per_mtok) / new
        apis.append({"provider": o.provider, "model": o.model, "model_id": o.model_id,
                     "input_usd": o.input_usd_per_mtok, "output_usd": o.output_usd_per_mtok,
                     "usd_per_mtok_output": round(per_mtok * rate, 4), "as_of": o.as_of, "source": o.source})

    def breakeven(other_per_mtok: float | None) -> float | None:
        """Million output tokens a year above which buying costs less than the other way; None: never (within
        what this purchase can serve at the targets)."""
        if other_per_mtok is None or other_per_mtok <= energy_per_mtok:
            return None
        v = fixed_usd / (other_per_mtok - energy_per_mtok)
        cap = max_tps * 3600 * HOURS_PER_YEAR / 1e6
        return round(v, 1) if v <= cap else None

    apis.sort(key=lambda x: x["usd_per_mtok_output"])
    cheapest_api = apis[0] if apis else None
    cur = c.currency.upper()
    cost = {"unit": f"{cur} per million output tokens ({prompt} prompt + {new} output tokens per request; prompt "
                    "processing included)",
            "buy": round(buy * rate, 4), "rent": None if rent is None else round(rent * rate, 4),
            "rent_provider": None if rental is None else {"provider": rental.provider, "as_of": rental.as_of,
                                                           "usd_per_gpu_hour": rental.usd_per_gpu_hour,
                                                           "gpus": {cf.gpu.name: cf.count}, "same_cards": True},
            "api": apis,
            "mtok_per_year": round(mtok_year, 2),
            "buy_beats_rent_above_mtok_per_year": breakeven(rent),
            "buy_beats_api_above_mtok_per_year": breakeven(cheapest_api["usd_per_mtok_output"] / rate)
            if cheapest_api else None}
    tco = a.to_dict(catalog)
    tco.update({"capex": round(plan.total_cost, 2), "currency": cur,
                "annual_fixed": round(fixed_usd * rate, 2),
                "annual_energy": round(energy_usd_h * hours * rate, 2),
                "annual_total": round((fixed_usd + energy_usd_h * hours) * rate, 2),
                "rent_annual": None if rent_hourly is None else round(rent_hourly * hours * rate, 2)})
    return cost, tco


def _out_tps(cf) -> float:
    return cf.serving["at_load"]["tokens_per_s"] if cf.serving else cf.tokens_per_s


def rent_instead(plan, configs, catalog, c) -> None:
    """When the purchased cards have no rental offer: rent per million tokens on the cheapest rentable
    configuration among the candidates (each carries the same load within the same targets)."""
    best = None
    for cf in configs:
        r = catalog.cheapest_rental(cf.gpu.name)
        tps = _out_tps(cf)
        if r is None or tps <= 0:
            continue
        per_mtok = r.usd_per_gpu_hour * cf.count / (tps * 3600 / 1e6)
        if best is None or per_mtok < best[0]:
            best = (per_mtok, r, cf)
    if best is None:
        return
    per_mtok, r, cf = best
    cm = plan.cost_per_mtok
    rate = catalog.rate(c.currency)
    cm["rent"] = round(per_mtok * rate, 4)
    cm["rent_provider"] = {"provider": r.provider, "as_of": r.as_of, "usd_per_gpu_hour": r.usd_per_gpu_hour,
                           "gpus": {cf.gpu.name: cf.count}, "same_cards": False}
    fixed = plan.tco["annual_fixed"] / rate
    energy_per_mtok = plan.tco["annual_energy"] / rate / max(cm["mtok_per_year"], 1e-9)
    if per_mtok > energy_per_mtok:
        v = fixed / (per_mtok - energy_per_mtok)
        cap = (plan.serving["tokens_per_s"] if plan.serving else plan.tokens_per_s) * 3600 * HOURS_PER_YEAR / 1e6
        cm["buy_beats_rent_above_mtok_per_year"] = round(v, 1) if v <= cap else None


def line(p) -> str:
    """Terminal line: cost per million output tokens bought, rented and from the cheapest APIs."""
    cm = p.cost_per_mtok
    if not cm:
        return ""
    cur = p.currency
    parts = [f"buy {cm['buy']:,.3f}"]
    if cm["rent"] is not None:
        rp = cm["rent_provider"]
        what = "" if rp.get("same_cards", True) else \
            " on " + ", ".join(f"{n} x {k}" for k, n in rp["gpus"].items()) + ", the cheapest rentable cards"
        parts.append(f"rent {cm['rent']:,.3f} ({rp['provider']}{what})")
    for a in cm["api"][:3]:
        parts.append(f"{a['provider']} API {a['usd_per_mtok_output']:,.3f} (as of {a['as_of']})")
    s = f"cost per million output tokens ({cur}): " + ", ".join(parts)
    t = p.tco
    s += (f"; buying amortised over {t['years']:g} years at {t['utilization']:.0%} utilisation, PUE {t['pue']:g}, "
          f"maintenance {t['maintenance_per_year']:.0%}/year, residual {t['residual']:.0%}")
    if cm.get("buy_beats_rent_above_mtok_per_year") is not None:
        s += f"; buying beats renting above {cm['buy_beats_rent_above_mtok_per_year']:,.0f} M tokens/year"
    if cm.get("buy_beats_api_above_mtok_per_year") is not None:
        s += f", beats the cheapest API above {cm['buy_beats_api_above_mtok_per_year']:,.0f} M tokens/year"
    return s
