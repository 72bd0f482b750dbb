"""The inference time model (planner/throughput/inference.py): its invariants, and its constants as the fit over
published cases says (benchmarks/throughput_inference.py)."""
import math
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.catalog import load_catalog
from planner.throughput import engines as presets
from planner.throughput.inference import (Card, CaseError, backend, decode_rate, expected_experts, model_bytes,
                                          predict_case, prefill_seconds)
from planner.workload import Workload

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "validation" / "throughput-inference.json"
sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _wl(engine="vllm", precision="bf16", **kw):
    return Workload(method="inference", engine=engine, precision=precision, **kw)


def test_constants_are_what_the_fit_over_published_cases_says():
    """Each fitted preset constant equals what benchmarks/throughput_inference.py fits today (2%): a changed
    constant, or a data file that moved the fit, fails here until `--write` is rerun."""
    if not CASES.exists():
        pytest.skip("validation/throughput-inference.json not present")
    from throughput_inference import DEFAULT_FILES, fit, load_cases
    fitted = fit(load_cases([f for f in DEFAULT_FILES if f.exists()]))
    assert fitted, "the fit found no groups with enough cases"
    for engine, f in fitted.items():
        p = presets.ENGINES[engine]
        for field in ("decode_bandwidth_efficiency", "step_overhead_s", "prefill_efficiency", "seq_overhead_s"):
            for be, value in f[field].items():
                have = getattr(p, field)[be]
                assert have == pytest.approx(value, rel=0.02, abs=2e-6), (engine, field, be, have, value)
        assert p.fitted == f["fitted"]


def test_every_fitted_group_rests_on_more_than_one_case():
    for name, p in presets.ENGINES.items():
        for what, n in p.fitted.items():
            assert n >= 2, (name, what, n)


def test_decode_grows_with_memory_bandwidth_across_cards(catalog, arch):
    """Batch-1 decode of the same model with the same engine is never slower on a card with more bandwidth
    (within one backend, where the engine's efficiency is the same)."""
    a = arch("llama-3.1-8b")
    for engine, prec in (("vllm", "bf16"), ("llama.cpp", "q4_k_m")):
        w = _wl(engine, prec)
        by_backend: dict[str, list] = {}
        for g in catalog.gpus.values():
            by_backend.setdefault(backend(g), []).append(g)
        for be, cards in by_backend.items():
            rates = sorted((g.bandwidth_gbps, decode_rate(a, w, Card(g), 1, 512).tokens_per_s) for g in cards)
            for (bw1, r1), (bw2, r2) in zip(rates, rates[1:]):
                assert r2 >= r1 * (1 - 1e-9) or bw2 == bw1, (engine, be, bw1, r1, bw2, r2)


def test_moe_decode_scales_with_active_not_total_parameters(catalog, arch):
    """Qwen3-30B-A3B (3B active of 30B) decodes one sequence several times faster than the dense Qwen3-32B
    on the same card, about as the active bytes say; at a large batch it reads (nearly) every expert."""
    g = catalog.gpus["rtx-pro-6000-blackwell"]
    moe, dense = arch("qwen3-30b-a3b"), arch("qwen3-32b")
    for engine, prec in (("vllm", "bf16"), ("llama.cpp", "q4_k_m")):
        w = _wl(engine, prec)
        m, d = decode_rate(moe, w, Card(g), 1, 256), decode_rate(dense, w, Card(g), 1, 256)
        # the weight reads follow the active parameters (~3.3B of 30.5B) ...
        assert m.step.memory_s < d.step.memory_s * 2 * moe.active_params / dense.params
        # ... and so does the speed, less the engine's fixed per-token cost (llama.cpp's, fitted)
        assert m.tokens_per_s > (5 if engine == "vllm" else 2.5) * d.tokens_per_s
    w = _wl("llama.cpp", "q4_k_m")
    mb = model_bytes(moe, w)
    assert expected_experts(mb.experts, mb.experts_per_token, 1) == mb.experts_per_token
    assert expected_experts(mb.experts, mb.experts_per_token, 4096) > 0.99 * mb.experts


@settings(max_examples=40, deadline=None)
@given(e=st.integers(2, 256), k=st.integers(1, 8), t=st.floats(0, 1e5))
def test_expected_experts_grows_with_tokens_and_stays_within_the_experts(e, k, t):
    k = min(k, e)
    n = expected_experts(e, k, t)
    assert 0 <= n <= e
    assert expected_experts(e, k, t + 1) >= n
    if t >= 1:
        assert n >= k - 1e-9


@pytest.mark.parametrize("model,engine,prec,card", [("llama-3.1-8b", "vllm", "bf16", "h100-sxm"),
                                                    ("qwen3-30b-a3b", "vllm", "bf16", "h100-sxm"),
                                                    ("llama-3.1-70b", "llama.cpp", "q4_k_m", "rtx-3090"),
                                                    ("llama-3.1-8b", "mlx", "int4", "mac-studio-m4-max-128gb"),
                                                    ("llama-3.1-8b", "transformers", "bf16", "a100-80gb-sxm")])
def test_a_bigger_batch_never_lowers_total_tokens_per_s(catalog, arch, model, engine, prec, card):
    a, g = arch(model), catalog.gpus[card]
    w = _wl(engine, prec)
    last = 0.0
    for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024):
        r = decode_rate(a, w, Card(g), b, 1500).tokens_per_s
        assert r >= last * (1 - 1e-9), (b, r, last)
        last = r


def test_prefill_is_compute_bound_and_faster_on_more_flops(catalog, arch):
    a = arch("llama-3.1-8b")
    w = _wl("vllm", "bf16")
    t_h100 = prefill_seconds(a, w, Card(catalog.gpus["h100-sxm"]), 4096)
    t_a100 = prefill_seconds(a, w, Card(catalog.gpus["a100-80gb-sxm"]), 4096)
    assert t_h100 < t_a100
    # twice the prompt costs at least twice the time (attention grows with it)
    assert prefill_seconds(a, w, Card(catalog.gpus["h100-sxm"]), 8192) >= 2 * t_h100 * (1 - 1e-9)


def test_tensor_parallel_decode_is_faster_than_one_card_for_a_large_model(catalog, arch):
    a, g = arch("llama-3.1-70b"), catalog.gpus["h100-sxm"]
    w = _wl("vllm", "fp8")
    one = decode_rate(a, w, Card(g, "nvlink", g.nvlink.bandwidth_gbps), 1, 1024, tp=1).itl_s
    four = decode_rate(a, w, Card(g, "nvlink", g.nvlink.bandwidth_gbps), 1, 1024, tp=4).itl_s
    assert four < one / 2


def test_predict_case_answers_in_the_metric_unit_or_says_why_not():
    case = {"id": "x", "stack": "llama.cpp", "gpu": "rtx-4090", "model": "llama-2-7b", "precision": "q4_0",
            "batch_size": 1, "seq_len": 1, "new_tokens": 128, "metric": "decode_tokens_per_s", "value": 150}
    v = predict_case(case)
    assert 50 < v < 400 and math.isfinite(v)
    with pytest.raises(CaseError):
        predict_case(dict(case, gpu="no-such-card"))
    with pytest.raises(CaseError):
        predict_case(dict(case, model="org/not-a-builtin-model"))
    with pytest.raises(CaseError):
        predict_case(dict(case, metric="mfu"))


def test_llama_cpp_float_weights_multiply_in_cublas_at_cublas_efficiency_not_mmq():
    """ggml-cuda sends F16/BF16/F32 weights to cuBLAS GEMMs (no MMQ kernel for float types): their share of the
    peak is the cuBLAS share measured under PyTorch, while quantised GGUF types keep llama.cpp's fitted MMQ share;
    Metal keeps its own."""
    from planner.throughput.inference import matmul_efficiency, preset
    cublas = preset("transformers").prefill("cuda")
    for precision in ("fp16", "bf16", "fp32"):
        assert matmul_efficiency("llama.cpp", precision, "cuda") == cublas
    assert matmul_efficiency("llama.cpp", "q4_0", "cuda") == preset("llama.cpp").prefill("cuda") != cublas
    assert matmul_efficiency("llama.cpp", "fp16", "metal") == preset("llama.cpp").prefill("metal")
    assert matmul_efficiency("vllm", "bf16", "cuda") == preset("vllm").prefill("cuda")


def test_software_older_than_the_current_generation_is_superseded_and_an_unknown_date_is_not():
    from planner.throughput.engines import CURRENT_SOFTWARE_SINCE, superseded_since
    since = CURRENT_SOFTWARE_SINCE[("vllm", "rocm")]
    assert superseded_since("vllm", "rocm", "2024-10-10") == since
    assert superseded_since("vllm", "rocm", since) == ""
    assert superseded_since("vllm", "rocm", "2025-10-06") == ""
    assert superseded_since("vllm", "rocm", None) == ""
    assert superseded_since("vllm", "cuda", "2024-10-10") == ""        # no cutoff stated for CUDA
    assert superseded_since("llama.cpp", "rocm", "2024-10-10") == ""


def test_every_published_vllm_run_on_rocm_states_its_software_date():
    """The rule can only place a run whose record says when its software is from (validation/README.md)."""
    import json
    from planner.throughput.inference import _catalog
    cases = [c for c in json.loads(CASES.read_text())["cases"] if c.get("stack") == "vllm" and
             (g := _catalog().gpus.get(str(c.get("gpu") or ""))) is not None and backend(g) == "rocm"]
    assert len(cases) >= 4
    for c in cases:
        assert c.get("software_date") and c.get("software_quote"), c["id"]


def test_a_superseded_run_moves_no_fitted_constant_and_a_current_one_does():
    """Runs of superseded releases are scored, not fitted: scaling their published figures tenfold leaves the fit
    as it is, while scaling a current run's figure moves the constant it feeds."""
    from planner.throughput.inference import case_superseded
    from throughput_inference import DEFAULT_FILES, fit, load_cases
    cases = load_cases([f for f in DEFAULT_FILES if f.exists()])
    old = [c for c in cases if case_superseded(c)]
    assert old, "no superseded cases in validation/ to check the rule on"
    base = fit(cases)
    scaled_old = fit([dict(c, value=float(c["value"]) * 10) if case_superseded(c) else c for c in cases])
    assert scaled_old == base
    current = next(c for c in cases if c["id"] == "vllm-amd-mi300x8-l405-fp8-128-2048")
    moved = fit([dict(c, value=float(c["value"]) * 10) if c is current else c for c in cases])
    assert moved["vllm"]["prefill_efficiency"]["rocm"] != base["vllm"]["prefill_efficiency"]["rocm"]


def test_tensorrt_llm_is_fitted_on_its_own_runs_and_its_fp4_runs_stay_held_out():
    """TensorRT-LLM has a preset of its own, fitted on its published batched runs (never one), and scaling its
    NVFP4 runs (held out like every FP4 case) moves nothing while scaling a fitted FP8 run moves its compute share."""
    from throughput_inference import DEFAULT_FILES, MIN_CASES, fit, load_cases
    cases = load_cases([f for f in DEFAULT_FILES if f.exists()])
    base = fit(cases)
    assert base["tensorrt-llm"]["fitted"]["batched_compute_cuda"] >= MIN_CASES
    assert presets.ENGINES["tensorrt-llm"].fitted == base["tensorrt-llm"]["fitted"]
    fp4 = [c for c in cases if c.get("stack") == "tensorrt-llm" and c.get("precision") == "nvfp4"]
    assert fp4
    assert fit([dict(c, value=float(c["value"]) * 10) if c in fp4 else c for c in cases]) == base
    fp8 = [c for c in cases if c.get("stack") == "tensorrt-llm" and c.get("precision") == "fp8" and
           c["metric"] == "output_tokens_per_s"]
    moved = fit([dict(c, value=float(c["value"]) * 1.3) if c in fp8 else c for c in cases])
    assert moved["tensorrt-llm"]["prefill_efficiency"]["cuda"] > base["tensorrt-llm"]["prefill_efficiency"]["cuda"]


def test_data_parallel_copies_share_the_request_rate_and_add_their_throughput():
    """8 cards running TP2 engines (NVIDIA's MLPerf v4.1 DGX H100 layout) are four replicas: at four times the
    request rate they serve four times one TP2 replica's tokens/s, at that replica's per-request latencies."""
    base = {"id": "dp", "stack": "tensorrt-llm", "gpu": "h100-sxm", "interconnect": "nvlink", "model": "llama-2-70b",
            "method": "inference", "precision": "fp8", "seq_len": 222, "new_tokens": 294, "tensor_parallel": 2,
            "gpus": 2, "rate_rps": 10.0}
    four = dict(base, gpus=8, rate_rps=40.0)
    for metric in ("output_tokens_per_s", "requests_per_s"):
        assert predict_case(dict(four, metric=metric)) == pytest.approx(4 * predict_case(dict(base, metric=metric)))
    for metric in ("ttft_s", "itl_s"):
        assert predict_case(dict(four, metric=metric)) == pytest.approx(predict_case(dict(base, metric=metric)))


def test_mlperf_cases_carry_their_dataset_lengths_and_are_scored_but_not_fitted():
    """The MLPerf v4.1 Llama 2 70B / Mixtral cases state the dataset's mean lengths (with their source), so every
    mean figure among them is scored; all are held out of the fit."""
    import json
    from throughput_inference import _fitted_on, factors
    cases = [c for f in (CASES, ROOT / "validation" / "serving-cases.json")
             for c in json.loads(f.read_text())["cases"] if c["id"].startswith("mlperf41-")]
    assert len(cases) == 14
    assert all(c["seq_len"] and c["new_tokens"] and c["length_source"] and c["held_out"] for c in cases)
    assert not any(_fitted_on(c) for c in cases)
    rows, skipped = factors(cases)
    assert len(rows) == 11 and all(why.startswith("p99") for _, why in skipped)
