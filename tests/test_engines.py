"""Serving engines and weight formats, specified by their mechanisms and checked against published figures."""
import json
from pathlib import Path

import pytest

from planner.cli import _workload, build_parser
from planner.data import builtin_registry
from planner.errors import InputError
from planner.estimator import estimate
from planner.estimator.gguf import bits_per_weight, gguf_model, tensor_type
from planner.estimator.kv_cache import kv_dtype
from planner.estimator.weights import serving_weight_bytes
from planner.workload import Workload

reg = builtin_registry()
GiB = 1 << 30
MiB = 1 << 20
CASES = json.loads((Path(__file__).resolve().parent.parent / "validation" / "engine-cases.json").read_text())["cases"]


def est(model, **kw):
    return estimate(reg.models[model], Workload(**kw))


# ---------------------------------------------------------------------------------------------------
# Weight formats: bits per weight from the block structures

@pytest.mark.parametrize("ggml_type, bits", [
    ("q8_0", 8.5), ("q4_0", 4.5), ("q5_0", 5.5), ("q2_k", 2.625), ("q3_k", 3.4375), ("q4_k", 4.5), ("q5_k", 5.5),
    ("q6_k", 6.5625), ("iq4_xs", 4.25), ("iq3_xxs", 3.0625), ("iq2_xxs", 2.0625), ("f16", 16), ("f32", 32)])
def test_ggml_block_sizes_give_the_published_bits_per_weight(ggml_type, bits):
    assert bits_per_weight(ggml_type) == bits


def test_q4_k_m_is_a_mix_q6_k_on_half_of_attn_v_and_ffn_down_and_on_the_output():
    arch = reg.models["llama-3.1-8b"]
    m = gguf_model(arch, "q4_k_m")
    assert m.types == {"q4_k": 193, "q6_k": 33, "f32": 65}      # llama_model_loader's count for Llama-3-8B Q4_K_M
    assert tensor_type("q4_k_m", arch, "output") == "q6_k"
    assert tensor_type("q4_k_m", arch, "token_embd") == "q4_k"
    upgraded = [i for i in range(32) if tensor_type("q4_k_m", arch, "ffn_down", i) == "q6_k"]
    assert len(upgraded) == 16 and upgraded[:4] == [0, 1, 2, 3] and upgraded[-4:] == [28, 29, 30, 31]


def test_q4_k_m_8b_weights_within_2_percent_of_the_published_file():
    # bartowski/Meta-Llama-3.1-8B-Instruct-GGUF: Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf is 4.92 GB
    b, _ = serving_weight_bytes(reg.models["llama-3.1-8b"], "q4_k_m", "llama.cpp")
    assert abs(b / 4.92e9 - 1) < 0.02


def test_every_gguf_type_orders_by_size():
    arch = reg.models["llama-3.1-8b"]
    order = ["iq2_xxs", "q2_k", "iq3_xxs", "q3_k_s", "q3_k_m", "iq4_xs", "q4_0", "q4_k_s", "q4_k_m", "q5_0", "q5_k_s",
             "q5_k_m", "q6_k", "q8_0"]
    sizes = [serving_weight_bytes(arch, t, "llama.cpp")[0] for t in order]
    assert sizes == sorted(sizes)


def test_awq_and_gptq_are_about_4_16_bits_on_linears_with_16_bit_embeddings():
    arch = reg.models["llama-3.1-8b"]
    linear = sum(i * o * c for n, i, o, c in arch.linear_layers() if n != "router")
    for fmt in ("awq", "gptq"):
        b, _ = serving_weight_bytes(arch, fmt, "vllm")
        linear_bits = (b - 2 * (arch.params - linear)) * 8 / linear
        assert 4.15 < linear_bits < 4.17


def test_fp8_is_one_byte_per_linear_weight_plus_scales_and_deepseek_uses_block_scales():
    arch = reg.models["llama-3.1-8b"]
    linear = sum(i * o * c for n, i, o, c in arch.linear_layers() if n != "router")
    b, _ = serving_weight_bytes(arch, "fp8", "vllm")
    assert 1.0 < (b - 2 * (arch.params - linear)) / linear < 1.001
    _, how = serving_weight_bytes(reg.models["deepseek-v3"], "fp8", "vllm")
    assert "128x128 block" in how


def test_mlx_4_bit_8b_weights_are_4_5_bits_per_weight():
    arch = reg.models["llama-3.1-8b"]
    b4, _ = serving_weight_bytes(arch, "int4", "mlx")
    b8, _ = serving_weight_bytes(arch, "int8", "mlx")
    assert 4.49 < b4 * 8 / arch.params < 4.51
    assert 8.49 < b8 * 8 / arch.params < 8.51


# ---------------------------------------------------------------------------------------------------
# KV cache dtypes

def test_kv_cache_dtypes_scale_the_cache():
    arch = "llama-3.1-8b"
    f16 = est(arch, engine="llama.cpp", precision="q4_k_m", seq_len=8192, new_tokens=0).breakdown["kv_cache"]
    q8 = est(arch, engine="llama.cpp", precision="q4_k_m", seq_len=8192, new_tokens=0,
             kv_cache_dtype="q8_0").breakdown["kv_cache"]
    q4 = est(arch, engine="llama.cpp", precision="q4_k_m", seq_len=8192, new_tokens=0,
             kv_cache_dtype="q4_0").breakdown["kv_cache"]
    assert q8 / f16 == pytest.approx(34 / 64) and q4 / f16 == pytest.approx(18 / 64)
    bf16 = est(arch, engine="vllm", seq_len=4096).breakdown["kv_cache"]
    fp8 = est(arch, engine="vllm", seq_len=4096, kv_cache_dtype="fp8").breakdown["kv_cache"]
    assert fp8 / bf16 == pytest.approx(0.5)


def test_an_engine_refuses_a_cache_dtype_it_does_not_have():
    with pytest.raises(InputError):
        kv_dtype("vllm", "q4_0")
    with pytest.raises(InputError):
        kv_dtype("llama.cpp", "fp8")


def test_vllm_caches_the_mla_latent_on_every_tensor_parallel_rank():
    one = est("deepseek-v3", engine="vllm", precision="fp8", seq_len=4096, gpus=1).breakdown["kv_cache"]
    eight = est("deepseek-v3", engine="vllm", precision="fp8", seq_len=4096, gpus=8).breakdown["kv_cache"]
    arch = reg.models["deepseek-v3"]
    assert one == (4096 + 256) * arch.num_layers * (arch.kv_lora_rank + arch.qk_rope_head_dim) * 2
    assert eight == one                           # the latent has no head dimension to split


# ---------------------------------------------------------------------------------------------------
# vLLM

def test_vllm_tensor_parallel_halves_weights_and_adds_nccl_buffers_per_card():
    one = est("llama-3.1-8b", engine="vllm", seq_len=4096)
    two = est("llama-3.1-8b", engine="vllm", seq_len=4096, gpus=2)
    assert two.breakdown["weights"] == one.breakdown["weights"] // 2
    assert one.breakdown["nccl"] == 0 and two.breakdown["nccl"] > 1 * GiB


def test_vllm_needs_the_card_beyond_gpu_memory_utilization():
    a = est("llama-3.1-8b", engine="vllm", seq_len=4096, gpu_memory_utilization=0.9)
    b = est("llama-3.1-8b", engine="vllm", seq_len=4096, gpu_memory_utilization=0.5)
    assert a.total_bytes == pytest.approx((a.reserved_bytes + a.cuda_context_bytes) / 0.9, abs=2)
    assert b.total_bytes > a.total_bytes


def test_serving_formats_need_a_serving_engine():
    with pytest.raises(InputError):
        est("llama-3.1-8b", precision="q4_k_m")
    with pytest.raises(InputError):
        est("llama-3.1-8b", engine="llama.cpp", precision="awq")


# ---------------------------------------------------------------------------------------------------
# llama.cpp

def test_llamacpp_partial_offload_moves_layers_to_host_ram_and_is_monotonic():
    kw = dict(engine="llama.cpp", precision="q4_k_m", seq_len=8192, new_tokens=0)
    prev_gpu, prev_host = -1, None
    for ngl in (0, 1, 8, 16, 24, 32, 33):
        e = est("llama-3.1-8b", gpu_layers=ngl, **kw)
        assert e.total_bytes >= prev_gpu
        if prev_host is not None:
            assert e.cpu_ram_bytes <= prev_host
        prev_gpu, prev_host = e.total_bytes, e.cpu_ram_bytes
    full = est("llama-3.1-8b", **kw)
    half = est("llama-3.1-8b", gpu_layers=17, **kw)
    assert half.breakdown["weights"] < 0.6 * full.breakdown["weights"]
    assert half.cpu_ram_bytes - full.cpu_ram_bytes > 1.5 * GiB      # the other 16 layers (and their KV) in host RAM
    assert full.total_bytes == est("llama-3.1-8b", gpu_layers=33, **kw).total_bytes


def test_llamacpp_flash_attention_shrinks_the_compute_buffer_at_long_context():
    kw = dict(engine="llama.cpp", precision="q4_k_m", seq_len=32768, new_tokens=0)
    off = est("llama-3.1-8b", attention="eager", **kw).breakdown["compute_buffer"]
    on = est("llama-3.1-8b", **kw).breakdown["compute_buffer"]
    assert off > 2 * GiB and on < 0.6 * GiB


# ---------------------------------------------------------------------------------------------------
# MLX

def test_mlx_has_no_cuda_context_and_grows_the_cache_in_256_token_steps():
    a = est("llama-3.1-8b", engine="mlx", precision="int4", seq_len=1000, new_tokens=0)
    b = est("llama-3.1-8b", engine="mlx", precision="int4", seq_len=1024, new_tokens=0)
    assert a.cuda_context_bytes == 0 and a.breakdown["kv_cache"] == b.breakdown["kv_cache"]


def test_mlx_lora_trains_fp32_adapters_on_the_last_16_layers():
    e = est("llama-3.2-3b", method="lora", framework="mlx-lm", precision="bf16", lora_rank=8,
            lora_targets="q_proj,v_proj", batch_size=4, seq_len=256)
    assert e.trainable_params == 1_310_720                     # mlx_lm.lora prints 1.311M for Llama-3.2-3B
    assert e.breakdown["optimizer_states"] == 8 * e.trainable_params
    gc = est("llama-3.2-3b", method="lora", framework="mlx-lm", precision="bf16", batch_size=4, seq_len=2048,
             gradient_checkpointing=True)
    no = est("llama-3.2-3b", method="lora", framework="mlx-lm", precision="bf16", batch_size=4, seq_len=2048,
             gradient_checkpointing=False)
    assert gc.peak_allocated_bytes < no.peak_allocated_bytes


# ---------------------------------------------------------------------------------------------------
# transformers generate(): eager attention

def test_eager_attention_holds_two_16_bit_copies_and_an_fp32_copy_of_the_scores():
    kw = dict(batch_size=8, seq_len=4096, new_tokens=16)
    sdpa = est("llama-3.2-1b", **kw).peak_allocated_bytes
    eager = est("llama-3.2-1b", attention="eager", **kw).peak_allocated_bytes
    arch = reg.models["llama-3.2-1b"]
    scores = 8 * arch.num_heads * 4096 * 4096 * (2 + 2 + 4)
    mask = 8 * 4096 * 4096 * 2                    # the additive bf16 (b, 1, s, s) mask
    assert eager > scores + mask + sdpa // 2


def test_flash_attention_2_needs_no_sliding_window_mask():
    kw = dict(batch_size=2, seq_len=8192, new_tokens=16)
    assert est("gemma-2-2b", attention="flash", **kw).peak_allocated_bytes < est("gemma-2-2b", **kw).peak_allocated_bytes


# ---------------------------------------------------------------------------------------------------
# Published engine figures (validation/engine-cases.json)

def _predicted(case) -> float:
    a = build_parser().parse_args(["estimate", *case["cli_today"]])
    arch = reg.resolve(a.model)[0]
    wl = _workload(a)
    e = estimate(arch, wl)
    b = e.breakdown
    kind = case["compare"]
    if kind == "vllm_profile":
        v = e.reserved_bytes + e.cuda_context_bytes - b["kv_cache"] - b["cuda_graphs"]
    elif kind == "llamacpp_gpu_buffers":
        v = b["weights"] + b["kv_cache"] + b["compute_buffer"]
    elif kind in ("weights", "compute_buffer"):
        v = b[kind]
    elif kind == "weights_file":
        v = serving_weight_bytes(arch, wl.precision, wl.engine)[0]
    elif kind == "peak_allocated":
        v = e.peak_allocated_bytes
    else:
        raise AssertionError(kind)
    return v / GiB


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_published_engine_case_within_its_tolerance(case):
    for field in ("id", "source", "quote", "model", "engine", "precision", "gpus", "batch_size", "seq_len", "new_tokens",
                  "kv_cache_dtype", "published_gb", "published_kind", "compare", "cli_today", "notes", "tolerance"):
        assert field in case, field
    pred = _predicted(case)
    err = pred / case["published_gb"] - 1
    assert abs(err) <= case["tolerance"], f"{case['id']}: predicted {pred:.3f} GiB vs {case['published_gb']} ({err:+.1%})"


# ---------------------------------------------------------------------------------------------------
# Exact stored bytes (Architecture.stored_weight_bytes / stored_format, read from file headers)

def _stored(model: str, nbytes: int, fmt: str):
    from dataclasses import replace
    return replace(reg.models[model], stored_weight_bytes=nbytes, stored_format=fmt)


def test_exact_stored_bytes_are_used_for_the_stored_format_or_the_default_precision():
    gguf = _stored("llama-3.1-8b", 4_920_000_000, "q4_k_m")
    e = estimate(gguf, Workload(engine="llama.cpp", seq_len=512, new_tokens=0))        # precision left at default
    assert "Q4_K_M" in e.assumptions[0] and "exact" in e.assumptions[0]
    host = e.cpu_ram_bytes - 0.5 * GiB - 512 * 4096 * 4 * 3
    assert e.breakdown["weights"] + host == pytest.approx(4.92e9, rel=1e-3)
    fp8 = _stored("llama-3.1-8b", 9_080_000_000, "fp8")
    assert estimate(fp8, Workload(engine="vllm")).breakdown["weights"] == 9_080_000_000
    # another precision than the stored one: modelled, not the file's bytes
    assert estimate(fp8, Workload(engine="vllm", precision="awq")).breakdown["weights"] < 6 * GiB


@pytest.mark.parametrize("model", ["llama-3.1-8b", "gemma-2-9b", "qwen3-30b-a3b", "deepseek-v3"])
@pytest.mark.parametrize("kw", [dict(engine="vllm"), dict(engine="vllm", precision="fp8", gpus=4),
                                dict(engine="llama.cpp", precision="q4_k_m"),
                                dict(engine="llama.cpp", precision="q8_0", gpu_layers=10, kv_cache_dtype="q8_0"),
                                dict(engine="mlx", precision="int4")], ids=str)
def test_more_sequences_or_longer_context_never_need_less(model, kw):
    base = est(model, batch_size=2, seq_len=2048, **kw).total_bytes
    assert est(model, batch_size=4, seq_len=2048, **kw).total_bytes >= base
    assert est(model, batch_size=2, seq_len=8192, **kw).total_bytes >= base


# ---------------------------------------------------------------------------------------------------
# Issue 18: pipeline stages, SGLang's static pool, CPU-resident experts, speculative decoding

def test_vllm_pipeline_stages_follow_get_pp_indices():
    from planner.estimator.engines import stage_layers
    assert stage_layers(80, 4) == [20, 20, 20, 20]
    assert stage_layers(30, 4) == [7, 8, 8, 7]            # the remainder goes to the stages before the last
    assert sum(stage_layers(61, 8)) == 61


def test_vllm_pipeline_stage_holds_a_share_of_the_layers_and_one_vocabulary_table():
    arch = reg.models["llama-3.1-70b"]
    one = est("llama-3.1-70b", engine="vllm", seq_len=2048, new_tokens=0)
    pp4 = est("llama-3.1-70b", engine="vllm", gpus=4, pipeline_parallel=4, seq_len=2048, new_tokens=0)
    table = arch.vocab_size * arch.hidden_size * 2
    body = one.breakdown["weights"] - 2 * table
    assert pp4.breakdown["weights"] == pytest.approx(body / 4 + table, rel=0.01)


def test_sglang_needs_the_static_pool_within_mem_fraction_static():
    kw = dict(engine="sglang", seq_len=8192, new_tokens=0)
    e = est("llama-3.1-8b", **kw)
    static = e.breakdown["weights"] + e.breakdown["kv_cache"] + e.cuda_context_bytes
    assert e.total_bytes >= static / 0.88
    tight = est("llama-3.1-8b", mem_fraction_static=0.5, **kw)
    assert tight.total_bytes > e.total_bytes


def test_sglang_memory_grows_with_the_tokens_served():
    assert est("llama-3.1-8b", engine="sglang", batch_size=8, seq_len=4096).total_bytes > \
        est("llama-3.1-8b", engine="sglang", batch_size=4, seq_len=4096).total_bytes


def test_cpu_moe_layers_move_expert_bytes_to_host_ram():
    kw = dict(engine="llama.cpp", precision="q4_k_m", seq_len=4096, new_tokens=0)
    gpu = [est("qwen3-30b-a3b", cpu_moe_layers=n, **kw) for n in (0, 16, 48)]
    w = [e.breakdown["weights"] for e in gpu]
    assert w[0] > w[1] > w[2] > 0
    assert gpu[2].cpu_ram_bytes > gpu[0].cpu_ram_bytes
    assert (w[0] - w[2]) == pytest.approx(gpu[2].cpu_ram_bytes - gpu[0].cpu_ram_bytes, rel=0.01)


def test_cpu_moe_needs_llama_cpp():
    with pytest.raises(ValueError, match="n-cpu-moe"):
        Workload(engine="vllm", cpu_moe_layers=4)


def test_speculative_decoding_adds_the_draft_weights_and_kv():
    kw = dict(engine="vllm", gpus=2, seq_len=4096, new_tokens=256)
    plain = est("llama-3.1-70b", **kw)
    draft = est("llama-3.1-70b", speculative="llama-3.2-1b", **kw)
    d = reg.models["llama-3.2-1b"]
    assert draft.breakdown["weights"] - plain.breakdown["weights"] == d.params * 2
    assert draft.breakdown["kv_cache"] > plain.breakdown["kv_cache"]
    with pytest.raises(InputError, match="multi-token-prediction"):
        est("llama-3.1-70b", speculative="mtp", **kw)


def test_mtp_adds_one_decoder_layer_with_deepseeks_own_embedding_and_head():
    kw = dict(engine="vllm", precision="fp8", gpus=8, seq_len=4096, new_tokens=256)
    arch = reg.models["deepseek-v3"]
    plain, mtp = est("deepseek-v3", **kw), est("deepseek-v3", speculative="mtp", **kw)
    added = (mtp.breakdown["weights"] - plain.breakdown["weights"]) * 8
    # DeepSeek-V3: 671B main model + 14B MTP module (the paper); stored at fp8, about a byte per parameter
    assert 11e9 < added < 15e9
    assert mtp.breakdown["kv_cache"] > plain.breakdown["kv_cache"]
    assert arch.mtp_layers == 1


def test_hybrid_linear_attention_layers_keep_a_state_not_a_kv_cache():
    arch = reg.models["qwen3-next-80b-a3b"]
    assert (arch.linear_attn_layers, arch.full_attention_layers) == (36, 12)
    assert 79e9 < arch.params < 81e9                 # "80B in total" (Qwen3-Next-80B-A3B model card)
    for engine in ("vllm", "sglang", "transformers"):
        short = est("qwen3-next-80b-a3b", engine=engine, seq_len=1024, new_tokens=0).breakdown["kv_cache"]
        long = est("qwen3-next-80b-a3b", engine=engine, seq_len=33792, new_tokens=0).breakdown["kv_cache"]
        # only the 12 full-attention layers grow with the context: 2 kv heads x 256 x 2 (K, V) x 2 bytes each
        assert long - short == pytest.approx(12 * 2 * 512 * 2 * 32768, rel=0.02), engine
        assert short > 12 * 2 * 512 * 2 * 1024       # + the per-sequence recurrent state


def test_unknown_draft_model_is_an_input_error():
    with pytest.raises(InputError, match="speculative"):
        est("llama-3.1-8b", engine="vllm", speculative="no-such-model-xyz")


def test_new_flags_go_through_the_cli_parser():
    a = build_parser().parse_args(["estimate", "--model", "8b", "--engine", "sglang", "--mem-fraction-static", "0.8",
                                   "--pipeline-parallel", "2", "--gpus", "2", "--speculative", "mtp"])
    w = _workload(a)
    assert (w.engine, w.mem_fraction_static, w.pipeline_parallel, w.speculative) == ("sglang", 0.8, 2, "mtp")


# ---------------------------------------------------------------------------------------------------
# TensorRT-LLM: the KV cache takes free_gpu_memory_fraction of the memory FREE after the engine loads

def test_tensorrt_llm_kv_cache_takes_its_fraction_of_the_free_memory_not_of_the_card():
    """KvCacheConfig.free_gpu_memory_fraction 0.9 of what is free after weights and buffers: the card must hold
    everything loaded before the pool plus kv / 0.9, so the headroom is a tenth of the cache's share, whatever the
    weights weigh (vLLM's 10% is of the whole card, weights included)."""
    from planner.estimator.engines import TRTLLM_KV_FREE_FRACTION
    assert TRTLLM_KV_FREE_FRACTION == 0.9
    for model in ("llama-3.1-8b", "llama-3.1-70b"):
        e = est(model, engine="tensorrt-llm", batch_size=8, seq_len=4096, new_tokens=512, gpus=1)
        kv = e.breakdown["kv_cache"]
        loaded = e.total_bytes - e.breakdown["free_memory_headroom"] - kv
        assert e.breakdown["free_memory_headroom"] == pytest.approx(kv / 0.9 - kv, abs=2)
        assert e.total_bytes == pytest.approx(loaded + kv / 0.9, abs=2)
        v = est(model, engine="vllm", batch_size=8, seq_len=4096, new_tokens=512, gpus=1)
        assert v.breakdown["utilization_headroom"] == pytest.approx(0.1 * v.total_bytes, rel=0.01)
        assert e.breakdown["free_memory_headroom"] < v.breakdown["utilization_headroom"]


def test_tensorrt_llm_headroom_grows_with_the_cache_and_not_with_the_weights():
    small = est("llama-3.1-8b", engine="tensorrt-llm", batch_size=1, seq_len=1024, new_tokens=0)
    big = est("llama-3.1-8b", engine="tensorrt-llm", batch_size=32, seq_len=1024, new_tokens=0)
    grown = big.breakdown["kv_cache"] - small.breakdown["kv_cache"]
    assert big.total_bytes - small.total_bytes >= grown / 0.9
    fp8 = est("llama-3.1-8b", engine="tensorrt-llm", precision="fp8", batch_size=1, seq_len=1024, new_tokens=0)
    assert fp8.breakdown["free_memory_headroom"] == small.breakdown["free_memory_headroom"]   # same cache


def test_tensorrt_llm_runs_on_nvidia_ampere_and_newer_only():
    from planner.software import card_refuses, stack_for
    for vendor, label in (("amd", "ROCm"), ("apple", "Metal"), ("intel", "Intel XPU")):
        assert stack_for(vendor, "inference", None, "tensorrt-llm", True) == f"TensorRT-LLM does not run on {label}"
    assert "does not support volta" in stack_for("nvidia", "inference", None, "tensorrt-llm", True, "volta")
    for gen in ("ampere", "ada", "hopper", "blackwell", "grace-blackwell"):
        assert not card_refuses("tensorrt-llm", "nvidia", gen)
        assert stack_for("nvidia", "inference", None, "tensorrt-llm", True, gen) == \
            ("tensorrt-llm", "TensorRT-LLM (CUDA)")
