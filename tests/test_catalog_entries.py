"""planner.catalog's entries (NVLink, GPU, Platform, Rental, ApiPrice) are dataclasses validated by planner.lax, without
pydantic. They accept and refuse exactly what the pydantic models they replaced accepted and refused, converting as
pydantic's lax mode did (a YAML file gives ints, floats, bools, strings, None, lists, mappings, dates, bytes and sets):
the same stored values of the same types, the same field at fault and the same message. Those models are kept here,
verbatim (planner/catalog.py at commit 7d06299), as the reference."""
from __future__ import annotations

import datetime as dt
import math
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner import api, catalog
from planner.catalog import (APPLE_USABLE, BUILTIN_FILES, GB, NVIDIA_CONTEXT_BYTES, PCIE_LINK, GiB, _label,
                             _model_key)
from planner.data import builtin_path, read_yaml
from planner.errors import InputError, shown
from planner.lax import EntryError


# ---------------------------------------------------------------------------------------------------
# The pydantic models, verbatim

class NVLink(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    width: int = Field(ge=2)                   # GPUs joined: 2 for a bridge, 8 for an NVSwitch/Infinity Fabric baseboard
    bandwidth_gbps: float = Field(gt=0)
    bridge_price: float = Field(0, ge=0)       # per bridge (one per pair); 0 where built in


class GPU(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str
    vendor: Literal["nvidia", "amd", "apple", "intel"]
    generation: str = ""                       # ampere, ada, hopper, blackwell, cdna3, apple-m3, ...
    memory_gb: float = Field(gt=0, le=10_000)
    bandwidth_gbps: float = Field(gt=0)
    bf16_tflops: float = Field(gt=0)           # dense BF16 tensor rate, FP32 accumulate, no sparsity
    # Optional datasheet rates for the throughput model (None = no source gives it; gpus.yaml header says how
    # each is counted): dense FP16 tensor with FP16 accumulate, dense FP8 tensor (FP32 accumulate where that
    # differs), dense INT8 tensor TOPS, non-tensor FP32, the PCIe link, and GPU cores of unified machines.
    fp16_tflops: float | None = Field(None, gt=0)
    fp8_tflops: float | None = Field(None, gt=0)
    int8_tops: float | None = Field(None, gt=0)
    fp32_tflops: float | None = Field(None, gt=0)
    pcie: str | None = Field(None, pattern=PCIE_LINK)
    gpu_cores: int | None = Field(None, gt=0)
    fp8: bool = False                          # hardware FP8 tensor cores (Ada, Hopper, Blackwell, MI300)
    tdp_w: float = Field(gt=0, le=5000)
    nvlink: NVLink | None = None
    form: Literal["pcie", "sxm", "oam", "unified"]   # oam: AMD Instinct OAM modules; unified: a whole machine
    # active: own fans; passive: needs a server chassis's airflow; none: a whole machine. Default from form.
    cooling: Literal["active", "passive", "none"] | None = None
    slot_width: int = Field(2, ge=1, le=4)
    market: Literal["new", "used"] = "new"
    price: float = Field(gt=0)
    currency: str = "USD"
    as_of: str
    source: str
    ecc: bool = False
    # unified machines: the share of memory the GPU may use (Apple: Metal's working-set limit, the default)
    usable_fraction: float | None = Field(None, gt=0, le=1)
    supports: list[Literal["inference", "lora", "qlora", "full"]] = ["inference", "lora", "qlora", "full"]

    @model_validator(mode="after")
    def _defaults(self):
        if self.cooling is None:
            self.cooling = {"unified": "none", "sxm": "passive", "oam": "passive"}.get(self.form, "active")
        if self.form == "unified" and self.cooling != "none":
            raise ValueError(f"cooling must be 'none' for a unified-memory machine, not {self.cooling!r}")
        if self.form in ("sxm", "oam") and self.cooling != "passive":
            raise ValueError(f"cooling must be 'passive' for {self.form} modules, not {self.cooling!r}")
        if self.form != "unified" and self.cooling == "none":
            raise ValueError("cooling 'none' is only for unified-memory machines")
        if self.usable_fraction is None:
            if self.form != "unified":
                self.usable_fraction = 1.0
            elif self.vendor == "apple":
                self.usable_fraction = APPLE_USABLE[0] if self.memory_gb <= 64 else APPLE_USABLE[1]
            else:
                raise ValueError("usable_fraction is required for non-Apple unified-memory machines "
                                 "(the share of memory the GPU may use)")
        return self

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


class Platform(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str
    description: str = ""
    forms: list[Literal["pcie", "sxm", "oam"]]
    max_gpus: int = Field(ge=1, le=64)
    fixed_gpus: int | None = Field(None, ge=1, le=64)   # baseboard systems: every machine carries exactly this many
    min_gpus: int = Field(1, ge=1, le=64)     # fewest cards it is built for (an open-frame rig is not built for one)
    gpus: list[str] | None = None             # when set, only these GPU names may go in
    passive_cooling: bool = False             # chassis airflow for passively cooled cards
    slot_width: int = Field(ge=1)
    psu_w: float = Field(gt=0)
    base_w: float = Field(ge=0)
    max_ram_gb: int = Field(gt=0)
    ram_step_gb: int = Field(gt=0)
    ram_type: str = ""                        # ddr5, ddr5-rdimm, ddr4-rdimm, ...
    ram_price_per_gb: float = Field(ge=0)
    network_per_node: float = Field(ge=0, le=1e9)   # per machine in a cluster (NIC, switch port); the solver's
                                                    # big-M constraints break down on absurd values
    multi_node: bool = True                   # may be clustered (consumer desktops are not)
    # the cluster network a machine brings when several are bought (configs.link_of): per-GPU NICs (HGX rails,
    # Gb/s per GPU) or one port per machine (Gb/s); unset: throughput.comm.DEFAULT_NODE_NETWORK_GBITS
    nic_gbps_per_gpu: float | None = Field(None, gt=0, le=10_000)
    network_gbps: float | None = Field(None, gt=0, le=100_000)
    pcie_lanes_per_gpu: int | None = Field(None, ge=1, le=16)   # electrical lanes each card gets (x8/x8 desktops)
    build: Literal["desktop", "tower", "open-frame", "server", "baseboard"] | None = None  # what people call it
    price: float = Field(ge=0)
    currency: str = "USD"
    as_of: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _fixed(self):
        if self.fixed_gpus is not None and self.fixed_gpus > self.max_gpus:
            raise ValueError(f"fixed_gpus ({self.fixed_gpus}) exceeds max_gpus ({self.max_gpus})")
        if self.gpus is not None:
            if not self.gpus:
                raise ValueError("gpus, when given, must name at least one GPU")
            self.gpus = [n.lower() for n in self.gpus]
        return self

    def takes(self, g: GPU) -> bool:
        """Whether a card of this kind may go in: its form, the allowed list, and cooling."""
        if g.form not in self.forms or (self.gpus is not None and g.name.lower() not in self.gpus):
            return False
        return g.cooling != "passive" or self.passive_cooling


class Rental(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    gpu: str                                  # a catalogued GPU name
    provider: str
    usd_per_gpu_hour: float = Field(gt=0)     # on demand, per GPU
    as_of: str
    source: str
    interconnect: str | None = None           # e.g. "8x SXM NVSwitch", "PCIe"


class ApiPrice(BaseModel):
    """A hosted API's list price for an open-weight model the planner knows, per million tokens (serverless,
    pay per token; not batch or cached-input discounts)."""
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)          # a built-in model name (an alias is taken as its model)
    model_id: str = Field(min_length=1)       # the provider's id for it, e.g. meta-llama/Llama-3.3-70B-Instruct-Turbo
    input_usd_per_mtok: float = Field(gt=0, le=1000)
    output_usd_per_mtok: float = Field(gt=0, le=1000)
    as_of: str
    source: str = Field(min_length=1)
    note: str = ""                            # e.g. quantisation the provider serves (fp8), a -Turbo variant


class Catalog(BaseModel):
    gpus: dict[str, GPU]
    platforms: dict[str, Platform]
    rates: dict[str, float]
    as_of: str
    rates_as_of: str
    sources: list[str]
    electricity_usd_per_kwh: float = 0.15
    rentals: dict[str, list[Rental]] = {}    # lower-case GPU name -> offers
    api_prices: dict[str, list[ApiPrice]] = {}   # built-in model name -> hosted-API offers

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


def pydantic_validate(model, entry, path: Path, key: str, index: int):
    """planner.catalog._validate as it was (verbatim): the one-line message of a refused entry."""
    if not isinstance(entry, dict):
        raise InputError(f"catalogue {path}: {key}[{index}] must be a mapping")
    try:
        return model.model_validate(entry)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "(entry)"
        msg = err["msg"].removeprefix("Value error, ")
        raise InputError(f"catalogue {path}: {key} entry {shown(_label(entry, index))}, field '{field}': {msg}") from None


PAIRS = {"NVLink": (NVLink, catalog.NVLink), "GPU": (GPU, catalog.GPU), "Platform": (Platform, catalog.Platform),
         "Rental": (Rental, catalog.Rental), "ApiPrice": (ApiPrice, catalog.ApiPrice)}
KEYS = {"GPU": "gpus", "Platform": "platforms", "Rental": "rentals", "ApiPrice": "api_prices", "NVLink": "nvlink"}


def _raw_entries() -> dict[str, list[dict]]:
    """The built-in catalogue's entries as its YAML gives them (NVLink: the GPUs' nvlink mappings)."""
    raw = {name: [] for name in PAIRS}
    for f in BUILTIN_FILES:
        data = read_yaml(builtin_path(f), "catalogue")
        for name, key in KEYS.items():
            raw[name] += data.get(key) or []
    raw["NVLink"] = [g["nvlink"] for g in raw["GPU"] if g.get("nvlink")]
    return raw


RAW = _raw_entries()
# every value a built-in entry gives each field: valid values, and with the other fields of another entry, often
# values that contradict them
SEEN = {name: {f: [e[f] for e in RAW[name] if f in e] or [PAIRS[name][0].model_fields[f].default]
               for f in PAIRS[name][0].model_fields} for name in PAIRS}


def outcome(make, data):
    try:
        return "ok", make(data)
    except (ValidationError, EntryError) as e:
        return "refused", e


def assert_same_values(ref: BaseModel, new):
    """The same fields in the same order, equal values of the same types (nested entries and list items too)."""
    assert type(new).__name__ == type(ref).__name__
    assert list(new.__dict__) == list(ref.__dict__)
    for name, value in ref.__dict__.items():
        got = new.__dict__[name]
        if isinstance(value, BaseModel):
            assert_same_values(value, got)
        else:
            assert got == value and type(got) is type(value), (name, got, value)
            if isinstance(value, list):
                assert [type(x) for x in got] == [type(x) for x in value], name


def assert_same(name: str, data):
    ref_cls, new_cls = PAIRS[name]
    ref_kind, ref = outcome(ref_cls.model_validate, data)
    new_kind, new = outcome(new_cls.from_dict, data)
    assert new_kind == ref_kind, (data, ref, new)
    if ref_kind == "ok":
        assert_same_values(ref, new)
        assert new.as_dict() == ref.model_dump() and repr(new) == repr(ref)
        assert new_cls(**data) == new                               # keywords validate as a mapping does
    else:
        err = ref.errors()[0]
        assert (new.loc, new.kind, new.msg) == (tuple(err["loc"]), err["type"], err["msg"]), data
    # the one line `plan --catalog FILE` prints
    path, key = Path("mine.yaml"), KEYS[name]
    messages = []
    for validate, model in ((pydantic_validate, ref_cls), (catalog._validate, new_cls)):
        try:
            validate(model, data, path, key, 3)
            messages.append(None)
        except InputError as e:
            messages.append(str(e))
    assert messages[1] == messages[0]


# ---------------------------------------------------------------------------------------------------
# Values of every kind a YAML file gives, near each field's limits, and text that reads as numbers or not

NUMERIC_TEXT = st.text(alphabet="0123456789+-._eExinfatyNnoO \t\n\u00a0\u3000\x1c", max_size=10)
TEXT = st.one_of(NUMERIC_TEXT, st.text(max_size=6), st.sampled_from([
    "", " ", "0", "1", "2", "-1", "24", " 24 ", "24.0", "24.00", "24.5", "2.", ".5", "1e3", "1E+3", "1_000", "1__0",
    "_1", "1_", "1_.5", "0x18", "0_0", "007", "-007", "-0", "+4", "+-4", "-+4", "0-1", "inf", "-inf", "nan",
    "Infinity", "+NaN", ".inf", ".nan", "1e400", "\u0664", "yes", "no", "on", "off", "true", "False", "t", "f", "y",
    "n", "TRUE", "Yes ", "x\ud800", "\x1c2", "2\x1f", "\x1c2.5", "\u20282\u3000", "4.0 x16", "4.0 x16\n", "5.0 x8",
    "6.0 x1", "7.0 x16", "4.0 x3", "nvidia",
    "NVIDIA", " pcie", "pcie", "sxm", "oam", "unified", "active", "passive", "none", "new", "used", "lora", "a100",
    "9" * 4300, "9" * 4301, "-" + "9" * 4301, " " + "9" * 4301, "1" + "0" * 4300 + ".0", "0" + "9" * 4301]))
INTS = st.one_of(st.integers(-3, 70), st.integers(), st.sampled_from(
    [2**63 - 1, 2**63, -2**63, -2**63 - 1, 10**30, 2**1100, 1000, 1001, 5000, 5001, 10_000, 10_001, 100_000, 10**9,
     10**9 + 1]))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(
    [0.0, -0.0, 0.5, 1.0, 1.5, 2.0, 4.0, 64.0, 65.0, 1e-300, 1000.0, 1000.5, 5000.0, 10_000.0, 10_000.5, 1e9, 1e19,
     2.0**63, -2.0**63, 2.0**63 - 1024]))
OTHER = st.sampled_from([b"4", b"24.5", b"yes", b"\xff", b"pcie", b"my-card", b"", bytearray(b"4"),
                         dt.date(2026, 1, 1), dt.datetime(2026, 1, 1, 12, 0)])
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT, OTHER)
VALUES = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=3), st.lists(st.sampled_from(["inference", "lora", "pcie", "sxm", "H100-SXM"]),
                                                     max_size=3),
    st.frozensets(st.sampled_from(["pcie", "sxm", "lora", "l4"]), max_size=2).map(set),
    st.lists(st.sampled_from(["lora", "pcie"]), max_size=2).map(tuple),
    st.dictionaries(st.sampled_from(["width", "bandwidth_gbps", "bridge_price", "x"]), SCALARS, max_size=3))


def lax_forms(v) -> list:
    """A valid value and the spellings pydantic's lax mode read as it (text, bytes, other number types)."""
    if isinstance(v, bool):
        return [v, int(v), float(v), "yes" if v else "no", "true" if v else "false", "on" if v else "off", str(int(v)),
                "T" if v else "F", str(v).encode()]
    if isinstance(v, int):
        return [v, float(v), str(v), f" {v} ", f"{v}.0", f"+{v}", str(v).encode(), f"{v:_}"]
    if isinstance(v, float):
        return [v, str(v), f"\t{v!r}\n", str(v).encode()] + ([int(v), f"{int(v)}.000"] if v.is_integer() else [])
    if isinstance(v, str):
        return [v, v.encode(), v.upper(), f" {v}"]
    if isinstance(v, list):
        return [v, tuple(v), v[:1], v + v[:1]]
    if isinstance(v, dict):
        return [v, {**v, "width": str(v.get("width"))}, {k: x for k, x in v.items() if k != "width"}]
    return [v]


@st.composite
def entries(draw, name: str) -> dict:
    """A built-in entry with a few fields changed: to another entry's value, a lax spelling of one, or anything a
    YAML file may hold; now and then a field left out or an unknown key added."""
    data = dict(draw(st.sampled_from(RAW[name])))
    for field in draw(st.lists(st.sampled_from(list(SEEN[name])), max_size=4, unique=True)):
        how = draw(st.integers(0, 9))
        if how == 0:
            data.pop(field, None)
        elif how <= 5:
            data[field] = draw(st.sampled_from(lax_forms(draw(st.sampled_from(SEEN[name][field])))))
        else:
            data[field] = draw(VALUES)
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.sampled_from(["foo", "Name", "memory", "self", "cls", "given"]))] = draw(SCALARS)
    return data


EXAMPLES = {"NVLink": 800, "GPU": 3000, "Platform": 2000, "Rental": 800, "ApiPrice": 800}


@pytest.mark.parametrize("name", list(PAIRS))
def test_accepts_and_refuses_what_the_pydantic_model_did(name):
    @settings(max_examples=EXAMPLES[name], deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(entries(name))
    def check(data):
        assert_same(name, data)
    check()


@pytest.mark.parametrize("name", list(PAIRS))
def test_every_field_alone_takes_any_value_as_the_pydantic_model_did(name):
    @settings(max_examples=EXAMPLES[name], deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(RAW[name]), st.sampled_from(list(SEEN[name])), VALUES)
    def check(base, field, value):
        assert_same(name, {**base, field: value})
    check()


def test_the_built_in_entries_load_to_the_same_values():
    for name in PAIRS:
        for data in RAW[name]:
            assert_same(name, data)
    loaded = catalog.load_catalog()
    for name, kind in (("GPU", "gpus"), ("Platform", "platforms")):
        by_name = {e["name"].lower(): PAIRS[name][0].model_validate(e) for e in RAW[name]}
        assert list(getattr(loaded, kind)) == list(by_name)
        for key, ref in by_name.items():
            assert_same_values(ref, getattr(loaded, kind)[key])


# ---------------------------------------------------------------------------------------------------
# What a catalogue file may say, and the line `plan --catalog` prints

GOOD = {"name": "my-card", "vendor": "nvidia", "memory_gb": 80, "bandwidth_gbps": 2000, "bf16_tflops": 500,
        "tdp_w": 700, "form": "pcie", "price": 10, "as_of": "2026-01-01", "source": "me"}


@pytest.mark.parametrize("field, value, stored", [
    ("memory_gb", "24", 24.0), ("memory_gb", " 24.5 ", 24.5), ("memory_gb", "1_024", 1024.0),
    ("memory_gb", True, 1.0), ("memory_gb", b"24", 24.0), ("memory_gb", 24, 24.0),
    ("slot_width", 2.0, 2), ("slot_width", "2", 2), ("slot_width", "2.00", 2), ("slot_width", True, 1),
    ("slot_width", "+3", 3), ("slot_width", "003", 3), ("slot_width", "\u00a03\u3000", 3),
    ("fp8", "yes", True), ("fp8", "Off", False), ("fp8", 1, True), ("fp8", 0.0, False), ("fp8", b"true", True),
    ("name", b"card", "card"), ("supports", ("lora", "qlora"), ["lora", "qlora"]),
    ("nvlink", {"width": "2", "bandwidth_gbps": 112}, catalog.NVLink(width=2, bandwidth_gbps=112.0)),
])
def test_what_pydantic_converted_is_converted(field, value, stored):
    assert catalog.GPU(**{**GOOD, field: value}).__dict__[field] == stored
    assert_same("GPU", {**GOOD, field: value})


BASE = {"GPU": GOOD,
        "Platform": {"name": "box", "forms": ["pcie"], "max_gpus": 8, "slot_width": 8, "psu_w": 2000, "base_w": 100,
                     "max_ram_gb": 512, "ram_step_gb": 64, "ram_price_per_gb": 5, "network_per_node": 0, "price": 1},
        "ApiPrice": {"provider": "Acme", "model": "8b", "model_id": "acme/8b", "input_usd_per_mtok": 0.1,
                     "output_usd_per_mtok": 0.2, "as_of": "2026-01-01", "source": "me"},
        "Rental": {"gpu": "l4", "provider": "Acme", "usd_per_gpu_hour": 1, "as_of": "2026-01-01", "source": "me"}}
INT_TEXT = "Input should be a valid integer, unable to parse string as an integer"


@pytest.mark.parametrize("name, changes, where, message", [
    ("GPU", {"memory_gb": 0}, "memory_gb", "Input should be greater than 0"),
    ("GPU", {"memory_gb": 10_001}, "memory_gb", "Input should be less than or equal to 10000"),
    ("GPU", {"memory_gb": math.nan}, "memory_gb", "Input should be a finite number"),
    ("GPU", {"memory_gb": "inf"}, "memory_gb", "Input should be a finite number"),
    ("GPU", {"memory_gb": "24 GB"}, "memory_gb", "Input should be a valid number, unable to parse string as a number"),
    ("GPU", {"memory_gb": dt.date(2026, 1, 1)}, "memory_gb", "Input should be a valid number"),
    ("GPU", {"memory_gb": None}, "memory_gb", "Input should be a valid number"),
    ("GPU", {"slot_width": 2.5}, "slot_width", "Input should be a valid integer, got a number with a fractional part"),
    ("GPU", {"slot_width": "2.5"}, "slot_width", INT_TEXT),
    ("GPU", {"slot_width": "\x1c3"}, "slot_width", INT_TEXT),         # not whitespace to pydantic (Rust)
    ("GPU", {"slot_width": 5}, "slot_width", "Input should be less than or equal to 4"),
    ("GPU", {"slot_width": 1e19}, "slot_width", "Unable to parse input string as an integer, exceeded maximum size"),
    ("GPU", {"fp8": "maybe"}, "fp8", "Input should be a valid boolean, unable to interpret input"),
    ("GPU", {"fp8": 2}, "fp8", "Input should be a valid boolean, unable to interpret input"),
    ("GPU", {"fp8": 0.5}, "fp8", "Input should be a valid boolean"),
    ("GPU", {"vendor": "NVIDIA"}, "vendor", "Input should be 'nvidia', 'amd', 'apple' or 'intel'"),
    ("GPU", {"pcie": "4.0 x16\n"}, "pcie", "String should match pattern '^[1-6]\\.0 x(1|2|4|8|16)$'"),
    ("GPU", {"supports": ["lora", "train"]}, "supports.1", "Input should be 'inference', 'lora', 'qlora' or 'full'"),
    ("GPU", {"supports": "lora"}, "supports", "Input should be a valid list"),
    ("GPU", {"nvlink": {"width": 1, "bandwidth_gbps": 100}}, "nvlink.width",
     "Input should be greater than or equal to 2"),
    ("GPU", {"nvlink": {"width": 2}}, "nvlink.bandwidth_gbps", "Field required"),
    ("GPU", {"nvlink": {"width": 2, "bandwidth_gbps": 1, "pairs": 4}}, "nvlink.pairs",
     "Extra inputs are not permitted"),
    ("GPU", {"nvlink": 8}, "nvlink", "Input should be a valid dictionary or instance of NVLink"),
    ("GPU", {"as_of": dt.date(2026, 1, 1)}, "as_of", "Input should be a valid string"),
    ("GPU", {"name": 4090}, "name", "Input should be a valid string"),
    ("GPU", {"colour": "green"}, "colour", "Extra inputs are not permitted"),
    ("GPU", {"colour": "green", "memory_gb": 0}, "memory_gb", "Input should be greater than 0"),   # fields first
    ("GPU", {"form": "sxm", "cooling": "active"}, "(entry)", "cooling must be 'passive' for sxm modules, not 'active'"),
    ("GPU", {"form": "unified", "vendor": "amd"}, "(entry)",
     "usable_fraction is required for non-Apple unified-memory machines (the share of memory the GPU may use)"),
    ("Platform", {"network_per_node": 2e9}, "network_per_node", "Input should be less than or equal to 1000000000"),
    ("Platform", {"fixed_gpus": 9}, "(entry)", "fixed_gpus (9) exceeds max_gpus (8)"),
    ("Platform", {"gpus": []}, "(entry)", "gpus, when given, must name at least one GPU"),
    ("Platform", {"forms": ["pcie", "nvlink"]}, "forms.1", "Input should be 'pcie', 'sxm' or 'oam'"),
    ("ApiPrice", {"provider": ""}, "provider", "String should have at least 1 character"),
    ("ApiPrice", {"output_usd_per_mtok": "1e4"}, "output_usd_per_mtok", "Input should be less than or equal to 1000"),
    ("Rental", {"usd_per_gpu_hour": -1}, "usd_per_gpu_hour", "Input should be greater than 0"),
])
def test_what_pydantic_refused_is_refused_with_its_message(name, changes, where, message):
    data = {**BASE[name], **changes}
    with pytest.raises(InputError) as e:
        catalog._validate(PAIRS[name][1], data, Path("mine.yaml"), KEYS[name], 0)
    label = shown(_label(data, 0))
    assert str(e.value) == f"catalogue mine.yaml: {KEYS[name]} entry {label}, field '{where}': {message}"
    assert_same(name, data)


@pytest.mark.parametrize("field", ["memory_gb", "slot_width", "fp8", "name", "as_of", "vendor", "supports", "pcie"])
@pytest.mark.parametrize("scalar", [
    "24", "'24'", "24.0", "0x18", "0o30", "1_024", "1:30", ".inf", "-.inf", ".NaN", "1.0e+400", "yes", "No", "on",
    "~", "null", "2026-01-01", "2026-01-01 10:00:00", "!!binary MjQ=", "!!set {lora, full}", "[lora]", "{a: 1}",
    "!!str 24", "!!float 2", "'4.0 x16'", "nvidia", "'  2 '", "'2.00'", "'1e3'", "!!omap [{a: 1}]"])
def test_a_catalogue_file_loads_as_it_did(tmp_path, monkeypatch, field, scalar):
    """Through load_catalog: YAML's own readings of a scalar (hex, octal, sexagesimal, dates, binary, sets)."""
    monkeypatch.setenv("PLANNER_NO_CACHE", "1")
    text = "gpus:\n  - " + yaml.safe_dump({k: v for k, v in GOOD.items() if k != field}, default_flow_style=True,
                                         width=10_000).strip()[:-1] + f", {field}: {scalar}}}\n"
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    data = yaml.safe_load(text)["gpus"][0]
    try:
        expected = pydantic_validate(GPU, data, path, "gpus", 0)
    except InputError as e:
        with pytest.raises(InputError) as got:
            catalog.load_catalog([str(path)])
        assert str(got.value) == str(e)
    else:
        assert_same_values(expected, catalog.load_catalog([str(path)]).gpus[expected.name.lower()])


def test_a_scenario_names_a_refused_gpu_as_it_did(tmp_path):
    """Scenario files add GPUs too; their messages keep pydantic's 'Value error, ' before a rule's message."""
    from planner.scenario import _line_of, run_scenario
    for bad in ({"memory_gb": -4}, {"form": "sxm", "cooling": "active"}, {"colour": "green"}):
        entry = {**GOOD, **bad}
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump({"workloads": [{"model": "8b"}], "catalog": {"gpus": [entry]}}))
        with pytest.raises(ValidationError) as ref:
            GPU.model_validate(entry)
        err = ref.value.errors()[0]
        loc = ("catalog", "gpus", 0) + tuple(err["loc"])
        with pytest.raises(InputError) as got:
            run_scenario(str(path))
        assert str(got.value) == (f"scenario {path} line {_line_of(path, loc)}: field '{'.'.join(map(str, loc))}': "
                                  f"{err['msg']}")


# ---------------------------------------------------------------------------------------------------
# The entries as the planner uses them

def test_entries_copy_dump_compare_and_pickle_as_the_models_did():
    for name, (ref_cls, new_cls) in PAIRS.items():
        for data in RAW[name][:12]:
            ref, new = ref_cls.model_validate(data), new_cls.from_dict(data)
            changes = {k: v for k, v in {"price": 0.0, "name": "other", "width": 4, "gpus": None}.items()
                       if k in ref_cls.model_fields}
            assert_same_values(ref.model_copy(update=changes), new.replace(**changes))   # not validated
            assert_same_values(ref, new)                                               # the original unchanged
            assert new.as_dict() == ref.model_dump() and new.as_dict() is not new.as_dict()
            assert pickle.loads(pickle.dumps(new)) == new == new_cls.from_dict(data)  # the scenario pool pickles them
            assert new != new.replace(**{next(iter(ref_cls.model_fields)): "x"})
            with pytest.raises(TypeError):
                hash(new)                                  # mutable, compared by value, as the models were
    with pytest.raises(TypeError):
        catalog.GPU.from_dict(RAW["GPU"][0]).replace(colour="green")


def test_catalog_has_the_models_fields_and_defaults():
    import dataclasses
    fields = {f.name: f for f in dataclasses.fields(catalog.Catalog)}
    assert list(fields) == list(Catalog.model_fields)
    for name, f in Catalog.model_fields.items():
        default = fields[name].default_factory() if fields[name].default_factory is not dataclasses.MISSING \
            else fields[name].default
        assert (default is dataclasses.MISSING) == f.is_required() and (f.is_required() or default == f.default)
    cat = catalog.load_catalog()
    assert cat.replace(rates={"USD": 1.0}).rates == {"USD": 1.0} and cat.rates != {"USD": 1.0}


@pytest.mark.parametrize("name", list(PAIRS))
def test_the_api_describes_the_entries_as_the_models_did(name):
    """`plan schema catalog` and the web API's schema: CatalogResult lists pydantic models made from the dataclasses."""
    ref, new = PAIRS[name]
    for mode in ("validation", "serialization"):
        assert api.entry_model(new).model_json_schema(mode=mode) == ref.model_json_schema(mode=mode)


def test_the_catalogue_is_loaded_without_pydantic():
    code = ("import sys; from planner.catalog import load_catalog; load_catalog(); "
            "assert 'pydantic' not in sys.modules, 'pydantic imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
