"""Model shapes: exact parameter counts, config.json parsing, aliases and clear errors."""
import json

import pytest

from planner.architecture import from_config, load_config_file
from planner.errors import InputError

# Published totals (safetensors metadata / model cards), as listed in issue 2.
EXACT = {
    "llama-3.1-8b": 8_030_261_248,
    "llama-3.1-70b": 70_553_706_496,
    "llama-3.2-1b": 1_235_814_400,       # tied embeddings counted once
    "mixtral-8x7b": 46_702_792_704,
    "qwen2.5-72b": 72_706_203_648,
    "llama-2-70b": 68_976_648_192,
    "qwen2.5-0.5b": 494_032_768,
    "gemma-3-1b": 999_885_952,
    "mpt-7b": 6_658_859_008,             # llm-foundry mpt-7b.yaml: NumParams of its throughput table at 2k tokens
    "mpt-30b": 29_975_214_080,           # llm-foundry mpt-30b.yaml: NumParams of its throughput table at 2k tokens
    "gpt2": 124_439_808,                 # GPT2LMHeadModel: wte + wpe, lm_head tied to wte
}


@pytest.mark.parametrize("name,params", EXACT.items())
def test_parameter_counts_are_exact(arch, name, params):
    assert arch(name).params == params


def test_every_required_family_is_built_in(registry):
    for name in ["llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b",
                 "llama-3.1-70b", "llama-3.1-405b", "mistral-7b", "mixtral-8x7b", "mixtral-8x22b", "qwen2.5-0.5b",
                 "qwen2.5-72b", "qwen3-8b", "qwen3-30b-a3b", "qwen3-235b-a22b", "gemma-2-9b", "gemma-3-27b",
                 "phi-3-mini", "phi-4", "deepseek-v3", "olmoe-1b-7b"]:
        assert name in registry.models


def test_moe_counts_all_experts_but_activates_top_k(arch):
    m = arch("mixtral-8x7b")
    assert m.active_params < m.params / 3
    assert arch("deepseek-v3").params == 671_026_419_200


def test_size_alias_says_which_model_it_assumed(registry):
    model, note = registry.resolve("70b")
    assert model.name == "llama-3.1-70b"
    assert "llama-3.1-70b" in note


def test_unknown_model_suggests_close_names(registry):
    with pytest.raises(InputError, match="did you mean.*llama-3.1-8b"):
        registry.resolve("llama-3.1-8")


def test_config_json_matches_builtin(tmp_path, arch):
    cfg = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
           "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
           "tie_word_embeddings": False}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    assert load_config_file(p).params == arch("llama-3.1-8b").params


def test_gpt2_config_json_reads_its_own_field_names(tmp_path, arch):
    # openai-community/gpt2 config.json: GPT2Config's names (n_embd, n_layer, n_head, n_positions), no n_inner
    # (4 x n_embd) and no tie_word_embeddings (PretrainedConfig ties by default)
    cfg = {"model_type": "gpt2", "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
           "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024, "vocab_size": 50257}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    gpt2 = load_config_file(p)
    assert gpt2.params == arch("gpt2").params == 124_439_808
    assert (gpt2.intermediate_size, gpt2.max_position_embeddings, gpt2.tie_embeddings) == (3072, 1024, True)


def test_learned_position_table_is_counted_once_in_params_and_embeddings(arch):
    from dataclasses import replace
    gpt2 = arch("gpt2")
    rotary = replace(gpt2, learned_positions=False)
    assert gpt2.params - rotary.params == 1024 * 768                  # GPT2Model.wpe
    assert gpt2.embedding_params == 50257 * 768 + 1024 * 768          # wte (tied lm_head) + wpe: outside the layers
    assert arch("llama-3.1-8b").position_params == 0


def test_gpt2_aliases_and_hub_id_name_the_built_in(registry):
    for name in ("gpt2-124m", "124m", "openai-community/gpt2"):
        assert registry.resolve(name)[0].name == "gpt2"


def test_malformed_config_json_is_a_clear_error(tmp_path):
    p = tmp_path / "config.json"
    p.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_config_file(p)
    p.write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    with pytest.raises(InputError, match="missing field"):
        load_config_file(p)
    with pytest.raises(InputError, match="not supported"):
        from_config({"model_type": "bert"}, "x")


def test_gqa_kv_cache_is_smaller_than_mha(arch):
    # Llama-3.1-8B (8 KV heads) caches 4x less per token than Llama-2-7B (32 heads), same head size
    assert arch("llama-2-7b").kv_bytes_per_token == 4 * arch("llama-3.1-8b").kv_bytes_per_token


def test_mpt_config_reproduces_llm_foundry_numparams_at_every_sequence_length(tmp_path):
    # llm-foundry scripts/train/benchmarking/README.md NumParams: wpe is max_seq_len x d_model, so the count grows
    # with the benchmark's sequence length (MPTConfig defaults: learned_pos_emb, biases, vocab 50,368)
    counts = {2048: 6_658_859_008, 8192: 6_684_024_832, 65536: 6_918_905_856}
    for seq, n in counts.items():
        cfg = {"model_type": "mpt", "d_model": 4096, "n_heads": 32, "n_layers": 32, "expansion_ratio": 4,
               "max_seq_len": seq, "vocab_size": 50368, "attn_config": {"attn_impl": "flash"}}
        p = tmp_path / f"config-{seq}.json"
        p.write_text(json.dumps(cfg))
        assert load_config_file(p).params == n


def test_mpt_alibi_and_no_bias_drop_wpe_and_every_bias(tmp_path):
    # configuration_mpt.py turns learned_pos_emb off under ALiBi; no_bias removes linear and LayerNorm biases
    cfg = {"model_type": "mpt", "d_model": 4096, "n_heads": 32, "n_layers": 32, "expansion_ratio": 4,
           "max_seq_len": 2048, "vocab_size": 50368, "learned_pos_emb": True, "no_bias": True,
           "attn_config": {"alibi": True}}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    plain = load_config_file(p)
    # 12 d^2 per block, one LayerNorm weight per norm (2 per block + norm_f), tied wte
    assert plain.params == 12 * 4096 ** 2 * 32 + (2 * 32 + 1) * 4096 + 50368 * 4096
    assert not plain.learned_positions
