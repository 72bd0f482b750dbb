"""First-generation Qwen (model_type qwen) and CodeLlama-34B as built-ins, specified by the modules they build.

Qwen: the trust_remote_code modeling_qwen.py of Qwen/Qwen-7B. QWenAttention has one fused c_attn
(hidden -> 3 x heads x kv_channels, with bias) and c_proj (no bias: config no_bias); QWenMLP has w1, w2
(hidden -> intermediate_size // 2 each) and c_proj (intermediate_size // 2 -> hidden), so the config's
intermediate_size is the two SwiGLU branches together; RMSNorm ln_1, ln_2 per block and ln_f; untied wte and
lm_head; no grouped-query attention.
CodeLlama-34B: Llama with 8 KV heads for 64 query heads (codellama/CodeLlama-34b-hf config.json)."""
import json

import pytest

from planner.architecture import from_config
from planner.errors import InputError
from planner.throughput.cases import load_cases, predict_training

# Qwen/Qwen-7B config.json (the fields that size the model)
QWEN_7B_CONFIG = {"model_type": "qwen", "hidden_size": 4096, "intermediate_size": 22016, "kv_channels": 128,
                  "num_hidden_layers": 32, "num_attention_heads": 32, "no_bias": True, "vocab_size": 151936,
                  "tie_word_embeddings": False, "max_position_embeddings": 32768}


def modeling_qwen_parameters(h: int, layers: int, heads: int, kv_channels: int, intermediate: int, vocab: int) -> int:
    """The parameters modeling_qwen.py's QWenLMHeadModel builds, module by module."""
    proj = heads * kv_channels
    c_attn = h * 3 * proj + 3 * proj              # nn.Linear(hidden, 3 * projection_size), bias=True
    attn_c_proj = proj * h                        # bias=not no_bias
    w1 = w2 = h * (intermediate // 2)             # nn.Linear(hidden, intermediate_size // 2), no bias
    mlp_c_proj = (intermediate // 2) * h
    ln_1 = ln_2 = h                               # RMSNorm weight only
    block = c_attn + attn_c_proj + w1 + w2 + mlp_c_proj + ln_1 + ln_2
    return vocab * h + layers * block + h + h * vocab     # wte, h, ln_f, lm_head (untied)


@pytest.mark.parametrize("name,shape,params", [
    ("qwen-1.8b", (2048, 24, 16, 128, 11008, 151936), 1_836_828_672),
    ("qwen-7b", (4096, 32, 32, 128, 22016, 151936), 7_721_324_544),     # Qwen-7B model card
    ("qwen-14b", (5120, 40, 40, 128, 27392, 152064), 14_167_290_880),
    ("qwen-72b", (8192, 80, 64, 128, 49152, 152064), 72_287_920_128),
])
def test_qwen_parameter_counts_are_what_modeling_qwen_builds(arch, name, shape, params):
    assert modeling_qwen_parameters(*shape) == params
    assert arch(name).params == params


def test_qwen_config_intermediate_size_is_both_mlp_branches():
    a = from_config(QWEN_7B_CONFIG, "qwen-7b")
    assert a.intermediate_size == 11008 and a.gated_mlp
    assert a.mlp_linears(a.intermediate_size) == [("gate_proj", 4096, 11008), ("up_proj", 4096, 11008),
                                                   ("down_proj", 11008, 4096)]


def test_qwen_attention_is_fused_qkv_with_bias_and_no_grouped_query_attention():
    a = from_config(QWEN_7B_CONFIG, "qwen-7b")
    assert a.qkv_bias and not a.o_bias
    assert (a.num_heads, a.num_kv_heads, a.head_dim) == (32, 32, 128)
    qkv = sum(i * o for n, i, o in a.attention_linears() if n in ("q_proj", "k_proj", "v_proj"))
    assert qkv == 4096 * 3 * 4096                                 # c_attn's weight, split three ways
    assert a._attention_params() == 4096 * 3 * 4096 + 3 * 4096 + 4096 * 4096
    assert a.kv_bytes_per_token == 2 * 32 * 4096                  # K and V of every head, every layer


def test_qwen_without_no_bias_is_refused_rather_than_miscounted():
    with pytest.raises(InputError, match="no_bias"):
        from_config({**QWEN_7B_CONFIG, "no_bias": False}, "x")


def test_qwen_config_json_gives_the_builtin(tmp_path, arch):
    from planner.architecture import load_config_file
    p = tmp_path / "config.json"
    p.write_text(json.dumps({**QWEN_7B_CONFIG, "architectures": ["QWenLMHeadModel"], "seq_length": 8192,
                             "rotary_emb_base": 10000, "use_dynamic_ntk": True}))
    assert load_config_file(p).params == arch("qwen-7b").params


def test_qwen_hub_ids_resolve_to_the_builtins(registry):
    assert registry.resolve("Qwen/Qwen-7B")[0].name == "qwen-7b"
    assert registry.resolve("Qwen/Qwen-7B-Chat")[0].name == "qwen-7b"          # same architecture
    assert registry.resolve("Qwen/Qwen-72B")[0].name == "qwen-72b"
    assert registry.resolve("Qwen/Qwen-1_8B")[0].name == "qwen-1.8b"
    assert registry.resolve("Qwen/Qwen-1.8B")[0].name == "qwen-1.8b"          # the spelling validation/throughput-training-2.json uses


def test_codellama_34b_is_llama_with_grouped_query_attention(arch, registry):
    a = registry.resolve("codellama/CodeLlama-34b-hf")[0]
    assert a is arch("codellama-34b")
    assert a.params == 33_743_970_304                             # the model card's 33.7B
    assert (a.num_heads, a.num_kv_heads, a.head_dim, a.num_layers) == (64, 8, 128, 48)
    assert a.kv_bytes_per_token == 2 * 48 * 8 * 128               # 8x less than 64 KV heads would cache
    assert a.max_position_embeddings == 16384


QWEN_CASES = {c["id"]: c for c in load_cases("throughput-training-2.json") if c["id"].startswith("qwen-")}


def test_qwen_finetuning_cases_are_scored_except_qlora_over_gptq():
    scored = {cid for cid, c in QWEN_CASES.items() if c["precision"] != "gptq"}
    assert len(QWEN_CASES) == 17 and len(scored) == 14
    for cid in scored:
        assert predict_training(QWEN_CASES[cid]) > 0


@pytest.mark.parametrize("cid", [c for c, case in QWEN_CASES.items() if case["precision"] == "gptq"])
def test_qlora_over_gptq_int4_is_not_scored_as_nf4(cid):
    with pytest.raises(ValueError, match="QLoRA over GPTQ weights is not modelled"):
        predict_training(QWEN_CASES[cid])
