"""The built-in catalogue: what must be there, dated and sourced, and physically consistent."""
import datetime as dt
import io
import json

import pytest

from planner.catalog import GPU, Platform, load_catalog
from planner.cli import main
from planner.errors import InputError

CATALOG = load_catalog()
TODAY = dt.date.today().isoformat()

REQUIRED = [
    # kept from earlier catalogues (tests and scenarios use them)
    "rtx-3060-12gb", "rtx-4060-ti-16gb", "rtx-3090", "rtx-4090", "rtx-5090", "rtx-a6000", "rtx-6000-ada", "l40s",
    "a100-40gb-pcie", "a100-40gb-sxm", "a100-80gb-pcie", "a100-80gb-sxm", "h100-pcie", "h100-sxm", "h200-sxm",
    "mac-studio-m2-ultra-64gb", "mac-studio-m2-ultra-128gb", "mac-studio-m2-ultra-192gb",
    "mac-studio-m3-ultra-96gb", "mac-studio-m3-ultra-256gb", "mac-studio-m3-ultra-512gb", "macbook-pro-m4-max-128gb",
    # added for late 2026
    "rtx-5060-ti-16gb", "rtx-5070-ti", "rtx-5080", "rtx-4070-ti-super", "rtx-4080-super",
    "rtx-pro-6000-blackwell", "rtx-pro-6000-blackwell-maxq", "rtx-pro-6000-blackwell-server", "rtx-5000-ada",
    "rtx-a4000", "rtx-a5000", "l4", "a10", "a40", "h100-nvl", "b200", "dgx-spark-128gb",
    "framework-desktop-ai-max-395-128gb", "mac-studio-m4-max-36gb", "mac-studio-m4-max-64gb", "mac-studio-m4-max-128gb",
    "mi300x", "mi325x", "rx-7900-xtx", "v100-32gb-pcie",
    # what people buy in late 2026 (issue 16)
    "intel-arc-pro-b60-24gb", "intel-arc-pro-b70-32gb", "rtx-pro-4000-blackwell", "rtx-pro-4500-blackwell",
    "rtx-pro-5000-blackwell", "rtx-pro-5000-blackwell-72gb", "radeon-ai-pro-r9700", "b300", "mi355x",
]
# no longer sold new by late 2026: these must be priced as used
DISCONTINUED = ["mac-studio-m2-ultra-64gb", "mac-studio-m2-ultra-128gb", "mac-studio-m2-ultra-192gb",
                "mac-studio-m3-ultra-256gb", "mac-studio-m3-ultra-512gb", "macbook-pro-m4-max-128gb",
                "rtx-3090", "rtx-4060-ti-16gb", "rtx-4070-ti-super", "rtx-4080-super", "rtx-a4000", "rtx-a5000",
                "a10", "a40", "a100-40gb-pcie", "a100-80gb-pcie", "a100-40gb-sxm", "a100-80gb-sxm", "v100-32gb-pcie",
                "rtx-3060-12gb", "rtx-4090", "rtx-a6000"]
# rentals the catalogue must price
RENTED = ["h100-sxm", "h100-pcie", "h100-nvl", "h200-sxm", "h200-nvl", "b200", "l40s", "l4", "a10", "rtx-3090",
          "rtx-4090", "rtx-5090", "rtx-a6000", "rtx-6000-ada", "mi300x"]
# every edition of a rented card class has a rental row (the provider's edition named in `interconnect`)
EDITIONS = [("rtx-pro-6000-blackwell", "rtx-pro-6000-blackwell-maxq", "rtx-pro-6000-blackwell-server"),
            ("h100-pcie", "h100-sxm", "h100-nvl"), ("h200-sxm", "h200-nvl"), ("a100-40gb-pcie", "a100-40gb-sxm"),
            ("a100-80gb-pcie", "a100-80gb-sxm")]
FP8_GENERATIONS = {"ada", "hopper", "blackwell", "grace-blackwell", "cdna3", "cdna4", "rdna4"}


def _is_date(s: str) -> bool:
    try:
        dt.date.fromisoformat(s)
        return True
    except ValueError:
        return False


def test_required_entries_are_catalogued():
    assert not set(REQUIRED) - set(CATALOG.gpus)


def test_at_least_forty_gpus_and_machines():
    assert len(CATALOG.gpus) >= 40


def test_every_price_is_dated_and_sourced():
    for g in CATALOG.gpus.values():
        assert g.price > 0 and g.source and _is_date(g.as_of) and g.as_of <= TODAY, g.name
        assert g.generation, g.name
    for p in CATALOG.platforms.values():
        assert p.price >= 0 and p.source and _is_date(p.as_of) and p.as_of <= TODAY, p.name
        assert p.ram_type and p.ram_price_per_gb > 0, p.name
    for rs in CATALOG.rentals.values():
        for r in rs:
            assert r.usd_per_gpu_hour > 0 and r.source and r.provider and _is_date(r.as_of) and r.as_of <= TODAY, r


def test_cooling_matches_form():
    for g in CATALOG.gpus.values():
        if g.form == "unified":
            assert g.cooling == "none", g.name
        elif g.form in ("sxm", "oam"):
            assert g.cooling == "passive", g.name
        else:
            assert g.cooling in ("active", "passive"), g.name
    for name in ("l4", "a10", "a40", "l40s", "a100-80gb-pcie", "h100-pcie", "h100-nvl"):
        assert CATALOG.gpus[name].cooling == "passive", name
    for name in ("rtx-4090", "rtx-5090", "rtx-a6000", "rtx-6000-ada", "rtx-pro-6000-blackwell", "rx-7900-xtx"):
        assert CATALOG.gpus[name].cooling == "active", name


def test_every_passive_card_has_a_server_with_airflow():
    for g in CATALOG.gpus.values():
        if g.cooling == "passive":
            homes = [p for p in CATALOG.platforms.values() if p.takes(g)]
            assert homes and all(p.passive_cooling for p in homes), g.name


def test_every_card_has_a_platform_that_can_power_and_seat_it():
    for g in CATALOG.gpus.values():
        if g.is_machine:
            continue
        fits = [p for p in CATALOG.platforms.values() if p.takes(g)
                and (p.fixed_gpus or 1) * g.tdp_w + p.base_w <= 0.8 * p.psu_w and g.slot_width <= p.slot_width]
        assert fits, g.name


def test_desktops_and_workstations_take_no_passive_cards():
    for p in CATALOG.platforms.values():
        if not p.passive_cooling:
            assert not p.takes(CATALOG.gpus["l40s"]) and not p.takes(CATALOG.gpus["h100-pcie"]), p.name


def test_every_sxm_and_oam_module_has_a_fixed_baseboard_that_powers_it():
    for g in CATALOG.gpus.values():
        if g.form in ("sxm", "oam"):
            boards = [p for p in CATALOG.platforms.values() if p.fixed_gpus and p.takes(g)]
            assert boards, g.name
            for p in boards:
                assert p.fixed_gpus * g.tdp_w + p.base_w <= 0.8 * p.psu_w, (g.name, p.name)


def test_baseboards_take_only_their_own_modules():
    hgx_b200 = CATALOG.platforms["hgx-b200-8gpu"]
    assert hgx_b200.fixed_gpus == 8 and hgx_b200.gpus == ["b200"]
    assert not hgx_b200.takes(CATALOG.gpus["h100-sxm"])
    assert CATALOG.platforms["oam-mi300-8gpu"].takes(CATALOG.gpus["mi300x"])
    assert not CATALOG.platforms["oam-mi300-8gpu"].takes(CATALOG.gpus["h100-sxm"])
    for p in CATALOG.platforms.values():
        if p.fixed_gpus:
            assert p.gpus, p.name


def test_pcie_platforms_fit_their_cards():
    for p in CATALOG.platforms.values():
        if "pcie" in p.forms and not p.fixed_gpus:
            assert p.max_gpus * 2 <= p.slot_width, p.name           # max_gpus double-width cards
    desktop = CATALOG.platforms["desktop-am5"]
    assert 1200 <= desktop.psu_w <= 1600 and desktop.max_gpus == 2 and not desktop.multi_node


def test_discontinued_products_are_marked_used():
    for name in DISCONTINUED:
        assert CATALOG.gpus[name].market == "used", name


def test_fp8_follows_the_generation():
    for g in CATALOG.gpus.values():
        assert g.fp8 == (g.generation in FP8_GENERATIONS), g.name


def test_unified_memory_fractions():
    for g in CATALOG.gpus.values():
        if g.vendor == "apple":
            assert g.usable_fraction == (0.75 if g.memory_gb <= 64 else 0.84), g.name
        elif g.form == "unified":
            assert 0.5 <= g.usable_fraction < 1, g.name
        else:
            assert g.usable_fraction == 1.0, g.name
    # DGX Spark runs the CUDA driver: each process's context sits in the shared pool (Apple Metal has none)
    assert CATALOG.gpus["dgx-spark-128gb"].is_machine and CATALOG.gpus["dgx-spark-128gb"].context_bytes > 0
    assert CATALOG.gpus["dgx-spark-128gb"].memory_bytes == 128 * 10**9


def test_nvlink_facts():
    for name in ("rtx-4090", "rtx-5090", "l40s", "rtx-6000-ada", "rtx-pro-6000-blackwell", "rx-7900-xtx"):
        assert CATALOG.gpus[name].nvlink is None, name
    for name in ("rtx-3090", "rtx-a6000", "a40", "a100-80gb-pcie", "h100-nvl"):
        assert CATALOG.gpus[name].nvlink.width == 2, name
    for name in ("h100-sxm", "h200-sxm", "b200", "mi300x"):
        assert CATALOG.gpus[name].nvlink.width == 8, name


def test_card_widths():
    assert CATALOG.gpus["rtx-4090"].slot_width >= 3 and CATALOG.gpus["rtx-5090"].slot_width >= 3
    assert CATALOG.gpus["l4"].slot_width == 1


def test_every_edition_of_a_rented_card_class_has_a_rental():
    for editions in EDITIONS:
        for name in editions:
            assert CATALOG.cheapest_rental(name), name


def test_no_rental_row_is_an_outlier_for_its_card():
    """The RTX PRO 6000 'from $0.66/hr' teaser row is gone: no offer is under a third of the median for its card."""
    for name, offers in CATALOG.rentals.items():
        prices = sorted(r.usd_per_gpu_hour for r in offers)
        median = prices[len(prices) // 2]
        assert prices[0] >= median / 3, name
    assert all(r.provider != "packet.ai" for rs in CATALOG.rentals.values() for r in rs)


def test_rentals_reference_catalogued_gpus_and_cover_the_usual_cards():
    assert set(CATALOG.rentals) <= set(CATALOG.gpus)
    for name in RENTED:
        assert CATALOG.cheapest_rental(name), name
    assert CATALOG.cheapest_rental("a100-80gb-pcie") or CATALOG.cheapest_rental("a100-80gb-sxm")
    assert CATALOG.cheapest_rental("a100-40gb-pcie") or CATALOG.cheapest_rental("a100-40gb-sxm")


def test_cheapest_rental_is_the_minimum():
    offers = CATALOG.rentals["h100-sxm"]
    assert len(offers) >= 2
    assert CATALOG.cheapest_rental("H100-SXM").usd_per_gpu_hour == min(r.usd_per_gpu_hour for r in offers)
    assert CATALOG.cheapest_rental("mac-studio-m2-ultra-64gb") is None


def test_currencies_include_the_asked_ones():
    assert {"USD", "TWD", "CNY", "EUR", "JPY"} <= set(CATALOG.rates)
    assert CATALOG.rates_as_of


# ---- validation of user catalogue files: one line naming file, entry and field -----------------------------

GOOD_GPU = ("{name: my-card, vendor: nvidia, generation: hopper, memory_gb: 80, bandwidth_gbps: 2000, "
            "bf16_tflops: 500, tdp_w: 700, form: %s, price: 10, as_of: '2026-01-01', source: me%s}")


def _load(tmp_path, text):
    f = tmp_path / "mine.yaml"
    f.write_text(text)
    return load_catalog([str(f)])


@pytest.mark.parametrize("form, extra, field", [
    ("sxm", ", cooling: active", "cooling"),
    ("unified", ", cooling: passive", "cooling"),
    ("pcie", ", cooling: none", "cooling"),
    ("unified", "", "usable_fraction"),       # a non-Apple machine must say how much memory its GPU may use
    ("oam", ", cooling: passive, fp8: maybe", "fp8"),
])
def test_bad_gpu_entries_fail_with_one_line(tmp_path, form, extra, field):
    with pytest.raises(InputError) as e:
        _load(tmp_path, "gpus:\n  - " + GOOD_GPU % (form, extra) + "\n")
    msg = str(e.value)
    assert "mine.yaml" in msg and "my-card" in msg and field in msg and "\n" not in msg


def test_user_file_defaults_cooling_from_form(tmp_path):
    cat = _load(tmp_path, "gpus:\n  - " + GOOD_GPU % ("oam", "") + "\n")
    assert cat.gpus["my-card"].cooling == "passive" and cat.gpus["my-card"].generation == "hopper"
    assert GPU(**{**cat.gpus["my-card"].as_dict(), "form": "pcie", "cooling": None}).cooling == "active"


def test_rentals_must_name_a_catalogued_gpu(tmp_path):
    with pytest.raises(InputError) as e:
        _load(tmp_path, "rentals:\n  - {gpu: rtx-9090, provider: Acme, usd_per_gpu_hour: 1, as_of: '2026-01-01', "
                        "source: me}\n")
    assert "mine.yaml" in str(e.value) and "rtx-9090" in str(e.value) and "'gpu'" in str(e.value)
    with pytest.raises(InputError) as e:
        _load(tmp_path, "rentals:\n  - {gpu: l4, provider: Acme, usd_per_gpu_hour: 0, as_of: '2026-01-01', "
                        "source: me}\n")
    assert "usd_per_gpu_hour" in str(e.value)


def test_user_rentals_add_and_override(tmp_path):
    cat = _load(tmp_path, "rentals:\n  - {gpu: L4, provider: Acme, usd_per_gpu_hour: 0.01, as_of: '2026-11-01', "
                          "source: me}\n")
    assert cat.cheapest_rental("l4").provider == "Acme"
    assert len(cat.rentals["l4"]) == len(CATALOG.rentals["l4"]) + 1


def test_platform_gpu_list_is_checked(tmp_path):
    plat = ("platforms:\n  - {name: box, forms: [sxm], gpus: [%s], max_gpus: 8, fixed_gpus: %d, slot_width: 8, "
            "psu_w: 12000, base_w: 1000, max_ram_gb: 1024, ram_step_gb: 64, ram_price_per_gb: 10, "
            "network_per_node: 0, price: 1, as_of: '2026-01-01', source: me}\n")
    with pytest.raises(InputError) as e:
        _load(tmp_path, plat % ("h900-sxm", 8))
    assert "box" in str(e.value) and "h900-sxm" in str(e.value)
    with pytest.raises(InputError) as e:
        _load(tmp_path, plat % ("l40s", 8))                  # a PCIe card on an SXM baseboard
    assert "l40s" in str(e.value)
    with pytest.raises(InputError) as e:
        _load(tmp_path, plat % ("h100-sxm", 9))
    assert "fixed_gpus" in str(e.value)


def test_platform_defaults_keep_old_files_loading():
    p = Platform(name="host", forms=["pcie"], max_gpus=2, slot_width=4, psu_w=1000, base_w=100, max_ram_gb=64,
                 ram_step_gb=16, ram_price_per_gb=5, network_per_node=0, price=1)
    assert not p.passive_cooling and p.fixed_gpus is None and p.gpus is None
    assert not p.takes(CATALOG.gpus["l4"]) and p.takes(CATALOG.gpus["rtx-4090"])


def test_catalog_json_lists_rentals_and_keeps_its_keys():
    out = io.StringIO()
    assert main(["catalog", "--json"], out=out) == 0
    d = json.loads(out.getvalue())
    assert {"as_of", "gpus", "platforms", "rates", "rates_as_of", "rentals"} <= set(d)
    assert {"cooling", "fp8", "generation", "market"} <= set(d["gpus"][0])
    assert {"passive_cooling", "fixed_gpus", "gpus", "ram_type", "as_of"} <= set(d["platforms"][0])
    assert {r["gpu"] for r in d["rentals"]} >= set(RENTED)


def test_catalog_table_shows_cooling_and_rentals():
    out = io.StringIO()
    assert main(["catalog"], out=out) == 0
    text = out.getvalue()
    assert "passive" in text and "Cloud rentals" in text and "exactly 8" in text


# ---- throughput-model spec fields --------------------------------------------------------------------------

def test_spec_rates_are_consistent_with_the_bf16_rate():
    for g in CATALOG.gpus.values():
        if g.fp16_tflops is not None:
            # FP16 with FP16 accumulate is the BF16/FP32-accumulate rate (datacentre) or twice it (GeForce class)
            assert g.bf16_tflops * 0.99 <= g.fp16_tflops <= g.bf16_tflops * 2.01, g.name
        if g.fp8_tflops is not None:
            assert g.fp8 and g.fp8_tflops >= g.bf16_tflops * 0.99, g.name
        if g.fp32_tflops is not None:
            assert g.fp32_tflops < g.fp16_tflops if g.fp16_tflops else True, g.name
    for name in ("rtx-3090", "rtx-4090", "rtx-5090", "rtx-5060-ti-16gb"):       # GeForce: FP32 accumulate at half rate
        g = CATALOG.gpus[name]
        assert g.fp16_tflops == pytest.approx(2 * g.bf16_tflops, rel=0.02), name
    for name in ("a100-80gb-sxm", "h100-sxm", "l40s", "rtx-a6000"):
        g = CATALOG.gpus[name]
        assert g.fp16_tflops == pytest.approx(g.bf16_tflops, rel=0.01), name


def test_pcie_links_and_unified_cores():
    assert CATALOG.gpus["rtx-4060-ti-16gb"].pcie == "4.0 x8" and CATALOG.gpus["rtx-5090"].pcie == "5.0 x16"
    assert CATALOG.gpus["intel-arc-pro-b60-24gb"].pcie == "5.0 x8"
    for g in CATALOG.gpus.values():
        if g.vendor == "apple":
            # an Apple GPU core: 128 FP32 ALUs, FP16 at the same rate, at 1.2-1.8 GHz (M1 Max 1.296 GHz,
            # notebookinfo.de; M4 Max 1.678 GHz, hmc-tech.com), so the peak per listed core says the count is right
            assert g.gpu_cores and 128 * 2 * 1.2e-3 <= g.bf16_tflops / g.gpu_cores <= 128 * 2 * 1.8e-3, g.name
        if g.gpu_cores is not None:
            assert g.is_machine, g.name


def test_an_m3_max_has_the_bandwidth_of_its_gpu_variant():
    """The 30-core M3 Max has a 384-bit bus (300 GB/s, 36 GB only), the 40-core a 512-bit one (400 GB/s, 48-128 GB)."""
    m3_max = [g for g in CATALOG.gpus.values() if "m3-max" in g.name]
    assert m3_max
    for g in m3_max:
        assert (g.gpu_cores, g.bandwidth_gbps) in ((30, 300), (40, 400)), g.name
        assert g.gpu_cores == 40 or g.memory_gb == 36, g.name


def test_dgx_spark_bf16_is_the_geforce_class_half_rate():
    spark = CATALOG.gpus["dgx-spark-128gb"]
    assert spark.fp16_tflops == 125 and spark.bf16_tflops == 62.5


@pytest.mark.parametrize("extra, field", [(", pcie: 'gen5'", "pcie"), (", fp16_tflops: -1", "fp16_tflops"),
                                          (", gpu_cores: 0", "gpu_cores"), (", int8_tops: .nan", "int8_tops")])
def test_bad_spec_fields_fail_with_one_line(tmp_path, extra, field):
    with pytest.raises(InputError) as e:
        _load(tmp_path, "gpus:\n  - " + GOOD_GPU % ("pcie", extra) + "\n")
    assert field in str(e.value) and "my-card" in str(e.value) and "\n" not in str(e.value)


# ---- new products and their stacks ---------------------------------------------------------------------------

def test_intel_cards_serve_with_llama_cpp_only():
    from planner.software import family_of, stack_for
    for name in ("intel-arc-pro-b60-24gb", "intel-arc-pro-b70-32gb"):
        g = CATALOG.gpus[name]
        assert g.vendor == "intel" and g.supports == ["inference"] and not g.fp8
    assert family_of("intel").default_engine == "llama.cpp"
    assert stack_for("intel", "inference", None, None, False)[0] == "llama.cpp"
    assert "does not run" in stack_for("intel", "inference", None, "vllm", True)
    assert isinstance(stack_for("intel", "lora", None, None, False), str)


def test_catalog_lists_the_intel_stack_and_cards():
    out = io.StringIO()
    assert main(["catalog"], out=out) == 0
    text = out.getvalue()
    assert "Intel XPU" in text and "intel-arc-pro-b70" in text


# ---- hosted-API prices (catalog/apis.yaml) -------------------------------------------------------------------

def test_api_prices_cover_the_common_open_models_with_three_providers():
    for model in ("llama-3.1-8b", "llama-3.1-70b", "qwen2.5-72b", "deepseek-v3", "qwen3-235b-a22b", "mixtral-8x7b"):
        offers = CATALOG.api_offers(model)
        assert len({a.provider for a in offers}) >= 3, model
    assert CATALOG.api_offers("deepseek-r1") == CATALOG.api_offers("deepseek-v3")      # an alias finds its model
    assert CATALOG.api_offers("70b")[0].output_usd_per_mtok == min(
        a.output_usd_per_mtok for a in CATALOG.api_prices["llama-3.1-70b"])


def test_api_prices_are_dated_sourced_and_positive():
    from planner.data import builtin_registry
    for model, offers in CATALOG.api_prices.items():
        assert model in builtin_registry().models
        for a in offers:
            assert a.model == model and a.provider and a.model_id and a.source
            assert 0 < a.input_usd_per_mtok < 100 and 0 < a.output_usd_per_mtok < 100, a
            assert _is_date(a.as_of) and a.as_of <= TODAY, a


API_ROW = ("api_prices:\n  - {model: %s, provider: Acme, model_id: acme/x, input_usd_per_mtok: %s, "
           "output_usd_per_mtok: 0.2, as_of: '2026-11-01', source: me}\n")


def test_user_api_prices_add_and_override(tmp_path):
    cat = _load(tmp_path, API_ROW % ("llama-3.3-70b", "0.01"))
    assert len(cat.api_prices["llama-3.1-70b"]) == len(CATALOG.api_prices["llama-3.1-70b"]) + 1
    assert cat.api_offers("llama-3.1-70b")[0].provider == "Acme"


@pytest.mark.parametrize("model, price, field", [("llama-9b", "0.1", "model"), ("8b", "0", "input_usd_per_mtok"),
                                                 ("8b", ".inf", "input_usd_per_mtok"), ("8b", "-1", "input_usd_per_mtok")])
def test_bad_api_prices_fail_with_one_line(tmp_path, model, price, field):
    with pytest.raises(InputError) as e:
        _load(tmp_path, API_ROW % (model, price))
    msg = str(e.value)
    assert "mine.yaml" in msg and field in msg and "Acme" in msg and "\n" not in msg


def test_catalog_json_and_table_show_api_prices():
    out = io.StringIO()
    assert main(["catalog", "--json"], out=out) == 0
    d = json.loads(out.getvalue())
    row = d["api_prices"][0]
    assert {"provider", "model", "model_id", "input_usd_per_mtok", "output_usd_per_mtok", "as_of", "source"} <= set(row)
    out = io.StringIO()
    assert main(["catalog"], out=out) == 0
    assert "Hosted APIs" in out.getvalue()
