"""The hardware catalogue: GPUs, host platforms, cloud rentals and exchange rates, validated from YAML into
dataclasses whose fields are checked as the pydantic models they replaced checked them (planner/lax.py), without
importing pydantic.

Built-in files ship in the package (catalog/*.yaml). `--catalog FILE` adds or overrides entries by name:
a user file may hold any of the top-level keys `gpus:`, `platforms:`, `rentals:`, `rates:`, `api_prices:`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from planner.data import builtin_path, read_yaml
from planner.errors import InputError, printable, shown
from planner.lax import Entry, EntryError, entry, limits

GB = 10**9
GiB = 1 << 30
# CUDA context measured on the H100 with torch 2.11/CUDA 13 (calibration/); used for every discrete card.
NVIDIA_CONTEXT_BYTES = 1_152_188_416
# Apple: Metal's recommendedMaxWorkingSetSize, about 75% of unified memory up to 64 GB and 84% above.
APPLE_USABLE = (0.75, 0.84)

MIN_RATE, MAX_RATE = 1e-6, 1e6    # units of a currency per USD (finite: NaN and inf fail the comparison)
BUILTIN_FILES = ("gpus.yaml", "platforms.yaml", "cloud.yaml", "apis.yaml", "currencies.yaml")
KNOWN_KEYS = {"gpus", "platforms", "rentals", "rates", "api_prices", "as_of", "source", "electricity_usd_per_kwh"}
PCIE_LINK = r"^[1-6]\.0 x(1|2|4|8|16)$"     # PCIe generation and lanes of the card's edge connector, e.g. "4.0 x16"
METHODS = ("inference", "lora", "qlora", "full")

# The entries are dataclasses without __slots__: the planner's value keys read an entry's fields from its __dict__
# (planner/configs.py frozen). Entries are compared by value and are not hashable, as the pydantic models were.


@entry
class NVLink(Entry):
    width: int = limits(ge=2)                  # GPUs joined: 2 for a bridge, 8 for an NVSwitch/Infinity Fabric baseboard
    bandwidth_gbps: float = limits(gt=0)
    bridge_price: float = limits(0, ge=0)      # per bridge (one per pair); 0 where built in


@entry
class GPU(Entry):
    name: str
    vendor: Literal["nvidia", "amd", "apple", "intel"]
    generation: str = ""                       # ampere, ada, hopper, blackwell, cdna3, apple-m3, ...
    memory_gb: float = limits(gt=0, le=10_000)
    bandwidth_gbps: float = limits(gt=0)
    bf16_tflops: float = limits(gt=0)          # dense BF16 tensor rate, FP32 accumulate, no sparsity
    # Optional datasheet rates for the throughput model (None = no source gives it; gpus.yaml header says how
    # each is counted): dense FP16 tensor with FP16 accumulate, dense FP8 tensor (FP32 accumulate where that
    # differs), dense INT8 tensor TOPS, non-tensor FP32, the PCIe link, and GPU cores of unified machines.
    fp16_tflops: float | None = limits(None, gt=0)
    fp8_tflops: float | None = limits(None, gt=0)
    int8_tops: float | None = limits(None, gt=0)
    fp32_tflops: float | None = limits(None, gt=0)
    pcie: str | None = limits(None, pattern=PCIE_LINK)
    gpu_cores: int | None = limits(None, gt=0)
    fp8: bool = False                          # hardware FP8 tensor cores (Ada, Hopper, Blackwell, MI300)
    tdp_w: float = limits(gt=0, le=5000)
    nvlink: NVLink | None = None
    form: Literal["pcie", "sxm", "oam", "unified"]   # oam: AMD Instinct OAM modules; unified: a whole machine
    # active: own fans; passive: needs a server chassis's airflow; none: a whole machine. Default from form.
    cooling: Literal["active", "passive", "none"] | None = None
    slot_width: int = limits(2, ge=1, le=4)
    market: Literal["new", "used"] = "new"
    price: float = limits(gt=0)
    currency: str = "USD"
    as_of: str
    source: str
    ecc: bool = False
    # unified machines: the share of memory the GPU may use (Apple: Metal's working-set limit, the default)
    usable_fraction: float | None = limits(None, gt=0, le=1)
    supports: list[Literal["inference", "lora", "qlora", "full"]] = field(default_factory=lambda: list(METHODS))

    def _rules(self):
        if self.cooling is None:
            self.cooling = {"unified": "none", "sxm": "passive", "oam": "passive"}.get(self.form, "active")
        if self.form == "unified" and self.cooling != "none":
            raise EntryError(f"cooling must be 'none' for a unified-memory machine, not {self.cooling!r}")
        if self.form in ("sxm", "oam") and self.cooling != "passive":
            raise EntryError(f"cooling must be 'passive' for {self.form} modules, not {self.cooling!r}")
        if self.form != "unified" and self.cooling == "none":
            raise EntryError("cooling 'none' is only for unified-memory machines")
        if self.usable_fraction is None:
            if self.form != "unified":
                self.usable_fraction = 1.0
            elif self.vendor == "apple":
                self.usable_fraction = APPLE_USABLE[0] if self.memory_gb <= 64 else APPLE_USABLE[1]
            else:
                raise EntryError("usable_fraction is required for non-Apple unified-memory machines "
                                 "(the share of memory the GPU may use)")

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gb * GB) if self.form == "unified" else int(self.memory_gb * GiB * 0.99)

    @property
    def is_machine(self) -> bool:
        return self.form == "unified"

    @property
    def context_bytes(self) -> int:
        """The driver context each process keeps on the card. NVIDIA unified machines (DGX Spark's GB10) run the
        same CUDA driver, its context in the shared pool (size measured on H100, assumed here); Apple Metal has
        none; AMD's HIP context on Ryzen AI Max is not measured (0)."""
        if self.form == "unified":
            return NVIDIA_CONTEXT_BYTES if self.vendor == "nvidia" else 0
        return NVIDIA_CONTEXT_BYTES


@entry
class Platform(Entry):
    name: str
    description: str = ""
    forms: list[Literal["pcie", "sxm", "oam"]]
    max_gpus: int = limits(ge=1, le=64)
    fixed_gpus: int | None = limits(None, ge=1, le=64)   # baseboard systems: every machine carries exactly this many
    min_gpus: int = limits(1, ge=1, le=64)    # fewest cards it is built for (an open-frame rig is not built for one)
    gpus: list[str] | None = None             # when set, only these GPU names may go in
    passive_cooling: bool = False             # chassis airflow for passively cooled cards
    slot_width: int = limits(ge=1)
    psu_w: float = limits(gt=0)
    base_w: float = limits(ge=0)
    max_ram_gb: int = limits(gt=0)
    ram_step_gb: int = limits(gt=0)
    ram_type: str = ""                        # ddr5, ddr5-rdimm, ddr4-rdimm, ...
    ram_price_per_gb: float = limits(ge=0)
    network_per_node: float = limits(ge=0, le=1e9)   # per machine in a cluster (NIC, switch port); the solver's
                                                     # big-M constraints break down on absurd values
    multi_node: bool = True                   # may be clustered (consumer desktops are not)
    # the cluster network a machine brings when several are bought (configs.link_of): per-GPU NICs (HGX rails,
    # Gb/s per GPU) or one port per machine (Gb/s); unset: throughput.comm.DEFAULT_NODE_NETWORK_GBITS
    nic_gbps_per_gpu: float | None = limits(None, gt=0, le=10_000)
    network_gbps: float | None = limits(None, gt=0, le=100_000)
    pcie_lanes_per_gpu: int | None = limits(None, ge=1, le=16)   # electrical lanes each card gets (x8/x8 desktops)
    build: Literal["desktop", "tower", "open-frame", "server", "baseboard"] | None = None  # what people call it
    price: float = limits(ge=0)
    currency: str = "USD"
    as_of: str = ""
    source: str = ""

    def _rules(self):
        if self.fixed_gpus is not None and self.fixed_gpus > self.max_gpus:
            raise EntryError(f"fixed_gpus ({self.fixed_gpus}) exceeds max_gpus ({self.max_gpus})")
        if self.gpus is not None:
            if not self.gpus:
                raise EntryError("gpus, when given, must name at least one GPU")
            self.gpus = [n.lower() for n in self.gpus]

    def takes(self, g: GPU) -> bool:
        """Whether a card of this kind may go in: its form, the allowed list, and cooling."""
        if g.form not in self.forms or (self.gpus is not None and g.name.lower() not in self.gpus):
            return False
        return g.cooling != "passive" or self.passive_cooling


@entry
class Rental(Entry):
    gpu: str                                  # a catalogued GPU name
    provider: str
    usd_per_gpu_hour: float = limits(gt=0)    # on demand, per GPU
    as_of: str
    source: str
    interconnect: str | None = None           # e.g. "8x SXM NVSwitch", "PCIe"


@entry
class ApiPrice(Entry):
    """A hosted API's list price for an open-weight model the planner knows, per million tokens (serverless,
    pay per token; not batch or cached-input discounts)."""
    provider: str = limits(min_length=1)
    model: str = limits(min_length=1)         # a built-in model name (an alias is taken as its model)
    model_id: str = limits(min_length=1)      # the provider's id for it, e.g. meta-llama/Llama-3.3-70B-Instruct-Turbo
    input_usd_per_mtok: float = limits(gt=0, le=1000)
    output_usd_per_mtok: float = limits(gt=0, le=1000)
    as_of: str
    source: str = limits(min_length=1)
    note: str = ""                            # e.g. quantisation the provider serves (fp8), a -Turbo variant


@dataclass(kw_only=True)
class Catalog:
    """Built by load_catalog from validated entries (and by planner code from a catalogue's parts): not validated
    again. c.replace(**changes) is a copy with changes."""
    gpus: dict[str, GPU]
    platforms: dict[str, Platform]
    rates: dict[str, float]
    as_of: str
    rates_as_of: str
    sources: list[str]
    electricity_usd_per_kwh: float = 0.15
    rentals: dict[str, list[Rental]] = field(default_factory=dict)      # lower-case GPU name -> offers
    api_prices: dict[str, list[ApiPrice]] = field(default_factory=dict)   # built-in model name -> hosted-API offers

    def replace(self, **changes) -> Catalog:
        return replace(self, **changes)

    def to_usd(self, amount: float, currency: str) -> float:
        return amount / self.rate(currency)

    def rate(self, currency: str) -> float:
        c = currency.upper()
        if c not in self.rates:
            raise InputError(f"--currency: unknown currency {currency!r}; known: {', '.join(sorted(self.rates))}")
        return self.rates[c]

    def gpu_price_usd(self, g: GPU) -> float:
        return self.to_usd(g.price, g.currency)

    def cheapest_rental(self, gpu_name: str) -> Rental | None:
        offers = self.rentals.get(gpu_name.lower(), [])
        return min(offers, key=lambda r: r.usd_per_gpu_hour) if offers else None

    def api_offers(self, model: str) -> list[ApiPrice]:
        """Hosted-API prices for a built-in model (or an alias of one), cheapest output price first."""
        return sorted(self.api_prices.get(_model_key(model) or model.lower(), []),
                      key=lambda a: (a.output_usd_per_mtok, a.input_usd_per_mtok))


def _model_key(name: str) -> str | None:
    """The built-in model a name or alias stands for, or None."""
    from planner.data import builtin_registry
    reg = builtin_registry()
    key = name.strip().lower()
    if key in reg.models:
        return key
    return reg.aliases.get(key)


def _entries(data: dict, key: str, path: Path) -> list[dict]:
    items = data.get(key) or []
    if not isinstance(items, list):
        raise InputError(f"catalogue {path}: '{key}' must be a list of entries")
    return items


def _label(entry: dict, index: int) -> str:
    """The entry as a message names it: its name (bounded: the value may be anything a YAML file holds)."""
    if "name" in entry:
        return entry["name"] if isinstance(entry["name"], str) and len(entry["name"]) <= 80 else shown(entry["name"])
    if "gpu" in entry:
        return f"{shown(entry['gpu'])} at {shown(entry.get('provider', '?'))}"
    if "model" in entry:
        return f"{shown(entry['model'])} at {shown(entry.get('provider', '?'))}"
    return f"#{index}"


def _validate(model, entry, path: Path, key: str, index: int):
    if not isinstance(entry, dict):
        raise InputError(f"catalogue {path}: {key}[{index}] must be a mapping")
    try:
        return model.from_dict(entry)
    except EntryError as e:
        where = ".".join(str(x) for x in e.loc) or "(entry)"
        raise InputError(f"catalogue {path}: {key} entry {shown(_label(entry, index))}, field '{where}': {e}") from None


def load_catalog(extra_files: list[str] | None = None) -> Catalog:
    """Built-in catalogue plus user files; later files override earlier entries of the same name
    (rentals: the same GPU, provider and interconnect)."""
    builtin = [builtin_path(f) for f in BUILTIN_FILES]
    files = builtin + [Path(f) for f in (extra_files or [])]
    gpus: dict[str, GPU] = {}
    platforms: dict[str, tuple[Platform, Path]] = {}
    rentals: dict[tuple[str, str, str], tuple[Rental, Path]] = {}
    api_prices: dict[tuple[str, str, str], ApiPrice] = {}
    rates: dict[str, float] = {}
    as_of, rates_as_of, sources = "", "", []
    electricity = 0.15
    for i_file, path in enumerate(files):
        # every file's parsed YAML is cached as JSON while it is unchanged (user files: by a digest of their bytes):
        # a fleet price list of thousands of SKUs parses in seconds, its JSON loads in tens of milliseconds
        data = read_yaml(path, "catalogue" if i_file < len(builtin) else "--catalog",
                         cache=True if i_file < len(builtin) else "content")
        unknown = set(data) - KNOWN_KEYS
        if unknown:
            raise InputError(f"catalogue {path}: unknown top-level key(s) {shown(sorted(map(str, unknown)))}; expected {sorted(KNOWN_KEYS)}")
        for i, e in enumerate(_entries(data, "gpus", path)):
            g = _validate(GPU, e, path, "gpus", i)
            gpus[g.name.lower()] = g
        for i, e in enumerate(_entries(data, "platforms", path)):
            p = _validate(Platform, e, path, "platforms", i)
            platforms[p.name.lower()] = (p, path)
        for i, e in enumerate(_entries(data, "rentals", path)):
            r = _validate(Rental, e, path, "rentals", i)
            rentals[r.gpu.lower(), r.provider.lower(), (r.interconnect or "").lower()] = (r, path)
        for i, e in enumerate(_entries(data, "api_prices", path)):
            a = _validate(ApiPrice, e, path, "api_prices", i)
            key = _model_key(a.model)
            if key is None:
                raise InputError(f"catalogue {path}: api_prices entry {_label(e, i)!r}, field 'model': "
                                 f"{a.model!r} is not a built-in model; run `plan models` for the names")
            a = a.replace(model=key)
            api_prices[key, a.provider.lower(), a.model_id.lower()] = a
        if "rates" in data:
            if not isinstance(data["rates"], dict):
                raise InputError(f"catalogue {path}: 'rates' must map currency codes to units per USD")
            for k, v in data["rates"].items():
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not MIN_RATE <= v <= MAX_RATE:
                    raise InputError(f"catalogue {path}: rates.{printable(str(k), 40)} must be a number of units per USD between "
                                     f"{MIN_RATE:g} and {MAX_RATE:g}, got {shown(v)}")
                rates[str(k).upper()] = float(v)
            rates_as_of = str(data.get("as_of", rates_as_of))
        elif "as_of" in data:
            as_of = max(as_of, str(data["as_of"]))
        if "electricity_usd_per_kwh" in data:
            v = data["electricity_usd_per_kwh"]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v < 10:
                raise InputError(f"catalogue {path}: electricity_usd_per_kwh must be a price in USD per kWh, got {shown(v)}")
            electricity = float(v)
        sources.append(str(path))
    if not gpus:
        raise InputError("catalogue: no GPUs loaded; add entries under 'gpus:' in a --catalog file")
    for g in gpus.values():
        if g.currency.upper() not in rates:
            raise InputError(f"catalogue: GPU {g.name!r}, field 'currency': unknown currency {g.currency!r}")
    for p, path in platforms.values():
        if p.currency.upper() not in rates:
            raise InputError(f"catalogue {path}: platforms entry {p.name!r}, field 'currency': "
                             f"unknown currency {p.currency!r}")
        for n in p.gpus or []:
            if n not in gpus:
                raise InputError(f"catalogue {path}: platforms entry {p.name!r}, field 'gpus': "
                                 f"{n!r} is not a catalogued GPU")
            if gpus[n].form not in p.forms:
                raise InputError(f"catalogue {path}: platforms entry {p.name!r}, field 'gpus': "
                                 f"{n!r} is {gpus[n].form}, not one of forms {p.forms}")
    by_gpu: dict[str, list[Rental]] = {}
    for r, path in rentals.values():
        if r.gpu.lower() not in gpus:
            raise InputError(f"catalogue {path}: rentals entry {r.gpu + ' at ' + r.provider!r}, field 'gpu': "
                             f"{r.gpu!r} is not a catalogued GPU")
        by_gpu.setdefault(r.gpu.lower(), []).append(r)
    by_model: dict[str, list[ApiPrice]] = {}
    for (key, _, _), a in api_prices.items():
        by_model.setdefault(key, []).append(a)
    return Catalog(gpus=gpus, platforms={k: p for k, (p, _) in platforms.items()}, rates=rates, as_of=as_of,
                   rates_as_of=rates_as_of, sources=sources, electricity_usd_per_kwh=electricity, rentals=by_gpu,
                   api_prices=by_model)
