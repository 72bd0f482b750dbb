"""4-bit floating-point weight formats (MXFP4, NVFP4) and the gpt-oss models, specified by their mechanisms."""
import pytest

from planner.catalog import load_catalog
from planner.data import builtin_registry
from planner.errors import InputError
from planner.estimator import estimate, fp4_card_refusal
from planner.estimator.gguf import bits_per_weight, gguf_model
from planner.estimator.weights import (fp4_bits_per_weight, fp4_linear_bytes, fp4_quantised_linears,
                                       serving_weight_bytes)
from planner.sources import GGML_TYPES
from planner.throughput.inference import Card, matmul_peak_tflops, model_bytes, prefill_seconds
from planner.workload import SERVING_FORMATS, Workload

reg = builtin_registry()
cat = load_catalog()
GiB = 1 << 30


def wl(**kw):
    return Workload(method="inference", **kw)


# ---------------------------------------------------------------------------------------------------
# Bits per weight

def test_mxfp4_is_e2m1_with_one_e8m0_scale_per_32_values():
    # OCP Microscaling Formats v1.0: 32 x 4 bits + one 8-bit shared exponent = 136 bits per 32 values
    assert fp4_bits_per_weight("mxfp4") == 4.25
    assert fp4_linear_bytes(32, "mxfp4") == 17
    assert bits_per_weight("mxfp4") == 4.25                      # ggml block_mxfp4: 17 bytes per 32


def test_nvfp4_is_e2m1_with_one_fp8_scale_per_16_values_and_per_tensor_fp32_scales():
    # ModelOpt NVFP4: weight (uint8, 2 per byte) + weight_scale (E4M3 per 16) + weight_scale_2 and input_scale (fp32)
    assert fp4_bits_per_weight("nvfp4") == 4.5
    assert fp4_linear_bytes(4096 * 4096, "nvfp4") == 4096 * 4096 * 9 // 16 + 8
    assert bits_per_weight("nvfp4") == 4.5                       # ggml block_nvfp4: 36 bytes per 64


def test_the_ggml_blocks_agree_with_the_gguf_reader_table():
    # planner/sources.py reads GGUF tensor infos with ggml types 39 (MXFP4) and 40 (NVFP4)
    assert GGML_TYPES[39][1:] == (32, 17) and GGML_TYPES[40][1:] == (64, 36)


def test_fp4_formats_are_serving_formats_and_refused_for_training():
    assert {"mxfp4", "nvfp4"} <= set(SERVING_FORMATS)
    with pytest.raises(ValueError, match="serving format"):
        Workload(method="lora", precision="nvfp4")


# ---------------------------------------------------------------------------------------------------
# gpt-oss: exact parameters, which modules are MXFP4

def test_gpt_oss_parameter_counts_are_those_transformers_builds():
    big, small = reg.models["gpt-oss-120b"], reg.models["gpt-oss-20b"]
    assert big.params == 116_829_156_672                          # llama.cpp prints 116.83 B
    assert small.params == 20_914_757_184                         # 20.91 B
    # active per token less the input embedding lookup: OpenAI's 5.1 B and 3.6 B
    assert round((big.active_params - big.vocab_size * big.hidden_size) / 1e9, 1) == 5.1
    assert round((small.active_params - small.vocab_size * small.hidden_size) / 1e9, 1) == 3.6


def test_gpt_oss_alternates_sliding_window_and_full_attention_with_sinks_and_biases():
    a = reg.resolve("openai/gpt-oss-120b")[0]
    assert (a.sliding_window, a.sliding_layers, a.num_layers) == (128, 18, 36)
    assert a.attention_sinks and a.qkv_bias and a.o_bias and a.router_bias and a.expert_bias
    assert (a.num_experts, a.experts_per_token) == (128, 4)


def test_mxfp4_quantises_only_the_moe_experts_of_gpt_oss():
    a = reg.models["gpt-oss-120b"]
    q = fp4_quantised_linears(a, "mxfp4")
    assert {n for n, *_ in q} == {"gate_proj", "up_proj", "down_proj"}
    assert all(c == 36 * 128 for *_, c in q)
    expert_weights = sum(i * o * c for _, i, o, c in q)
    b, _ = serving_weight_bytes(a, "mxfp4", "vllm")
    # attention, router, embeddings, lm_head, biases, sinks and norms stay bf16 (modules_to_not_convert)
    assert b == expert_weights * 17 // 32 + 2 * (a.params - expert_weights)
    assert 60.7 < b / GiB < 60.8                                  # fits one 80 GB card, as OpenAI states


def test_nvfp4_quantises_every_decoder_linear_but_not_embeddings_or_lm_head():
    a = reg.models["llama-3.1-70b"]
    q = fp4_quantised_linears(a, "nvfp4")
    numel = sum(i * o * c for _, i, o, c in q)
    assert a.params - numel == a.embedding_params + a.hidden_size * (2 * a.num_layers + 1)
    b, _ = serving_weight_bytes(a, "nvfp4", "vllm")
    assert b == sum(fp4_linear_bytes(i * o, "nvfp4") * c for _, i, o, c in q) + 2 * (a.params - numel)


def test_llama_cpp_mxfp4_moe_file_of_gpt_oss_matches_the_published_size():
    # llama-quant.cpp MXFP4_MOE: expert tensors MXFP4, every other 2-D tensor Q8_0, 1-D tensors f32;
    # ggml-org/gpt-oss-*-GGUF as llama-bench lists them (llama.cpp benches/dgx-spark.md): 59.02 and 11.27 GiB
    for name, gib in (("gpt-oss-120b", 59.02), ("gpt-oss-20b", 11.27)):
        m = gguf_model(reg.models[name], "mxfp4")
        assert abs(m.total / GiB / gib - 1) < 0.001, (name, m.total / GiB)
        assert set(m.types) == {"mxfp4", "q8_0", "f32"}


def test_gpt_oss_is_served_as_published_when_the_precision_is_left_at_its_default():
    a = reg.models["gpt-oss-120b"]
    for engine in ("vllm", "sglang", "llama.cpp", "transformers"):
        default = estimate(a, wl(engine=engine)).breakdown["weights"]
        assert default == estimate(a, wl(engine=engine, precision="mxfp4")).breakdown["weights"], engine


# ---------------------------------------------------------------------------------------------------
# Engines and cards

@pytest.mark.parametrize("engine, precision", [("mlx", "mxfp4"), ("mlx", "nvfp4"), ("transformers", "nvfp4")])
def test_an_engine_without_a_loader_for_the_format_is_refused(engine, precision):
    with pytest.raises(InputError, match=f"--precision {precision} is not loaded by --engine {engine}"):
        estimate(reg.models["llama-3.1-8b"], wl(engine=engine, precision=precision))


def test_mxfp4_on_a_dense_model_is_refused_where_only_experts_are_quantised():
    with pytest.raises(InputError, match="MoE experts only"):
        estimate(reg.models["llama-3.1-8b"], wl(engine="vllm", precision="mxfp4"))


def test_cards_that_serve_fp4_weights():
    g = cat.gpus
    assert fp4_card_refusal(g["h100-sxm"], wl(engine="vllm", precision="nvfp4")) is None     # Marlin dequantises
    assert fp4_card_refusal(g["v100-32gb-pcie"], wl(engine="vllm", precision="nvfp4"))       # pre-Ampere
    assert fp4_card_refusal(g["mi300x"], wl(engine="vllm", precision="mxfp4")) is None
    assert fp4_card_refusal(g["mi300x"], wl(engine="vllm", precision="nvfp4"))                 # an NVIDIA format
    assert fp4_card_refusal(g["v100-32gb-pcie"], wl(engine="llama.cpp", precision="mxfp4")) is None


# ---------------------------------------------------------------------------------------------------
# Time: decode reads 4.25-4.5 bits per weight; prefill multiplies in FP4 only on FP4 tensor cores

def test_nvfp4_multiplies_at_the_fp4_rate_only_on_blackwell():
    b200, h100 = cat.gpus["b200"], cat.gpus["h100-sxm"]
    assert matmul_peak_tflops(b200, "vllm", "nvfp4") == 2 * b200.fp8_tflops
    assert matmul_peak_tflops(h100, "vllm", "nvfp4") == h100.bf16_tflops
    # MXFP4 checkpoints are weights-only (W4A16): 16-bit matmuls on every card under vLLM
    assert matmul_peak_tflops(b200, "vllm", "mxfp4") == b200.bf16_tflops


def test_fp4_prefill_is_faster_than_bf16_only_on_fp4_capable_cards():
    a = reg.models["llama-3.1-70b"]
    ratio = {}
    for name in ("b200", "h200-sxm"):
        card = Card(cat.gpus[name])
        t16 = prefill_seconds(a, wl(engine="vllm", precision="bf16"), card, 4096)
        t4 = prefill_seconds(a, wl(engine="vllm", precision="nvfp4"), card, 4096)
        ratio[name] = t16 / t4
    assert ratio["b200"] > 1.5
    assert ratio["h200-sxm"] < 1.05


def test_a_gpt_oss_decode_step_reads_its_experts_at_4_25_bits():
    a = reg.models["gpt-oss-120b"]
    mb = model_bytes(a, wl(engine="vllm"))
    experts = sum(fp4_linear_bytes(i * o, "mxfp4") * c for _, i, o, c in fp4_quantised_linears(a, "mxfp4"))
    bias = 2 * 36 * 128 * (2 * 2880 + 2880)
    assert mb.routed_bytes == experts + bias
    # everything outside the experts (attention, router, lm_head) is read at 16 bits; the input embedding is a lookup
    assert mb.weight_bytes - mb.routed_bytes == pytest.approx(2 * (a.params - a.routed_expert_params)
                                                              - 2 * a.vocab_size * a.hidden_size)


def test_checkpoint_headers_name_the_fp4_format():
    from planner.sources import quantization_hint
    assert quantization_hint({"quant_method": "mxfp4"}) == "mxfp4"                       # gpt-oss config.json
    assert quantization_hint({"quant_method": "modelopt", "quant_algo": "NVFP4"}) == "nvfp4"
    nvfp4_ct = {"quant_method": "compressed-tensors",
                "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "float", "group_size": 16}}}}
    assert quantization_hint(nvfp4_ct) == "nvfp4"                                        # llm-compressor NVFP4


def test_the_planner_offers_gpt_oss_under_vllm_only_on_cards_that_run_mxfp4():
    from planner.configs import Constraints, candidate_gpus
    a = reg.models["gpt-oss-120b"]
    cards, rejected = candidate_gpus(cat, wl(engine="vllm"), Constraints(allow_used=True), a)
    offered = {g.name for g, *_ in cards}
    assert {"h100-sxm", "a100-80gb-sxm", "b200", "mi300x"} <= offered
    assert "rx-7900-xtx" not in offered and "mxfp4" in rejected["rx-7900-xtx"]      # RDNA3: no vLLM MXFP4 kernels
    dense, _ = candidate_gpus(cat, wl(engine="vllm"), Constraints(allow_used=True), reg.models["llama-3.1-8b"])
    assert "rx-7900-xtx" in {g.name for g, *_ in dense}


def test_transformers_serves_gpt_oss_as_mxfp4_only_where_its_kernels_run():
    """transformers' Mxfp4HfQuantizer runs MXFP4 on NVIDIA compute capability 7.5+ and dequantises to bf16
    elsewhere, which the MXFP4-sized estimate would understate: those cards are refused with the way out."""
    from planner.configs import Constraints, candidate_gpus
    a = reg.models["gpt-oss-120b"]
    cards, rejected = candidate_gpus(cat, wl(engine="transformers"), Constraints(allow_used=True), a)
    offered = {g.name for g, *_ in cards}
    assert {"h100-sxm", "rtx-4090", "dgx-spark-128gb"} <= offered
    for amd in ("mi300x", "framework-desktop-ai-max-395-128gb", "rx-7900-xtx"):
        assert amd not in offered and "--engine llama.cpp" in rejected[amd]
    llama, _ = candidate_gpus(cat, wl(engine="llama.cpp"), Constraints(allow_used=True), a)
    assert "framework-desktop-ai-max-395-128gb" in {g.name for g, *_ in llama}
