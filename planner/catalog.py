"""The hardware catalogue: GPUs, host platforms and exchange rates, validated from YAML into pydantic models.

Built-in files ship in the package (catalog/*.yaml). `--catalog FILE` adds or overrides entries by name:
a user file may hold any of the top-level keys `gpus:`, `platforms:`, `rates:`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.data import builtin_path, read_yaml
from planner.errors import InputError

GB = 10**9
GiB = 1 << 30
# CUDA context measured on the H100 with torch 2.11/CUDA 13 (calibration/); used for every NVIDIA card.
NVIDIA_CONTEXT_BYTES = 1_152_188_416


class NVLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(ge=2)                   # GPUs joined: 2 for a bridge, 8 for an NVSwitch baseboard
    bandwidth_gbps: float = Field(gt=0)
    bridge_price: float = Field(0, ge=0)       # per bridge (one per pair); 0 where built in


class GPU(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    vendor: Literal["nvidia", "amd", "apple", "intel"]
    memory_gb: float = Field(gt=0, le=10_000)
    bandwidth_gbps: float = Field(gt=0)
    bf16_tflops: float = Field(gt=0)
    tdp_w: float = Field(gt=0, le=5000)
    nvlink: NVLink | None = None
    form: Literal["pcie", "sxm", "unified"]
    slot_width: int = Field(2, ge=1, le=4)
    market: Literal["new", "used"] = "new"
    price: float = Field(gt=0)
    currency: str = "USD"
    as_of: str
    source: str
    ecc: bool = False
    usable_fraction: float = Field(1.0, gt=0, le=1)   # Apple: Metal working-set limit
    supports: list[Literal["inference", "lora", "qlora", "full"]] = ["inference", "lora", "qlora", "full"]

    @model_validator(mode="after")
    def _apple(self):
        if self.form == "unified" and self.usable_fraction == 1.0:
            self.usable_fraction = 0.75 if self.memory_gb <= 64 else 0.84
        return self

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gb * GB) if self.form == "unified" else int(self.memory_gb * GiB * 0.99)

    @property
    def is_machine(self) -> bool:
        return self.form == "unified"

    @property
    def context_bytes(self) -> int:
        return 0 if self.form == "unified" else NVIDIA_CONTEXT_BYTES


class Platform(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    forms: list[Literal["pcie", "sxm"]]
    max_gpus: int = Field(ge=1, le=64)
    slot_width: int = Field(ge=1)
    psu_w: float = Field(gt=0)
    base_w: float = Field(ge=0)
    max_ram_gb: int = Field(gt=0)
    ram_step_gb: int = Field(gt=0)
    ram_price_per_gb: float = Field(ge=0)
    network_per_node: float = Field(ge=0)
    multi_node: bool = True                   # may be clustered (consumer desktops are not)
    price: float = Field(ge=0)
    currency: str = "USD"
    source: str = ""


class Catalog(BaseModel):
    gpus: dict[str, GPU]
    platforms: dict[str, Platform]
    rates: dict[str, float]
    as_of: str
    rates_as_of: str
    sources: list[str]
    electricity_usd_per_kwh: float = 0.15

    def to_usd(self, amount: float, currency: str) -> float:
        return amount / self.rate(currency)

    def rate(self, currency: str) -> float:
        c = currency.upper()
        if c not in self.rates:
            raise InputError(f"--currency: unknown currency {currency!r}; known: {', '.join(sorted(self.rates))}")
        return self.rates[c]

    def gpu_price_usd(self, g: GPU) -> float:
        return self.to_usd(g.price, g.currency)


def _entries(data: dict, key: str, path: Path) -> list[dict]:
    items = data.get(key) or []
    if not isinstance(items, list):
        raise InputError(f"catalogue {path}: '{key}' must be a list of entries")
    return items


def _validate(model, entry, path: Path, key: str, index: int):
    if not isinstance(entry, dict):
        raise InputError(f"catalogue {path}: {key}[{index}] must be a mapping")
    try:
        return model.model_validate(entry)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "(entry)"
        name = entry.get("name", f"#{index}")
        raise InputError(f"catalogue {path}: {key} entry {name!r}, field '{field}': {err['msg']}") from None


def load_catalog(extra_files: list[str] | None = None) -> Catalog:
    """Built-in catalogue plus user files; later files override earlier entries of the same name."""
    files = [builtin_path("gpus.yaml"), builtin_path("platforms.yaml"), builtin_path("currencies.yaml")]
    files += [Path(f) for f in (extra_files or [])]
    gpus: dict[str, GPU] = {}
    platforms: dict[str, Platform] = {}
    rates: dict[str, float] = {}
    as_of, rates_as_of, sources = "", "", []
    electricity = 0.15
    for path in files:
        data = read_yaml(path, "--catalog" if path not in files[:3] else "catalogue")
        known = {"gpus", "platforms", "rates", "as_of", "source", "electricity_usd_per_kwh"}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"catalogue {path}: unknown top-level key(s) {sorted(unknown)}; expected {sorted(known)}")
        for i, e in enumerate(_entries(data, "gpus", path)):
            g = _validate(GPU, e, path, "gpus", i)
            gpus[g.name.lower()] = g
        for i, e in enumerate(_entries(data, "platforms", path)):
            p = _validate(Platform, e, path, "platforms", i)
            platforms[p.name.lower()] = p
        if "rates" in data:
            if not isinstance(data["rates"], dict):
                raise InputError(f"catalogue {path}: 'rates' must map currency codes to units per USD")
            for k, v in data["rates"].items():
                if not isinstance(v, (int, float)) or v <= 0:
                    raise InputError(f"catalogue {path}: rates.{k} must be a positive number, got {v!r}")
                rates[str(k).upper()] = float(v)
            rates_as_of = str(data.get("as_of", rates_as_of))
        elif "as_of" in data:
            as_of = max(as_of, str(data["as_of"]))
        if "electricity_usd_per_kwh" in data:
            v = data["electricity_usd_per_kwh"]
            if not isinstance(v, (int, float)) or not 0 <= v < 10:
                raise InputError(f"catalogue {path}: electricity_usd_per_kwh must be a price in USD per kWh, got {v!r}")
            electricity = float(v)
        sources.append(str(path))
    if not gpus:
        raise InputError("catalogue: no GPUs loaded; add entries under 'gpus:' in a --catalog file")
    for g in gpus.values():
        if g.currency.upper() not in rates:
            raise InputError(f"catalogue: GPU {g.name!r}, field 'currency': unknown currency {g.currency!r}")
    return Catalog(gpus=gpus, platforms=platforms, rates=rates, as_of=as_of, rates_as_of=rates_as_of,
                   sources=sources, electricity_usd_per_kwh=electricity)
