"""The time model: mechanisms that behave as physics says, and constants that are what the data says."""
import importlib.util
from pathlib import Path

import pytest

from planner.catalog import load_catalog
from planner.data import builtin_registry
from planner.throughput.comm import Link, nvlink_link, pcie_link
from planner.throughput.hardware import card_of
from planner.throughput.training import model_flops_per_token, training_step
from planner.workload import Workload

spec = importlib.util.spec_from_file_location("throughput", Path(__file__).parent.parent / "benchmarks" / "throughput.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
reg = builtin_registry()
cat = load_catalog()
NONE = Link("none", 0.0)


def card(name):
    return card_of(cat.gpus[name])


def tps(model, w, gpu="h100-sxm", n=1, link=NONE, **kw):
    return training_step(reg.models[model], w, card(gpu), n, link, **kw).tokens_per_s


@pytest.mark.parametrize("family", ["eager", "fsdp", "compiled"])
def test_fitted_constants_are_what_the_runs_say(family):
    """presets.FIT is the fit (benchmarks/throughput.py --fit): refitting cannot improve the error on the
    family's runs by more than 3%."""
    from planner.throughput.presets import FIT
    _, best = bench.fit(family, rounds=1, steps=8)
    assert bench.loss(family, FIT) <= best * 1.03 + 1e-4


def test_published_training_runs_within_targets():
    fs = sorted(bench.factor(p, q) for _, cat, p, q in bench.published_rows()
                if cat.split()[0] in ("pretrain", "train-full", "train-lora", "train-qlora"))
    assert len(fs) >= 50
    assert fs[len(fs) // 2] < 1.3 and bench.quantile(fs, 0.9) < 2.0


def test_time_basis_coverage_is_what_the_benchmark_computes():
    import json
    from planner.throughput.basis import COVERAGE_FILE
    committed = json.loads(COVERAGE_FILE.read_text())
    now = bench.coverage(bench.measured_rows(), bench.published_rows())
    assert committed == json.loads(json.dumps(now)), "run python benchmarks/throughput.py --write-coverage"


def test_measured_h100_runs_within_targets():
    fs = [bench.factor(p, q) for _, _, p, q in bench.measured_rows()]
    fs.sort()
    assert fs[len(fs) // 2] < 1.3 and bench.quantile(fs, 0.9) < 2.0


@pytest.mark.parametrize("stack", ["torchtune", "unsloth"])
@pytest.mark.parametrize("method,precision", [("lora", "bf16"), ("qlora", "nf4"), ("full", "bf16")])
def test_a_faster_stack_is_never_slower_than_hf_eager(stack, method, precision):
    base = Workload(method=method, precision=precision, batch_size=2, seq_len=2048, gradient_checkpointing=True)
    hf = tps("llama-3.1-8b", base)
    other = tps("llama-3.1-8b", base.replace(framework=stack))
    assert other >= hf


@pytest.mark.parametrize("method,precision", [("lora", "bf16"), ("qlora", "nf4"), ("full", "bf16-mixed")])
def test_a_bigger_micro_batch_never_lowers_tokens_per_s(method, precision):
    rates = [tps("llama-3.2-3b", Workload(method=method, precision=precision, batch_size=b, seq_len=1024))
             for b in (1, 2, 4, 8, 16)]
    assert rates == sorted(rates)


def test_a_bridged_nvlink_pair_is_never_slower_than_the_same_pair_over_pcie():
    c = card("rtx-3090")
    w = Workload(method="qlora", precision="nf4", batch_size=1, seq_len=2048, framework="fsdp-qlora", gpus=2)
    arch = reg.models["llama-3.1-70b"]
    nv = training_step(arch, w, c, 2, nvlink_link(c, 112.5), zero=3).tokens_per_s
    pc = training_step(arch, w, c, 2, pcie_link(c), zero=3).tokens_per_s
    assert nv >= pc


@pytest.mark.parametrize("zero", [0, 3])
def test_more_gpus_never_lengthen_a_data_parallel_job(zero):
    c = card("h100-sxm")
    link = nvlink_link(c, 900)
    w = Workload(method="full", precision="bf16-mixed", batch_size=2, seq_len=4096)
    rates = [training_step(reg.models["llama-3.1-8b"], w.replace(gpus=n), c, n, link,
                           zero=zero).tokens_per_s for n in (1, 2, 4, 8, 16)]
    assert rates == sorted(rates)


def test_geforce_pcie_without_peer_to_peer_is_slower_than_with_it():
    assert pcie_link(card("rtx-4090")).gbps < pcie_link(card("rtx-6000-ada")).gbps


def test_qlora_with_a_bf16_stream_runs_near_lora_speed_and_hf_upcast_is_slower():
    """Answer.AI's and torchtune's QLoRA runs are within ~10-20% of LoRA; HF's fp32 up-cast is not."""
    lora = Workload(method="lora", precision="bf16", batch_size=4, seq_len=2048, gradient_checkpointing=True,
                    framework="torchtune")
    qlora = lora.replace(method="qlora", precision="nf4")
    assert 0.75 < tps("llama-3.1-8b", qlora) / tps("llama-3.1-8b", lora) <= 1.0
    hf_q = qlora.replace(framework="hf")
    assert tps("llama-3.1-8b", hf_q) < 0.8 * tps("llama-3.1-8b", qlora)


def test_full_training_costs_six_flops_per_parameter_per_token():
    m = reg.models["llama-3.1-8b"]
    assert model_flops_per_token(m, 1) == pytest.approx(6 * m.params, rel=0.01)


def test_a_time_basis_names_the_superseded_runs_it_leaves_out(monkeypatch):
    """coverage.json counts runs of superseded releases apart; the plan's basis sentence says so."""
    from planner.throughput import basis as b
    cov = {"groups": {"decode|vllm|amd-datacentre": {"n": 4, "median": 1.3, "p90": 1.4, "superseded": 6,
                                                     "current_since": "2025-06-10"},
                      "decode|vllm|nvidia-datacentre": {"n": 5, "median": 1.2, "p90": 1.5}},
           "overall": {"n": 9, "median": 1.2, "p90": 1.5}}
    monkeypatch.setattr(b, "coverage", lambda: cov)
    text, f90 = b.basis("decode", "vllm", "amd-datacentre")
    assert text.startswith("calibrated on 4 ") and "6 runs of vllm releases before 2025-06-10" in text and f90 == 1.4
    assert "superseded" not in b.basis("decode", "vllm", "nvidia-datacentre")[0]


LLMC_GPT2 = {"llmc-gpt2-124m-8xa100-10b-tokens", "llmc-gpt2-124m-8xh100-10b-tokens"}


def test_held_out_runs_are_scored_but_not_fitted_on():
    """The llm.c GPT-2 124M runs (GPT-2 built in after the compiled family was fitted) are in the published scores
    and out of the compiled family's fit."""
    from planner.throughput.presets import FIT
    assert LLMC_GPT2 <= {cid for cid, *_ in bench.published_rows()}
    assert not LLMC_GPT2 & {cid for cid, *_ in bench.family_rows("compiled", FIT)}


def test_llm_c_runs_its_fused_kernels_whatever_its_compile_field_says():
    """llm.c has no torch.compile (its cases say compile: false) but hand-fused kernels: the compiled preset's
    fusion, not eager PyTorch's unfused ops."""
    from planner.throughput.cases import case_workload, load_cases
    case = next(c for c in load_cases() if c["id"] in LLMC_GPT2)
    assert case["compile"] is False and case_workload(case).compile is None


def test_a_learned_position_table_adds_no_rotary_work_and_no_matmul():
    from dataclasses import replace
    gpt2 = reg.models["gpt2"]
    rotary = replace(gpt2, learned_positions=False)
    w = Workload(method="pretrain", precision="bf16", batch_size=8, seq_len=1024, framework="torchtune")
    learned, rope = (training_step(m, w, card("h100-sxm"), 1, NONE).parts for m in (gpt2, rotary))
    assert learned["matmul"] == pytest.approx(rope["matmul"])      # wpe is a lookup: no FLOPs
    assert learned["pointwise"] < rope["pointwise"]                 # and q, k are not rotated per layer
