"""Every published throughput / time case (validation/throughput-*.json) is complete enough to be modelled.

Schema: validation/README.md, 'Published throughput and time figures'."""
import json
from pathlib import Path

import pytest

from planner.catalog import load_catalog

FILES = sorted((Path(__file__).resolve().parent.parent / "validation").glob("throughput-*.json"))
CASES = [(f.name, c) for f in FILES for c in json.loads(f.read_text())["cases"]]
CATEGORIES = {"train-full", "train-lora", "train-qlora", "pretrain", "prefill", "decode", "serving"}
METRICS = {"tokens_per_s_per_gpu", "tokens_per_s", "step_time_s", "time_to_train_s", "mfu", "prefill_tokens_per_s",
           "decode_tokens_per_s", "decode_tokens_per_s_total", "ttft_s", "itl_s", "requests_per_s",
           "output_tokens_per_s"}
METHODS = {"pretrain", "full", "lora", "qlora", "inference"}
TRAINING_METHOD = {"pretrain": {"pretrain"}, "train-full": {"full"}, "train-lora": {"lora"}, "train-qlora": {"qlora"}}


def test_there_are_throughput_files_with_cases():
    assert FILES and len(CASES) >= 50


def test_ids_are_unique_across_all_files():
    ids = [c["id"] for _, c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("name,case", CASES, ids=[c["id"] for _, c in CASES])
def test_case_has_the_required_fields(name, case):
    assert case["source"] and case["quote"], "source and verbatim quote are required"
    assert case["category"] in CATEGORIES
    assert case["metric"] in METRICS
    assert case["method"] in METHODS
    assert case["category"] not in TRAINING_METHOD or case["method"] in TRAINING_METHOD[case["category"]]
    assert isinstance(case["value"], (int, float)) and case["value"] > 0
    assert isinstance(case["gpus"], int) and case["gpus"] >= 1
    assert case["model"]
    if case["metric"] == "time_to_train_s":
        assert case.get("tokens") is None or case["tokens"] > 0


@pytest.mark.parametrize("name,case", CASES, ids=[c["id"] for _, c in CASES])
def test_names_are_catalogue_and_builtin_names_or_hub_ids(name, case, registry):
    gpus = {n.lower() for n in load_catalog().gpus}
    assert case["gpu"] is None or case["gpu"].lower() in gpus, f"gpu {case['gpu']!r} is not a catalogue name"
    if "/" not in case["model"]:
        registry.resolve(case["model"])     # raises on an unknown built-in name
