"""The built-in catalogue: what issue 3 asks to be there, dated and sourced."""
from planner.catalog import load_catalog

CATALOG = load_catalog()
REQUIRED = ["rtx-3060-12gb", "rtx-4060-ti-16gb", "rtx-3090", "rtx-4090", "rtx-5090", "rtx-a6000", "rtx-6000-ada",
            "l40s", "a100-40gb-pcie", "a100-40gb-sxm", "a100-80gb-pcie", "a100-80gb-sxm", "h100-pcie", "h100-sxm",
            "h200-sxm", "mac-studio-m2-ultra-64gb", "mac-studio-m2-ultra-128gb", "mac-studio-m2-ultra-192gb",
            "mac-studio-m3-ultra-96gb", "mac-studio-m3-ultra-256gb", "mac-studio-m3-ultra-512gb",
            "macbook-pro-m4-max-128gb"]


def test_required_gpus_are_catalogued():
    assert set(REQUIRED) <= set(CATALOG.gpus)


def test_every_price_is_dated_and_sourced():
    for g in CATALOG.gpus.values():
        assert g.as_of and g.source and g.price > 0, g.name
    for p in CATALOG.platforms.values():
        assert p.source and p.price >= 0, p.name


def test_apple_machines_expose_only_metals_working_set():
    for g in CATALOG.gpus.values():
        if g.form == "unified":
            assert g.usable_fraction == (0.75 if g.memory_gb <= 64 else 0.84), g.name


def test_nvlink_facts():
    assert CATALOG.gpus["rtx-4090"].nvlink is None
    assert CATALOG.gpus["rtx-3090"].nvlink.width == 2
    assert CATALOG.gpus["h100-sxm"].nvlink.width == 8


def test_currencies_include_the_asked_ones():
    assert {"USD", "TWD", "CNY", "EUR", "JPY"} <= set(CATALOG.rates)
    assert CATALOG.rates_as_of
